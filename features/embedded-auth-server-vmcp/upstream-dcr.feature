@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: ToolHive registers itself with an upstream provider (upstream DCR)
  With `dcrConfig`, the embedded authorization server registers itself with the upstream at
  start-up (RFC 7591), through the provider's discovery document or straight at its
  registration endpoint, optionally with an initial access token, and uses the issued client ID
  for the upstream flow. The documented examples' provider host (mcp.example.com) is played by a
  DCR-capable mock; their issuer host (toolhive.example.com) by the target.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And an upstream provider that supports dynamic client registration with the initial access token "conformance-iat-7f3a"
    And the upstream of the documented block "VirtualMCPServer: upstream DCR discovery" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "register-toolhive-with-an-oauth-provider" is placed first, served by that provider

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-toolhive-with-an-oauth-provider @claim-D1 @claim-D2 @claim-D8 @as-dcr-discovery
  Scenario: Through the discovery document, ToolHive registers once and logs users in with the issued client ID
    When the vMCP is deployed
    Then the DCR provider received 1 registration
    When the user starts a login
    Then the login goes to the provider with the client ID it issued

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#authorize-upstream-registration-with-an-initial-access-token @claim-D3 @claim-D9 @as-dcr-iat
  Scenario: With a registration endpoint and an initial access token, the token is sent as a bearer token
    Given the first upstream's dcrConfig is the documented block "Add an initial access token" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "authorize-upstream-registration-with-an-initial-access-token"
    And the documented Secret "dcr-initial-access-token.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "authorize-upstream-registration-with-an-initial-access-token" with "<YOUR_DCR_INITIAL_ACCESS_TOKEN>" set to "conformance-iat-7f3a"
    When the vMCP is deployed
    Then the DCR provider received 1 registration
    And every registration carried the bearer token "conformance-iat-7f3a"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-session-storage @claim-D10 @as-dcr-restart
  Scenario: With in-memory storage, a restart registers a new client
    When the vMCP is deployed
    And the vMCP restarts
    Then the DCR provider received 2 registrations

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-toolhive-with-an-oauth-provider @claim-D5 @as-dcr-endpoints-required
  Scenario: Even with dcrConfig, an oauth2Config without tokenEndpoint is refused
    # The docs: authorizationEndpoint and tokenEndpoint stay required when registration is discovered.
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.tokenEndpoint" is removed
    When the vMCP is started
    Then the vMCP refuses to start with a message naming "oauth2Config" and "tokenEndpoint"
