//! Errors of the authorization server, one enum per concern.
//!
//! * [`AuthServerError`]: start-up (configuration, keys, upstream discovery).
//! * [`TokenError`]: the token endpoint, RFC 6749 §5.2.
//! * [`AuthorizeError`]: the authorization endpoint, RFC 6749 §4.1.2.1 (redirected once the
//!   redirect URI is trusted, a JSON body before that).
//! * [`RegisterError`]: dynamic client registration, RFC 7591 §3.2.2.
//! * [`CallbackError`]: the upstream callback (plain text before the pending authorization is
//!   found, a redirect to the client after).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StorageError;

/// Why the server could not start. Every variant names the configuration field it is about.
#[derive(Debug, thiserror::Error)]
pub enum AuthServerError {
    #[error("authServerConfig.{field}: {reason}")]
    Config { field: String, reason: String },
    #[error("authServerConfig.signingKeySecretRefs[{index}]: {reason}")]
    SigningKey { index: usize, reason: String },
    #[error("authServerConfig.hmacSecretRefs[{index}]: {reason}")]
    HmacSecret { index: usize, reason: String },
    #[error("upstream provider `{provider}`: OIDC discovery at {url} failed: {reason}")]
    Discovery { provider: String, url: String, reason: String },
    #[error("cannot generate an ephemeral key: {0}")]
    Crypto(String),
}

impl AuthServerError {
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config { field: field.into(), reason: reason.into() }
    }
}

fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response();
    no_store(&mut resp);
    resp
}

/// RFC 6749 §5.2 error responses of the token endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// `basic_realm`: the client tried HTTP Basic, so the answer carries `WWW-Authenticate`.
    #[error("invalid_client: {description}")]
    InvalidClient { description: String, basic_realm: Option<String> },
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 8707 §2.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    #[error("server_error: {0}")]
    ServerError(String),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::ServerError(_) => "server_error",
        }
    }

    fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::ServerError(d) => d,
            Self::InvalidClient { description, .. } => description,
        }
    }
}

impl From<StorageError> for TokenError {
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "token endpoint: storage failure");
        Self::ServerError("the authorization server's storage is unavailable".into())
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            Self::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut resp = json_error(status, self.code(), self.description());
        if let Self::InvalidClient { basic_realm: Some(realm), .. } = &self {
            let value = format!("Basic realm=\"{}\"", realm.replace(['"', '\\'], ""));
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

/// An error sent back to the client's (verified) redirect URI, RFC 6749 §4.1.2.1.
#[derive(Debug, Clone)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl RedirectError {
    pub fn new(redirect_uri: &str, error: &'static str, description: impl Into<String>, state: Option<&str>) -> Self {
        Self {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description: description.into(),
            state: state.map(str::to_owned),
        }
    }
}

impl IntoResponse for RedirectError {
    fn into_response(self) -> Response {
        let mut params = vec![("error", self.error.to_owned()), ("error_description", self.description)];
        if let Some(state) = self.state {
            params.push(("state", state));
        }
        redirect_with(&self.redirect_uri, &params)
    }
}

/// `302 Found` to `base` with `params` appended to its query (an existing query is kept).
pub fn redirect_with(base: &str, params: &[(&str, String)]) -> Response {
    found(&with_query(base, params))
}

/// `base` with `params` appended to its query (an existing query is kept).
pub fn with_query(base: &str, params: &[(&str, String)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        // Only verified URIs reach this point; fall back to a plain concatenation.
        Err(_) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            let q: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
            format!("{base}{sep}{q}")
        }
    }
}

/// `302 Found` with `Location` and `Cache-Control: no-store`.
pub fn found(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "invalid redirect location"),
    }
    no_store(&mut resp);
    resp
}

/// Errors of `/oauth/authorize`.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Unknown client: 401 JSON, never redirected (no redirect URI can be trusted).
    InvalidClient(String),
    /// Missing client id or unregistered redirect URI: 400 JSON, never redirected.
    InvalidRequest(String),
    /// Everything after the redirect URI is verified.
    Redirect(RedirectError),
    /// Storage failed before a redirect URI was known.
    ServerError(String),
}

impl From<RedirectError> for AuthorizeError {
    fn from(e: RedirectError) -> Self {
        Self::Redirect(e)
    }
}

impl IntoResponse for AuthorizeError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidClient(d) => json_error(StatusCode::UNAUTHORIZED, "invalid_client", &d),
            Self::InvalidRequest(d) => json_error(StatusCode::BAD_REQUEST, "invalid_request", &d),
            Self::Redirect(r) => r.into_response(),
            Self::ServerError(d) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &d),
        }
    }
}

/// RFC 7591 §3.2.2 registration errors.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    #[error("server_error: {0}")]
    ServerError(String),
}

impl From<StorageError> for RegisterError {
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "registration endpoint: storage failure");
        Self::ServerError("the authorization server's storage is unavailable".into())
    }
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidRedirectUri(d) => json_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", &d),
            Self::InvalidClientMetadata(d) => json_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &d),
            Self::ServerError(d) => json_error(StatusCode::SERVICE_UNAVAILABLE, "server_error", &d),
        }
    }
}

/// Errors of `/oauth/callback`.
#[derive(Debug)]
pub enum CallbackError {
    /// No usable pending authorization: plain text, nothing to redirect to.
    BadRequest(String),
    /// Storage failed before the pending authorization could be read.
    Unavailable(String),
    Redirect(RedirectError),
}

impl IntoResponse for CallbackError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest(d) => {
                let mut r = (StatusCode::BAD_REQUEST, d).into_response();
                no_store(&mut r);
                r
            }
            Self::Unavailable(d) => {
                let mut r = (StatusCode::SERVICE_UNAVAILABLE, d).into_response();
                no_store(&mut r);
                r
            }
            Self::Redirect(r) => r.into_response(),
        }
    }
}
