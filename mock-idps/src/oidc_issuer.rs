//! An external OIDC identity provider for incoming-auth scenarios: discovery, a JWKS that can
//! rotate its key (new `kid`), JWTs minted with whatever claims a scenario needs, opaque tokens,
//! and an RFC 7662 introspection endpoint that requires client authentication. Every request is
//! recorded.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::keys::{KeyError, SigningKey};
use crate::record::{RecordedRequest, lock};

struct State {
    issuer: String,
    keys: Vec<SigningKey>,
    /// Introspection client.
    client: (String, String),
    /// Opaque token -> claims of an active token.
    opaque: Vec<(String, serde_json::Value)>,
    counter: u64,
}

/// An OIDC issuer at `http://127.0.0.1:PORT` serving `/.well-known/openid-configuration`,
/// `/jwks` and `/introspect`.
pub struct OidcIssuerMock {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for OidcIssuerMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcIssuerMock").field("issuer", &self.server.uri()).finish_non_exhaustive()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl OidcIssuerMock {
    /// Starts the issuer with one RSA key and an introspection client.
    pub async fn start(client_id: &str, client_secret: &str) -> Result<Self, KeyError> {
        Self::start_on(None, client_id, client_secret).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(
        listener: Option<std::net::TcpListener>,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, KeyError> {
        let server = crate::standalone::server(listener).await;
        let state = Arc::new(Mutex::new(State {
            issuer: server.uri(),
            keys: vec![SigningKey::generate("idp-key-1")?],
            client: (client_id.to_owned(), client_secret.to_owned()),
            opaque: Vec::new(),
            counter: 0,
        }));
        Mock::given(any()).respond_with(Responder { state: state.clone() }).mount(&server).await;
        Ok(Self { server, state })
    }

    /// The issuer URL (no trailing slash).
    pub fn issuer(&self) -> String {
        self.server.uri()
    }

    /// Replaces the signing key with a new one (new `kid`); the JWKS publishes only the new key.
    pub fn rotate_key(&self) -> Result<String, KeyError> {
        let mut st = lock(&self.state);
        let kid = format!("idp-key-{}", st.keys.len() + 1);
        st.keys.insert(0, SigningKey::generate(&kid)?);
        st.keys.truncate(1);
        Ok(kid)
    }

    /// A JWT for `sub` and `aud`, valid for `ttl_secs` (negative: already expired), plus `extra`
    /// claims, signed by the current key.
    pub fn mint(&self, sub: &str, aud: &str, ttl_secs: i64, extra: serde_json::Value) -> Result<String, KeyError> {
        let st = lock(&self.state);
        let iat = now();
        let exp = iat.saturating_add_signed(ttl_secs);
        let mut claims = serde_json::json!({"iss": st.issuer, "sub": sub, "aud": aud, "iat": iat, "exp": exp});
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        st.keys[0].sign(&claims)
    }

    /// An opaque (non-JWT) token that introspection reports active with these claims.
    pub fn mint_opaque(&self, sub: &str, aud: &str, ttl_secs: i64) -> String {
        let mut st = lock(&self.state);
        st.counter += 1;
        let token = format!("opaque-{}-{}", st.counter, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sub));
        let claims = serde_json::json!({
            "active": true, "iss": st.issuer, "sub": sub, "aud": aud,
            "exp": now().saturating_add_signed(ttl_secs), "client_id": "some-client", "token_type": "Bearer",
        });
        st.opaque.push((token.clone(), claims));
        token
    }

    /// Every request received, oldest first.
    pub async fn received(&self) -> Vec<RecordedRequest> {
        self.server.received_requests().await.unwrap_or_default().iter().map(RecordedRequest::from).collect()
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let r = RecordedRequest::from(request);
        let st = lock(&self.state);
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "issuer": st.issuer,
                    "jwks_uri": format!("{}/jwks", st.issuer),
                    "introspection_endpoint": format!("{}/introspect", st.issuer),
                    "authorization_endpoint": format!("{}/authorize", st.issuer),
                    "token_endpoint": format!("{}/token", st.issuer),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }))
            }
            ("GET", "/jwks") => ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"keys": st.keys.iter().map(SigningKey::jwk).collect::<Vec<_>>()})),
            ("POST", "/introspect") => introspect(&st, &r),
            _ => ResponseTemplate::new(404).set_body_json(serde_json::json!({"error": "not_found"})),
        }
    }
}

/// RFC 7662 §2: client authentication required; unknown or expired tokens are `{"active": false}`.
fn introspect(st: &State, r: &RecordedRequest) -> ResponseTemplate {
    let basic = r
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let decode = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    let creds = basic
        .as_deref()
        .and_then(|b| b.split_once(':'))
        .and_then(|(i, s)| Some((decode(i)?, decode(s)?)))
        .or_else(|| Some((r.form_param("client_id")?, r.form_param("client_secret")?)));
    if creds.as_ref() != Some(&st.client) {
        return ResponseTemplate::new(401)
            .insert_header("www-authenticate", "Basic realm=\"introspection\"")
            .set_body_json(serde_json::json!({"error": "invalid_client"}));
    }
    let token = r.form_param("token").unwrap_or_default();
    let found = st.opaque.iter().find(|(t, _)| *t == token).map(|(_, c)| c.clone());
    let body = match found {
        Some(c) if c["exp"].as_u64().is_some_and(|e| e > now()) => c,
        _ => serde_json::json!({"active": false}),
    };
    ResponseTemplate::new(200).set_body_json(body)
}
