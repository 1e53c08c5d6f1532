//! A remote MCP authorization server that lets OAuth clients register themselves (RFC 7591)
//! and can demand an initial access token for that (RFC 7591 §3). It publishes RFC 8414
//! metadata, answers `POST /register` with fresh credentials, and records the registrations and
//! the authorization requests it receives (its `/authorize` is a consent page that goes no
//! further: scenarios assert which `client_id` the requests carry).

use std::sync::{Arc, Mutex};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::record::RecordedRequest;

/// One registration the server received.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The `Authorization` header it carried, if any.
    pub authorization: Option<String>,
    pub metadata: serde_json::Value,
    /// The client ID issued (`None` when refused).
    pub issued_client_id: Option<String>,
}

#[derive(Default)]
struct DcrState {
    initial_access_token: Option<String>,
    /// Refuse registrations without the initial access token (401 `invalid_token`).
    demand: bool,
    registrations: Vec<Registration>,
    authorize_requests: Vec<RecordedRequest>,
}

pub struct DcrProviderMock {
    server: MockServer,
    state: Arc<Mutex<DcrState>>,
}

impl std::fmt::Debug for DcrProviderMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DcrProviderMock").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

impl DcrProviderMock {
    /// `initial_access_token`: the token registrations must carry; `demand`: refuse those that
    /// do not (otherwise they are registered and recorded, so a scenario can assert the header).
    pub async fn start(initial_access_token: Option<&str>, demand: bool) -> Self {
        Self::start_on(None, initial_access_token, demand).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(
        listener: Option<std::net::TcpListener>,
        initial_access_token: Option<&str>,
        demand: bool,
    ) -> Self {
        let state = Arc::new(Mutex::new(DcrState {
            initial_access_token: initial_access_token.map(String::from),
            demand,
            ..DcrState::default()
        }));
        let server = crate::standalone::server(listener).await;
        Mock::given(any()).respond_with(Responder { state: state.clone(), base: server.uri() }).mount(&server).await;
        Self { server, state }
    }

    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    pub fn registrations(&self) -> Vec<Registration> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).registrations.clone()
    }

    pub fn authorize_requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).authorize_requests.clone()
    }
}

struct Responder {
    state: Arc<Mutex<DcrState>>,
    base: String,
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let base = &self.base;
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration") => {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/authorize"),
                    "token_endpoint": format!("{base}/token"),
                    "registration_endpoint": format!("{base}/register"),
                    "response_types_supported": ["code"],
                    "grant_types_supported": ["authorization_code", "refresh_token"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                }))
            }
            ("POST", "/register") => {
                let authorization =
                    req.headers.get("authorization").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let metadata: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let expected = state.initial_access_token.as_ref().map(|t| format!("Bearer {t}"));
                if state.demand && expected.is_some() && authorization != expected {
                    state.registrations.push(Registration { authorization, metadata, issued_client_id: None });
                    return ResponseTemplate::new(401)
                        .insert_header("www-authenticate", "Bearer error=\"invalid_token\"")
                        .set_body_json(serde_json::json!({"error": "invalid_token"}));
                }
                if !metadata.is_object() {
                    return ResponseTemplate::new(400).set_body_json(
                        serde_json::json!({"error": "invalid_client_metadata", "error_description": "not a JSON object"}),
                    );
                }
                let n = state.registrations.len() + 1;
                let client_id = format!("dcr-client-{n}");
                state.registrations.push(Registration {
                    authorization,
                    metadata: metadata.clone(),
                    issued_client_id: Some(client_id.clone()),
                });
                let mut body = metadata;
                body["client_id"] = serde_json::json!(client_id);
                body["client_secret"] = serde_json::json!(format!("dcr-secret-{n}"));
                body["client_id_issued_at"] = serde_json::json!(0);
                body["client_secret_expires_at"] = serde_json::json!(0);
                ResponseTemplate::new(201).set_body_json(body)
            }
            ("GET", "/authorize") => {
                let uri: http::Uri = req.url.as_str().parse().unwrap_or_default();
                state.authorize_requests.push(RecordedRequest::new(req.method.as_str(), &uri, &req.headers, &req.body));
                ResponseTemplate::new(200).set_body_string("<html>consent</html>")
            }
            _ => ResponseTemplate::new(404).set_body_json(serde_json::json!({"error": "not_found"})),
        }
    }
}
