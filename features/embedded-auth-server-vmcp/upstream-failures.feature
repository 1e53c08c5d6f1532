@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: Upstream providers that misbehave, and stable subjects for OIDC upstreams
  The docs' complete example logs users in through GitHub and then Google (OIDC). Here the
  Google-like provider misbehaves on the second leg: its ID token names another issuer or has
  expired (OpenID Connect Core 3.1.3.7 says to reject both), its token endpoint fails or answers
  too slowly. Each time the login ends at the client with `server_error` (RFC 6749 4.1.2.1) and
  no code, so nothing the client could use was issued. The same provider can also issue
  Entra-like ID tokens, whose `sub` differs per application while `oid` stays stable.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#how-it-works @oidc-core @as-idp-wrong-issuer
  Scenario: An ID token issued by another issuer fails the login with server_error
    When the vMCP is deployed
    And the Google-like provider starts signing ID tokens for another issuer
    And the user attempts a login through the vMCP
    Then the client is sent back with the error "server_error" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#how-it-works @oidc-core @as-idp-expired
  Scenario: An expired ID token fails the login with server_error
    When the vMCP is deployed
    And the Google-like provider starts issuing ID tokens that expired ten minutes ago
    And the user attempts a login through the vMCP
    Then the client is sent back with the error "server_error" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#how-it-works @rfc6749 @as-idp-5xx
  Scenario: An upstream token endpoint answering HTTP 500 fails the login with server_error
    When the vMCP is deployed
    And the Google-like provider's token endpoint starts answering HTTP 500
    And the user attempts a login through the vMCP
    Then the client is sent back with the error "server_error" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#how-it-works @rfc6749 @as-idp-slow @slow
  Scenario: An upstream token endpoint that does not answer in time fails the login with server_error
    When the vMCP is deployed
    And the Google-like provider's token endpoint starts answering after 15 seconds
    And the user attempts a login through the vMCP
    Then the client is sent back with the error "server_error" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#stable-subject-for-oidc-upstreams @claim-U15 @as-subject-claim
  Scenario: With subjectClaim oid, users of an Entra-like provider are keyed on their stable oid
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.subjectClaim" is set to the YAML:
      """yaml
      oid
      """
    When the vMCP is deployed
    And the Google-like provider starts issuing Entra-like ID tokens (per-application sub, stable oid)
    And the user attempts a login through the vMCP
    Then the client is sent back with a code

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#stable-subject-for-oidc-upstreams @claim-U15 @as-subject-claim-missing
  Scenario: With subjectClaim oid, an ID token without oid fails the login instead of falling back to sub
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.subjectClaim" is set to the YAML:
      """yaml
      oid
      """
    When the vMCP is deployed
    And the user attempts a login through the vMCP
    Then the client is sent back with the error "server_error" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#how-it-works @claim-M5 @as-chain-identity
  Scenario: A later upstream leg that vouches for another user fails the chain with server_error
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And GitHub now signs in "bob" while Google still signs in "alice"
    And the user attempts a login through the vMCP
    Then the client is sent back with the error "server_error" and its own state

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#troubleshooting @claim-E11 @as-idp-discovery-unreachable
  Scenario: An OIDC upstream whose discovery document cannot be reached leaves no login to complete
    # The troubleshooting list: the provider's /.well-known/openid-configuration must be reachable
    # from the vMCP. The reference discovers OIDC upstreams at start-up, so it refuses to start.
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.issuerUrl" is set to the YAML:
      """yaml
      http://127.0.0.1:9
      """
    When the vMCP is started
    Then the vMCP refuses to start with a message naming "google" and "openid-configuration"
