//! Providers whose token responses are not standard, for `tokenResponseMapping` and
//! `identityFromToken` (docs VE:223-241, KE:681-741):
//!
//! - [`SlackMock`]: Slack's `oauth.v2.access` shape: the user's token and id nested under
//!   `authed_user` (`authed_user.access_token`, `authed_user.id`), a bot token at the top level,
//!   no userinfo endpoint.
//! - [`crate::SnowflakeMock`] (snowflake.rs): a JWT-shaped access token carrying the identity,
//!   plus a top-level `username`.
//!
//! Both log the user in with automatic consent on `GET /oauth/authorize` and redeem codes at
//! `POST /oauth/token`; any other path (a userinfo endpoint a misconfigured server might call)
//! is recorded and answered 404.

use std::sync::{Arc, Mutex};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::oauth::{AuthorizePolicy, OAuthError, State, random_token, token_request};
use crate::record::{IssuedToken, RecordedRequest, lock};
use crate::user::MockUser;

const POLICY: AuthorizePolicy = AuthorizePolicy { require_response_type: true, pkce_methods: &["S256"] };

/// The token response a flavour builds for a user and a fresh token.
pub(crate) type Shape = fn(&MockUser, &str, &str) -> serde_json::Value;

pub(crate) struct ShapedProvider {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
    pub requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl ShapedProvider {
    pub(crate) async fn start(
        listener: Option<std::net::TcpListener>,
        client_id: &str,
        client_secret: &str,
        shape: Shape,
        token: fn(&MockUser) -> String,
    ) -> Self {
        let state = Arc::new(Mutex::new(State::new(client_id, client_secret)));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let server = crate::standalone::server(listener).await;
        Mock::given(any())
            .respond_with(Responder { state: state.clone(), requests: requests.clone(), shape, token })
            .mount(&server)
            .await;
        Self { server, state, requests }
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    shape: Shape,
    token: fn(&MockUser) -> String,
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let uri: http::Uri = req.url.as_str().parse().unwrap_or_default();
        lock(&self.requests).push(RecordedRequest::new(req.method.as_str(), &uri, &req.headers, &req.body));
        let mut state = lock(&self.state);
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/oauth/authorize") => state.authorize(req, &POLICY),
            ("POST", "/oauth/token") => {
                let result = (|| -> Result<serde_json::Value, OAuthError> {
                    let (p, client_id) = token_request(&state, req)?;
                    let grant = state.redeem_code(&client_id, &p)?;
                    let access_token = (self.token)(&grant.user);
                    state.issued.push(IssuedToken {
                        user: grant.user.login.clone(),
                        access_token: access_token.clone(),
                        refresh_token: None,
                        id_token: None,
                        client_id,
                    });
                    Ok((self.shape)(&grant.user, &access_token, &grant.scope))
                })();
                match result {
                    Ok(body) => ResponseTemplate::new(200).set_body_json(body),
                    Err(e) => e.into_response(),
                }
            }
            _ => ResponseTemplate::new(404).set_body_json(serde_json::json!({"ok": false, "error": "unknown_method"})),
        }
    }
}

/// A Slack-like provider (`oauth.v2.access` response shape).
pub struct SlackMock {
    inner: ShapedProvider,
}

impl std::fmt::Debug for SlackMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackMock").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

fn slack_shape(user: &MockUser, user_token: &str, scope: &str) -> serde_json::Value {
    serde_json::json!({
        "ok": true,
        "app_id": "A0CONFORMANCE",
        "access_token": format!("xoxb-bot-{}", random_token(12)),
        "token_type": "bot",
        "authed_user": {
            "id": slack_user_id(user),
            "scope": scope,
            "access_token": user_token,
            "token_type": "user",
        },
        "team": { "id": "T0CONFORMANCE", "name": "Conformance" },
    })
}

/// Slack's user id for a mock user (`U` + GitHub id).
pub fn slack_user_id(user: &MockUser) -> String {
    format!("U{}", user.github_id)
}

impl SlackMock {
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        Self::start_on(None, client_id, client_secret).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(listener: Option<std::net::TcpListener>, client_id: &str, client_secret: &str) -> Self {
        let token = |_: &MockUser| format!("xoxp-{}", random_token(18));
        Self { inner: ShapedProvider::start(listener, client_id, client_secret, slack_shape, token).await }
    }

    pub fn base_url(&self) -> String {
        self.inner.server.uri()
    }

    pub fn set_user(&self, user: MockUser) {
        lock(&self.inner.state).user = user;
    }

    /// The user tokens (`authed_user.access_token`) issued, in order.
    pub fn issued(&self) -> Vec<IssuedToken> {
        lock(&self.inner.state).issued.clone()
    }

    pub fn received(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }
}
