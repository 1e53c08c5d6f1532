@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: Client ID Metadata Documents: MCP clients that need no registration
  With `cimd.enabled`, an MCP client's client_id is the URL of its metadata document. The
  authorization server fetches it, checks it against the documented rules, caches it, and still
  offers dynamic registration. The harness hosts the documents on http://localhost, which the
  docs allow for development.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And an MCP client publishes its metadata document at "good/client.json":
      """json
      {"client_id": "{url}", "client_name": "CIMD client", "redirect_uris": ["{redirect_uri}"],
       "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
       "token_endpoint_auth_method": "none"}
      """

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#enable-cimd-for-zero-registration-clients @claim-W3 @claim-R13 @as-cimd-flag
  Scenario: The discovery document says CIMD is supported once it is enabled
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    When the vMCP is deployed
    And a client reads the authorization server metadata
    Then the metadata field "client_id_metadata_document_supported" is true

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#enable-cimd-for-zero-registration-clients @claim-R2 @as-cimd-off
  Scenario: Without cimd.enabled a URL client_id is an unknown client
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "good/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached
    And the document host received 0 requests for "good/client.json"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#enable-cimd-for-zero-registration-clients @claim-R3 @claim-R4 @claim-R5 @as-cimd-login
  Scenario: A CIMD client logs in without registering, twice, and its document is fetched once
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    When the vMCP is deployed
    And the user logs in through the vMCP with the client ID metadata document "good/client.json"
    Then the client received one access token signed by the deployed issuer
    When the user logs in through the vMCP with the client ID metadata document "good/client.json"
    Then the document host received 1 request for "good/client.json"
    When the user logs in through the vMCP with a dynamically registered client
    Then the client received one access token signed by the deployed issuer

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#troubleshooting @claim-R7 @as-cimd-client-id
  Scenario: A document whose client_id is not its own URL is refused with invalid_client
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And an MCP client publishes its metadata document at "impostor/client.json":
      """json
      {"client_id": "{host}/good/client.json", "redirect_uris": ["{redirect_uri}"]}
      """
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "impostor/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#troubleshooting @claim-R9 @as-cimd-secret
  Scenario: A document declaring a shared-secret authentication method is refused with invalid_client
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And an MCP client publishes its metadata document at "secret/client.json":
      """json
      {"client_id": "{url}", "redirect_uris": ["{redirect_uri}"], "token_endpoint_auth_method": "client_secret_basic"}
      """
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "secret/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#troubleshooting @claim-R8 @as-cimd-rules
  Scenario: A document without redirect_uris is refused with invalid_client
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And an MCP client publishes its metadata document at "noredirect/client.json":
      """json
      {"client_id": "{url}", "client_name": "no redirect"}
      """
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "noredirect/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#troubleshooting @claim-R10 @claim-E10 @as-cimd-rules
  Scenario: A document whose grant types lack authorization_code is refused with invalid_client
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And an MCP client publishes its metadata document at "grants/client.json":
      """json
      {"client_id": "{url}", "redirect_uris": ["{redirect_uri}"], "grant_types": ["client_credentials"]}
      """
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "grants/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#enable-cimd-for-zero-registration-clients @claim-R11 @as-cimd-rules
  Scenario: A document declaring a scope the server does not support is refused with invalid_client
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And an MCP client publishes its metadata document at "scopes/client.json":
      """json
      {"client_id": "{url}", "redirect_uris": ["{redirect_uri}"], "scope": "openid admin:everything"}
      """
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "scopes/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#enable-baseline-scopes-for-dcr-clients @claim-R16 @as-cimd-baseline
  Scenario: Baseline scopes also apply to CIMD clients
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And the VirtualMCPServer is merged with the documented block "VirtualMCPServer: baseline client scopes" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-baseline-scopes-for-dcr-clients"
    And an MCP client publishes its metadata document at "narrow/client.json":
      """json
      {"client_id": "{url}", "redirect_uris": ["{redirect_uri}"], "scope": "openid"}
      """
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "narrow/client.json" asking for "openid offline_access"
    Then the login goes on to the first upstream

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#enable-cimd-for-zero-registration-clients @claim-R12 @claim-E10 @as-cimd-slow @slow
  Scenario: A document host slower than the 5-second fetch timeout gets the client refused with invalid_client
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And the document host answers "slow/client.json" with a valid document after 7 seconds
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "slow/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#enable-cimd-for-zero-registration-clients @claim-R12 @as-cimd-oversized
  Scenario: A document larger than 10 KB gets the client refused with invalid_client
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And the document host answers "big/client.json" with a valid document padded to 11 KB
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "big/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#enable-cimd-for-zero-registration-clients @claim-R12 @as-cimd-redirect
  Scenario: A document URL that redirects gets the client refused with invalid_client: redirects are not followed
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And the document host redirects "moved/client.json" to "moved/target.json", a document naming the first URL as its client_id
    When the vMCP is deployed
    And the user starts a login with the client ID metadata document "moved/client.json"
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached
    And the document host received 0 requests for "moved/target.json"

  @doc:concepts/embedded-auth-server.mdx#client-id-metadata-document-cimd @claim-U25 @as-cimd-upstream-credentials
  Scenario: A CIMD client's URL stays inside the authorization server: the upstreams see its own client IDs
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    When the vMCP is deployed
    And the user logs in through the vMCP with the client ID metadata document "good/client.json"
    Then the client received one access token signed by the deployed issuer
    And neither GitHub nor Google saw the URL of "good/client.json", only the configured client IDs

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#enable-cimd-for-zero-registration-clients @claim-R6 @as-cimd-http
  Scenario: A plain-http document URL on a host that is not a loopback name is refused without a fetch
    The host is the document host itself, written as the IPv4-mapped IPv6 address
    [::ffff:127.0.0.1]: an address the authorization server can reach and that is not a private
    range, but not the `localhost` the docs allow for development. Only the scheme rule stops it.
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    And the document host serves a valid document at "plain-http/client.json" whose client_id is its http URL on the host "[::ffff:127.0.0.1]"
    When the vMCP is deployed
    And the user starts a login with that http client ID
    Then the answer is 401 with the OAuth error "invalid_client" and is not cached
    And the document host received 0 requests for "plain-http/client.json"
