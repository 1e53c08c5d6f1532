@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @python-sdk @interop
Feature: Interoperability with the official MCP Python SDK
  A client nobody on this project wrote, the official MCP Python SDK (PyPI `mcp`), logs in
  through the complete example's embedded authorization server: it discovers the protected
  resource metadata from the 401 challenge, registers dynamically, runs PKCE (a headless redirect
  handler plays the browser through the mock GitHub and Google), then lists and calls tools.

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @claim-J14 @claim-O15
  Scenario: The Python SDK logs in through the embedded authorization server and calls a tool
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    When the vMCP is deployed
    And the official MCP Python SDK client logs in through the vMCP and calls the tool "backend-github_search_repositories"
    Then the Python SDK registered a client, listed "backend-github_search_repositories" and its call succeeded
    And "backend-github" received the GitHub access token issued to the user as a Bearer token
