@doc:guides-vmcp/authentication.mdx @cedar @external-idp
Feature: Cedar authorization of tool calls
  After validating the client's token, vMCP evaluates Cedar policies before it forwards a request.
  The principal is the token's subject with every claim as a `claim_` attribute (groups and roles
  as THVGroup parents), the action of a tool call is `call_tool` and the resource is the tool.
  Anything not permitted is denied with 403 Forbidden, and `tools/list` only shows the tools the
  caller may call. With the embedded authorization server the claims come from the primary
  upstream provider's access token, and an opaque one denies.

  The harness's OIDC mock stands in for the documented https://auth.example.com; the tool name in
  a policy is the name the vMCP advertises (DECISIONS.md).

  Background:
    Given an external OIDC identity provider with the introspection client "vmcp-introspector" and secret "introspection-secret"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: a group with one backend and a VirtualMCPServer; the documented
      # incomingAuth blocks are merged into it.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPGroup
      metadata:
        name: authz-backends
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
          name: authz-backends
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: VirtualMCPServer
      metadata:
        name: authz-vmcp
        namespace: toolhive-system
      spec:
        groupRef:
          name: authz-backends
      """
    And the documented block "MCPOIDCConfig resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"

  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-J11
  Scenario: The documented inline policy permits only the search tool: other tools are hidden and refused
    Given the documented block "VirtualMCPServer resource (inline policies)" from "guides-vmcp/authentication.mdx" section "authorize-requests"
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp"
    When the client lists the tools through the vMCP
    Then the tool list does not contain "backend-docs_search_docs"
    When the client calls the tool "backend-docs_search_docs" through the vMCP over plain HTTP
    Then the vMCP refuses the call with 403 and a JSON-RPC error for it
    And "backend-docs" received no tools/call

  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-J11 @cedar-claims
  Scenario: Claims of the validated token decide: an admin role may call the tool, a viewer may not
    Given the documented block "VirtualMCPServer resource (inline policies)" from "guides-vmcp/authentication.mdx" section "authorize-requests"
    # Not from the docs verbatim: the role pattern of concepts/cedar-policies.mdx, for the tool
    # this vMCP advertises.
    And the VirtualMCPServer's inline Cedar policies are:
      """
      permit(principal, action == Action::"call_tool", resource == Tool::"backend-docs_search_docs")
        when { principal.claim_roles.contains("admin") };
      """
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp" with the claims:
      """json
      {"roles": ["admin"]}
      """
    When the client lists the tools through the vMCP
    Then the tool list contains "backend-docs_search_docs"
    When the client calls the tool "backend-docs_search_docs" through the vMCP over plain HTTP
    Then the vMCP answers the call with a result
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp" with the claims:
      """json
      {"roles": ["viewer"]}
      """
    When the client lists the tools through the vMCP
    Then the tool list does not contain "backend-docs_search_docs"
    When the client calls the tool "backend-docs_search_docs" through the vMCP over plain HTTP
    Then the vMCP refuses the call with 403 and a JSON-RPC error for it

  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-J11 @cedar-groups
  Scenario: Group claims become THVGroup parents of the principal
    Given the documented block "VirtualMCPServer resource (inline policies)" from "guides-vmcp/authentication.mdx" section "authorize-requests"
    And the VirtualMCPServer's inline Cedar policies are:
      """
      permit(principal in THVGroup::"engineering", action == Action::"call_tool", resource);
      """
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp" with the claims:
      """json
      {"groups": ["engineering"]}
      """
    When the client calls the tool "backend-docs_search_docs" through the vMCP over plain HTTP
    Then the vMCP answers the call with a result
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp" with the claims:
      """json
      {"groups": ["sales"]}
      """
    When the client calls the tool "backend-docs_search_docs" through the vMCP over plain HTTP
    Then the vMCP refuses the call with 403 and a JSON-RPC error for it

  @doc:concepts/cedar-policies.mdx#working-with-jwt-claims @claim-J13 @cedar-act
  Scenario: A delegation act claim is a nested record Cedar policies can read
    Given the documented block "VirtualMCPServer resource (inline policies)" from "guides-vmcp/authentication.mdx" section "authorize-requests"
    # Not from the docs verbatim: the documented `context.claim_act.sub` access, guarded with `has`
    # as the docs advise.
    And the VirtualMCPServer's inline Cedar policies are:
      """
      permit(principal, action == Action::"call_tool", resource)
        when { context has claim_act && context.claim_act.sub == "agent-7" };
      """
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp" with the claims:
      """json
      {"act": {"sub": "agent-7", "act": {"sub": "orchestrator"}}}
      """
    When the client calls the tool "backend-docs_search_docs" through the vMCP over plain HTTP
    Then the vMCP answers the call with a result
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp"
    When the client calls the tool "backend-docs_search_docs" through the vMCP over plain HTTP
    Then the vMCP refuses the call with 403 and a JSON-RPC error for it
