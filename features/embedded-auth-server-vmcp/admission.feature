@doc:guides-vmcp/embedded-auth-server-vmcp.mdx
Feature: Configuration the controller refuses before anything runs
  The docs and the CRD schema put rules on the shape of the embedded authorization server's
  fields: upstream names are DNS labels, each upstream type carries its own config block,
  provider URLs are HTTPS, claim names and lifespans have a fixed syntax, signing keys are PEM,
  and upstream DCR takes exactly one way to find the registration endpoint. Each scenario
  breaks one rule in the docs' complete example and expects the documented condition and reason.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-U1 @as-admission @as-adm-name
  Scenario: An upstream name that is not a DNS label is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.name" is set to the YAML:
      """yaml
      GitHub_Upstream
      """
    And the MCPExternalAuthConfig field "spec.upstreamInject.providerName" is set to "GitHub_Upstream"
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#configure-upstream-providers @claim-U2 @as-admission @as-adm-block
  Scenario: An oidc upstream that also carries an oauth2Config block is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oauth2Config" is set to the YAML:
      """yaml
      authorizationEndpoint: https://accounts.google.com/o/oauth2/v2/auth
      tokenEndpoint: https://accounts.google.com/token
      clientId: <YOUR_GOOGLE_CLIENT_ID>
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#configure-upstream-providers @claim-U3 @as-admission @as-adm-issuer-url
  Scenario: An OIDC upstream issuerUrl that is not HTTPS is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.issuerUrl" is set to the YAML:
      """yaml
      http://accounts.internal.example.com
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response @claim-U14 @as-admission @as-adm-empty-path
  Scenario: An empty namePath is rejected: it must be omitted instead
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.identityFromToken" is set to the YAML:
      """yaml
      subjectPath: id
      namePath: ""
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#stable-subject-for-oidc-upstreams @claim-U16 @as-admission @as-adm-subject-claim
  Scenario: A subjectClaim that is not a single top-level claim name is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.1.oidcConfig.subjectClaim" is set to the YAML:
      """yaml
      user.oid
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server @claim-L3 @as-admission @as-adm-duration
  Scenario: A lifespan written in days is rejected: Go durations stop at hours
    Given the VirtualMCPServer field "spec.authServerConfig.tokenLifespans.refreshTokenLifespan" is set to "7d"
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#step-2-create-a-secret-for-jwt-signing-keys @claim-K6 @as-admission @as-adm-pem
  Scenario: A signing key that is not a PEM-encoded private key is rejected
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: a signing-key Secret holding something other than a PEM private key.
      apiVersion: v1
      kind: Secret
      metadata:
        name: not-a-pem-key
        namespace: toolhive-system
      type: Opaque
      stringData:
        private-key: "this is not a key"
      """
    And the VirtualMCPServer field "spec.authServerConfig.signingKeySecretRefs" is set to the YAML:
      """yaml
      - name: not-a-pem-key
        key: private-key
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#validate-the-issued-jwts @claim-I10 @as-admission @as-adm-anonymous
  Scenario: An embedded authorization server with anonymous incoming auth is rejected
    Given the VirtualMCPServer field "spec.incomingAuth" is set to the YAML:
      """yaml
      type: anonymous
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#select-the-primary-upstream-provider @claim-U20 @claim-E1 @as-admission @as-adm-primary
  Scenario: A primaryUpstreamProvider that names no upstream is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.primaryUpstreamProvider" is set to "gitlab"
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthzUpstreamUnknown

  @doc:guides-k8s/auth-k8s.mdx#connect-to-an-external-identity-provider @claim-I9 @claim-E5 @as-admission @as-adm-jwks-url
  Scenario: An inline MCPOIDCConfig with an http jwksUrl is invalid, and the vMCP stops at its reference
    Given the MCPOIDCConfig field "spec.inline.jwksUrl" is set to "http://keys.example.com/jwks"
    When the manifests are applied
    Then the MCPOIDCConfig "my-oidc-config" reports Valid=False with reason InvalidURL
    And the VirtualMCPServer reports OIDCConfigRefValidated=False with reason OIDCConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-toolhive-with-an-oauth-provider @claim-D4 @as-admission @as-adm-dcr-both
  Scenario: A dcrConfig with both discoveryUrl and registrationEndpoint is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.clientId" is removed
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.clientSecretRef" is removed
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.dcrConfig" is set to the YAML:
      """yaml
      discoveryUrl: https://github.com/.well-known/oauth-authorization-server
      registrationEndpoint: https://github.com/register
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#configure-upstream-providers @claim-D6 @as-admission @as-adm-dcr-client-id
  Scenario: A dcrConfig next to a static clientId and clientSecretRef is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.dcrConfig" is set to the YAML:
      """yaml
      registrationEndpoint: https://github.com/register
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#register-toolhive-with-an-oauth-provider @claim-D7 @as-admission @as-adm-dcr-https
  Scenario: A dcrConfig registration endpoint that is not HTTPS is rejected
    Given the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.clientId" is removed
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.clientSecretRef" is removed
    And the VirtualMCPServer field "spec.authServerConfig.upstreamProviders.0.oauth2Config.dcrConfig" is set to the YAML:
      """yaml
      registrationEndpoint: http://dcr.internal.example.com/register
      """
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid
