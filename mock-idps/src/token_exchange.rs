//! An RFC 8693 token exchange endpoint (Okta-like authorization server) that records every request
//! it receives, so a scenario can assert the exact exchange the gateway performed, and issues
//! backend-scoped JWTs that keep the subject's `sub` while changing `aud` and `scope`.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::keys::SigningKey;
use crate::record::{RecordedRequest, lock};

pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// draft-ietf-oauth-identity-assertion-authz-grant: the ID-JAG token type.
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// RFC 7523 §2.1.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How the exchange endpoint misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExchangeFault {
    #[default]
    None,
    /// HTTP 500 with a JSON `server_error`.
    ServerError,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
}

/// One exchange the endpoint answered: the request and the token it issued (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedExchange {
    pub request: RecordedRequest,
    /// The access token issued, `None` when the request was refused or a fault was injected.
    pub issued: Option<String>,
}

struct State {
    client_id: String,
    client_secret: String,
    key: Option<SigningKey>,
    issuer: String,
    expires_in: u64,
    fault: ExchangeFault,
    exchanges: Vec<RecordedExchange>,
    counter: u64,
}

/// An RFC 8693 token endpoint at `{base_url}/token` (any POST path is served the same way).
pub struct TokenExchangeMock {
    server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for TokenExchangeMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchangeMock").field("base_url", &self.server.uri()).finish_non_exhaustive()
    }
}

impl TokenExchangeMock {
    /// Starts the endpoint with one confidential client (HTTP Basic or `client_secret_post`).
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        Self::start_on(None, client_id, client_secret).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(listener: Option<std::net::TcpListener>, client_id: &str, client_secret: &str) -> Self {
        let server = Arc::new(crate::standalone::server(listener).await);
        let state = Self::state(&server, client_id, client_secret);
        Mock::given(any()).respond_with(Responder { state: state.clone() }).mount(&server).await;
        Self { server, state }
    }

    /// Serves RFC 8693 exchanges on `server`, another mock's, under that mock's issuer: only token
    /// requests whose grant_type is token exchange reach it (the Okta-like provider, [`crate::okta`]).
    pub async fn mount_on(server: Arc<MockServer>, client_id: &str, client_secret: &str) -> Self {
        let state = Self::state(&server, client_id, client_secret);
        Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::body_string_contains("grant-type%3Atoken-exchange"))
            .respond_with(Responder { state: state.clone() })
            .with_priority(1)
            .mount(&server)
            .await;
        Self { server, state }
    }

    fn state(server: &MockServer, client_id: &str, client_secret: &str) -> Arc<Mutex<State>> {
        Arc::new(Mutex::new(State {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            key: SigningKey::generate("exchange-1").ok(),
            issuer: server.uri(),
            expires_in: 3600,
            fault: ExchangeFault::None,
            exchanges: Vec::new(),
            counter: 0,
        }))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// `{base_url}/token`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.uri())
    }

    /// `expires_in` of issued tokens (default 3600).
    pub fn set_expires_in(&self, secs: u64) {
        lock(&self.state).expires_in = secs;
    }

    pub fn set_fault(&self, fault: ExchangeFault) {
        lock(&self.state).fault = fault;
    }

    /// Every POST the endpoint answered, oldest first.
    pub fn exchanges(&self) -> Vec<RecordedExchange> {
        lock(&self.state).exchanges.clone()
    }

    /// The JWKS of the key issued tokens are signed with.
    pub fn jwks(&self) -> serde_json::Value {
        lock(&self.state).key.as_ref().map(SigningKey::jwks).unwrap_or_default()
    }
}

/// The `sub` of a JWT, read without verification (a real exchange endpoint verifies the subject
/// token; the mock only needs to carry the identity over).
pub fn unverified_sub(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

struct Responder {
    state: Arc<Mutex<State>>,
}

fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("cache-control", "no-store")
        .set_body_json(serde_json::json!({"error": error, "error_description": description}))
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((dec(id)?, dec(secret)?))
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let recorded = RecordedRequest::from(request);
        let mut state = lock(&self.state);
        let (response, issued) = answer(&mut state, &recorded);
        state.exchanges.push(RecordedExchange { request: recorded, issued });
        response
    }
}

fn answer(state: &mut State, r: &RecordedRequest) -> (ResponseTemplate, Option<String>) {
    if r.method != "POST" {
        return (oauth_error(405, "invalid_request", "the token endpoint accepts POST only"), None);
    }
    match state.fault {
        ExchangeFault::ServerError => return (oauth_error(500, "server_error", "injected fault"), None),
        ExchangeFault::Garbage => {
            return (ResponseTemplate::new(200).set_body_string("<html>not json</html>"), None);
        }
        ExchangeFault::None => {}
    }
    let basic = r.header("authorization").and_then(basic_credentials);
    let (id, secret) = match basic {
        Some(c) => (Some(c.0), Some(c.1)),
        None => (r.form_param("client_id"), r.form_param("client_secret")),
    };
    if id.as_deref() != Some(state.client_id.as_str()) || secret.as_deref() != Some(state.client_secret.as_str()) {
        let resp = oauth_error(401, "invalid_client", "client authentication failed")
            .insert_header("www-authenticate", "Basic realm=\"token-exchange\"");
        return (resp, None);
    }
    let grant = r.form_param("grant_type").unwrap_or_default();
    let subject = if grant == JWT_BEARER_GRANT {
        // RFC 7523 §2.1: the assertion (an ID-JAG for XAA Step B) must be a JWT for this server.
        let Some(assertion) = r.form_param("assertion").filter(|a| !a.is_empty()) else {
            return (oauth_error(400, "invalid_request", "assertion is required"), None);
        };
        if unverified_sub(&assertion).is_none() {
            return (oauth_error(400, "invalid_grant", "the assertion is not a JWT with a subject"), None);
        }
        assertion
    } else if grant == TOKEN_EXCHANGE_GRANT {
        let Some(subject) = r.form_param("subject_token").filter(|s| !s.is_empty()) else {
            return (oauth_error(400, "invalid_request", "subject_token is required"), None);
        };
        if r.form_param("subject_token_type").filter(|s| !s.is_empty()).is_none() {
            return (oauth_error(400, "invalid_request", "subject_token_type is required"), None);
        }
        subject
    } else {
        return (
            oauth_error(400, "unsupported_grant_type", "RFC 8693 token exchange or RFC 7523 jwt-bearer only"),
            None,
        );
    };
    let id_jag = r.form_param("requested_token_type").as_deref() == Some(ID_JAG_TYPE);
    state.counter += 1;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let audience = r.form_param("audience").unwrap_or_else(|| state.issuer.clone());
    let scope = r.form_param("scope").unwrap_or_default();
    let mut claims = serde_json::json!({
        "iss": state.issuer,
        "sub": unverified_sub(&subject).unwrap_or_else(|| format!("opaque-subject-{}", state.counter)),
        "aud": audience,
        "scope": scope,
        "iat": now,
        "exp": now + state.expires_in,
        "jti": format!("exchanged-{}", state.counter),
    });
    if id_jag && let Some(resource) = r.form_param("resource") {
        claims["resource"] = serde_json::Value::String(resource);
    }
    let token = match state.key.as_ref().map(|k| k.sign(&claims)) {
        Some(Ok(t)) => t,
        _ => return (oauth_error(500, "server_error", "the mock has no signing key"), None),
    };
    let (issued_type, token_type) = if id_jag { (ID_JAG_TYPE, "N_A") } else { (ACCESS_TOKEN_TYPE, "Bearer") };
    let body = serde_json::json!({
        "access_token": token,
        "issued_token_type": issued_type,
        "token_type": token_type,
        "expires_in": state.expires_in,
        "scope": scope,
    });
    (ResponseTemplate::new(200).insert_header("cache-control", "no-store").set_body_json(body), Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exchanges_with_basic_auth_and_records_the_request() {
        let mock = TokenExchangeMock::start("vmcp", "s3cret").await;
        let subject = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.";
        let resp = reqwest::Client::new()
            .post(mock.token_url())
            .basic_auth("vmcp", Some("s3cret"))
            .form(&[
                ("grant_type", TOKEN_EXCHANGE_GRANT),
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", "backend"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(unverified_sub(token).as_deref(), Some("alice"));
        let ex = mock.exchanges();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].request.form_param("audience").as_deref(), Some("backend"));
        assert_eq!(ex[0].issued.as_deref(), Some(token));
    }

    #[tokio::test]
    async fn wrong_client_is_invalid_client() {
        let mock = TokenExchangeMock::start("vmcp", "s3cret").await;
        let resp = reqwest::Client::new()
            .post(mock.token_url())
            .basic_auth("vmcp", Some("nope"))
            .form(&[("grant_type", TOKEN_EXCHANGE_GRANT)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert!(mock.exchanges()[0].issued.is_none());
    }
}
