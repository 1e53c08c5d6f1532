@doc:guides-vmcp/authentication.mdx @cedar @external-idp
Feature: Shared Cedar policies from an MCPAuthzConfig
  Instead of inline policies, a VirtualMCPServer may reference an MCPAuthzConfig with
  `incomingAuth.authzConfigRef`, so several vMCP servers share one policy set. The vMCP only runs
  Cedar, so only `cedarv1` MCPAuthzConfig resources may be referenced; another type (such as
  `httpv1`) fails reconciliation with a condition saying why.

  The harness's OIDC mock stands in for the documented https://auth.example.com; the tool name in
  a policy is the name the vMCP advertises (DECISIONS.md).

  Background:
    Given an external OIDC identity provider with the introspection client "vmcp-introspector" and secret "introspection-secret"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: a group with one backend and a VirtualMCPServer; the documented
      # incomingAuth block is merged into it.
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
    And the documented block "VirtualMCPServer resource (shared policies)" from "guides-vmcp/authentication.mdx" section "authorize-requests"

  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-J10 @cedar-ref
  Scenario: A cedarv1 MCPAuthzConfig is enforced like inline policies
    # Not from the docs verbatim: the shape of guides-k8s/authorization-k8s.mdx's
    # mcp-authz-shared.yaml, named as the vMCP guide's reference and with the role pattern for
    # the tool this vMCP advertises.
    Given the scenario adds these manifests:
      """yaml
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPAuthzConfig
      metadata:
        name: shared-vmcp-policies
        namespace: toolhive-system
      spec:
        type: cedarv1
        config:
          policies:
            - 'permit(principal, action == Action::"call_tool", resource == Tool::"backend-docs_search_docs") when { principal.claim_roles.contains("admin") };'
          entities_json: '[]'
      """
    When the vMCP is deployed
    Then the VirtualMCPServer reports AuthzConfigRefValidated=True with reason AuthzConfigRefValid
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp" with the claims:
      """json
      {"roles": ["admin"]}
      """
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

  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-J10 @cedar-ref-type
  Scenario: An httpv1 MCPAuthzConfig cannot be referenced from a VirtualMCPServer
    # Not from the docs: an httpv1 config with the fields the CRD description lists for it.
    Given the scenario adds these manifests:
      """yaml
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPAuthzConfig
      metadata:
        name: shared-vmcp-policies
        namespace: toolhive-system
      spec:
        type: httpv1
        config:
          http:
            url: https://pdp.example.com/authorize
            timeout: 5s
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthzConfigRefValidated=False with reason AuthzConfigRefUnsupportedType
