@doc:guides-k8s/redis-session-storage.mdx @redis-tls
Feature: TLS between the embedded authorization server and Redis Sentinel
  Without TLS the Redis credentials and the session tokens cross the network in plaintext. The
  `tls` block of the storage configuration turns TLS on and verifies the Redis server with the CA
  held in `caCertSecretRef`; with only `tls` set, the Sentinel connections use the same settings,
  and a `sentinelTls` block gives Sentinel its own CA. For self-signed test certificates,
  `insecureSkipVerify: true` skips the verification.

  The docs leave the server side to Redis' TLS documentation. The harness starts the documented
  topology with TLS ports only (the plaintext ports closed) and certificates from CAs it generates
  for the run; it prints these changes with the DNS mapping.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-k8s/redis-session-storage.mdx#enable-tls @doc:guides-k8s/redis-session-storage.mdx#configure-tls-in-mcpexternalauthconfig
  @claim-S10 @claim-S11
  Scenario: The tls block alone secures both the master and the Sentinel connections
    Given the documented Redis Sentinel topology is running with TLS, one CA signing the Redis and Sentinel certificates
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with TLS" from section "configure-tls-in-mcpexternalauthconfig"
    And the Secret "redis-ca-cert" holds the CA that signed the Redis certificates
    When the vMCP deployment is attempted
    Then the vMCP starts with its session storage reached over TLS
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    And no pod accepts plaintext clients, and the session keys were written over TLS

  @doc:guides-k8s/redis-session-storage.mdx#separate-tls-config-for-sentinel
  @claim-S12
  Scenario: With sentinelTls, the Sentinels are verified with their own CA
    Given the documented Redis Sentinel topology is running with TLS, two CAs signing the Redis and Sentinel certificates
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with separate Sentinel TLS" from section "separate-tls-config-for-sentinel"
    And the Secret "redis-ca-cert" holds the CA that signed the Redis certificates
    And the Secret "sentinel-ca-cert" holds the CA that signed the Sentinel certificates
    When the vMCP deployment is attempted
    Then the vMCP starts with its session storage reached over TLS
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then "backend-github" received the GitHub access token issued to the user as a Bearer token
    And no pod accepts plaintext clients, and the session keys were written over TLS

  @doc:guides-k8s/redis-session-storage.mdx#troubleshooting
  @claim-S13
  Scenario: insecureSkipVerify accepts certificates no configured CA vouches for
    Given the documented Redis Sentinel topology is running with TLS, two CAs signing the Redis and Sentinel certificates
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with TLS" from section "configure-tls-in-mcpexternalauthconfig"
    And the storage block's "tls" is replaced by:
      """yaml
      insecureSkipVerify: true
      """
    When the vMCP deployment is attempted
    Then the vMCP starts with its session storage reached over TLS
    When the user logs in through the vMCP with a dynamically registered client
    Then no pod accepts plaintext clients, and the session keys were written over TLS

  @doc:guides-k8s/redis-session-storage.mdx#troubleshooting @doc:guides-k8s/redis-session-storage.mdx#separate-tls-config-for-sentinel
  @claim-S10 @claim-S12 @redis-wrong-ca
  Scenario Outline: A CA that did not sign the server's certificate stops the start-up with an error naming the field
    Given the documented Redis Sentinel topology is running with TLS, two CAs signing the Redis and Sentinel certificates
    And the VirtualMCPServer keeps its sessions in the Redis storage block "storage block with separate Sentinel TLS" from section "separate-tls-config-for-sentinel"
    And the Secret "redis-ca-cert" holds the CA that signed the <redis-ca> certificates
    And the Secret "sentinel-ca-cert" holds the CA that signed the <sentinel-ca> certificates
    When the vMCP deployment is attempted
    Then the vMCP does not start, its error names "<field>" and the certificate, and nothing is stored

    Examples:
      | redis-ca | sentinel-ca | field                       |
      | Sentinel | Sentinel    | tls.caCertSecretRef         |
      | Redis    | Redis       | sentinelTls.caCertSecretRef |
