@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @okta-exchange
Feature: An Okta-like upstream whose own token endpoint exchanges the tokens it issued
  Okta is both things at one issuer: the OIDC provider users log in with, and the RFC 8693
  authorization server that mints backend-scoped tokens. Here the complete example's OIDC upstream
  (its second, Google) is an Okta-like mock: discovery, RS256 ID tokens and an authorization code
  flow, plus token exchange at the same token endpoint. The documented exchange-okta config
  points at that issuer and names the OIDC upstream as its subject provider, so the token the user
  got from Okta at login is exchanged at Okta.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And an Okta-like provider stands in for Google, its token endpoint also exchanging tokens for the client "vmcp-exchange-client" with secret "exchange-secret"
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

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#exchange-a-stored-upstream-token-token-exchange @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @okta-exchange-same-issuer
  Scenario: The token Okta issued at login is exchanged at Okta for the backend
    Given the MCPExternalAuthConfig "exchange-okta" has the field "spec.tokenExchange.subjectProviderName" set to "google"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-okta-app_echo" through the vMCP
    Then the tool call succeeded
    And the token exchange endpoint received an RFC 8693 request for audience "backend" and scope "backend-api:read" from client "vmcp-exchange-client"
    And the Okta-like issuer exchanged the access token it issued to the user at login
    And "backend-okta-app" received the exchanged token as a Bearer token
