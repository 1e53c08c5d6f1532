@doc:guides-vmcp/authentication.mdx @doc:guides-vmcp/embedded-auth-server-vmcp.mdx @cedar
Feature: Cedar claims with the embedded authorization server come from the primary upstream
  With the embedded authorization server, vMCP reads the claims Cedar sees from the primary
  upstream provider's access token (the first upstream unless primaryUpstreamProvider names
  another), not from the JWT it issued itself. An upstream access token that is not a JWT denies
  the request: there is no silent fallback to the vMCP's own claims.

  The complete example is deployed (GitHub first, then Google; both issue opaque access tokens
  unless a scenario makes them issue JWT access tokens with chosen claims) with a policy that
  permits every call.

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

  # Not from the docs: the two mocks issue JWT access tokens whose group claims differ, so the
  # decision shows which upstream's claims Cedar read.
  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#select-the-primary-upstream-provider
  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-U18 @cedar-embedded-jwt
  Scenario: By default Cedar reads the claims of the first upstream's access token
    Given GitHub issues the user JWT access tokens with the claims:
      """json
      {"groups": ["forge-team"]}
      """
    And Google issues the user JWT access tokens with the claims:
      """json
      {"groups": ["corp-team"]}
      """
    And the VirtualMCPServer's inline Cedar policies are:
      """
      permit(principal in THVGroup::"forge-team", action == Action::"call_tool", resource);
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP over plain HTTP
    Then the vMCP answers the call with a result

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#select-the-primary-upstream-provider
  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-U19 @cedar-embedded-jwt
  Scenario: primaryUpstreamProvider makes Cedar read the named upstream's access-token claims
    Given GitHub issues the user JWT access tokens with the claims:
      """json
      {"groups": ["forge-team"]}
      """
    And Google issues the user JWT access tokens with the claims:
      """json
      {"groups": ["corp-team"]}
      """
    And the VirtualMCPServer field "spec.authServerConfig.primaryUpstreamProvider" is set to "google"
    And the VirtualMCPServer's inline Cedar policies are:
      """
      permit(principal in THVGroup::"corp-team", action == Action::"call_tool", resource);

      forbid(principal in THVGroup::"forge-team", action == Action::"call_tool", resource);
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP over plain HTTP
    Then the vMCP answers the call with a result
