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
}

#[derive(Debug, Clone, Default)]
pub struct OutgoingAuthConfig {
    /// `outgoingAuth.default`: applies to backends without their own entry.
    pub default: Option<OutgoingStrategy>,
    /// `outgoingAuth.backends` (inline) or each backend's `externalAuthConfigRef` (discovered),
    /// already resolved to strategies.
    pub backends: BTreeMap<String, OutgoingStrategy>,
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
