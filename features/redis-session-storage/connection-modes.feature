@doc:guides-k8s/redis-session-storage.mdx
Feature: Redis connection modes and authentication of the session storage
  The storage connects in exactly one way: through Sentinel (`sentinelConfig`), to a standalone
  server (`addr`), or to a Redis Cluster (`addr` with `clusterMode: true`). Setting both `addr`
  and `sentinelConfig`, or neither, is refused, `clusterMode` needs `addr`, and within
  `sentinelConfig` the explicit `sentinelAddrs` and the `sentinelService` lookup exclude each
  other. Without a `usernameSecretRef` the storage authenticates with the password alone, which is
  what managed Redis tiers without ACL users accept.

  The password-only server is the docs' own `redis-scaling.yaml` (`redis-server --requirepass`),
  started as a container; the storage block's example host is mapped to it and the mapping printed.
  The Redis Cluster is the harness's own (the docs point cluster mode at managed services): three
  masters created with `redis-cli --cluster create`; the block's example host is mapped to one of
  them, the discovery endpoint, and the client finds the others from it.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-k8s/redis-session-storage.mdx#standalone-mode @claim-S7 @redis-password-only
  Scenario: Without usernameSecretRef, a standalone Redis is reached with the password alone and keeps the session
    Given the documented password-only Redis of "redis-scaling.yaml" is running, reachable as "redis.example.com:6379"
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with standalone addr" from section "standalone-mode"
    When the vMCP deployment is attempted
    Then the storage authenticated with the password alone, as Redis' default user
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    When the harness notes what "backend-github" has received so far
    And the vMCP restarts
    And the client tries the tool "backend-github_search_repositories" through the vMCP
    Then after the restart "backend-github" received the user's GitHub token without a new login

  @doc:guides-k8s/redis-session-storage.mdx#cluster-mode @claim-S4 @redis-modes @redis-addr-and-sentinel
  Scenario: A storage block with both addr and sentinelConfig is refused
    Given the VirtualMCPServer keeps its sessions in this storage block:
      """yaml
      # Not from the docs: the combination their note says admission refuses.
      storage:
        type: redis
        redis:
          addr: redis.example.com:6379
          sentinelConfig:
            masterName: mymaster
            sentinelService:
              name: redis-sentinel
              namespace: redis
          aclUserConfig:
            passwordSecretRef:
              name: redis-acl-secret
              key: password
      """
    When the vMCP deployment is attempted
    Then the deployment is refused with a condition naming "storage.redis, addr, sentinelConfig"
    And the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/redis-session-storage.mdx#cluster-mode @claim-S4 @redis-modes
  Scenario: A storage block with neither addr nor sentinelConfig is refused
    Given the VirtualMCPServer keeps its sessions in this storage block:
      """yaml
      # Not from the docs: no connection mode at all.
      storage:
        type: redis
        redis:
          aclUserConfig:
            passwordSecretRef:
              name: redis-acl-secret
              key: password
      """
    When the vMCP deployment is attempted
    Then the deployment is refused with a condition naming "storage.redis, addr, sentinelConfig"
    And the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/redis-session-storage.mdx#cluster-mode @claim-S4 @redis-modes
  Scenario: clusterMode with sentinelConfig instead of addr is refused
    Given the VirtualMCPServer keeps its sessions in this storage block:
      """yaml
      # Not from the docs: clusterMode without the addr it requires.
      storage:
        type: redis
        redis:
          clusterMode: true
          sentinelConfig:
            masterName: mymaster
            sentinelService:
              name: redis-sentinel
              namespace: redis
          aclUserConfig:
            passwordSecretRef:
              name: redis-acl-secret
              key: password
      """
    When the vMCP deployment is attempted
    Then the deployment is refused with a condition naming "storage.redis.clusterMode, addr"
    And the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/redis-session-storage.mdx#using-explicit-sentinel-addresses @claim-S5 @redis-modes
  Scenario: sentinelAddrs and sentinelService together are refused
    Given the VirtualMCPServer keeps its sessions in this storage block:
      """yaml
      # Not from the docs: both ways of finding the Sentinels, which the docs call mutually exclusive.
      storage:
        type: redis
        redis:
          sentinelConfig:
            masterName: mymaster
            sentinelService:
              name: redis-sentinel
              namespace: redis
            sentinelAddrs:
              - redis-sentinel-0.redis-sentinel.redis.svc.cluster.local:26379
          aclUserConfig:
            usernameSecretRef:
              name: redis-acl-secret
              key: username
            passwordSecretRef:
              name: redis-acl-secret
              key: password
      """
    When the vMCP deployment is attempted
    Then the deployment is refused with a condition naming "sentinelAddrs, sentinelService"
    And the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/redis-session-storage.mdx#cluster-mode @claim-S4 @redis-cluster
  Scenario: With clusterMode, the storage finds the shards from one endpoint and keeps the session across a restart
    Given a Redis Cluster of three masters is running, its discovery endpoint reachable as "redis-cluster.example.com:6379"
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with Redis Cluster" from section "cluster-mode"
    When the vMCP deployment is attempted
    Then the vMCP started with its session storage in the Redis Cluster
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    When the harness notes what "backend-github" has received so far
    And the vMCP restarts
    And the client tries the tool "backend-github_search_repositories" through the vMCP
    Then after the restart "backend-github" received the user's GitHub token without a new login
    And every Redis Cluster key of the session is under the workload's prefix "thv:auth:{<namespace>:<name>}:", all in one hash slot
