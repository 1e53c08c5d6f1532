//! The gateway's runtime configuration, built by `bundle` from a VirtualMCPServer, its MCPGroup's
//! backends and the MCPExternalAuthConfigs they reference (and later from ToolHive's `vmcp.yaml`).

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct VmcpConfig {
    /// The VirtualMCPServer's name.
    pub name: String,
    /// The group's backends, in a stable order (sorted by name).
    pub backends: Vec<BackendConfig>,
    pub incoming: IncomingAuthConfig,
    pub outgoing: OutgoingAuthConfig,
    pub aggregation: AggregationConfig,
    /// `incomingAuth.authzConfig`: Cedar policies every `tools/call` is checked against.
    pub authz: Option<super::authz::AuthzConfig>,
    /// `config.operational.timeouts`: how long a backend request may take.
    pub timeouts: BackendTimeouts,
}

/// `config.operational.timeouts` (configuration.mdx#timeouts): `default` (30 s when unset) and
/// `perWorkload` overrides by backend name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendTimeouts {
    pub default: std::time::Duration,
    pub per_workload: BTreeMap<String, std::time::Duration>,
}

impl Default for BackendTimeouts {
    fn default() -> Self {
        Self { default: std::time::Duration::from_secs(30), per_workload: BTreeMap::new() }
    }
}

impl BackendTimeouts {
    pub fn for_backend(&self, backend: &str) -> std::time::Duration {
        self.per_workload.get(backend).copied().unwrap_or(self.default)
    }
}

/// One backend MCP server of the group.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// MCPServer or MCPServerEntry name: the key of `outgoingAuth.backends` and the `{workload}`
    /// of the tool prefix.
    pub name: String,
    /// Streamable HTTP endpoint (the harness's mock for an MCPServer, `remoteUrl` for an entry).
    pub url: String,
    pub kind: BackendKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    McpServer,
    McpServerEntry,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per deployment
pub enum IncomingAuthConfig {
    /// `type: anonymous`: anyone who can reach the gateway may use it.
    Anonymous,
    /// `type: oidc` through an MCPOIDCConfig.
    Oidc(OidcIncoming),
}

#[derive(Debug, Clone)]
pub struct OidcIncoming {
    /// The MCPOIDCConfig's issuer; must equal the embedded server's issuer when one runs.
    pub issuer: String,
    /// `oidcConfigRef.audience`: `aud` must contain it.
    pub audience: String,
    /// `oidcConfigRef.resourceUrl` (default: the audience): the RFC 9728 `resource`.
    pub resource_url: String,
    /// `oidcConfigRef.scopes` (default `openid`): advertised in the protected resource metadata.
    pub scopes: Vec<String>,
    /// `inline.jwksUrl`; `None` means keys come from the in-process embedded server, or else
    /// from OIDC discovery of `issuer`.
    pub jwks_url: Option<String>,
    /// RFC 7662 introspection of opaque tokens, enabled by the MCPOIDCConfig's `clientSecretRef`.
    pub introspection: Option<IntrospectionConfig>,
    /// Only tokens whose `sub` is this value are accepted (`kubernetesServiceAccount` with
    /// `serviceAccount` and `namespace`: `system:serviceaccount:<namespace>:<name>`).
    pub required_subject: Option<String>,
}

/// Introspection client settings (authentication.mdx#oidc-authentication, VA:187-188).
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// `introspectionUrl`, else the issuer's discovered `introspection_endpoint`.
    pub url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Default)]
pub struct OutgoingAuthConfig {
    /// `outgoingAuth.default`: applies to backends without their own entry.
    pub default: Option<OutgoingStrategy>,
    /// `outgoingAuth.backends` (inline) or each backend's `externalAuthConfigRef` (discovered),
    /// already resolved to strategies.
    pub backends: BTreeMap<String, OutgoingStrategy>,
    /// Top-level `passthroughHeaders`: client request headers forwarded verbatim to every
    /// backend, at the lowest precedence (a strategy's own header wins). Validated at start-up.
    pub passthrough_headers: Vec<String>,
    /// `authServerConfig.disableUpstreamTokenInjection`: no stored upstream token is injected
    /// and no client credential header reaches a backend; `headerInjection` still applies.
    pub disable_upstream_token_injection: bool,
}

impl OutgoingAuthConfig {
    /// The strategy for `backend`: its own entry, else the default, else unauthenticated.
    pub fn for_backend(&self, backend: &str) -> &OutgoingStrategy {
        self.backends.get(backend).or(self.default.as_ref()).unwrap_or(&OutgoingStrategy::Unauthenticated)
    }
}

/// What the gateway adds to requests it sends to a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingStrategy {
    /// Nothing: the backend receives no credential.
    Unauthenticated,
    /// `Authorization: Bearer <the user's stored access token from providerName>`.
    UpstreamInject { provider_name: String },
    /// A fixed header from a Secret.
    HeaderInjection { header_name: String, header_value: String },
    /// RFC 8693 token exchange; the exchanged token is sent to the backend.
    TokenExchange(TokenExchangeConfig),
    /// Cross-application access: ID-JAG at the IdP (RFC 8693), then RFC 7523 at the target AS.
    Xaa(XaaConfig),
}

/// `xaa` of an MCPExternalAuthConfig, with secrets resolved and `subjectProviderName` filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XaaConfig {
    pub name: String,
    pub idp_token_url: String,
    pub idp_client_id: Option<String>,
    pub idp_client_secret: Option<String>,
    pub target_token_url: String,
    pub target_client_id: Option<String>,
    pub target_client_secret: Option<String>,
    pub target_audience: String,
    pub target_resource: Option<String>,
    pub scopes: Vec<String>,
    /// The upstream whose stored ID token is the Step A subject.
    pub subject_provider_name: String,
    /// Full URN (default `urn:ietf:params:oauth:token-type:id_token`).
    pub subject_token_type: String,
}

/// `tokenExchange` of an MCPExternalAuthConfig, with the client secret resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExchangeConfig {
    /// The MCPExternalAuthConfig's name (cache key and messages).
    pub name: String,
    pub token_url: String,
    pub audience: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// With it, the stored upstream access token of that provider is the subject token;
    /// without it, the vMCP-issued JWT the client presented (docs O12/O13).
    pub subject_provider_name: Option<String>,
    /// Full URN (`urn:ietf:params:oauth:token-type:access_token` by default).
    pub subject_token_type: String,
    /// Send the exchanged token in this header (raw) instead of `Authorization: Bearer`.
    pub external_token_header_name: Option<String>,
}

/// Expands the CRD's short token-type forms (`access_token`, `id_token`, `jwt`) to RFC 8693 URNs;
/// empty means `access_token`.
pub fn token_type_urn(value: Option<&str>) -> String {
    match value.map(str::trim).unwrap_or_default() {
        "" | "access_token" => "urn:ietf:params:oauth:token-type:access_token".into(),
        "id_token" => "urn:ietf:params:oauth:token-type:id_token".into(),
        "jwt" => "urn:ietf:params:oauth:token-type:jwt".into(),
        other => other.to_owned(),
    }
}

/// `config.aggregation` with the prefix conflict strategy.
#[derive(Debug, Clone)]
pub struct AggregationConfig {
    /// `conflictResolutionConfig.prefixFormat`, default `{workload}_`.
    pub prefix_format: String,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        Self { prefix_format: "{workload}_".into() }
    }
}

impl AggregationConfig {
    /// The advertised name of `tool` from `backend`.
    pub fn prefixed(&self, backend: &str, tool: &str) -> String {
        format!("{}{tool}", self.prefix_format.replace("{workload}", backend))
    }
}
