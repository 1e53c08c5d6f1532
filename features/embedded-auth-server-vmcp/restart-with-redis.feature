@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: What survives a restart or a redeployment when sessions are kept in Redis
  Authorization codes and refresh tokens are HMAC-protected. Without hmacSecretRefs the secret is
  generated at start-up, so what was issued before a restart cannot be decoded after it, even when
  the records themselves survive in Redis. With the configured secret, the same refresh works.
  Users are keyed on the upstream subject: with Redis the key survives a redeployment, and changing
  `subjectClaim` (here from Entra's per-application `sub` to its stable `oid`, with Google as the
  only upstream) re-keys the user, as the docs warn. The documented Redis Sentinel topology runs in
  containers, as in redis-session-storage/.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And the documented Redis Sentinel topology is running
    And the VirtualMCPServer keeps its sessions in the Redis storage block "embedded-auth-with-redis.yaml" from section "configure-mcpexternalauthconfig"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-K3 @as-hmac-ephemeral-restart
  Scenario: Without hmacSecretRefs, a refresh token issued before a restart is refused after it
    Given the VirtualMCPServer field "spec.authServerConfig.hmacSecretRefs" is removed
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the vMCP restarts
    And the client refreshes its token
    Then the answer is 400 with the OAuth error "invalid_grant" and is not cached

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-K3 @as-hmac-persistent-restart
  Scenario: With hmacSecretRefs, the same refresh token still works after the restart
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the vMCP restarts
    And the client refreshes its token
    Then the token response carries a new refresh token

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#stable-subject-for-oidc-upstreams @claim-U17 @as-subject-claim-stable
  Scenario: Redeployed unchanged, an Entra-like user keeps the same internal subject
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0" is removed
    And the MCPExternalAuthConfig field "spec.upstreamInject.providerName" is set to "google"
    When the vMCP is deployed
    And the Google-like provider starts issuing Entra-like ID tokens (per-application sub, stable oid)
    And the user logs in through the vMCP with a dynamically registered client
    And the harness notes the access token's subject
    And the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then the access token's subject is the noted one

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#stable-subject-for-oidc-upstreams @claim-U15 @claim-U17 @as-subject-claim-rekey
  Scenario: Changing subjectClaim to oid on a live deployment re-keys the existing user
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0" is removed
    And the MCPExternalAuthConfig field "spec.upstreamInject.providerName" is set to "google"
    When the vMCP is deployed
    And the Google-like provider starts issuing Entra-like ID tokens (per-application sub, stable oid)
    And the user logs in through the vMCP with a dynamically registered client
    And the harness notes the access token's subject
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oidcConfig.subjectClaim" is set to the YAML:
      """yaml
      oid
      """
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    Then the access token's subject differs-from the noted one
