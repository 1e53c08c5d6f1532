@doc:guides-vmcp/local-cli.mdx @local-cli
Feature: The local CLI: quick mode, config-file mode, validate
  The local CLI runs a vMCP as a foreground process. Quick mode serves a group's workloads
  without a config file, anonymously and on loopback only; config-file mode reads a `vmcp.yaml`
  that `validate` checks first. These scenarios run the CLI under test as a process
  (`VMCP_CONFORMANCE_CLI`, e.g. `thv vmcp`; by default this suite's own `vmcp-conformance`) and
  talk to it over HTTP. The documented starter config is used as written, apart from its backend
  URLs, which point at the harness's mock workloads (Streamable HTTP, so `transport` follows).
  Quick mode reads the group's workloads from a file passed with `--groups`, since the reference
  has no local ToolHive runtime to discover them from.

  @doc:guides-vmcp/local-cli.mdx#step-3-validate-the-config @claim-Q4 @claim-Q3 @cli-valid
  Scenario: The generated starter config validates
    Given the documented block "vmcp.yaml" from the local CLI page section "step-1-generate-a-starter-config" as the CLI config
    When the CLI validates the config
    Then the CLI exits with status 0

  @doc:guides-vmcp/local-cli.mdx#step-3-validate-the-config @claim-Q4 @cli-invalid
  Scenario: A config without a required field fails validation with a message naming it
    Given the documented block "vmcp.yaml" from the local CLI page section "step-1-generate-a-starter-config" as the CLI config
    And the CLI config has no field "groupRef"
    When the CLI validates the config
    Then the CLI exits with a non-zero status and its message names "groupRef"

  @doc:guides-vmcp/local-cli.mdx#step-3-validate-the-config @claim-Q4 @cli-invalid
  Scenario: A backend setting outside the allowed values fails validation with a message naming it
    Given the documented block "vmcp.yaml" from the local CLI page section "step-1-generate-a-starter-config" as the CLI config
    And the CLI config has the field "outgoingAuth.source" set to "sideways"
    When the CLI validates the config
    Then the CLI exits with a non-zero status and its message names "outgoingAuth.source"

  @doc:guides-vmcp/local-cli.mdx#step-4-start-the-server @claim-Q3 @claim-Q7
  Scenario: The starter config serves every backend's tools, prefixed, to anonymous clients
    Given the documented block "vmcp.yaml" from the local CLI page section "step-1-generate-a-starter-config" as the CLI config
    And each backend of the CLI config is a mock workload
    When the CLI serves the config
    Then an anonymous MCP client at /mcp lists the tools "fetch_ping, github_ping"

  @doc:guides-vmcp/local-cli.mdx#step-2-review-and-edit @claim-Q3 @claim-Q7 @cli-oidc
  Scenario: Switching incomingAuth to oidc makes clients authenticate
    Given the documented block "vmcp.yaml" from the local CLI page section "step-1-generate-a-starter-config" as the CLI config
    And each backend of the CLI config is a mock workload
    And the CLI config has the field "incomingAuth" set to '{"type": "oidc", "oidc": {"issuer": "https://idp.example.com", "audience": "vmcp"}}'
    When the CLI serves the config
    Then an MCP request without a token is refused with 401

  @doc:guides-vmcp/local-cli.mdx#step-4-start-the-server @claim-Q5
  Scenario: With both --config and --group, the config file wins
    Given the documented block "vmcp.yaml" from the local CLI page section "step-1-generate-a-starter-config" as the CLI config
    And each backend of the CLI config is a mock workload
    And the local group "other-group" has the workloads "jira"
    When the CLI serves the config with --group "other-group"
    Then an anonymous MCP client at /mcp lists the tools "fetch_ping, github_ping"

  @doc:guides-vmcp/local-cli.mdx#quick-mode @claim-Q1 @claim-Q7
  Scenario: Quick mode serves a group's tools anonymously at /mcp
    Given the local group "my-group" has the workloads "fetch, github"
    When the CLI serves the group "my-group" in quick mode on the host "127.0.0.1"
    Then an anonymous MCP client at /mcp lists the tools "fetch_ping, github_ping"

  @doc:guides-vmcp/local-cli.mdx#quick-mode @claim-Q2
  Scenario Outline: Quick mode refuses a non-loopback bind address
    Given the local group "my-group" has the workloads "fetch"
    When the CLI serves the group "my-group" in quick mode on the host "<host>"
    Then the CLI refuses to serve the group anywhere but loopback, naming "<host>"

    Examples:
      | host    |
      | 0.0.0.0 |
      | ::      |

  @doc:guides-vmcp/local-cli.mdx#thv-vmcp-serve @claim-Q6
  Scenario: --session-ttl closes an MCP session left idle longer than the timeout
    Given the documented block "vmcp.yaml" from the local CLI page section "step-1-generate-a-starter-config" as the CLI config
    And each backend of the CLI config is a mock workload
    When the CLI serves the config with --session-ttl "2s"
    Then an MCP session answers tools/list at once but is gone after 4 idle seconds
