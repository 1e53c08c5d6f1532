@doc:guides-vmcp/configuration.mdx @gateway-failures @slow-backend
Feature: A slow backend times out alone
  `config.operational.timeouts` bounds every backend request (`default`, 30 s when unset, and
  `perWorkload` overrides). A backend that does not answer in time fails that tool's call with a
  clear error naming the backend and the timeout, while the other backends keep answering.

  The complete example with one more backend; the harness's mock for that backend answers
  `tools/call` only after 5 seconds, and its per-workload timeout is 1 second.

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

  @doc:guides-vmcp/configuration.mdx#timeouts
  Scenario: The slow backend's call times out with a clear error; the other backend is still served
    Given the VirtualMCPServer "my-vmcp" has the field "spec.config.operational.timeouts.perWorkload.backend-docs" set to "1s"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Given the backend "backend-docs" answers tools/call only after 5 seconds
    When the client calls the tool "backend-docs_search_docs" through the vMCP
    Then the tool call failed with a timeout naming the backend "backend-docs"
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then the tool call succeeded
    And "backend-github" received the GitHub access token issued to the user as a Bearer token

  @doc:guides-vmcp/configuration.mdx#timeouts @bad-input
  Scenario: A timeout that is not a duration is refused naming the field
    Given the VirtualMCPServer "my-vmcp" has the field "spec.config.operational.timeouts.default" set to "soon"
    When the vMCP is started
    Then the VirtualMCPServer reports TimeoutsValidated=False with reason InvalidTimeout
