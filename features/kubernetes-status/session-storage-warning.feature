@doc:guides-k8s/redis-session-storage.mdx
Feature: SessionStorageWarning tells whether MCP sessions are shared through Redis
  The page tells the reader to check the SessionStorageWarning condition after applying a
  VirtualMCPServer whose sessionStorage names Redis: False with reason SessionStorageConfigured
  when Redis is configured, True when it is not (or is invalid). The docs' complete example is
  given the documented sessionStorage block, with the documented password-only Redis running as
  a container behind the documented Service name.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the documented password-only Redis of "redis-scaling.yaml" is running, reachable as "redis.toolhive-system.svc.cluster.local:6379"
    And the VirtualMCPServer shares its MCP sessions through the sessionStorage of "vmcp-with-redis.yaml" from section "configure-virtualmcpserver-session-storage"

  @doc:guides-k8s/redis-session-storage.mdx#verify-session-storage-is-working @claim-E7 @status-session-storage
  Scenario: With Redis configured, SessionStorageWarning is False with reason SessionStorageConfigured
    When the vMCP is deployed
    Then the VirtualMCPServer reports SessionStorageWarning=False with reason SessionStorageConfigured
