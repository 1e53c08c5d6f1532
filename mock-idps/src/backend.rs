//! A backend MCP server (rmcp Streamable HTTP, mounted in axum) that records what reached it, so a
//! scenario can assert which headers (e.g. which upstream token) the gateway forwarded on each call.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::fault::Fault;
use crate::record::{RecordedRequest, header_pairs, lock};

/// Bodies above this are refused before they reach rmcp (which has its own, similar limit).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One `tools/call` the backend executed: the tool, its arguments and the HTTP headers of the
/// POST that carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedToolCall {
    pub tool: String,
    /// The `arguments` object, or `null` when the call had none.
    pub arguments: serde_json::Value,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl RecordedToolCall {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

struct Shared {
    name: String,
    tools: Vec<String>,
    requests: Mutex<Vec<RecordedRequest>>,
    calls: Mutex<Vec<RecordedToolCall>>,
    fault: Mutex<Fault>,
}

/// A mock MCP backend serving `POST`/`GET`/`DELETE /mcp` on a loopback port.
///
/// It runs on its own thread and runtime (as wiremock does), so it outlives the runtime of the
/// test or step that started it and can live in a process-wide fixture. Dropping it stops it.
/// Clones share the server; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct MockBackend {
    shared: Arc<Shared>,
    url: String,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl std::fmt::Debug for MockBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockBackend").field("name", &self.shared.name).field("url", &self.url).finish_non_exhaustive()
    }
}

impl MockBackend {
    /// Starts a backend called `name` offering `tools`; each tool answers `"<name>/<tool>: ok"`.
    ///
    /// # Panics
    /// If no loopback port can be bound or no thread spawned (the machine, not the input).
    pub async fn start(name: &str, tools: &[&str]) -> Self {
        Self::start_on(None, name, tools).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(listener: Option<std::net::TcpListener>, name: &str, tools: &[&str]) -> Self {
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            tools: tools.iter().map(|t| (*t).to_owned()).collect(),
            requests: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            fault: Mutex::new(Fault::None),
        });
        let listener = listener
            .map_or_else(|| std::net::TcpListener::bind("127.0.0.1:0"), Ok)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .unwrap_or_else(|e| panic!("MockBackend {name}: cannot bind a loopback port: {e}"));
        let url = match listener.local_addr() {
            Ok(addr) => format!("http://{addr}/mcp"),
            Err(e) => panic!("MockBackend {name}: no local address: {e}"),
        };
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let thread_shared = shared.clone();
        let thread_shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name(format!("mock-backend-{name}"))
            .spawn(move || serve(listener, thread_shared, thread_shutdown, ready_tx))
            .unwrap_or_else(|e| panic!("MockBackend {name}: cannot spawn its thread: {e}"));
        if let Ok(Err(e)) = ready_rx.await {
            panic!("MockBackend {name}: cannot start: {e}");
        }
        Self { shared, url, _stop: Arc::new(StopOnDrop(shutdown)) }
    }

    /// `http://127.0.0.1:PORT/mcp`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// How the backend misbehaves from now on ([`Fault::ServerError`]: every request answers 500).
    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.shared.fault) = fault;
    }

    /// Every HTTP request received (initialize, notifications, tools/list, tools/call, GET, DELETE).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The `tools/call` requests the backend executed, oldest first.
    pub fn tool_calls(&self) -> Vec<RecordedToolCall> {
        lock(&self.shared.calls).clone()
    }
}

/// The backend thread: a small runtime serving axum until shutdown.
fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    ready: tokio::sync::oneshot::Sender<Result<(), String>>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let handler = BackendServer { shared: shared.clone() };
        let mcp = StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default().with_cancellation_token(shutdown.child_token()),
        );
        let router =
            axum::Router::new().nest_service("/mcp", mcp).layer(axum::middleware::from_fn_with_state(shared, record));
        let _ = ready.send(Ok(()));
        use axum::serve::ListenerExt as _;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    });
}

/// Records every request (buffering the body so rmcp still gets it) and applies the fault switch.
async fn record(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    lock(&shared.requests).push(RecordedRequest::new(parts.method.as_str(), &parts.uri, &parts.headers, &bytes));
    let fault = lock(&shared.fault).clone();
    match fault {
        Fault::ServerError => return (StatusCode::INTERNAL_SERVER_ERROR, "injected fault").into_response(),
        Fault::SlowToolCall(delay) if bytes.windows(12).any(|w| w == b"\"tools/call\"") => {
            tokio::time::sleep(delay).await;
        }
        _ => {}
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[derive(Clone)]
struct BackendServer {
    shared: Arc<Shared>,
}

impl rmcp::ServerHandler for BackendServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(self.shared.name.clone(), env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = serde_json::Map::from_iter([
            ("type".to_owned(), serde_json::Value::from("object")),
            ("additionalProperties".to_owned(), serde_json::Value::Bool(true)),
        ]);
        let schema = Arc::new(schema);
        let tools = self
            .shared
            .tools
            .iter()
            .map(|t| Tool::new(t.clone(), format!("{} mock tool {t}", self.shared.name), schema.clone()))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // rmcp puts the HTTP request's parts (minus the body) into the request's extensions.
        let headers =
            context.extensions.get::<http::request::Parts>().map(|p| header_pairs(&p.headers)).unwrap_or_default();
        let arguments = request.arguments.clone().map(serde_json::Value::Object).unwrap_or_default();
        lock(&self.shared.calls).push(RecordedToolCall { tool: request.name.to_string(), arguments, headers });
        if !self.shared.tools.iter().any(|t| *t == request.name) {
            return Err(ErrorData::invalid_params(format!("unknown tool {}", request.name), None));
        }
        let text = format!("{}/{}: ok", self.shared.name, request.name);
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rmcp::ServiceExt as _;
    use rmcp::model::ClientConfig;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn records_headers_of_tools_list_and_tools_call() -> TestResult {
        let backend = MockBackend::start("github-tools", &["search_repos", "whoami"]).await;
        assert_eq!(backend.name(), "github-tools");
        assert!(backend.url().starts_with("http://127.0.0.1:") && backend.url().ends_with("/mcp"));

        let headers = HashMap::from([(
            http::HeaderName::from_static("x-upstream-token"),
            http::HeaderValue::from_static("gho_forwarded"),
        )]);
        let config = StreamableHttpClientTransportConfig::with_uri(backend.url())
            .auth_header("backend-token")
            .custom_headers(headers);
        let client = ClientConfig::default().serve(StreamableHttpClientTransport::from_config(config)).await?;

        let tools = client.list_all_tools().await?;
        let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names, ["search_repos", "whoami"]);

        let args = serde_json::json!({"q": "vmcp"});
        let args = args.as_object().cloned().ok_or("not an object")?;
        let result = client.call_tool(CallToolRequestParams::new("search_repos").with_arguments(args)).await?;
        let text = result.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone());
        assert_eq!(text.as_deref(), Some("github-tools/search_repos: ok"));
        client.cancel().await?;

        let calls = backend.tool_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].tool, "search_repos");
        assert_eq!(calls[0].arguments, serde_json::json!({"q": "vmcp"}));
        assert_eq!(calls[0].header("X-Upstream-Token"), Some("gho_forwarded"));
        assert_eq!(calls[0].header("authorization"), Some("Bearer backend-token"));

        let requests = backend.requests();
        let list = requests.iter().find(|r| r.body.contains("\"tools/list\"")).ok_or("no tools/list request")?;
        assert_eq!(list.header("x-upstream-token"), Some("gho_forwarded"));
        assert_eq!(list.path, "/mcp");
        let call = requests.iter().find(|r| r.body.contains("\"tools/call\"")).ok_or("no tools/call request")?;
        assert_eq!(call.header("authorization"), Some("Bearer backend-token"));
        assert!(requests.iter().any(|r| r.body.contains("\"initialize\"")));
        Ok(())
    }

    #[tokio::test]
    async fn dropping_the_backend_stops_it() -> TestResult {
        let backend = MockBackend::start("gone", &[]).await;
        let url = backend.url();
        drop(backend);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(reqwest::Client::new().get(url).send().await.is_err());
        Ok(())
    }

    #[tokio::test]
    async fn server_error_fault_fails_every_request() -> TestResult {
        let backend = MockBackend::start("b", &["t"]).await;
        backend.set_fault(Fault::ServerError);
        let resp = reqwest::Client::new()
            .post(backend.url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .send()
            .await?;
        assert_eq!(resp.status(), 500);
        assert_eq!(backend.requests().len(), 1);
        Ok(())
    }
}
