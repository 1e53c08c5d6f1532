@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @skip-token-injection
Feature: Skip token injection for public backends
  With `disableUpstreamTokenInjection: true` on authServerConfig, clients still log in through the
  embedded authorization server and their JWT is still validated, but the backend receives no
  credential of the client's: Authorization, Cookie and Proxy-Authorization are stripped, and no
  stored upstream token is injected. A static credential can still be added with headerInjection.
  The flag cannot be combined with tokenExchange or awsSts: the vMCP refuses to start.

  The documented block elides the upstream list (`# ...`), so the harness sets the one documented
  field on the complete example instead of merging the block.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the VirtualMCPServer "my-vmcp" has the field "spec.authServerConfig.disableUpstreamTokenInjection" set to "true"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#skip-token-injection-for-public-backends @claim-T1 @claim-T2 @claim-T5
  Scenario: Clients still log in, and the backend receives no credential at all
    When the vMCP is deployed
    And an MCP request carries no token
    Then the vMCP answers 401 with a Bearer challenge naming its protected resource metadata
    When the user logs in through the vMCP with a dynamically registered client
    And an MCP request carries the access token
    Then the vMCP accepts it
    When the client calls the tool "backend-github_search_repositories" through the vMCP sending the headers:
      | Cookie              | session=client-cookie       |
      | Proxy-Authorization | Basic Y2xpZW50OnNlY3JldA==  |
    Then the tool call succeeded
    And "backend-github" received no Authorization, Cookie or Proxy-Authorization header on any request

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#skip-token-injection-for-public-backends
  @doc:guides-vmcp/authentication.mdx#inject-a-static-credential-header-injection @claim-T3
  Scenario: A static credential is still added with headerInjection
    Given the documented block "Secret" from "guides-vmcp/authentication.mdx" section "inject-a-static-credential-header-injection"
    And the documented block "MCPExternalAuthConfig resource" from "guides-vmcp/authentication.mdx" section "inject-a-static-credential-header-injection"
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/authentication.mdx" section "inject-a-static-credential-header-injection"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: the backend the documented headerInjection block names.
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
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-private-api_echo" through the vMCP
    Then the tool call succeeded
    And "backend-private-api" received the header "X-API-Key" with the value stored in the Secret

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#skip-token-injection-for-public-backends @claim-T4
  Scenario: Combining the flag with tokenExchange is refused at start-up, naming both
    Given a token exchange endpoint that knows the client "vmcp-exchange-client" with secret "exchange-secret"
    And the documented block "MCPExternalAuthConfig resource" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "exchange-a-stored-upstream-token-token-exchange"
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "exchange-a-stored-upstream-token-token-exchange"
    And the MCPExternalAuthConfig "exchange-okta" has the field "spec.tokenExchange.subjectProviderName" set to "github"
    And the scenario adds these manifests, with the harness endpoints filled in:
      """yaml
      # Not from the docs: the Secret and backend the documented exchange blocks reference.
      apiVersion: v1
      kind: Secret
      metadata:
        name: okta-exchange-client-secret
        namespace: toolhive-system
      type: Opaque
      stringData:
        client-secret: "{token-exchange-client-secret}"
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-okta-app
        namespace: toolhive-system
      spec:
        image: example.org/okta-app-mcp:1.0
        transport: streamable-http
        groupRef:
          name: my-backends
      """
    When the vMCP is started
    Then the vMCP refuses to start with a message naming "disableUpstreamTokenInjection" and "tokenExchange"
