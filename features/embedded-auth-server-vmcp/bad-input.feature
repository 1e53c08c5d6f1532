@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: The embedded authorization server answers bad input with RFC errors
  Clients that get something wrong learn what, from a standard error code: a 4xx with the
  RFC's JSON error (or, once the redirect URI is trusted, a redirect carrying it), never a 500.
  The docs promise PKCE with S256 only (code_challenge_methods_supported: [S256]).

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    When the vMCP is deployed

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-mcp-clients-with-toolhive @claim-R1
  Scenario: A registration request that is not JSON is refused with invalid_client_metadata
    When a client registers with the malformed JSON body "{\"redirect_uris\": [\"http://127.0.0.1/cb\""
    Then the answer is 400 with the OAuth error "invalid_client_metadata" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc7636
  Scenario: An authorization request without a PKCE challenge is sent back with invalid_request
    When the user starts a login without a PKCE code challenge
    Then the client is sent back with the error "invalid_request" and its own state

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @rfc7636
  Scenario: A code redeemed with the wrong PKCE verifier is refused with invalid_grant
    When the client redeems its authorization code with a wrong code verifier
    Then the answer is 400 with the OAuth error "invalid_grant" and is not cached
