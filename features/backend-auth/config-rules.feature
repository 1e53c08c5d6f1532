@doc:guides-vmcp/authentication.mdx @gateway-config-rules @bad-input
Feature: Outgoing auth configuration the vMCP refuses
  Names must link up: inline outgoingAuth.backends keys name backends of the group, an
  upstreamInject providerName names an upstream of the embedded authorization server, and header
  values come only from a Secret.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#forward-a-stored-upstream-token-upstream-injection @claim-O16
  Scenario: An upstreamInject providerName that names no upstream is refused
    Given the MCPExternalAuthConfig "inject-github" has the field "spec.upstreamInject.providerName" set to "gitlab"
    When the manifests are applied
    Then the VirtualMCPServer reports AuthServerConfigValidated=False with reason AuthServerConfigInvalid

  @doc:guides-vmcp/authentication.mdx#how-the-resources-connect @claim-O4
  Scenario: An outgoingAuth.backends key that names no backend of the group is refused
    Given the VirtualMCPServer "my-vmcp" has the field "spec.outgoingAuth.backends.backend-missing" set to '{"type": "externalAuthConfigRef", "externalAuthConfigRef": {"name": "inject-github"}}'
    When the manifests are applied
    Then the VirtualMCPServer reports OutgoingAuthValidated=False with reason BackendNotInGroup

  @doc:guides-vmcp/authentication.mdx#inject-a-static-credential-header-injection @claim-O7
  Scenario: A headerInjection value written inline instead of in a Secret is refused
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: a plaintext value where the docs require valueSecretRef.
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPExternalAuthConfig
      metadata:
        name: plaintext-header
        namespace: toolhive-system
      spec:
        type: headerInjection
        headerInjection:
          headerName: X-API-Key
          value: plaintext-secret
      """
    When the vMCP is started
    Then the vMCP refuses to start with a message naming "headerInjection" and "value"

  @doc:guides-vmcp/authentication.mdx#federate-identity-with-token-exchange @doc:guides-k8s/embedded-auth-server-k8s.mdx @claim-O29
  Scenario: An obo config is reported as Enterprise-only on the vMCP that uses it
    Given the scenario adds these manifests:
      """yaml
      # Not from the docs: an Entra on-behalf-of config used by the complete example's backend.
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
    Then the VirtualMCPServer reports ExternalAuthConfigValidated=False with reason EnterpriseRequired
