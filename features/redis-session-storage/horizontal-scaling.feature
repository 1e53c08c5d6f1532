@doc:guides-k8s/redis-session-storage.mdx
Feature: Horizontal-scaling session storage for the vMCP's MCP sessions
  With several replicas of a VirtualMCPServer, its `sessionStorage` block keeps the MCP sessions
  in Redis so that any replica can serve any session: a client whose request lands on another
  pod carries on without initializing again. This storage uses a plain password (the Redis
  `default` user), a direct address (no Sentinel), and a `keyPrefix` that keeps it apart from
  other uses of the same server. The documented Redis for it has no persistent volume: when it
  restarts, active sessions are gone and clients must reconnect.

  The harness runs the docs' `redis-scaling.yaml` as a container and maps the documented Service
  name to it; a second replica of the vMCP is deployed from the same manifests, as if behind the
  same Service.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the documented password-only Redis of "redis-scaling.yaml" is running, reachable as "redis.toolhive-system.svc.cluster.local:6379"
    And the VirtualMCPServer shares its MCP sessions through the sessionStorage of "vmcp-with-redis.yaml" from section "configure-virtualmcpserver-session-storage"

  @doc:guides-k8s/redis-session-storage.mdx#configure-virtualmcpserver-session-storage @doc:guides-k8s/redis-session-storage.mdx#verify-session-storage-is-working @doc:guides-k8s/redis-session-storage.mdx#sharing-a-redis-instance
  @claim-S16 @claim-S17 @claim-S18 @redis-scaling
  Scenario: A session initialized through one replica is served by the other without a new initialize
    When the vMCP is deployed
    And a second replica of the vMCP is deployed from the same manifests
    And the user logs in through the vMCP with a dynamically registered client
    And an MCP client initializes a session through the first replica
    And the client sends "tools/list" in that session through the second replica
    Then the second replica serves the session without a new initialize
    And the MCP session is kept in Redis under the key prefix "vmcp-sessions:"

  @doc:guides-k8s/redis-session-storage.mdx#deploy-a-standalone-redis-instance
  @claim-S19 @redis-scaling-restart
  Scenario: When the scaling Redis restarts, active sessions are lost and the client initializes again
    When the vMCP is deployed
    And a second replica of the vMCP is deployed from the same manifests
    And the user logs in through the vMCP with a dynamically registered client
    And an MCP client initializes a session through the first replica
    And the scaling Redis restarts
    And the client sends "tools/list" in that session through the second replica
    Then the second replica answers 404: the session is gone and the client must initialize again
    When an MCP client initializes a session through the second replica
    And the client sends "tools/list" in that session through the first replica
    Then the first replica serves the session without a new initialize
