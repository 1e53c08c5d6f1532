@doc:guides-vmcp/authentication.mdx @doc:guides-vmcp/embedded-auth-server-vmcp.mdx @cedar
Feature: Cedar claims with the embedded authorization server come from the primary upstream
  With the embedded authorization server, vMCP reads the claims Cedar sees from the primary
  upstream provider's access token (the first upstream unless primaryUpstreamProvider names
  another), not from the JWT it issued itself. An upstream access token that is not a JWT denies
  the request: there is no silent fallback to the vMCP's own claims.

  The complete example is deployed (GitHub first, then Google; both issue opaque access tokens)
  with a policy that permits every call.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    # Not from the docs: a permit-all policy, so that only the source of the claims can deny.
    And the VirtualMCPServer's inline Cedar policies are:
      """
      permit(principal, action, resource);
      """

  @doc:guides-vmcp/authentication.mdx#authorize-requests
  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#select-the-primary-upstream-provider @claim-J11 @cedar-embedded
  Scenario: An opaque primary upstream access token denies even a permit-all policy
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP over plain HTTP
    Then the vMCP refuses the call with 403 and a JSON-RPC error for it
    And "backend-github" received no tools/call
