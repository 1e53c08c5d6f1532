//! A Snowflake-like provider: no userinfo endpoint; the access token is a JWT whose payload
//! names the user (`sub`, `name`), and the response repeats the login as `username`.
//! The JWT is signed with a throw-away HMAC key: `@upstreamjwt` decodes without verifying.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::oauth::random_token;
use crate::record::{IssuedToken, RecordedRequest, lock};
use crate::slack::ShapedProvider;
use crate::user::MockUser;

pub struct SnowflakeMock {
    inner: ShapedProvider,
}

impl std::fmt::Debug for SnowflakeMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeMock").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

/// Snowflake's login name for a mock user (upper case).
pub fn snowflake_login(user: &MockUser) -> String {
    user.login.to_ascii_uppercase()
}

fn jwt_for(user: &MockUser) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        serde_json::json!({ "sub": snowflake_login(user), "name": user.name, "jti": random_token(8) }).to_string(),
    );
    let sig = URL_SAFE_NO_PAD.encode(random_token(32));
    format!("{header}.{payload}.{sig}")
}

fn shape(user: &MockUser, token: &str, scope: &str) -> serde_json::Value {
    serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": scope,
        "username": snowflake_login(user),
    })
}

impl SnowflakeMock {
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        Self::start_on(None, client_id, client_secret).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(listener: Option<std::net::TcpListener>, client_id: &str, client_secret: &str) -> Self {
        Self { inner: ShapedProvider::start(listener, client_id, client_secret, shape, jwt_for).await }
    }

    pub fn base_url(&self) -> String {
        self.inner.server.uri()
    }

    pub fn set_user(&self, user: MockUser) {
        lock(&self.inner.state).user = user;
    }

    pub fn issued(&self) -> Vec<IssuedToken> {
        lock(&self.inner.state).issued.clone()
    }

    pub fn received(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }
}
