//! A host for OAuth Client ID Metadata Documents: an MCP client's `client_id` is the URL of a
//! JSON document this mock serves. It counts the GETs per path (so a scenario can observe the
//! authorization server's cache) and can be told to answer slowly, with a redirect or with a
//! document larger than the documented 10 KB cap.
//!
//! URLs use `http://localhost:PORT`: the docs allow `http://localhost` for development
//! (embedded-auth-server-k8s.mdx, CIMD URL rules), so no test-only switch is needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// How the host answers one document.
#[derive(Debug, Clone)]
pub enum CimdAnswer {
    /// The JSON document.
    Document(serde_json::Value),
    /// `302 Found` to another URL.
    Redirect(String),
    /// The document after a delay.
    Slow(serde_json::Value, Duration),
    /// A JSON body of about this many bytes.
    Oversized(usize),
    /// The JSON document with a `padding` member of this many characters (a valid but large document).
    Padded(serde_json::Value, usize),
}

#[derive(Default)]
struct HostState {
    answers: HashMap<String, CimdAnswer>,
    gets: HashMap<String, usize>,
}

pub struct CimdHost {
    server: MockServer,
    state: Arc<Mutex<HostState>>,
}

impl std::fmt::Debug for CimdHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CimdHost").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

impl CimdHost {
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(listener: Option<std::net::TcpListener>) -> Self {
        let state = Arc::new(Mutex::new(HostState::default()));
        let server = crate::standalone::server(listener).await;
        Mock::given(any()).respond_with(Responder { state: state.clone() }).mount(&server).await;
        Self { server, state }
    }

    /// `http://localhost:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://localhost:{}", self.server.address().port())
    }

    /// The URL `path` is served at.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url(), path.trim_start_matches('/'))
    }

    /// Serves `answer` at `path`; returns the document's URL.
    pub fn serve(&self, path: &str, answer: CimdAnswer) -> String {
        let path = format!("/{}", path.trim_start_matches('/'));
        self.state.lock().unwrap_or_else(|p| p.into_inner()).answers.insert(path.clone(), answer);
        self.url(&path)
    }

    /// How many GETs `path` received.
    pub fn gets(&self, path: &str) -> usize {
        let path = format!("/{}", path.trim_start_matches('/'));
        self.state.lock().unwrap_or_else(|p| p.into_inner()).gets.get(&path).copied().unwrap_or(0)
    }
}

struct Responder {
    state: Arc<Mutex<HostState>>,
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let path = req.url.path().to_string();
        if req.method.as_str() == "GET" {
            *state.gets.entry(path.clone()).or_default() += 1;
        }
        // `Cache-Control` is sent to show it is not honoured (docs VE:295-299).
        let json = |v: &serde_json::Value| {
            ResponseTemplate::new(200).set_body_json(v.clone()).insert_header("cache-control", "max-age=0, no-store")
        };
        match state.answers.get(&path) {
            Some(CimdAnswer::Document(v)) => json(v),
            Some(CimdAnswer::Slow(v, d)) => json(v).set_delay(*d),
            Some(CimdAnswer::Redirect(to)) => ResponseTemplate::new(302).insert_header("location", to.as_str()),
            Some(CimdAnswer::Oversized(n)) => {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "padding": "x".repeat(*n) }))
            }
            Some(CimdAnswer::Padded(v, n)) => {
                let mut doc = v.clone();
                if let Some(m) = doc.as_object_mut() {
                    m.insert("padding".into(), serde_json::Value::String("x".repeat(*n)));
                }
                json(&doc)
            }
            None => ResponseTemplate::new(404).set_body_json(serde_json::json!({"error": "not found"})),
        }
    }
}
