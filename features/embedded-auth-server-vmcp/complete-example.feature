@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: Complete example: a vMCP that logs users in through GitHub and Google
  The docs' complete example deploys a VirtualMCPServer whose embedded authorization server
  sends each user through GitHub (plain OAuth 2.0) and then Google (OIDC), issues one JWT of its
  own, and forwards the user's GitHub access token to the backend-github MCP server.

  The three YAML blocks are read from the docs at run time. The harness plays the MCP client and
  the browser, maps the documented hosts (auth.example.com, mcp.example.com, github.com,
  api.github.com, accounts.google.com) to the target and to its mock providers, and fills the
  client ID placeholders and the prerequisite Secrets the page asks the reader to create.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @claim-W1 @claim-W2 @claim-I4 @as-metadata
  Scenario: The authorization server publishes its metadata at the issuer
    When the vMCP is deployed
    And a client reads the authorization server metadata
    Then the metadata field "issuer" is "{issuer}"
    And the metadata field "authorization_endpoint" is "{issuer}/oauth/authorize"
    And the metadata field "token_endpoint" is "{issuer}/oauth/token"
    And the metadata field "registration_endpoint" is "{issuer}/oauth/register"
    And the metadata field "jwks_uri" is "{issuer}/.well-known/jwks.json"
    And the metadata field "code_challenge_methods_supported" lists exactly "S256"
    And the metadata field "response_types_supported" includes "code"
    And the metadata field "grant_types_supported" includes "authorization_code"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @claim-W4 @claim-J14
  Scenario: An MCP request without a token is pointed to the protected resource metadata
    When the vMCP is deployed
    And an MCP request carries no token
    Then the vMCP answers 401 with a Bearer challenge naming its protected resource metadata
    When a client reads the protected resource metadata it was pointed to
    Then the metadata field "resource" is "{issuer}/mcp"
    And the metadata field "authorization_servers" lists exactly "{issuer}"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#how-it-works
  @claim-R1 @claim-M1 @claim-M2 @claim-M3 @claim-M4 @claim-I5 @claim-L1 @claim-L2 @claim-O15 @claim-U7 @claim-J5 @as-complete-login
  Scenario: A user logs in through GitHub then Google, and backend-github receives their GitHub token
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then the user agent visited GitHub and then Google before returning to the client
    And the client received one access token signed by the deployed issuer
    And the access token's audience is the documented MCP URL "https://mcp.example.com/mcp"
    And the access token lives for 3600 seconds
    When the client lists the tools through the vMCP
    Then the tool list contains "backend-github_search_repositories"
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then the tool call succeeded
    And "backend-github" received the GitHub access token issued to the user as a Bearer token

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#forward-a-stored-upstream-token-upstream-injection @claim-N1 @claim-N2
  Scenario: A backend that is not in the outgoingAuth map receives no credential
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: a second backend in the same group, absent from outgoingAuth.backends.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-docs
        namespace: toolhive-system
      spec:
        image: example.org/docs-mcp:1.0
        transport: streamable-http
        groupRef:
          name: my-backends
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client lists the tools through the vMCP
    Then the tool list contains "backend-docs_search_docs"
    When the client calls the tool "backend-docs_search_docs" through the vMCP
    Then the tool call succeeded
    And "backend-docs" received no Authorization header on any request

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @claim-J1
  Scenario: A token re-signed with a key the issuer never used is refused
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token
    Then the vMCP accepts it
    When an MCP request carries the access token re-signed by a key the issuer never used
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-L2 @slow
  Scenario: An access token is refused once its configured lifespan has passed
    Given the VirtualMCPServer field "spec.authServerConfig.tokenLifespans.accessTokenLifespan" is set to "1m"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then the access token lives for 60 seconds
    When an MCP request carries the access token
    Then the vMCP accepts it
    When the access token has expired
    And an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"
