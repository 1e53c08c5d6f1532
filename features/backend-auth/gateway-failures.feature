@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @gateway-failures @bad-input
Feature: Bad input and failing backends at the gateway
  Malformed JSON-RPC gets a JSON-RPC parse error, an oversized body is refused before it is
  read, and a backend that fails answers that tool's call with a clear error while the other
  backends keep working.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: a second backend in the group.
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

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example
  Scenario: Malformed JSON-RPC gets a parse error
    When an MCP request with the access token carries the body "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\""
    Then the vMCP answers 400 with a JSON-RPC parse error

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example
  Scenario: An oversized request body is refused
    When an MCP request with the access token carries a JSON-RPC body of 2 MiB
    Then the vMCP answers 413

  @doc:guides-vmcp/failure-handling.mdx @backend-down
  Scenario: A failing backend fails only its own tools
    Given the backend "backend-docs" answers every request with 500
    When the client calls the tool "backend-docs_search_docs" through the vMCP
    Then the tool call failed with an error naming the backend "backend-docs"
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then the tool call succeeded
    And "backend-github" received the GitHub access token issued to the user as a Bearer token
