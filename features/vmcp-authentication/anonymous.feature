@doc:guides-vmcp/authentication.mdx @anonymous
Feature: Anonymous incoming authentication
  With `incomingAuth.type: anonymous`, anyone who can reach the vMCP can use it without
  credentials (development only).

  @doc:guides-vmcp/authentication.mdx#anonymous-development-only @claim-J3 @claim-J2
  Scenario: A client without any token lists and calls tools
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: a group with one backend and a VirtualMCPServer without authentication
      # settings; the documented anonymous block is merged into it below.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPGroup
      metadata:
        name: dev-backends
        namespace: toolhive-system
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-docs
        namespace: toolhive-system
      spec:
        image: example.org/docs-mcp:1.0
        transport: streamable-http
        groupRef:
          name: dev-backends
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: VirtualMCPServer
      metadata:
        name: dev-vmcp
        namespace: toolhive-system
      spec:
        groupRef:
          name: dev-backends
      """
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/authentication.mdx" section "anonymous-development-only"
    When the vMCP is deployed
    And an anonymous client calls the tool "backend-docs_search_docs" through the vMCP
    Then the anonymous call reached "backend-docs"
    And "backend-docs" received no Authorization header on any request
