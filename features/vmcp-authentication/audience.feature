@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @doc:guides-vmcp/authentication.mdx
Feature: The embedded authorization server issues tokens only for its own vMCP
  The embedded authorization server puts the RFC 8707 `resource` the client asked for in the
  token's `aud`, and only accepts the vMCP's own resource URL, which is also the audience the
  vMCP's incoming auth expects. A client asking for a token for another resource is sent back
  with `invalid_target` instead of getting a token another server would accept.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#complete-example @claim-J15 @as-foreign-resource
  Scenario: A login for another resource is sent back with invalid_target
    When the vMCP is deployed
    And the user starts a login asking for the resource "https://other-vmcp.example.com/mcp"
    Then the client is sent back with the error "invalid_target" and its own state
