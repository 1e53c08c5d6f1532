@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @doc:guides-vmcp/authentication.mdx @token-exchange
Feature: Token exchange (RFC 8693) on the hop from vMCP to a backend
  A tokenExchange strategy mints a backend-scoped token at an RFC 8693 token endpoint and sends it
  to the backend instead of the client's token. With subjectProviderName the subject token is the
  user's stored upstream token; without it, the vMCP-issued JWT the client presented.

  The complete example is deployed with one more backend, backend-okta-app, which uses the
  documented exchange-okta config. The harness's RFC 8693 endpoint stands in for Okta and records
  every request; the documented Okta URL and client id placeholders are mapped to it. The complete
  example's upstreams are GitHub and Google, so the documented `subjectProviderName: okta` is
  pointed at `github`.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And a token exchange endpoint that knows the client "vmcp-exchange-client" with secret "exchange-secret"
    And the documented block "MCPExternalAuthConfig resource" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "exchange-a-stored-upstream-token-token-exchange"
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "exchange-a-stored-upstream-token-token-exchange"
    And the scenario adds these manifests, with the harness endpoints filled in:
      """yaml
      # Not from the docs: the Secret the documented exchange-okta config references, and the
      # backend the documented VirtualMCPServer block maps to it.
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

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#exchange-a-stored-upstream-token-token-exchange
  @claim-O12 @claim-O14 @claim-O10
  Scenario: The stored upstream token is exchanged, and upstreamInject still works next to it
    Given the MCPExternalAuthConfig "exchange-okta" has the field "spec.tokenExchange.subjectProviderName" set to "github"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-okta-app_echo" through the vMCP
    Then the tool call succeeded
    And the token exchange endpoint received an RFC 8693 request for audience "backend" and scope "backend-api:read" from client "vmcp-exchange-client"
    And its subject token is the GitHub access token issued to the user
    And "backend-okta-app" received the exchanged token as a Bearer token
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then the tool call succeeded
    And "backend-github" received the GitHub access token issued to the user as a Bearer token

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#exchange-a-stored-upstream-token-token-exchange
  @doc:guides-vmcp/authentication.mdx#federate-identity-with-token-exchange
  @claim-O13 @claim-O11 @claim-O10
  Scenario: Without subjectProviderName the vMCP-issued JWT is the subject, and the user's identity is kept
    Given the MCPExternalAuthConfig "exchange-okta" has the field "spec.tokenExchange.subjectProviderName" removed
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-okta-app_echo" through the vMCP
    Then the tool call succeeded
    And the token exchange endpoint received an RFC 8693 request for audience "backend" and scope "backend-api:read" from client "vmcp-exchange-client"
    And its subject token is the access token the client presented to the vMCP
    And "backend-okta-app" received the exchanged token as a Bearer token
    And the token "backend-okta-app" received keeps the user's subject with audience "backend"

  @doc:guides-vmcp/authentication.mdx#federate-identity-with-token-exchange @decision-exchange-cache
  Scenario: An exchanged token is reused until shortly before it expires
    Given the MCPExternalAuthConfig "exchange-okta" has the field "spec.tokenExchange.subjectProviderName" set to "github"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-okta-app_echo" through the vMCP
    And the client calls the tool "backend-okta-app_echo" through the vMCP
    Then the tool call succeeded
    And "backend-okta-app" received the exchanged token as a Bearer token
    And the token exchange endpoint received 1 request

  @doc:guides-vmcp/authentication.mdx#federate-identity-with-token-exchange @bad-input
  Scenario: A token endpoint that fails or answers garbage fails the call clearly and nothing is cached
    Given the MCPExternalAuthConfig "exchange-okta" has the field "spec.tokenExchange.subjectProviderName" set to "github"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Given the token exchange endpoint answers 500
    When the client calls the tool "backend-okta-app_echo" through the vMCP
    Then the tool call failed with an error naming the token exchange endpoint
    Given the token exchange endpoint answers garbage
    When the client calls the tool "backend-okta-app_echo" through the vMCP
    Then the tool call failed with an error naming the token exchange endpoint
    Given the token exchange endpoint answers normally
    When the client calls the tool "backend-okta-app_echo" through the vMCP
    Then the tool call succeeded
    And "backend-okta-app" received the exchanged token as a Bearer token
    And the token exchange endpoint received 3 requests
