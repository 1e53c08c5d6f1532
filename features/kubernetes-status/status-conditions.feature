@doc:guides-k8s/auth-k8s.mdx
Feature: Status conditions the operator reports on the resources it reconciles
  The docs tell the reader which status condition to look at to confirm that a reference
  resolved: the MCPGroup's MCPServersChecked before a VirtualMCPServer can start, and
  CABundleRefValidated on a workload whose MCPOIDCConfig trusts a custom CA bundle kept in a
  ConfigMap. The docs' complete example is deployed with one change per scenario and the
  conditions are read back from the target.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google

  @doc:guides-vmcp/configuration.mdx#create-an-mcpgroup @claim-E9 @status-group-checked
  Scenario: The MCPGroup reports MCPServersChecked=True and the VirtualMCPServer starts
    When the vMCP is deployed
    Then the MCPGroup "my-backends" reports MCPServersChecked=True with reason AllServersChecked
    And the VirtualMCPServer reports GroupRefValidated=True with reason GroupRefValid

  @doc:guides-k8s/auth-k8s.mdx#use-a-custom-ca-certificate-for-the-oidc-issuer @claim-E6 @status-ca-bundle
  Scenario: A caBundleRef naming a ConfigMap that does not exist is CABundleRefNotFound
    Given the MCPOIDCConfig field "spec.inline.caBundleRef" is set to the YAML:
      """yaml
      configMapRef:
        name: corporate-ca-bundle
        key: ca.crt
      """
    When the manifests are applied
    Then the VirtualMCPServer reports CABundleRefValidated=False with reason CABundleRefNotFound

  @doc:guides-k8s/auth-k8s.mdx#use-a-custom-ca-certificate-for-the-oidc-issuer @claim-E6 @status-ca-bundle
  Scenario: A caBundleRef naming a key the ConfigMap lacks is CABundleRefInvalid
    Given the MCPOIDCConfig field "spec.inline.caBundleRef" is set to the YAML:
      """yaml
      configMapRef:
        name: corporate-ca-bundle
        key: ca.crt
      """
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: the ConfigMap holds the bundle under another key.
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: corporate-ca-bundle
        namespace: toolhive-system
      data:
        bundle.pem: "not the key the reference names"
      """
    When the manifests are applied
    Then the VirtualMCPServer reports CABundleRefValidated=False with reason CABundleRefInvalid

  @doc:guides-k8s/auth-k8s.mdx#use-a-custom-ca-certificate-for-the-oidc-issuer @claim-E6 @status-ca-bundle
  Scenario: A caBundleRef whose ConfigMap key holds a PEM certificate is CABundleRefValidated=True
    Given the MCPOIDCConfig field "spec.inline.caBundleRef" is set to the YAML:
      """yaml
      configMapRef:
        name: corporate-ca-bundle
        key: ca.crt
      """
    And the scenario adds these manifests:
      """yaml
      # Not from the docs: a self-signed CA made for this suite.
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: corporate-ca-bundle
        namespace: toolhive-system
      data:
        ca.crt: |
          -----BEGIN CERTIFICATE-----
          MIIBnDCCAUGgAwIBAgIUL4DuR80/hbv5UzR6FiXrOqdeSGwwCgYIKoZIzj0EAwIw
          IzEhMB8GA1UEAwwYQ29uZm9ybWFuY2UgQ29ycG9yYXRlIENBMB4XDTI2MTEyOTE2
          MzkzMloXDTM2MTEyNjE2MzkzMlowIzEhMB8GA1UEAwwYQ29uZm9ybWFuY2UgQ29y
          cG9yYXRlIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+wznXVtiCECw7jQJ
          NPidloj7BmaPPYkTNjQ68uYHCwbzujNCI0BluCSmcRhu5bLqxtxp4YXboSRzJLaW
          BFT31KNTMFEwHQYDVR0OBBYEFBQvmtGRSgVq5kFHDfeBniqCKlXFMB8GA1UdIwQY
          MBaAFBQvmtGRSgVq5kFHDfeBniqCKlXFMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
          zj0EAwIDSQAwRgIhAPM4zl2wXhCCGlS8ZBwa/c21iFRWLUyahu7McdqMWDgyAiEA
          qauRMdOqqsCRpxKt+hzqHPOzCXw3TEQEjCW+98mHNMY=
          -----END CERTIFICATE-----
      """
    When the vMCP is deployed
    Then the VirtualMCPServer reports CABundleRefValidated=True with reason CABundleRefValid

  @doc:guides-k8s/redis-session-storage.mdx#verify-session-storage-is-working @claim-E7 @status-session-storage-off
  Scenario: Without sessionStorage, SessionStorageWarning is True: MCP sessions stay in one replica
    When the vMCP is deployed
    Then the VirtualMCPServer reports SessionStorageWarning=True with reason SessionStorageNotConfigured

  @doc:guides-k8s/embedded-auth-server-k8s.mdx#troubleshooting @claim-E4 @status-eac-mirrored
  Scenario: The vMCP mirrors a referenced MCPExternalAuthConfig's Valid=False, and it clears after the fix
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: an Entra on-behalf-of config, an Enterprise-only type.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPExternalAuthConfig
      metadata:
        name: entra-obo
        namespace: toolhive-system
      spec:
        type: obo
        obo:
          tenantId: 00000000-0000-0000-0000-000000000000
          clientId: vmcp-app
          audience: api://backend
      """
    And the VirtualMCPServer "my-vmcp" has the field "spec.outgoingAuth.backends.backend-github.externalAuthConfigRef.name" set to "entra-obo"
    When the manifests are applied
    Then the MCPExternalAuthConfig "entra-obo" reports Valid=False with reason EnterpriseRequired
    And the VirtualMCPServer reports ExternalAuthConfigValidated=False with reason EnterpriseRequired
    Given the VirtualMCPServer "my-vmcp" has the field "spec.outgoingAuth.backends.backend-github.externalAuthConfigRef.name" set to "inject-github"
    When the manifests are applied
    Then the VirtualMCPServer reports ExternalAuthConfigValidated=True with reason ExternalAuthConfigValid
    And the MCPExternalAuthConfig "inject-github" reports Valid=True with reason Valid
