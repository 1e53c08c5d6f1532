@doc:guides-vmcp/embedded-auth-server-vmcp.mdx @xaa
Feature: Cross-application access (XAA, ID-JAG) to a backend in another trust domain
  On each backend call vMCP exchanges the user's stored upstream ID token at their IdP for an
  ID-JAG addressed to the target authorization server (RFC 8693, with targetResource as the
  RFC 8707 resource), then presents the ID-JAG at the target authorization server (RFC 7523
  JWT bearer) and sends the access token it returns to the backend. With several upstreams,
  subjectProviderName must name one; otherwise only that backend is rejected.

  The complete example (GitHub and Google upstreams) is deployed with the documented xaa config
  attached to one more backend through discovery mode. Two harness mocks stand in for the IdP and
  the target authorization server; the documented `subjectProviderName: my-idp` is pointed at the
  Google upstream, whose login yields an ID token.

  Background:
    Given the documented manifests "backends.yaml, auth-configs.yaml, virtualmcpserver.yaml" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "complete-example"
    And the prerequisite Secrets from "fixtures/secrets/embedded-auth-server.yaml"
    And the user "alice" has accounts at GitHub and Google
    And an XAA identity provider that knows the client "vmcp-idp-client" with secret "idp-secret"
    And a target authorization server that knows the client "vmcp-target-client" with secret "target-secret"
    And the documented block "MCPExternalAuthConfig resource" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "bridge-separate-trust-domains-cross-application-access"
    And the documented block "VirtualMCPServer resource" from "guides-vmcp/embedded-auth-server-vmcp.mdx" section "bridge-separate-trust-domains-cross-application-access"
    And the scenario adds these manifests, with the harness endpoints filled in:
      """yaml
      # Not from the docs: the two Secrets the documented xaa config references, and the backend
      # the documented MCPServer block (spec.externalAuthConfigRef: xaa-backend) belongs to.
      apiVersion: v1
      kind: Secret
      metadata:
        name: xaa-idp-client-secret
        namespace: toolhive-system
      type: Opaque
      stringData:
        client-secret: "{xaa-idp-secret}"
      ---
      apiVersion: v1
      kind: Secret
      metadata:
        name: xaa-target-client-secret
        namespace: toolhive-system
      type: Opaque
      stringData:
        client-secret: "{xaa-target-secret}"
      ---
      apiVersion: toolhive.stacklok.dev/v1beta1
      kind: MCPServer
      metadata:
        name: backend-xaa
        namespace: toolhive-system
      spec:
        image: example.org/xaa-mcp:1.0
        transport: streamable-http
        groupRef:
          name: my-backends
        externalAuthConfigRef:
          name: xaa-backend
      """

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access
  @claim-O19 @claim-O20
  Scenario: Each call runs Step A at the IdP and Step B at the target authorization server
    Given the MCPExternalAuthConfig "xaa-backend" has the field "spec.xaa.subjectProviderName" set to "google"
    When the vMCP is deployed
    And the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-xaa_echo" through the vMCP
    Then the XAA identity provider received an ID-JAG request for audience "https://target-as.example.com", resource "https://backend.example.com/mcp" and scope "backend-api:read" whose subject is the Google ID token issued to the user
    And the target authorization server received an RFC 7523 JWT-bearer request presenting that ID-JAG with scope "backend-api:read"
    And "backend-xaa" received the target authorization server's access token as a Bearer token
    And the tool call succeeded
    When the client calls the tool "backend-xaa_echo" through the vMCP
    Then both XAA steps ran 2 times

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access
  @claim-O21 @claim-E3
  Scenario: With two upstreams and no subjectProviderName only the XAA backend is rejected
    Given the MCPExternalAuthConfig "xaa-backend" has the field "spec.xaa.subjectProviderName" removed
    When the vMCP is deployed
    Then the VirtualMCPServer reports BackendAuthConfig-backend-xaa=False with reason AmbiguousSubjectProvider
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-github_search_repositories" through the vMCP
    Then the tool call succeeded
    And "backend-github" received the GitHub access token issued to the user as a Bearer token

  @doc:guides-vmcp/embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access
  @claim-O22 @xaa-no-target-client
  Scenario: Without target client credentials vMCP warns at start-up and Step B fails clearly
    Given the MCPExternalAuthConfig "xaa-backend" has the field "spec.xaa.subjectProviderName" set to "google"
    And the MCPExternalAuthConfig "xaa-backend" has the field "spec.xaa.targetClientId" removed
    And the MCPExternalAuthConfig "xaa-backend" has the field "spec.xaa.targetClientSecretRef" removed
    When the vMCP is deployed
    Then the vMCP logged a start-up warning naming "backend-xaa" and "without client authentication"
    When the user logs in through the vMCP with a dynamically registered client
    And the client calls the tool "backend-xaa_echo" through the vMCP
    Then the tool call failed with an error naming the target authorization server
    When the client calls the tool "backend-github_search_repositories" through the vMCP
    Then the tool call succeeded
