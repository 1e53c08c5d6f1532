@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: The embedded authorization server refuses what an attacker or a broken client sends
  Codes are single-use and short-lived, refresh tokens rotate and stay bound to their client,
  PKCE is S256 only, `state` is required, redirect URIs match exactly, and every token-endpoint
  error is an RFC 6749 section 5.2 JSON answer that is not cached. The vMCP refuses JWTs with
  the wrong audience, issuer or expiry even when they carry a valid signature, and JWTs that
  try to dodge the signature (alg none, HS256 keyed with the public key).

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    When the vMCP is deployed

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-code-reuse
  Scenario: A code redeemed twice is refused, and the tokens of the first redemption are revoked
    When the user completes a login and the client holds the authorization code
    And the client redeems the authorization code
    Then the token endpoint answers 200 with an access token
    When the client redeems the same authorization code again
    Then the answer is 400 with the OAuth error "invalid_grant" and is not cached
    When the client refreshes its token
    Then the answer is 400 with the OAuth error "invalid_grant" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc9700 @as-refresh-rotation
  Scenario: A refresh token rotates, and replaying the previous one is refused
    When the user logs in through the vMCP with a dynamically registered client
    And the client refreshes its token
    Then the token response carries a new refresh token
    When the client presents its previous refresh token again
    Then the answer is 400 with the OAuth error "invalid_grant" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-refresh-other-client
  Scenario: A refresh token presented by another client is refused
    When the user logs in through the vMCP with a dynamically registered client
    And another registered client presents the user's refresh token
    Then the answer is 400 with the OAuth error "invalid_grant" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc7636 @as-plain-pkce
  Scenario: An authorization request with the plain PKCE method is sent back with invalid_request
    When the user starts a login with "code_challenge_method" set to "plain"
    Then the client is sent back with the error "invalid_request" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-missing-state
  Scenario: An authorization request without state is sent back with invalid_request
    When the user starts a login without "state"
    Then the client is sent back with the error "invalid_request" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-missing-state
  Scenario: An authorization request with a guessable short state is sent back with invalid_request
    When the user starts a login with "state" set to "abc"
    Then the client is sent back with the error "invalid_request" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-redirect-uri
  Scenario: A redirect URI that is not exactly a registered one gets an error page, not a redirect
    When the user starts a login with a redirect URI that only extends the registered one
    Then the answer is not a redirect
    And the answer is 400 with the OAuth error "invalid_request" and is not cached

  @doc:concepts/embedded-auth-server.mdx @rfc6749 @as-unregistered-scope
  Scenario: A scope the client did not register is sent back with invalid_scope
    When the user starts a login with "scope" set to "openid admin:everything"
    Then the client is sent back with the error "invalid_scope" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-unknown-grant
  Scenario: An unknown grant type gets unsupported_grant_type
    When a client sends a token request with grant_type "password"
    Then the answer is 400 with the OAuth error "unsupported_grant_type" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-basic-secret
  Scenario: A public client presenting a secret with HTTP Basic gets invalid_client and a Basic challenge
    When a registered public client authenticates at the token endpoint with HTTP Basic and a secret
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached
    And the answer is 401 with a Basic challenge

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc6749 @as-malformed-body
  Scenario: A token request that repeats a parameter gets invalid_request
    When a client sends the token request body "grant_type=authorization_code&grant_type=refresh_token&code=x"
    Then the answer is 400 with the OAuth error "invalid_request" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @as-oversized-body
  Scenario: An oversized token request body is refused before it is read
    When a client sends a token request body of 100 KiB
    Then the answer status is 413

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#validate-the-issued-jwts @claim-I5 @as-jwt-audience
  Scenario: A validly signed token for another audience is refused
    When the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token re-signed with the configured signing key
    Then the vMCP accepts it
    When an MCP request carries the access token re-signed with the configured signing key and the audience "https://other.example.com/mcp"
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#validate-the-issued-jwts @as-jwt-expired
  Scenario: A validly signed token past its exp is refused
    When the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token re-signed with the configured signing key, expired a minute ago
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#validate-the-issued-jwts @claim-I5 @as-jwt-issuer
  Scenario: A validly signed token naming another issuer is refused
    When the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token re-signed with the configured signing key and the issuer "https://evil.example.com"
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#validate-the-issued-jwts @rfc8725 @as-jwt-alg-none
  Scenario: An unsigned token (alg none) is refused
    When the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token with its signature removed and alg none
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#validate-the-issued-jwts @rfc8725 @as-jwt-hs256
  Scenario: A token re-signed with HS256 keyed by the published public key is refused
    When the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token re-signed with HS256 using the published public key as the secret
    Then the vMCP refuses it with 401 and error "invalid_token"
