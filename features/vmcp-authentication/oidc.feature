@doc:guides-vmcp/authentication.mdx @external-idp
Feature: OIDC incoming authentication through an MCPOIDCConfig
  With `incomingAuth.type: oidc` and an inline MCPOIDCConfig, vMCP validates tokens from an
  external identity provider: issuer, audience (unique per vMCP, so a token for another vMCP is
  refused), expiry and signature, with keys found through the issuer's discovery document and
  refreshed when a token names a new `kid`. With a `clientSecretRef`, opaque tokens are checked by
  RFC 7662 introspection. A `kubernetesServiceAccount` config validates service-account tokens
  with the API server as issuer.

  The harness's OIDC mock stands in for the documented https://auth.example.com (and for the
  Kubernetes API server); `<YOUR_CLIENT_ID>` and the introspection secret are harness values.

  Background:
    Given an external OIDC identity provider with the introspection client "vmcp-introspector" and secret "introspection-secret"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: a group with one backend and a VirtualMCPServer; the documented
      # incomingAuth blocks are merged into it.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPGroup
      metadata:
        name: oidc-backends
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
          name: oidc-backends
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: VirtualMCPServer
      metadata:
        name: oidc-vmcp
        namespace: toolhive-system
      spec:
        groupRef:
          name: oidc-backends
      """

  @doc:guides-vmcp/authentication.mdx#oidc-authentication @claim-J1 @claim-J5 @claim-J14 @claim-N2
  Scenario: A token for this vMCP is accepted; a token for another vMCP is refused
    Given the documented block "MCPOIDCConfig resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    And the documented block "VirtualMCPServer resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp"
    When an MCP request carries the access token
    Then the vMCP accepts it
    When the client calls the tool "backend-docs_search_docs" through the vMCP
    Then the tool call succeeded
    And "backend-docs" received no Authorization header on any request
    Given the client holds a token from the identity provider for the audience "https://other-vmcp.example.com/mcp"
    When an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/authentication.mdx#oidc-authentication @claim-J1
  Scenario: An expired token is refused
    Given the documented block "MCPOIDCConfig resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    And the documented block "VirtualMCPServer resource" number 2 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    When the vMCP is deployed
    Given the client holds an expired token from the identity provider for the audience "https://mcp.example.com/mcp"
    When an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/authentication.mdx#oidc-authentication @claim-J1 @key-rotation
  Scenario: After the identity provider rotates its key, tokens signed with the new kid are accepted
    Given the documented block "MCPOIDCConfig resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    And the documented block "VirtualMCPServer resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp"
    When an MCP request carries the access token
    Then the vMCP accepts it
    Given the identity provider rotates its signing key
    And the client holds a token from the identity provider for the audience "https://mcp.example.com/mcp"
    When an MCP request carries the access token
    Then the vMCP accepts it

  @doc:guides-vmcp/authentication.mdx#oidc-authentication @claim-J6
  Scenario: With clientSecretRef, opaque tokens are checked by introspection
    Given the documented block "MCPOIDCConfig resource" number 2 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    And the documented block "VirtualMCPServer resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    And the scenario adds these manifests, with the harness endpoints filled in:
      """yaml
      # The documented Secret (an untitled block in the docs) with the harness's client secret.
      apiVersion: v1
      kind: Secret
      metadata:
        name: oidc-client-secret
        namespace: toolhive-system
      type: Opaque
      stringData:
        clientSecret: "{idp-client-secret}"
      """
    When the vMCP is deployed
    Given the client holds an opaque token from the identity provider for the audience "https://mcp.example.com/mcp"
    When an MCP request carries the access token
    Then the vMCP accepts it
    And the identity provider's introspection endpoint was asked by the configured client
    Given the client holds an opaque token the identity provider never issued
    When an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/authentication.mdx#kubernetes-service-account-tokens @claim-J7
  Scenario: Kubernetes service-account tokens are validated with the API server as issuer
    Given the documented block "MCPOIDCConfig resource" from "guides-vmcp/authentication.mdx" section "kubernetes-service-account-tokens"
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/authentication.mdx" section "kubernetes-service-account-tokens"
    And the MCPOIDCConfig "vmcp-k8s-oidc" has the field "spec.kubernetesServiceAccount.issuer" set to "{idp-issuer}"
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the subject "system:serviceaccount:toolhive-system:mcp-client" and the audience "toolhive"
    When an MCP request carries the access token
    Then the vMCP accepts it
    Given the client holds a token from the identity provider for the subject "system:serviceaccount:toolhive-system:mcp-client" and the audience "https://mcp.example.com/mcp"
    When an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/authentication.mdx#kubernetes-service-account-tokens @claim-J8
  Scenario: With serviceAccount and namespace, only that service account's tokens are accepted
    Given the documented block "MCPOIDCConfig resource" from "guides-vmcp/authentication.mdx" section "kubernetes-service-account-tokens"
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/authentication.mdx" section "kubernetes-service-account-tokens"
    And the MCPOIDCConfig "vmcp-k8s-oidc" has the field "spec.kubernetesServiceAccount" set to '{"issuer": "{idp-issuer}", "serviceAccount": "mcp-client", "namespace": "agents"}'
    When the vMCP is deployed
    Given the client holds a token from the identity provider for the subject "system:serviceaccount:agents:mcp-client" and the audience "toolhive"
    When an MCP request carries the access token
    Then the vMCP accepts it
    Given the client holds a token from the identity provider for the subject "system:serviceaccount:agents:other-client" and the audience "toolhive"
    When an MCP request carries the access token
    Then the vMCP refuses it with 401 and error "invalid_token"

  @doc:guides-vmcp/authentication.mdx#authorize-requests @claim-J9 @bad-input
  Scenario: authzConfig and authzConfigRef together are refused
    Given the documented block "MCPOIDCConfig resource" number 1 from "guides-vmcp/authentication.mdx" section "oidc-authentication"
    And the documented block "VirtualMCPServer resource (inline policies)" from "guides-vmcp/authentication.mdx" section "authorize-requests"
    And the documented block "VirtualMCPServer resource (shared policies)" from "guides-vmcp/authentication.mdx" section "authorize-requests"
    When the manifests are applied
    Then the VirtualMCPServer reports IncomingAuthValidated=False with reason AuthzConfigConflict
