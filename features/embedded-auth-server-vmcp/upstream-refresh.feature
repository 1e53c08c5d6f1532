@doc:concepts/embedded-auth-server.mdx
Feature: Stored upstream tokens are refreshed when they expire
  Upstream access tokens expire on their own schedule, independent of the JWT the vMCP issued.
  When the stored one has expired, the vMCP refreshes it with the stored refresh token before
  forwarding, without a new login; when the refresh token is gone too, it answers 401 so the
  client starts the OAuth flow again. The docs' complete example is changed in two ways: the
  backend receives the Google token (upstreamInject names google), and the Google upstream asks
  for offline access with the documented `access_type: offline` parameter so that Google issues a
  refresh token.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.additionalAuthorizationParams" is set to the YAML:
      """yaml
      access_type: 'offline'
      """
    And the MCPExternalAuthConfig field "spec.upstreamInject.providerName" is set to "google"

  @doc:concepts/embedded-auth-server.mdx#automatic-token-refresh @claim-L5 @as-upstream-refresh
  Scenario: An expired upstream access token is refreshed before it is forwarded
    When the vMCP is deployed
    And the Google-like provider starts issuing access tokens that expire after 2 seconds
    And the user logs in through the vMCP with a dynamically registered client
    And 3 seconds pass
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then the tool call succeeded
    And "backend-github" received a Google access token obtained by refreshing, not the first one issued

  @doc:concepts/embedded-auth-server.mdx#automatic-token-refresh @claim-L6 @as-upstream-refresh-revoked
  Scenario: When the upstream refresh token has been revoked, the vMCP answers 401
    When the vMCP is deployed
    And the Google-like provider starts issuing access tokens that expire after 2 seconds
    And the user logs in through the vMCP with a dynamically registered client
    And the Google-like provider revokes every refresh token it issued
    And 3 seconds pass
    And an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"
