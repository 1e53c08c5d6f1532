@doc:guides-k8s/redis-session-storage.mdx
Feature: Redis Sentinel session storage for the embedded authorization server
  The docs deploy a Redis master and three Sentinels (an ACL user `toolhive-auth` restricted to
  `thv:auth:*`), and point the embedded authorization server's `storage` block at them, so that
  upstream tokens survive a restart of the vMCP; without it, sessions live in memory and are lost.

  The harness reads the Redis and Sentinel manifests from the docs at run time and starts them
  as containers (host networking, one loopback port per pod); it prints the mapping of the
  cluster DNS names to those ports. The documented `storage` block is placed under the complete
  example's `spec.authServerConfig`, and the `redis-acl-secret` the docs create with kubectl holds
  the topology's ACL credentials.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-k8s/redis-session-storage.mdx#verify-the-integration @doc:guides-k8s/redis-session-storage.mdx#configure-mcpexternalauthconfig
  @claim-S2 @claim-S3 @claim-S6
  Scenario: With the documented Redis storage, a login survives a restart of the vMCP
    Given the documented Redis Sentinel topology is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    When the harness notes what "backend-github" has received so far
    And the vMCP restarts
    And the client tries the tool "backend-github_search_repositories" through the vMCP
    Then after the restart "backend-github" received the user's GitHub token without a new login

  @doc:guides-k8s/redis-session-storage.mdx#embedded-auth-server-session-storage @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-session-storage
  @claim-S1
  Scenario: With the default memory storage, the same restart loses the session
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    When the harness notes what "backend-github" has received so far
    And the vMCP restarts
    And the client tries the tool "backend-github_search_repositories" through the vMCP
    Then after the restart "backend-github" received no GitHub token until the user logs in again
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token

  @doc:guides-k8s/redis-session-storage.mdx#deploy-redis-sentinel @doc:guides-k8s/redis-session-storage.mdx#using-explicit-sentinel-addresses
  @claim-S7 @claim-S8 @claim-S9
  Scenario: The documented ACL user runs the whole flow within thv:auth:* and the granted command categories
    Given the documented Redis Sentinel topology is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with sentinelAddrs" from section "using-explicit-sentinel-addresses"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client refreshes its token
    Then the token response carries a new refresh token
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    And the session storage connections authenticate as the ACL user "toolhive-auth"
    And every Redis key of the session is under the workload's prefix "thv:auth:{<namespace>:<name>}:"
    And the documented ACL refused no command of the flow

  @doc:guides-k8s/redis-session-storage.mdx#deploy-redis-sentinel @claim-S14
  Scenario: With the documented single master, losing it makes storage unavailable until it returns
    Given the documented Redis Sentinel topology is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    And the harness notes what "backend-github" has received so far
    And the Redis pod "redis-0" is stopped
    And the Sentinels still name "redis-0" as the master once it is down
    And an MCP request carries the access token
    Then the vMCP answers 503 saying the session storage is unavailable
    When the Redis pod "redis-0" is restarted
    Then the vMCP serves the user's session again within 20 seconds

  # Beyond the docs' manifests: the replicas the docs ask for (manifests/redis-sentinel/replicas.yaml).
  @doc:guides-k8s/redis-session-storage.mdx#troubleshooting @claim-S15 @failover
  Scenario: With two replicas, Sentinel fails over and no completed login is lost
    Given the documented Redis Sentinel topology with two replicas is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    And the harness notes what "backend-github" has received so far
    And the Redis pod "redis-0" is killed
    And Sentinel promotes a replica of "redis-0" within the documented timeouts
    Then the vMCP serves the user's session again within 20 seconds
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token

  @doc:guides-k8s/redis-session-storage.mdx#troubleshooting @claim-S15 @redis-wait
  Scenario: A login is not completed while no replica can acknowledge its records
    Given the documented Redis Sentinel topology with two replicas is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"
    When the vMCP is deployed
    And the Redis pod "redis-1" is paused
    And the Redis pod "redis-2" is paused
    And the user tries to log in through the vMCP
    Then the login does not complete while no replica can acknowledge its records
    When the Redis pod "redis-1" is unpaused
    And the Redis pod "redis-2" is unpaused
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token

  # Beyond the docs: two replicas of the vMCP behind one public URL share the documented storage.
  @doc:guides-k8s/redis-session-storage.mdx#embedded-auth-server-session-storage @redis-replicas
  Scenario: Two replicas share the sessions: log in through one, call tools through the other, refresh on both at once
    Given the documented Redis Sentinel topology is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"
    When the vMCP is deployed
    And a second replica of the vMCP is deployed from the same manifests
    And the user logs in through the vMCP with a dynamically registered client
    And the harness notes what "backend-github" has received so far
    And the client calls the tool "backend-github_search_repositories" through the second replica
    Then through the second replica "backend-github" received the user's GitHub token without a new login
    When both replicas are sent the user's refresh token at the same moment
    Then exactly one replica rotates the refresh token and the other answers invalid_grant

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#configure-session-storage @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-session-storage
  @claim-D10 @redis-dcr-restart
  Scenario: With Redis storage, the upstream DCR credentials are reused after a restart
    Given an upstream provider that supports dynamic client registration with the initial access token "conformance-iat-7f3a"
    And the upstream of the documented block "VirtualMCPServer: upstream DCR discovery" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "register-toolhive-with-an-oauth-provider" is placed first, served by that provider
    And the documented Redis Sentinel topology is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"
    When the vMCP is deployed
    Then the DCR provider received 1 registration
    When the vMCP restarts
    Then the DCR provider received 1 registration

  # The docs' production advice, beyond their manifests: the harness adds `user default off`, a
  # Sentinel ACL user (Redis' own Sentinel docs) with `sentinel auth-user`/`auth-pass`, and prints it.
  @doc:guides-k8s/redis-session-storage.mdx#deploy-redis-sentinel @doc:guides-k8s/redis-session-storage.mdx#using-explicit-sentinel-addresses
  @claim-S7 @claim-S9 @redis-default-off
  Scenario: With the default user disabled as the docs advise, the storage still runs the whole flow as the ACL user
    Given the documented Redis Sentinel topology is running with the default user off and Sentinel authenticating
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with sentinelAddrs" from section "using-explicit-sentinel-addresses"
    When the vMCP deployment is attempted
    Then the session storage connections authenticate as the ACL user "toolhive-auth"
    When the user logs in through the vMCP with a dynamically registered client
    And the client refreshes its token
    Then the token response carries a new refresh token
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    And the documented ACL refused no command of the flow
    When the harness confirms a client without credentials is refused while the Sentinels still see the master up

  # The docs' shared instance: one Sentinel-managed Redis for the auth server (toolhive-auth) and
  # for the scaling sessions (the default user, restricted to the scaling key patterns).
  @doc:guides-k8s/redis-session-storage.mdx#sharing-a-redis-instance @doc:guides-k8s/redis-session-storage.mdx#acl-configuration-for-a-shared-instance
  @claim-S18 @claim-S20 @redis-shared-instance
  Scenario: On a shared instance, the scaling sessions and the auth server's keys live side by side, each user confined to its own
    Given the documented Redis Sentinel topology is running, shared with the scaling workloads as the docs describe
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"
    And the VirtualMCPServer shares its MCP sessions through the sessionStorage snippet of section "acl-configuration-for-a-shared-instance"
    And the sessionStorage's keyPrefix is "vmcp-sessions", as the docs' table suggests
    When the vMCP is deployed
    And a second replica of the vMCP is deployed from the same manifests
    And the user logs in through the vMCP with a dynamically registered client
    And an MCP client initializes a session through the first replica
    And the client sends "tools/list" in that session through the second replica
    Then the second replica serves the session without a new initialize
    And the MCP session is kept in Redis under the key prefix "vmcp-sessions:"
    When the harness confirms the scaling credentials can neither read nor write the thv:auth keys
