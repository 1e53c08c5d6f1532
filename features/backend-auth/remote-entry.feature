@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @remote-entry
Feature: Upstream injection to a remote MCPServerEntry backend
  An MCPServerEntry points vMCP at a hosted MCP server; it has no auth surface of its own, so vMCP
  forwards the user's stored upstream token straight to the remote endpoint.

  The documented entry's remoteUrl is pointed at a harness mock that records what it receives.

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#forward-a-stored-upstream-token-upstream-injection @claim-O17
  Scenario: The stored Google token reaches the remote endpoint of an MCPServerEntry
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And a remote MCP server "backend-google" serving the tool "list_events"
    And the documented block "MCPServerEntry backend" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "forward-a-stored-upstream-token-upstream-injection"
    And the MCPServerEntry "backend-google" has the field "spec.remoteUrl" set to "{backend-url:backend-google}"
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: the upstreamInject config for the google upstream, mapped by the entry's
      # name as the docs say ("exactly as with the container backend above").
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPExternalAuthConfig
      metadata:
        name: inject-google
        namespace: toolhive-system
      spec:
        type: upstreamInject
        upstreamInject:
          providerName: google
      """
    And the VirtualMCPServer "my-vmcp" has the field "spec.outgoingAuth.backends.backend-google" set to '{"type": "externalAuthConfigRef", "externalAuthConfigRef": {"name": "inject-google"}}'
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-google_list_events" through the vMCP
    Then the tool call succeeded
    And "backend-google" received the Google access token issued to the user as a Bearer token
