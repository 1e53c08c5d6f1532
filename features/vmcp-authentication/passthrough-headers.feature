@doc:guides-vmcp/authentication.mdx @passthrough
Feature: Pass through client headers
  vMCP opens its own requests to backends: a client's request headers reach a backend only when
  the top-level passthroughHeaders allowlist names them. Forwarded headers have the lowest
  precedence, so a backend strategy that sets the same header wins. Restricted headers (Host,
  hop-by-hop headers, X-Forwarded-*, Proxy-Authorization) cannot be listed.

  The complete example is deployed with the documented passthroughHeaders block merged into its
  VirtualMCPServer and one more backend that has no outgoing strategy.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/authentication.mdx" section "pass-through-client-headers"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: a backend without an outgoing strategy.
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

  @doc:guides-vmcp/authentication.mdx#pass-through-client-headers @doc:guides-vmcp/configuration.mdx#forward-client-headers-to-backends
  @claim-O25 @claim-O27 @claim-N2
  Scenario: Listed headers are forwarded verbatim, unlisted ones are not
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-docs_search_docs" through the vMCP sending the headers:
      | X-API-Key  | client-key-1      |
      | X-Unlisted | must-not-be-seen  |
    Then the tool call succeeded
    And "backend-docs" received the client's "X-API-Key" header
    And "backend-docs" received the client's own access token as "Authorization"
    And "backend-docs" did not receive the client's "X-Unlisted" header

  @doc:guides-vmcp/authentication.mdx#pass-through-client-headers
  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#forward-a-stored-upstream-token-upstream-injection
  @claim-O26 @claim-T5
  Scenario: A backend strategy's Authorization overrides the forwarded one
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP sending the headers:
      | X-API-Key | client-key-1 |
    Then the tool call succeeded
    And "backend-github" received its strategy's GitHub token, not the client's Authorization
    And "backend-github" received the client's "X-API-Key" header

  @doc:guides-vmcp/authentication.mdx#pass-through-client-headers @doc:guides-vmcp/configuration.mdx#forward-client-headers-to-backends
  @claim-O28 @bad-input
  Scenario Outline: A restricted header in passthroughHeaders is refused at start-up
    Given the VirtualMCPServer "my-vmcp" has the field "spec.passthroughHeaders" set to '["X-API-Key", "<header>"]'
    When the vMCP is started
    Then the vMCP refuses to start with a message naming "passthroughHeaders" and "<header>"

    Examples:
      | header              |
      | Host                |
      | Connection          |
      | Transfer-Encoding   |
      | X-Forwarded-For     |
      | X-Forwarded-Host    |
      | Proxy-Authorization |
