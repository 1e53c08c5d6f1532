@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: The embedded authorization server: discovery, issuer rules, keys and lifespans
  The docs' complete example, deployed with one documented setting changed per scenario: the
  browser-facing authorization endpoint, the advertised scopes, the issuer rules the controller
  enforces at reconcile time, ephemeral versus persistent keys across a restart, a signing-key
  rotation, and the token lifespans.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-W2 @claim-I4 @as-authz-base
  Scenario: authorizationEndpointBaseUrl moves only the authorization endpoint
    Given the VirtualMCPServer field "spec.authServerConfig.authorizationEndpointBaseUrl" is set to "https://login.example.org"
    When the vMCP is deployed
    And a client reads the authorization server metadata
    Then the metadata field "authorization_endpoint" is "https://login.example.org/oauth/authorize"
    And the metadata field "issuer" is "{issuer}"
    And the metadata field "token_endpoint" is "{issuer}/oauth/token"
    And the metadata field "registration_endpoint" is "{issuer}/oauth/register"
    And the metadata field "jwks_uri" is "{issuer}/.well-known/jwks.json"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#validate-the-issued-jwts @claim-W5 @as-scopes
  Scenario: The scopes of the oidcConfigRef are the scopes the authorization server advertises
    Given the VirtualMCPServer field "spec.incomingAuth.oidcConfigRef.scopes" is set to the YAML:
      """yaml
      [openid, offline_access, repo]
      """
    When the vMCP is deployed
    And a client reads the authorization server metadata
    Then the metadata field "scopes_supported" lists exactly "openid, offline_access, repo"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-I1 @claim-I2 @claim-E1 @as-http-issuer
  Scenario: An http issuer on a non-localhost host is rejected at reconcile time
    Given the VirtualMCPServer field "spec.authServerConfig.issuer" is set to "http://auth.internal.example.com"
    And the MCPOIDCConfig field "spec.inline.issuer" is set to "http://auth.internal.example.com"
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-I3 @as-insecure-http
  Scenario: insecureAllowHTTP makes an in-cluster http issuer acceptable
    Given the VirtualMCPServer field "spec.authServerConfig.issuer" is set to "http://auth.internal.example.com"
    And the VirtualMCPServer field "spec.authServerConfig.insecureAllowHTTP" is set to the YAML:
      """yaml
      true
      """
    And the MCPOIDCConfig field "spec.inline.issuer" is set to "http://auth.internal.example.com"
    And the MCPOIDCConfig field "spec.inline.insecureAllowHTTP" is set to the YAML:
      """yaml
      true
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=True with reason AuthServerConfigValid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#how-the-references-link-by-name @claim-I8 @as-issuer-mismatch
  Scenario: An MCPOIDCConfig whose issuer differs from the embedded issuer is rejected
    Given the MCPOIDCConfig field "spec.inline.issuer" is set to "https://other-issuer.example.com"
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#step-3-create-a-secret-for-hmac-keys @claim-K7 @as-short-hmac
  Scenario: An HMAC secret shorter than 32 bytes is rejected
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: a 16-byte HMAC secret, below the documented minimum of 32 bytes.
      apiVersion: v1
      kind: Secret
      metadata:
        name: short-hmac-key
        namespace: toolhive-system
      type: Opaque
      stringData:
        hmac-key: "0123456789abcdef"
      """
    And the VirtualMCPServer field "spec.authServerConfig.hmacSecretRefs" is set to the YAML:
      """yaml
      - name: short-hmac-key
        key: hmac-key
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-K1 @claim-K2 @as-ephemeral-restart
  Scenario: Without configured keys, tokens issued before a restart are refused after it
    Given the VirtualMCPServer field "spec.authServerConfig.signingKeySecretRefs" is removed
    And the VirtualMCPServer field "spec.authServerConfig.hmacSecretRefs" is removed
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token
    Then the vMCP accepts it
    When the vMCP restarts
    And an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-K4 @claim-K8 @as-persistent-restart
  Scenario: With persistent keys, tokens issued before a restart stay valid after it
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the vMCP restarts
    And an MCP request carries the access token
    Then the vMCP accepts it
    And the JWKS publishes 1 key

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#step-2-create-a-secret-for-jwt-signing-keys @claim-K5 @claim-K8 @as-key-rotation
  Scenario: After a key rotation, tokens signed with the previous key stay valid
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: the new signing key of a rotation (a throw-away P-256 key).
      apiVersion: v1
      kind: Secret
      metadata:
        name: auth-signing-key-next
        namespace: toolhive-system
      type: Opaque
      stringData:
        private-key: |
          -----BEGIN PRIVATE KEY-----
          MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiEOzcpv4Ztb+4u+y
          bxQI+vAVsVVlXD+v0JCn5z/vUcihRANCAAQQWdb7WwlMCcjijQxA1+9P5cYVO6RD
          RauZowfO2y0w0WfOMFqC5vokbLy++rrDYTKAirqP1MrMtoPeslTI6fX6
          -----END PRIVATE KEY-----
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client keeps its access token aside
    Given the VirtualMCPServer field "spec.authServerConfig.signingKeySecretRefs" is set to the YAML:
      """yaml
      - name: auth-signing-key-next
        key: private-key
      - name: auth-signing-key
        key: private-key
      """
    When the vMCP is deployed
    And an MCP request carries the kept access token
    Then the vMCP accepts it
    And the JWKS publishes 2 keys

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-L1 @as-default-lifespan
  Scenario: Without tokenLifespans, access tokens live for the documented default of one hour
    Given the VirtualMCPServer field "spec.authServerConfig.tokenLifespans" is removed
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then the access token lives for 3600 seconds

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-L2 @as-code-lifespan
  Scenario: An authorization code is refused once authCodeLifespan has passed
    Given the VirtualMCPServer field "spec.authServerConfig.tokenLifespans.authCodeLifespan" is set to "2s"
    When the vMCP is deployed
    And the user completes a login and the client holds the authorization code
    And 3 seconds pass
    And the client redeems the authorization code
    Then the answer is 400 with the OAuth error "invalid_grant" and is not cached

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#step-4-create-the-mcpexternalauthconfig-resource @claim-I6 @as-issuer-path-root
  Scenario: With a path in the issuer, the OAuth endpoints are still served at the host root
    Given the VirtualMCPServer field "spec.authServerConfig.issuer" is set to the YAML:
      """yaml
      https://auth.example.com/tenant
      """
    And the MCPOIDCConfig field "spec.inline.issuer" is set to the YAML:
      """yaml
      https://auth.example.com/tenant
      """
    When the vMCP is deployed
    Then a token request to "{issuer}/oauth/token" reaches the token endpoint

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#step-4-create-the-mcpexternalauthconfig-resource @claim-I7 @claim-E11 @as-issuer-path
  Scenario: With a path in the issuer, discovery advertises endpoints under it that nothing serves
    Given the VirtualMCPServer field "spec.authServerConfig.issuer" is set to the YAML:
      """yaml
      https://auth.example.com/tenant
      """
    And the MCPOIDCConfig field "spec.inline.issuer" is set to the YAML:
      """yaml
      https://auth.example.com/tenant
      """
    When the vMCP is deployed
    And a client reads the authorization server metadata
    Then the metadata field "token_endpoint" is "{issuer}/tenant/oauth/token"
    And a token request to "{issuer}/tenant/oauth/token" reaches no token endpoint
