@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: Providers that answer in non-standard shapes
  tokenResponseMapping reads tokens from nested paths (Slack's authed_user), identityFromToken
  reads the user from the token response instead of calling userInfo, and the @upstreamjwt
  modifier reads claims from a JWT-shaped access token (Snowflake). The documented GitHub
  upstream of the complete example is pointed at a Slack-like or Snowflake-like mock; its
  userInfo block stays, so the scenarios also show that identityFromToken wins over it.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#tokens-under-non-standard-paths @claim-U9 @claim-U10 @claim-U12 @as-slack
  Scenario: Slack's nested user token is the token stored and forwarded, and its user id is the identity
    Given the first upstream is a Slack-like provider
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.tokenResponseMapping" is set to the YAML:
      """yaml
      accessTokenPath: authed_user.access_token
      scopePath: authed_user.scope
      """
    And the first upstream's oauth2Config is merged with the documented block "MCPExternalAuthConfig: Slack identity mapping" from "guides-k8s/embedded-auth-server-k8s.mdx" section "extract-identity-from-the-token-response"
    When the vMCP is deployed
    And the user attempts a login through the vMCP
    Then GitHub received no userinfo request
    And the client is sent back with a code
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the Slack user token as a Bearer token

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response @claim-U13 @as-identity-fails
  Scenario: When identityFromToken finds nothing, the login fails with no fallback to userInfo
    Given the first upstream is a Slack-like provider
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.tokenResponseMapping" is set to the YAML:
      """yaml
      accessTokenPath: authed_user.access_token
      """
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.identityFromToken" is set to the YAML:
      """yaml
      subjectPath: authed_user.no_such_field
      """
    When the vMCP is deployed
    And the user attempts a login through the vMCP
    Then the login fails without a code

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response @claim-U10 @as-snowflake
  Scenario: Snowflake's top-level username names the user
    Given the first upstream is a Snowflake-like provider
    And the first upstream's oauth2Config is merged with the documented block "MCPExternalAuthConfig: Snowflake identity mapping" from "guides-k8s/embedded-auth-server-k8s.mdx" section "extract-identity-from-the-token-response"
    When the vMCP is deployed
    And the user attempts a login through the vMCP
    Then the client is sent back with a code
    And the access token's name claim is "ALICE"

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response @claim-U11 @as-upstreamjwt
  Scenario: The @upstreamjwt modifier reads the subject from a JWT-shaped access token
    Given the first upstream is a Snowflake-like provider
    And the first upstream's oauth2Config is merged with the documented block "MCPExternalAuthConfig: JWT-embedded identity mapping" from "guides-k8s/embedded-auth-server-k8s.mdx" section "extract-identity-from-the-token-response"
    When the vMCP is deployed
    And the user attempts a login through the vMCP
    Then the client is sent back with a code

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#using-an-oauth-20-upstream-provider @claim-U8 @as-synthesis
  Scenario: Without userInfo or identityFromToken the user is synthesized, with no name or email
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.userInfo" is removed
    When the vMCP is deployed
    Then the VirtualMCPServer reports IdentitySynthesized=True with reason OAuth2UpstreamWithoutUserInfo
    When the user logs in through the vMCP with a dynamically registered client
    Then GitHub received no userinfo request
    And the access token carries neither a name nor an email claim
