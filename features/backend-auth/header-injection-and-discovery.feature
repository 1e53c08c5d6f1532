@doc:guides-vmcp/authentication.mdx @header-injection
Feature: Static header injection, discovery mode and the outgoing default
  A headerInjection config adds a fixed header, read from a Secret, to every request vMCP sends to
  a backend. In discovery mode vMCP reads each backend MCPServer's own externalAuthConfigRef;
  backends without one are reached without credentials unless outgoingAuth.default names a
  strategy, and a type: unauthenticated config opts a backend out of that default.

  The complete example is deployed with the documented headerInjection Secret and config, and the
  documented VirtualMCPServer blocks merged into its spec. The documented `<YOUR_API_KEY>` is a
  harness value.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the documented block "Secret" from "guides-vmcp/authentication.mdx" section "inject-a-static-credential-header-injection"
    And the documented block "MCPExternalAuthConfig resource" from "guides-vmcp/authentication.mdx" section "inject-a-static-credential-header-injection"

  @doc:guides-vmcp/authentication.mdx#inject-a-static-credential-header-injection @claim-O6 @claim-N1
  Scenario: An inline headerInjection config adds the Secret's value as the documented header
    Given the documented block "VirtualMCPServer resource" from "guides-vmcp/authentication.mdx" section "inject-a-static-credential-header-injection"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: the backend the documented VirtualMCPServer block names, and one that is
      # not in the outgoingAuth map.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-private-api
        namespace: toolhive-system
      spec:
        image: example.org/private-api-mcp:1.0
        transport: streamable-http
        groupRef:
          name: my-backends
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
          name: my-backends
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-private-api_echo" through the vMCP
    Then the tool call succeeded
    And "backend-private-api" received the header "X-API-Key" with the value stored in the Secret
    When the client calls the tool "backend-docs_search_docs" through the vMCP
    Then the tool call succeeded
    And "backend-docs" received no "X-API-Key" header on any request

  @doc:guides-vmcp/authentication.mdx#discovery-mode @doc:guides-vmcp/authentication.mdx#inject-a-static-credential-header-injection
  @claim-O1 @claim-O5 @claim-O9 @claim-O6
  Scenario: In discovery mode each backend's own externalAuthConfigRef is used, and one config serves two backends
    Given the documented block "VirtualMCPServer resource" number 1 from "guides-vmcp/authentication.mdx" section "discovery-mode"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: two backends sharing the documented headerInjection config through their
      # own externalAuthConfigRef, and one backend without a config.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-private-api
        namespace: toolhive-system
      spec:
        image: example.org/private-api-mcp:1.0
        transport: streamable-http
        groupRef:
          name: my-backends
        externalAuthConfigRef:
          name: backend-api-key-header
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-private-api-2
        namespace: toolhive-system
      spec:
        image: example.org/private-api-mcp:1.0
        transport: streamable-http
        groupRef:
          name: my-backends
        externalAuthConfigRef:
          name: backend-api-key-header
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
          name: my-backends
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-private-api_echo" through the vMCP
    Then "backend-private-api" received the header "X-API-Key" with the value stored in the Secret
    When the client calls the tool "backend-private-api-2_echo" through the vMCP
    Then "backend-private-api-2" received the header "X-API-Key" with the value stored in the Secret
    When the client calls the tool "backend-docs_search_docs" through the vMCP
    Then the tool call succeeded
    And "backend-docs" received no "X-API-Key" header on any request

  @doc:guides-vmcp/authentication.mdx#discovery-mode @claim-O2 @claim-O3
  Scenario: outgoingAuth.default covers backends without a config, and type unauthenticated opts one out
    Given the documented block "VirtualMCPServer resource" number 2 from "guides-vmcp/authentication.mdx" section "discovery-mode"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: the shared-backend-auth config the documented default names (a
      # headerInjection reusing the documented Secret), an unauthenticated config, and two backends.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPExternalAuthConfig
      metadata:
        name: shared-backend-auth
        namespace: toolhive-system
      spec:
        type: headerInjection
        headerInjection:
          headerName: X-API-Key
          valueSecretRef:
            name: backend-api-key
            key: value
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPExternalAuthConfig
      metadata:
        name: no-auth
        namespace: toolhive-system
      spec:
        type: unauthenticated
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
          name: my-backends
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-public
        namespace: toolhive-system
      spec:
        image: example.org/public-mcp:1.0
        transport: streamable-http
        groupRef:
          name: my-backends
        externalAuthConfigRef:
          name: no-auth
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-docs_search_docs" through the vMCP
    Then the tool call succeeded
    And "backend-docs" received the default strategy's header "X-API-Key"
    When the client calls the tool "backend-public_echo" through the vMCP
    Then the tool call succeeded
    And "backend-public" received no "X-API-Key" header on any request
