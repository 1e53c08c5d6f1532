//! The reference vMCP gateway: incoming auth, aggregation over backend MCP servers, outgoing
//! strategies.
//!
//! [`Gateway::router`] serves `/mcp` (MCP Streamable HTTP with the official Rust SDK, behind
//! incoming auth), the RFC 9728 protected resource metadata and `/health`. The reference target
//! merges it with the embedded authorization server's router on one listener.

pub mod aggregator;
pub mod authz;
pub mod backend;
pub mod bench;
pub mod config;
pub mod embedded;
pub mod error;
pub mod exchange;
pub mod incoming;
pub mod outgoing;
pub mod prm;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

pub use self::config::VmcpConfig;
pub use self::embedded::EmbeddedAuth;
pub use self::error::GatewayError;
pub use self::incoming::Identity;

use self::aggregator::{Aggregator, Shared};
use self::config::IncomingAuthConfig;
use self::incoming::IncomingAuth;
use self::prm::PrmState;
use crate::defects::Defects;

/// Largest MCP request body accepted (larger ones get 413 from the transport).
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;

/// A configured gateway. Cheap to clone; every router built from it shares its state.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    incoming: Arc<IncomingAuth>,
    prm: PrmState,
    allowed_hosts: Vec<String>,
    cancel: CancellationToken,
    /// `spec.sessionStorage`: MCP sessions shared across replicas (none: each replica's memory).
    session_store: Option<Arc<dyn rmcp::transport::streamable_http_server::session::store::SessionStore>>,
    /// `--session-ttl` of the local CLI: an MCP session idle this long is closed (rmcp's default otherwise).
    session_ttl: Option<std::time::Duration>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("name", &self.shared.config.name)
            .field("backends", &self.shared.config.backends.iter().map(|b| &b.name).collect::<Vec<_>>())
            .field("incoming", &self.incoming)
            .finish()
    }
}

impl Gateway {
    /// Validates the config (e.g. an upstreamInject strategy without an embedded server is an
    /// error naming the backend), builds the router.
    pub fn new(
        config: VmcpConfig,
        embedded: Option<Arc<dyn EmbeddedAuth>>,
        http: reqwest::Client,
        defects: Defects,
    ) -> Result<Gateway, GatewayError> {
        validate(&config, embedded.is_some(), &defects)?;
        for warning in startup_warnings(&config, &defects) {
            tracing::warn!("{warning}");
        }
        let passthrough = outgoing::validate_passthrough(&config.outgoing.passthrough_headers)?;
        let incoming = Arc::new(IncomingAuth::new(&config.incoming, embedded, http.clone(), defects.clone()));
        let prm = PrmState::new(&config.incoming);
        let mut authz_config = config.authz.clone();
        if defects.is_on(crate::defects::Defect::AuthzClaimsFromVmcpToken)
            && let Some(a) = authz_config.as_mut()
        {
            a.claims_provider = None;
        }
        let ignore_groups = defects.is_on(crate::defects::Defect::AuthzIgnoreGroupClaims);
        let authz = authz_config
            .map(|c| {
                authz::Authz::new(c).map(|a| {
                    let drop_nested = defects.is_on(crate::defects::Defect::AuthzDropNestedClaims);
                    Arc::new(a.ignoring_group_claims(ignore_groups).dropping_nested_claims(drop_nested))
                })
            })
            .transpose()?;
        let allowed_hosts = allowed_hosts(&config.incoming);
        // Backend sessions hold SSE streams open and tool calls may be long: the caller's client
        // (used for JWKS and discovery) may carry a total request timeout, so backends get their
        // own client with only a connect timeout, and no redirects (a backend redirect must not
        // carry injected credentials elsewhere).
        let backend_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or(http);
        Ok(Gateway {
            shared: Arc::new(Shared {
                config,
                http: backend_http,
                defects,
                exchange_cache: exchange::ExchangeCache::default(),
                passthrough,
                authz,
            }),
            incoming,
            prm,
            allowed_hosts,
            cancel: CancellationToken::new(),
            session_store: None,
            session_ttl: None,
        })
    }

    /// Keeps the MCP sessions in `store` too, so another replica can restore them.
    pub fn with_session_store(
        mut self,
        store: Arc<dyn rmcp::transport::streamable_http_server::session::store::SessionStore>,
    ) -> Self {
        self.session_store = Some(store);
        self
    }

    /// Closes MCP sessions idle for `ttl` (`thv vmcp serve --session-ttl`).
    pub fn with_session_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.session_ttl = Some(ttl);
        self
    }

    /// `/mcp` (Streamable HTTP, behind incoming auth), `/.well-known/oauth-protected-resource`
    /// (+ path-suffixed form), `/health`. The reference target merges this with the
    /// authorization server's router on one listener.
    pub fn router(&self) -> Router {
        let shared = self.shared.clone();
        let mut mcp_config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(self.allowed_hosts.clone())
            .with_max_request_body_bytes(if self.shared.defects.is_on(crate::defects::Defect::GatewayNoBodyLimit) {
                64 * 1024 * 1024
            } else {
                MAX_REQUEST_BODY_BYTES
            })
            .with_cancellation_token(self.cancel.child_token());
        mcp_config.session_store = self.session_store.clone();
        let mcp = StreamableHttpService::new(
            move || Ok(Aggregator::new(shared.clone())),
            Arc::new({
                let mut sessions = LocalSessionManager::default();
                if let Some(ttl) = self.session_ttl {
                    sessions.session_config.keep_alive = Some(ttl);
                }
                sessions
            }),
            mcp_config,
        );
        let raw_parse_error = self.shared.defects.is_on(crate::defects::Defect::RawParseError);
        let mcp = Router::new()
            .nest_service("/mcp", mcp)
            .layer(axum::middleware::from_fn_with_state(self.shared.clone(), authorize_mcp))
            .layer(axum::middleware::map_response(move |r| async move {
                if raw_parse_error { r } else { parse_error_as_json_rpc(r).await }
            }))
            .layer(axum::middleware::from_fn_with_state(self.incoming.clone(), incoming::require_auth));
        let prm = Router::new()
            .route("/.well-known/oauth-protected-resource", get(prm::handler).options(prm::handler))
            .route("/.well-known/oauth-protected-resource/{*resource}", get(prm::handler).options(prm::handler))
            .with_state(self.prm.clone());
        Router::new().route("/health", get(|| async { "ok" })).merge(prm).merge(mcp)
    }

    /// Cancelled when the gateway shuts down: ends open MCP sessions and SSE streams (cancel it
    /// before a graceful shutdown of the listener, which otherwise waits for them).
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The configuration the gateway runs with.
    pub fn config(&self) -> &VmcpConfig {
        &self.shared.config
    }
}

/// rmcp answers a body that is not a JSON-RPC message with `415` and a plain-text reason; the
/// MCP Streamable HTTP transport asks for an HTTP error such as 400, optionally with a JSON-RPC
/// error without id, and JSON-RPC 2.0 §5.1 names it "Parse error" (-32700). Other 415s (a wrong
/// `Content-Type`) pass unchanged.
async fn parse_error_as_json_rpc(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    if response.status() != http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match http_body_util::Limited::new(body, 64 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return (parts.status, parts.headers).into_response(),
    };
    let text = String::from_utf8_lossy(&bytes);
    match text.strip_prefix("fail to deserialize request body") {
        Some(reason) => {
            let body = serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": -32700, "message": format!("Parse error:{reason}")},
            });
            (http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
        None => axum::response::Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}

/// Cedar on `tools/call` before rmcp sees the request: a denied call never reaches a backend and
/// is answered 403 Forbidden (concepts/auth-framework.mdx) with a JSON-RPC error carrying the
/// request id (DECISIONS.md). Other methods pass; `tools/list` is filtered by the aggregator.
async fn authorize_mcp(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(authz) = shared.authz.clone() else { return next.run(req).await };
    if req.method() != http::Method::POST || shared.defects.is_on(crate::defects::Defect::SkipCedarAuthorization) {
        return next.run(req).await;
    }
    let limit = if shared.defects.is_on(crate::defects::Defect::GatewayNoBodyLimit) {
        64 * 1024 * 1024
    } else {
        MAX_REQUEST_BODY_BYTES
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return (http::StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let identity = parts.extensions.get::<Identity>().cloned().unwrap_or_else(Identity::anonymous);
    let messages = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(one) => vec![one],
        Err(_) => Vec::new(), // rmcp answers the parse error
    };
    for message in &messages {
        if message.get("method").and_then(|m| m.as_str()) != Some("tools/call") {
            continue;
        }
        let params = message.get("params");
        let tool = params.and_then(|p| p.get("name")).and_then(|n| n.as_str()).unwrap_or_default();
        let arguments = params.and_then(|p| p.get("arguments")).and_then(|a| a.as_object());
        if let authz::Verdict::Deny(reason) = authz.call_tool(&identity, tool, arguments) {
            tracing::info!(tool, subject = %identity.subject, %reason, "vmcp: tools/call denied by Cedar");
            if shared.defects.is_on(crate::defects::Defect::AuthzForwardsDeniedCall) {
                let forwarded = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
                // Read the whole answer so the call really runs before the 403 goes out.
                let answer = next.run(forwarded).await;
                let _ = axum::body::to_bytes(answer.into_body(), MAX_REQUEST_BODY_BYTES).await;
            }
            let body = serde_json::json!({
                "jsonrpc": "2.0",
                "id": message.get("id").cloned().unwrap_or(serde_json::Value::Null),
                "error": {"code": -32001, "message": format!("Forbidden: {reason}")},
            });
            return (http::StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// Warnings about a configuration the gateway still runs (the reference target puts them in its
/// logs, where a vendor's vMCP writes its own).
pub fn startup_warnings(config: &VmcpConfig, defects: &Defects) -> Vec<String> {
    if defects.is_on(crate::defects::Defect::OmitStartupWarnings) {
        return Vec::new();
    }
    let mut out: Vec<String> = config
        .backends
        .iter()
        .filter_map(|b| {
            outgoing::startup_warning(config.outgoing.for_backend(&b.name), &format!("backend `{}`", b.name))
        })
        .collect();
    out.dedup();
    out
}

fn validate(config: &VmcpConfig, has_embedded: bool, defects: &Defects) -> Result<(), GatewayError> {
    if config.outgoing.disable_upstream_token_injection
        && !defects.is_on(crate::defects::Defect::AllowInjectionDisabledWithExchange)
    {
        let all = config
            .outgoing
            .default
            .iter()
            .map(|s| ("default".to_owned(), s))
            .chain(config.outgoing.backends.iter().map(|(n, s)| (format!("backends.{n}"), s)));
        for (location, strategy) in all {
            if matches!(strategy, config::OutgoingStrategy::TokenExchange(_)) {
                return Err(GatewayError::InjectionDisabledWithStrategy { location, strategy: "tokenExchange" });
            }
        }
    }
    let mut seen = BTreeSet::new();
    for b in &config.backends {
        if !seen.insert(b.name.as_str()) {
            return Err(GatewayError::DuplicateBackend { backend: b.name.clone() });
        }
        let invalid =
            |reason: String| GatewayError::InvalidBackendUrl { backend: b.name.clone(), url: b.url.clone(), reason };
        let url = url::Url::parse(&b.url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("scheme `{}` is not http or https", url.scheme())));
        }
        outgoing::validate(config.outgoing.for_backend(&b.name), &format!("backend `{}`", b.name), has_embedded)?;
    }
    if let Some(default) = &config.outgoing.default {
        outgoing::validate(default, "default", has_embedded)?;
    }
    for (name, strategy) in &config.outgoing.backends {
        if !seen.contains(name.as_str()) {
            tracing::warn!(backend = %name, "vmcp: outgoingAuth.backends names a backend that is not in the group");
            outgoing::validate(strategy, &format!("backends.{name}"), has_embedded)?;
        }
    }
    if let IncomingAuthConfig::Oidc(oidc) = &config.incoming {
        let invalid = |field, reason: &str| GatewayError::InvalidIncoming { field, reason: reason.to_owned() };
        if oidc.issuer.trim().is_empty() {
            return Err(invalid("issuer", "must not be empty"));
        }
        if oidc.audience.trim().is_empty() {
            return Err(invalid("audience", "must not be empty (tokens for any audience would be replayable)"));
        }
        if let Some(jwks) = &oidc.jwks_url {
            url::Url::parse(jwks).map_err(|e| invalid("jwksUrl", &e.to_string()))?;
        }
    }
    Ok(())
}

/// `Host` values the MCP endpoint accepts (rmcp's DNS-rebinding guard): loopback names on any
/// port, plus the host of the configured resource URL.
fn allowed_hosts(incoming: &IncomingAuthConfig) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"].iter().map(|h| (*h).to_owned()).collect();
    if let IncomingAuthConfig::Oidc(oidc) = incoming
        && let Ok(url) = url::Url::parse(&oidc.resource_url)
        && let Some(host) = url.host_str()
        && !hosts.iter().any(|h| h == host)
    {
        hosts.push(host.to_owned());
    }
    hosts
}

#[cfg(test)]
mod tests;
