//! End-to-end tests of the gateway over real HTTP: two tiny rmcp backends on loopback, the
//! gateway in front, an rmcp client with a locally signed JWT.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::middleware::Next;
use http::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ListToolsResult, PaginatedRequestParams, ProtocolVersion,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

use super::config::{
    AggregationConfig, BackendConfig, BackendKind, IncomingAuthConfig, OidcIncoming, OutgoingAuthConfig,
    OutgoingStrategy,
};
use super::embedded::{EmbeddedAuth, UpstreamTokens};
use super::incoming::tests::{FakeEmbedded, TestKey};
use super::{Gateway, GatewayError, VmcpConfig};
use crate::defects::{Defect, Defects};

/// A backend with one `echo` tool that answers `<backend>:<text>`.
#[derive(Clone)]
struct EchoBackend {
    name: &'static str,
}

impl ServerHandler for EchoBackend {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}});
        let Value::Object(schema) = schema else { unreachable!() };
        Ok(ListToolsResult::with_all_items(vec![Tool::new("echo", "Echo the text back", schema)]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, McpError> {
        if request.name != "echo" {
            return Err(McpError::invalid_params(format!("no tool {}", request.name), None));
        }
        let text = request.arguments.as_ref().and_then(|a| a.get("text")).and_then(Value::as_str).unwrap_or("");
        Ok(CallToolResult::success(vec![rmcp::model::ContentBlock::text(format!("{}:{text}", self.name))]).into())
    }
}

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// Starts a backend on 127.0.0.1:0 recording the headers of every HTTP request it receives.
async fn start_backend(name: &'static str) -> (String, Seen) {
    let seen = Seen::default();
    let service = StreamableHttpService::new(
        move || Ok(EchoBackend { name }),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let record = seen.clone();
    let app = axum::Router::new().nest_service("/mcp", service).layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(req.headers().clone());
                next.run(req).await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/mcp"), seen)
}

async fn unused_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/mcp")
}

fn backend(name: &str, url: &str) -> BackendConfig {
    BackendConfig { name: name.into(), url: url.into(), kind: BackendKind::McpServer }
}

fn inject(provider: &str) -> OutgoingStrategy {
    OutgoingStrategy::UpstreamInject { provider_name: provider.into() }
}

struct Running {
    base: String,
    key: TestKey,
    issuer: String,
}

impl Running {
    fn token(&self, tsid: &str) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        self.key.sign(&json!({
            "iss": self.issuer, "aud": [format!("{}/mcp", self.base)], "sub": "user-1",
            "exp": now + 300, "iat": now, "tsid": tsid,
        }))
    }
}

/// The gateway with incoming OIDC verified by an in-process embedded server whose session `s1`
/// holds a `github` token. `issuer` and `resource` are the gateway's own loopback URL.
async fn start_gateway(backends: Vec<BackendConfig>, outgoing: OutgoingAuthConfig, defects: Defects) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let key = TestKey::generate("kid-1");
    let sessions = BTreeMap::from([(
        "s1".to_owned(),
        BTreeMap::from([(
            "github".to_owned(),
            UpstreamTokens { access_token: "gh-upstream-token".into(), id_token: None, expires_at: None },
        )]),
    )]);
    let embedded: Arc<dyn EmbeddedAuth> =
        Arc::new(FakeEmbedded { keys: vec![key.verification_key()], sessions, fail: None });
    let config = VmcpConfig {
        name: "demo".into(),
        backends,
        incoming: IncomingAuthConfig::Oidc(OidcIncoming {
            issuer: base.clone(),
            audience: format!("{base}/mcp"),
            resource_url: format!("{base}/mcp"),
            scopes: vec!["openid".into()],
            jwks_url: None,
            introspection: None,
            required_subject: None,
        }),
        outgoing,
        aggregation: AggregationConfig::default(),
        authz: None,
        timeouts: Default::default(),
    };
    let gateway = Gateway::new(config, Some(embedded), reqwest::Client::new(), defects).unwrap();
    let app = gateway.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running { issuer: base.clone(), base, key }
}

async fn client(
    url: &str,
    headers: &[(&'static str, &str)],
) -> rmcp::service::RunningService<rmcp::RoleClient, ClientConfig> {
    let custom: HashMap<HeaderName, HeaderValue> =
        headers.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_str(v).unwrap())).collect();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).custom_headers(custom),
    );
    ClientConfig::default()
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
        .serve(transport)
        .await
        .unwrap()
}

fn text_of(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

#[tokio::test]
async fn aggregates_prefixed_tools_and_injects_only_the_strategy_headers() {
    let (alpha_url, alpha_seen) = start_backend("alpha").await;
    let (beta_url, beta_seen) = start_backend("beta").await;
    let (gamma_url, gamma_seen) = start_backend("gamma").await;
    let down_url = unused_url().await;
    let outgoing = OutgoingAuthConfig {
        default: None,
        backends: BTreeMap::from([("alpha".to_owned(), inject("github")), ("gamma".to_owned(), inject("google"))]),
        ..Default::default()
    };
    let backends = vec![
        backend("alpha", &alpha_url),
        backend("beta", &beta_url),
        backend("delta", &down_url),
        backend("gamma", &gamma_url),
    ];
    let gw = start_gateway(backends, outgoing, Defects::none()).await;
    let bearer = format!("Bearer {}", gw.token("s1"));
    let mcp = client(&format!("{}/mcp", gw.base), &[("authorization", &bearer), ("cookie", "session=secret")]).await;

    let mut names: Vec<String> = mcp.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["alpha_echo", "beta_echo"], "gamma has no google token, delta is down");

    let call = |name: &str| {
        let args = json!({"text": "hi"}).as_object().cloned().unwrap();
        CallToolRequestParams::new(name.to_owned()).with_arguments(args)
    };
    let alpha = mcp.call_tool(call("alpha_echo")).await.unwrap();
    assert_ne!(alpha.is_error, Some(true));
    assert!(text_of(&alpha).contains("alpha:hi"), "{}", text_of(&alpha));
    let beta = mcp.call_tool(call("beta_echo")).await.unwrap();
    assert!(text_of(&beta).contains("beta:hi"));

    let gamma = mcp.call_tool(call("gamma_echo")).await.unwrap();
    assert_eq!(gamma.is_error, Some(true));
    let gamma_text = text_of(&gamma);
    assert!(
        gamma_text.contains("gamma") && gamma_text.contains("upstream token for `google` is missing"),
        "{gamma_text}"
    );
    assert!(gamma_seen.lock().unwrap().is_empty(), "nothing is sent to a backend whose strategy failed");

    let delta = mcp.call_tool(call("delta_echo")).await.unwrap();
    assert_eq!(delta.is_error, Some(true));
    assert!(text_of(&delta).contains("delta"));

    let unknown = mcp.call_tool(call("nope")).await;
    assert!(matches!(unknown, Err(rmcp::ServiceError::McpError(_))), "{unknown:?}");

    let alpha_seen = alpha_seen.lock().unwrap().clone();
    assert!(!alpha_seen.is_empty());
    for h in &alpha_seen {
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Bearer gh-upstream-token");
        assert!(h.get(COOKIE).is_none());
    }
    let beta_seen = beta_seen.lock().unwrap().clone();
    assert!(!beta_seen.is_empty());
    for h in &beta_seen {
        assert!(h.get(AUTHORIZATION).is_none(), "unauthenticated backend got {:?}", h.get(AUTHORIZATION));
        assert!(h.get(COOKIE).is_none());
    }
    let _ = mcp.cancel().await;
}

#[tokio::test]
async fn leak_defect_forwards_the_client_token_to_unauthenticated_backends() {
    let (beta_url, beta_seen) = start_backend("beta").await;
    let gw = start_gateway(
        vec![backend("beta", &beta_url)],
        OutgoingAuthConfig::default(),
        Defects::none().with(Defect::LeakClientAuthorization),
    )
    .await;
    let bearer = format!("Bearer {}", gw.token("s1"));
    let mcp = client(&format!("{}/mcp", gw.base), &[("authorization", &bearer)]).await;
    assert_eq!(mcp.list_all_tools().await.unwrap().len(), 1);
    let seen = beta_seen.lock().unwrap().clone();
    assert!(seen.iter().all(|h| h.get(AUTHORIZATION).map(|v| v.to_str().unwrap()) == Some(bearer.as_str())));
    let _ = mcp.cancel().await;
}

#[tokio::test]
async fn http_surface_auth_prm_health_and_bad_bodies() {
    let (beta_url, _) = start_backend("beta").await;
    let gw = start_gateway(vec![backend("beta", &beta_url)], OutgoingAuthConfig::default(), Defects::none()).await;
    let http = reqwest::Client::new();

    let health = http.get(format!("{}/health", gw.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
        let prm = http.get(format!("{}{path}", gw.base)).send().await.unwrap();
        assert_eq!(prm.status(), 200, "{path}");
        assert_eq!(prm.headers()["access-control-allow-origin"], "*");
        let doc: Value = prm.json().await.unwrap();
        assert_eq!(doc["resource"], format!("{}/mcp", gw.base));
        assert_eq!(doc["authorization_servers"], json!([gw.issuer]));
    }

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let post = |body: String, auth: Option<String>| {
        let mut req = http
            .post(format!("{}/mcp", gw.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        req.send()
    };
    let missing = post(init.to_string(), None).await.unwrap();
    assert_eq!(missing.status(), 401);
    let www = missing.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert_eq!(
        www,
        format!(
            "Bearer realm=\"{0}\", resource_metadata=\"{0}/.well-known/oauth-protected-resource/mcp\", scope=\"openid\"",
            gw.base
        )
    );

    let expired = {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        gw.key.sign(&json!({"iss": gw.issuer, "aud": format!("{}/mcp", gw.base), "sub": "u", "exp": now - 1}))
    };
    let refused = post(init.to_string(), Some(format!("Bearer {expired}"))).await.unwrap();
    assert_eq!(refused.status(), 401);
    let www = refused.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");

    let auth = Some(format!("Bearer {}", gw.token("s1")));
    let ok = post(init.to_string(), auth.clone()).await.unwrap();
    assert_eq!(ok.status(), 200);

    let malformed = post("{not json".into(), auth.clone()).await.unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);

    let huge = format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(2 << 20));
    let too_big = post(huge, auth).await.unwrap();
    assert_eq!(too_big.status(), 413);
}

#[tokio::test]
async fn a_session_is_bound_to_its_principal() {
    let (beta_url, _) = start_backend("beta").await;
    let gw = start_gateway(vec![backend("beta", &beta_url)], OutgoingAuthConfig::default(), Defects::none()).await;
    let other = {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        gw.key.sign(&json!({"iss": gw.issuer, "aud": format!("{}/mcp", gw.base), "sub": "mallory", "exp": now + 60}))
    };
    let http = reqwest::Client::new();
    let send = |body: Value, token: String, session: Option<String>| {
        let mut req = http
            .post(format!("{}/mcp", gw.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(body.to_string());
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = send(init, gw.token("s1"), None).await.unwrap();
    let session = resp.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    drop(resp.text().await);
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    drop(send(initialized, gw.token("s1"), Some(session.clone())).await.unwrap().text().await);
    let call =
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "beta_echo", "arguments": {}}});
    let text = send(call, other, Some(session)).await.unwrap().text().await.unwrap();
    assert!(text.contains("Unauthorized") && text.contains("\"isError\":true"), "{text}");
}

#[test]
fn upstream_inject_without_an_embedded_server_is_refused_naming_the_backend() {
    let config = VmcpConfig {
        name: "demo".into(),
        backends: vec![backend("github-mcp", "http://127.0.0.1:1/mcp")],
        incoming: IncomingAuthConfig::Anonymous,
        outgoing: OutgoingAuthConfig {
            default: None,
            backends: BTreeMap::from([("github-mcp".to_owned(), inject("github"))]),
            ..Default::default()
        },
        aggregation: AggregationConfig::default(),
        authz: None,
        timeouts: Default::default(),
    };
    let err = Gateway::new(config, None, reqwest::Client::new(), Defects::none()).unwrap_err();
    assert!(matches!(err, GatewayError::UpstreamInjectWithoutEmbeddedServer { .. }));
    assert!(err.to_string().contains("github-mcp"), "{err}");
}

#[tokio::test]
async fn works_with_a_client_on_the_latest_protocol_revision() {
    let (alpha_url, alpha_seen) = start_backend("alpha").await;
    let outgoing = OutgoingAuthConfig { default: Some(inject("github")), ..Default::default() };
    let gw = start_gateway(vec![backend("alpha", &alpha_url)], outgoing, Defects::none()).await;
    let custom =
        HashMap::from([(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {}", gw.token("s1"))).unwrap())]);
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", gw.base)).custom_headers(custom),
    );
    let mcp = ClientConfig::default().serve(transport).await.unwrap();
    let tools = mcp.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "alpha_echo");
    let args = json!({"text": "yo"}).as_object().cloned().unwrap();
    let out = mcp.call_tool(CallToolRequestParams::new("alpha_echo").with_arguments(args)).await.unwrap();
    assert!(text_of(&out).contains("alpha:yo"), "{}", text_of(&out));
    assert!(alpha_seen.lock().unwrap().iter().all(|h| h.get(AUTHORIZATION).unwrap() == "Bearer gh-upstream-token"));
    let _ = mcp.cancel().await;
}
