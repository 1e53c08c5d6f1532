@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @mcp-conformance-as
Feature: The MCP conformance suite's two authorization-server checks, run without a browser
  The MCP conformance suite (modelcontextprotocol/conformance, `authorization` command) has two
  scenarios for an authorization server: `authorization-server-metadata-endpoint` and
  `authorization-code-grant`. The second waits for a person to log in; here the harness plays
  that person through every upstream leg, so both run headlessly against the embedded
  authorization server of the docs' complete example. The checks keep the suite's ids and
  assert what the suite asserts.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#enable-cimd-for-zero-registration-clients @claim-W1 @claim-W3 @mcp-as-metadata
  Scenario: authorization-server-metadata-endpoint: the metadata a well-known URL serves
    Given the VirtualMCPServer is merged with the documented block "VirtualMCPServer: CIMD configuration" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "enable-cimd-for-zero-registration-clients"
    When the vMCP is deployed
    And the MCP conformance suite's metadata probe runs against the issuer
    Then the conformance check "authorization-server-metadata" passes
    And the conformance check "authorization-server-metadata-cimd" passes

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-mcp-clients-with-toolhive @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @claim-R1 @mcp-as-code-grant
  Scenario: authorization-code-grant: PKCE S256 and state through the upstream chain, then the token
    When the vMCP is deployed
    And the MCP conformance suite's metadata probe runs against the issuer
    And the MCP conformance suite's authorization-code grant runs with a dynamically registered public client
    Then the conformance check "authorization-code-grant" passes
