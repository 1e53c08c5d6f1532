//! A connection from the gateway to one backend MCP server, opened with rmcp's Streamable HTTP
//! client and carrying exactly the headers the backend's outgoing strategy produced.

use std::collections::HashMap;
use std::time::Duration;

use http::HeaderMap;
use rmcp::model::{CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, Implementation, Tool};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{Peer, RoleClient, ServiceError, ServiceExt};

use super::error::BackendError;

/// Time allowed to open a backend session (initialize handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An open MCP session with a backend.
pub struct BackendConn {
    headers: HeaderMap,
    service: RunningService<RoleClient, ClientConfig>,
}

impl std::fmt::Debug for BackendConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("BackendConn").field("headers", &names).field("closed", &self.service.is_closed()).finish()
    }
}

impl BackendConn {
    /// Opens a session to `url`. Every HTTP request of the session (initialize, notifications,
    /// calls, the closing DELETE) carries `headers` and nothing of the client's.
    pub async fn connect(http: &reqwest::Client, url: &str, headers: HeaderMap) -> Result<Self, BackendError> {
        let custom: HashMap<_, _> = headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned()).custom_headers(custom);
        let transport = StreamableHttpClientTransport::with_client(http.clone(), config);
        // The newest revision that still has the initialize handshake: one backend session per
        // (gateway session, backend), as ToolHive keeps.
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("vmcp-conformance-gateway", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(rmcp::model::ProtocolVersion::LATEST_WITH_INITIALIZE);
        let service = tokio::time::timeout(CONNECT_TIMEOUT, info.serve(transport))
            .await
            .map_err(|_| BackendError::Timeout(CONNECT_TIMEOUT))?
            .map_err(|e| BackendError::Connect(e.to_string()))?;
        Ok(Self { headers, service })
    }

    /// Whether this connection may serve a request that needs `headers`.
    pub fn usable_for(&self, headers: &HeaderMap) -> bool {
        !self.service.is_closed() && &self.headers == headers
    }

    pub fn peer(&self) -> Peer<RoleClient> {
        self.service.peer().clone()
    }
}

/// Every tool of the backend (all pages), within `timeout`.
pub async fn list_tools(peer: &Peer<RoleClient>, timeout: Duration) -> Result<Vec<Tool>, BackendError> {
    tokio::time::timeout(timeout, peer.list_all_tools())
        .await
        .map_err(|_| BackendError::Timeout(timeout))?
        .map_err(|e| BackendError::Request(e.to_string()))
}

/// One `tools/call`; a JSON-RPC error from the backend is returned as `Ok(Err(..))` so the caller
/// can tell it from a transport failure.
pub async fn call_tool(
    peer: &Peer<RoleClient>,
    params: CallToolRequestParams,
    timeout: Duration,
) -> Result<Result<CallToolResponse, rmcp::ErrorData>, BackendError> {
    match tokio::time::timeout(timeout, peer.call_tool_once(params)).await {
        Err(_) => Err(BackendError::Timeout(timeout)),
        Ok(Ok(resp)) => Ok(Ok(resp)),
        Ok(Err(ServiceError::McpError(e))) => Ok(Err(e)),
        Ok(Err(e)) => Err(BackendError::Request(e.to_string())),
    }
}
