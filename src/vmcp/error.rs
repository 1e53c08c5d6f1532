//! Errors of the gateway: configuration refused at start-up, and failures that reach the wire.

/// The gateway refuses a configuration it cannot serve as documented. Each message names the
/// field path and the documentation claim it enforces.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// `upstreamInject` reads the user's upstream tokens from the embedded authorization server's
    /// storage; without one the strategy can never work (docs O16: VE:461-462, VE:496-497).
    #[error(
        "outgoingAuth {location}: upstreamInject (providerName `{provider}`) requires an embedded authorization \
         server on this VirtualMCPServer, and none is configured (docs: embedded-auth-server-vmcp, upstreamInject)"
    )]
    UpstreamInjectWithoutEmbeddedServer { location: String, provider: String },
    /// `upstreamInject.providerName` must be non-empty.
    #[error("outgoingAuth {location}: upstreamInject.providerName must not be empty")]
    EmptyProviderName { location: String },
    /// `headerInjection.headerName` is not a valid HTTP field name.
    #[error("outgoingAuth {location}: headerInjection.headerName `{header}` is not a valid HTTP header name")]
    InvalidHeaderName { location: String, header: String },
    /// `headerInjection` value cannot be sent as an HTTP field value.
    #[error(
        "outgoingAuth {location}: headerInjection value for `{header}` is not a valid HTTP header value \
         (control characters or non-ASCII bytes)"
    )]
    InvalidHeaderValue { location: String, header: String },
    /// `headerInjection.headerName` names a header the MCP transport owns.
    #[error(
        "outgoingAuth {location}: headerInjection.headerName `{header}` is reserved by the MCP Streamable HTTP \
         transport (Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-Id, Host, Content-Length, \
         Content-Type) and cannot be injected"
    )]
    ReservedHeader { location: String, header: String },
    /// A backend URL that is not an absolute http(s) URL.
    #[error("backend `{backend}`: url `{url}` is not an absolute http(s) URL: {reason}")]
    InvalidBackendUrl { backend: String, url: String, reason: String },
    /// Two backends of the group share a name.
    #[error("backend `{backend}` appears twice in the group; backend names must be unique")]
    DuplicateBackend { backend: String },
    /// `disableUpstreamTokenInjection: true` with a strategy that attaches a new credential
    /// (embedded-auth-server-vmcp.mdx#skip-token-injection-for-public-backends, VE:726-732).
    #[error(
        "spec.authServerConfig.disableUpstreamTokenInjection is true, but outgoingAuth {location} uses {strategy}; \
         the two cannot be combined on one vMCP (docs: embedded-auth-server-vmcp.mdx#skip-token-injection-for-public-backends)"
    )]
    InjectionDisabledWithStrategy { location: String, strategy: &'static str },
    /// A `tokenExchange` field is unusable.
    #[error("outgoingAuth {location}: tokenExchange.{field} {reason} (docs: token-exchange-k8s.mdx)")]
    InvalidTokenExchange { location: String, field: String, reason: String },
    /// A `passthroughHeaders` entry names a restricted or invalid header.
    #[error("passthroughHeaders: `{header}` {reason} (docs: authentication.mdx#pass-through-client-headers)")]
    RestrictedPassthroughHeader { header: String, reason: &'static str },
    /// `incomingAuth.authzConfig` cannot be loaded.
    #[error(transparent)]
    Authz(#[from] super::authz::AuthzLoadError),
    /// `incomingAuth.oidc` is unusable.
    #[error("incomingAuth.oidc.{field}: {reason}")]
    InvalidIncoming { field: &'static str, reason: String },
}

/// Why a strategy could not produce the headers for an outgoing request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutgoingError {
    /// The caller has no stored upstream token for the strategy's provider (toolhive-behaviour 8.6:
    /// `upstream token not found`).
    #[error("upstream token for `{provider}` is missing (upstream token not found for this user's session)")]
    UpstreamTokenMissing { provider: String },
    /// The stored token cannot be carried in an HTTP header.
    #[error("upstream token for `{provider}` cannot be sent in an Authorization header")]
    UnusableUpstreamToken { provider: String },
    /// A header of the strategy's configuration is invalid (refused at start-up normally).
    #[error("header `{header}` of the outgoing strategy is invalid")]
    InvalidHeader { header: String },
    /// The RFC 8693 exchange failed; nothing was cached.
    #[error("token exchange at {url} failed: {reason}")]
    ExchangeFailed { url: String, reason: String },
    /// `tokenExchange` without `subjectProviderName` needs the client's own bearer token.
    #[error("token exchange needs the client's bearer token as subject, and the request carried none")]
    NoSubjectToken,
}

/// A failure talking to a backend MCP server.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    #[error("request failed: {0}")]
    Request(String),
}
