@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: Client registration rules and what the upstream providers receive
  MCP clients register themselves (RFC 7591) under the server's rules; baselineClientScopes
  widen what a narrowly registered client may ask for. Towards the upstreams, the server sends
  the documented default scopes, the additional authorization parameters and the userInfo
  headers it is configured with.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-mcp-clients-with-toolhive @claim-R1 @rfc7591 @as-dcr-redirect
  Scenario: A registration with an http redirect URI on a public host is refused with invalid_redirect_uri
    When the vMCP is deployed
    And a client registers with the metadata:
      """json
      {"client_name": "bad", "redirect_uris": ["http://client.example.com/callback"], "token_endpoint_auth_method": "none"}
      """
    Then the answer is 400 with the OAuth error "invalid_redirect_uri" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-mcp-clients-with-toolhive @claim-R1 @rfc7591 @as-dcr-redirect
  Scenario: A registration with a javascript: redirect URI is refused with invalid_redirect_uri
    When the vMCP is deployed
    And a client registers with the metadata:
      """json
      {"client_name": "bad", "redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none"}
      """
    Then the answer is 400 with the OAuth error "invalid_redirect_uri" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-mcp-clients-with-toolhive @claim-R1 @rfc7591 @as-dcr-scope
  Scenario: A registration asking for a scope the server does not support is refused
    When the vMCP is deployed
    And a client registers with the metadata:
      """json
      {"client_name": "greedy", "redirect_uris": ["http://127.0.0.1:33418/callback"], "scope": "openid admin:everything"}
      """
    Then the answer is 400 with the OAuth error "invalid_client_metadata" and is not cached

  @doc:concepts/embedded-auth-server.mdx @claim-R14 @as-narrowed-scope
  Scenario: A client that registered a narrowed scope cannot ask for more at the authorization endpoint
    When the vMCP is deployed
    And a client registered with the scope "openid" starts a login asking for "openid offline_access"
    Then the client is sent back with the error "invalid_scope" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#enable-baseline-scopes-for-dcr-clients @claim-R15 @as-baseline
  Scenario: baselineClientScopes let a narrowly registered client ask for the baseline scopes
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: baseline client scopes" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-baseline-scopes-for-dcr-clients"
    When the vMCP is deployed
    And a client registered with the scope "openid" starts a login asking for "openid offline_access"
    Then the login goes on to the first upstream

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#enable-baseline-scopes-for-dcr-clients @claim-R17 @as-baseline-unsupported
  Scenario: A baseline scope outside the supported scopes is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.baselineClientScopes" is set to the YAML:
      """yaml
      [openid, admin]
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#upstream-specific-authorization-parameters @claim-U4 @as-oidc-default-scopes
  Scenario: An OIDC upstream without scopes is asked for openid and offline_access
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.scopes" is removed
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then Google received an authorization request with "scope" set to "openid offline_access"

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#upstream-specific-authorization-parameters @claim-U5 @as-auth-params
  Scenario: additionalAuthorizationParams reach the upstream's authorization URL
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.additionalAuthorizationParams" is set to the YAML:
      """yaml
      access_type: 'offline'
      prompt: 'consent'
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then Google received an authorization request with "access_type" set to "offline"
    And Google received an authorization request with "prompt" set to "consent"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @claim-U6 @claim-U7 @as-userinfo-headers
  Scenario: The userInfo request carries the configured method and headers
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then GitHub received the userinfo request with the header "accept" set to "application/vnd.github+json"

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#default-callback-url-for-upstream-providers @claim-U22 @claim-U23 @claim-E11 @as-default-callback
  Scenario: Without redirectUri the callback is resourceUrl/oauth/callback, which fails when resourceUrl has a path
    Given the VirtualMCPServer field "spec.incomingAuth.oidcConfigRef.resourceUrl" is set to the YAML:
      """yaml
      https://mcp.example.com/mcp
      """
    When the vMCP is deployed
    Then the user's browser is sent back to "{issuer}/mcp/oauth/callback", where nothing completes the login

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#default-callback-url-for-upstream-providers @claim-U23 @as-explicit-callback
  Scenario: With resourceUrl carrying a path, redirectUri set to the issuer's callback makes the login work
    Given the VirtualMCPServer field "spec.incomingAuth.oidcConfigRef.resourceUrl" is set to the YAML:
      """yaml
      https://mcp.example.com/mcp
      """
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.redirectUri" is set to the YAML:
      """yaml
      https://auth.example.com/oauth/callback
      """
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.redirectUri" is set to the YAML:
      """yaml
      https://auth.example.com/oauth/callback
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then the client received one access token signed by the deployed issuer
