//! The MCP side of the gateway: one [`Aggregator`] per MCP session, advertising the union of the
//! group's backend tools (renamed with the prefix conflict strategy) and routing each call to
//! the backend that owns it, over a backend session opened with the caller's identity.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderValue};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, InitializeRequestParams,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, Peer, RoleClient, RoleServer, ServerHandler};

use super::backend::{self, BackendConn};
use super::config::{BackendConfig, OutgoingStrategy, VmcpConfig};
use super::error::{BackendError, OutgoingError};
use super::incoming::Identity;
use super::outgoing::{self, Caller};
use crate::defects::{Defect, Defects};

/// What every session of one gateway shares.
pub struct Shared {
    pub config: VmcpConfig,
    /// The client backend sessions are opened with.
    pub http: reqwest::Client,
    pub defects: Defects,
    /// Exchanged tokens (`tokenExchange`), shared by every session.
    pub exchange_cache: super::exchange::ExchangeCache,
    /// `passthroughHeaders`, validated.
    pub passthrough: Vec<http::HeaderName>,
    /// Cedar policies (`incomingAuth.authzConfig`), loaded.
    pub authz: Option<Arc<super::authz::Authz>>,
}

/// The caller of one MCP request, read from the HTTP request the MCP message arrived in.
struct RequestCaller {
    identity: Identity,
    client_authorization: Option<HeaderValue>,
    client_headers: HeaderMap,
}

impl RequestCaller {
    fn of(context: &RequestContext<RoleServer>) -> Self {
        let parts = context.extensions.get::<http::request::Parts>();
        Self {
            identity: parts.and_then(|p| p.extensions.get::<Identity>()).cloned().unwrap_or_else(Identity::anonymous),
            client_authorization: parts.and_then(|p| p.headers.get(AUTHORIZATION)).cloned(),
            client_headers: parts.map(|p| p.headers.clone()).unwrap_or_default(),
        }
    }

    fn as_outgoing(&self) -> Caller<'_> {
        Caller {
            identity: &self.identity,
            client_authorization: self.client_authorization.as_ref(),
            client_headers: Some(&self.client_headers),
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<BackendConn>>>;

/// The MCP server handler of one gateway session.
pub struct Aggregator {
    shared: Arc<Shared>,
    /// One lazily opened backend session per backend of the group.
    slots: BTreeMap<String, Slot>,
    /// The `(iss, sub)` the MCP session was created by (toolhive-behaviour 7.4).
    principal: OnceLock<(Option<String>, String)>,
    /// Advertised tool name -> (backend, original tool name), from this session's tools/list.
    routes: Mutex<HashMap<String, (String, String)>>,
}

impl Aggregator {
    pub fn new(shared: Arc<Shared>) -> Self {
        let slots = shared.config.backends.iter().map(|b| (b.name.clone(), Slot::default())).collect();
        Self { shared, slots, principal: OnceLock::new(), routes: Mutex::new(HashMap::new()) }
    }

    /// Binds the session to its first principal; a later request by another principal is refused.
    fn bind(&self, identity: &Identity) -> Result<(), String> {
        let me = (identity.issuer.clone(), identity.subject.clone());
        let bound = self.principal.get_or_init(|| me.clone());
        if *bound == me { Ok(()) } else { Err("Unauthorized: this MCP session belongs to another principal".into()) }
    }

    async fn outgoing_headers(
        &self,
        backend: &BackendConfig,
        caller: &RequestCaller,
    ) -> Result<HeaderMap, OutgoingError> {
        let shared = &self.shared;
        let outgoing_config = &shared.config.outgoing;
        let strategy = if shared.defects.is_on(Defect::IgnoreOutgoingDefault)
            && !outgoing_config.backends.contains_key(&backend.name)
        {
            &OutgoingStrategy::Unauthenticated
        } else {
            outgoing_config.for_backend(&backend.name)
        };
        let strategy = match (strategy, &outgoing_config.default) {
            (OutgoingStrategy::Unauthenticated, Some(default))
                if shared.defects.is_on(Defect::UnauthenticatedFallsBackToDefault) =>
            {
                default
            }
            _ => strategy,
        };
        let env = outgoing::Env {
            http: &shared.http,
            cache: &shared.exchange_cache,
            defects: &shared.defects,
            passthrough: &shared.passthrough,
            disable_upstream_token_injection: outgoing_config.disable_upstream_token_injection,
        };
        outgoing::backend_headers(strategy, caller.as_outgoing(), env).await
    }

    /// The backend session for `headers`, reusing the open one when it was opened with the same
    /// headers (a refreshed upstream token opens a new one).
    async fn connection(&self, backend: &BackendConfig, headers: HeaderMap) -> Result<Peer<RoleClient>, BackendError> {
        let slot = self
            .slots
            .get(&backend.name)
            .ok_or_else(|| BackendError::Connect(format!("backend `{}` is not part of the group", backend.name)))?;
        let mut guard = slot.lock().await;
        if let Some(conn) = guard.as_ref()
            && conn.usable_for(&headers)
        {
            return Ok(conn.peer());
        }
        *guard = None;
        let conn = BackendConn::connect(&self.shared.http, &backend.url, headers).await?;
        let peer = conn.peer();
        *guard = Some(conn);
        Ok(peer)
    }

    /// `config.operational.timeouts` for `backend`.
    fn timeout(&self, backend: &str) -> std::time::Duration {
        if self.shared.defects.is_on(Defect::IgnoreBackendTimeouts) {
            return std::time::Duration::from_secs(120);
        }
        self.shared.config.timeouts.for_backend(backend)
    }

    async fn forget(&self, backend: &str) {
        if let Some(slot) = self.slots.get(backend) {
            *slot.lock().await = None;
        }
    }

    async fn backend_tools(&self, backend: &BackendConfig, caller: &RequestCaller) -> Result<Vec<Tool>, String> {
        let headers =
            self.outgoing_headers(backend, caller).await.map_err(|e| format!("authentication failed: {e}"))?;
        let peer = self.connection(backend, headers).await.map_err(|e| e.to_string())?;
        match backend::list_tools(&peer, self.timeout(&backend.name)).await {
            Ok(tools) => Ok(tools),
            Err(e) => {
                self.forget(&backend.name).await;
                Err(e.to_string())
            }
        }
    }

    /// The backend and original name behind an advertised tool name: this session's last
    /// listing first, else the backend whose prefix matches (longest prefix wins).
    fn resolve(&self, name: &str) -> Option<(&BackendConfig, String)> {
        let config = &self.shared.config;
        let routed = self.routes.lock().ok().and_then(|r| r.get(name).cloned());
        if let Some((backend, tool)) = routed
            && let Some(b) = config.backends.iter().find(|b| b.name == backend)
        {
            return Some((b, tool));
        }
        config
            .backends
            .iter()
            .filter_map(|b| {
                let prefix = config.aggregation.prefixed(&b.name, "");
                name.strip_prefix(prefix.as_str()).filter(|t| !t.is_empty()).map(|t| (prefix.len(), b, t.to_owned()))
            })
            .max_by_key(|(len, _, _)| *len)
            .map(|(_, b, t)| (b, t))
    }
}

impl Aggregator {
    /// The result of a call whose backend is unreachable or broken: an error naming it.
    fn backend_failure(&self, text: String) -> CallToolResponse {
        if self.shared.defects.is_on(Defect::SwallowBackendFailure) {
            return CallToolResult::success(Vec::new()).into();
        }
        tool_error(text)
    }
}

fn tool_error(text: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(text)]).into()
}

impl ServerHandler for Aggregator {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(Implementation::new(
            format!("vmcp-conformance/{}", self.shared.config.name),
            env!("CARGO_PKG_VERSION"),
        ))
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let caller = RequestCaller::of(&context);
        self.bind(&caller.identity).map_err(|m| McpError::invalid_request(m, None))?;
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = RequestCaller::of(&context);
        self.bind(&caller.identity).map_err(|m| McpError::invalid_request(m, None))?;
        let backends = &self.shared.config.backends;
        let results = futures::future::join_all(backends.iter().map(|b| self.backend_tools(b, &caller))).await;
        let mut tools = Vec::new();
        let mut routes = HashMap::new();
        for (backend, result) in backends.iter().zip(results) {
            match result {
                Ok(list) => {
                    for mut tool in list {
                        let advertised = self.shared.config.aggregation.prefixed(&backend.name, &tool.name);
                        routes.insert(advertised.clone(), (backend.name.clone(), tool.name.to_string()));
                        tool.name = advertised.into();
                        tools.push(tool);
                    }
                }
                Err(error) => {
                    tracing::warn!(backend = %backend.name, %error, "vmcp: backend skipped in tools/list");
                }
            }
        }
        // cedar-policies.mdx#list-operations-and-filtering: only tools the caller may call.
        if let Some(authz) = &self.shared.authz
            && !self.shared.defects.is_on(Defect::UnfilteredToolList)
        {
            tools.retain(|t| authz.call_tool(&caller.identity, &t.name, None) == super::authz::Verdict::Allow);
        }
        if let Ok(mut r) = self.routes.lock() {
            *r = routes;
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = RequestCaller::of(&context);
        if let Err(m) = self.bind(&caller.identity) {
            return Ok(tool_error(m));
        }
        let Some((backend, tool)) = self.resolve(&request.name) else {
            return Err(McpError::invalid_params(format!("Unknown tool: {}", request.name), None));
        };
        let name = &backend.name;
        let headers = match self.outgoing_headers(backend, &caller).await {
            Ok(h) => h,
            Err(e) => return Ok(tool_error(format!("backend `{name}`: authentication failed: {e}"))),
        };
        let peer = match self.connection(backend, headers).await {
            Ok(p) => p,
            Err(e) => return Ok(self.backend_failure(format!("backend `{name}` is unavailable: {e}"))),
        };
        let mut params = request;
        if !self.shared.defects.is_on(Defect::ForwardPrefixedToolName) {
            params.name = tool.clone().into();
        }
        params.meta = None;
        match backend::call_tool(&peer, params, self.timeout(name)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                Ok(tool_error(format!("backend `{name}` returned an error for tool `{tool}`: {}", e.message)))
            }
            Err(e) => {
                self.forget(name).await;
                Ok(self.backend_failure(format!("backend `{name}` is unavailable: {e}")))
            }
        }
    }
}
