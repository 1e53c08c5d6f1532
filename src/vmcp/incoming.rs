//! Incoming authentication: Bearer JWT validation in front of `/mcp`, the RFC 6750 challenge,
//! and the caller's identity (with the upstream tokens of its login session) handed to the
//! MCP handler through the request extensions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::StatusCode;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};

use super::config::{IncomingAuthConfig, OidcIncoming};
use super::embedded::{EmbeddedAuth, EmbeddedAuthError, UpstreamTokens};
use crate::defects::{Defect, Defects};

/// JWS algorithms accepted on incoming tokens: RSA and ECDSA only (toolhive-behaviour 7.2 step 2;
/// `none` and HMAC are refused so a public key can never be used as an HMAC secret, RFC 8725
/// §2.1 and §3.1; EdDSA is refused as ToolHive does).
pub const ACCEPTED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Who is calling, as established by incoming authentication. Inserted into the HTTP request's
/// extensions; the MCP handler reads it from `http::request::Parts` in `RequestContext.extensions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The JWT's `sub`, or `anonymous`.
    pub subject: String,
    /// The JWT's `iss`; `None` for anonymous callers.
    pub issuer: Option<String>,
    /// Every claim of the validated token.
    pub claims: Map<String, Value>,
    /// The JWT's `tsid` (the embedded server's login session), when present.
    pub session_id: Option<String>,
    /// Upstream tokens stored for `session_id`, by provider name.
    pub upstream_tokens: BTreeMap<String, UpstreamTokens>,
}

impl Identity {
    /// The identity of every caller when `incomingAuth.type` is `anonymous`.
    pub fn anonymous() -> Self {
        Self {
            subject: "anonymous".into(),
            issuer: None,
            claims: Map::new(),
            session_id: None,
            upstream_tokens: BTreeMap::new(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.issuer.is_none()
    }
}

/// Why a presented token was refused. The text is the `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a well-formed JWS compact serialization: {0}")]
    Malformed(String),
    #[error("token algorithm `{0}` is not accepted (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 only)")]
    UnsupportedAlgorithm(String),
    #[error("token header has no `kid`")]
    MissingKid,
    #[error("no verification key with kid `{0}`")]
    UnknownKid(String),
    #[error("verification key `{kid}` is for {key_alg}, the token says {token_alg}")]
    AlgorithmMismatch { kid: String, key_alg: String, token_alg: String },
    #[error("verification keys could not be fetched: {0}")]
    KeysUnavailable(String),
    #[error("signature verification failed: {0}")]
    BadSignature(String),
    #[error("token has no `exp` claim")]
    MissingExpiry,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("token issuer does not match the configured issuer")]
    WrongIssuer,
    #[error("token audience does not contain the configured audience")]
    WrongAudience,
    #[error("token has no `sub` claim")]
    MissingSubject,
    #[error("only tokens of `{0}` are accepted")]
    WrongSubject(String),
    #[error("token is not active (RFC 7662 introspection)")]
    Inactive,
    #[error("token introspection failed: {0}")]
    IntrospectionFailed(String),
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Validates incoming JWTs against one `incomingAuth.oidc` configuration.
pub struct TokenValidator {
    issuer: String,
    audience: String,
    embedded: Option<Arc<dyn EmbeddedAuth>>,
    remote: Option<RemoteJwks>,
    introspection: Option<Introspector>,
    required_subject: Option<String>,
    defects: Defects,
}

impl std::fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenValidator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("embedded", &self.embedded.is_some())
            .field("remote", &self.remote.as_ref().map(|r| &r.jwks_url))
            .finish()
    }
}

impl TokenValidator {
    /// Keys come from the embedded server when there is one (in-process, the docs' reason no
    /// `jwksAllowPrivateIP` is needed), then from `jwks_url` when configured; without an embedded
    /// server from `jwks_url` or else the issuer's OIDC discovery document.
    pub fn new(
        oidc: &OidcIncoming,
        embedded: Option<Arc<dyn EmbeddedAuth>>,
        http: reqwest::Client,
        defects: Defects,
    ) -> Self {
        let remote = if oidc.jwks_url.is_some() || embedded.is_none() {
            Some(RemoteJwks {
                http,
                jwks_url: oidc.jwks_url.clone(),
                issuer: oidc.issuer.clone(),
                cache: tokio::sync::Mutex::new(None),
                no_refetch: defects.is_on(Defect::NoJwksRefetch),
            })
        } else {
            None
        };
        let introspection = oidc.introspection.clone().map(|config| Introspector {
            http: remote.as_ref().map(|r| r.http.clone()).unwrap_or_default(),
            issuer: oidc.issuer.clone(),
            config,
        });
        Self {
            issuer: oidc.issuer.clone(),
            audience: oidc.audience.clone(),
            embedded,
            remote,
            introspection,
            required_subject: oidc.required_subject.clone(),
            defects,
        }
    }

    /// Validates `token` now; returns its claims.
    pub async fn validate(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        self.validate_at(token, now_secs()).await
    }

    /// Validates `token` as of `now` (Unix seconds), with zero leeway.
    pub async fn validate_at(&self, token: &str, now: u64) -> Result<Map<String, Value>, TokenError> {
        if let Some(introspector) = &self.introspection
            && token.split('.').count() != 3
        {
            let mut claims = if self.defects.is_on(Defect::SkipIntrospection) {
                let claims = serde_json::json!({
                    "active": true, "sub": "unverified-opaque-token", "aud": self.audience, "exp": now + 60,
                });
                claims.as_object().cloned().unwrap_or_default()
            } else {
                introspector.introspect(token).await?
            };
            claims.entry("iss").or_insert_with(|| Value::String(self.issuer.clone()));
            self.check_claims(&claims, now)?;
            self.check_subject(&claims)?;
            return Ok(claims);
        }
        if self.defects.is_on(Defect::AcceptAlgNone) && header_alg(token).as_deref() == Some("none") {
            // Test-only: the classic RFC 8725 §2.1 flaw, an unsigned token taken at its word.
            let payload = token.split('.').nth(1).unwrap_or_default();
            let claims: Map<String, Value> = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| TokenError::Malformed("payload is not a base64url JSON object".into()))?;
            self.check_claims(&claims, now)?;
            return Ok(claims);
        }
        if self.defects.is_on(Defect::AcceptHs256PublicKey)
            && header_alg(token).as_deref() == Some("HS256")
            && let Some(claims) = self.hs256_with_public_key(token)
        {
            self.check_claims(&claims, now)?;
            return Ok(claims);
        }
        let (alg, kid) = parse_header(token)?;
        let claims = if self.defects.is_on(Defect::SkipSignatureCheck) {
            jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
                .map_err(|e| TokenError::Malformed(e.to_string()))?
                .claims
        } else {
            let key = self.key_for(&kid, alg).await?;
            let mut validation = Validation::new(alg);
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.validate_aud = false;
            validation.leeway = 0;
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
                .map_err(|e| match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature(e.to_string()),
                    jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                    | jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName
                    | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => {
                        TokenError::BadSignature(format!("key `{kid}` cannot verify {alg:?}: {e}"))
                    }
                    _ => TokenError::Malformed(e.to_string()),
                })?
                .claims
        };
        self.check_claims(&claims, now)?;
        self.check_subject(&claims)?;
        Ok(claims)
    }

    fn check_subject(&self, claims: &Map<String, Value>) -> Result<(), TokenError> {
        match &self.required_subject {
            Some(want)
                if !self.defects.is_on(Defect::IgnoreRequiredSubject)
                    && claims.get("sub").and_then(Value::as_str) != Some(want.as_str()) =>
            {
                Err(TokenError::WrongSubject(want.clone()))
            }
            _ => Ok(()),
        }
    }

    /// RFC 7519 §4.1: `exp` required and strictly in the future, `nbf` not in the future, `iss`
    /// equal to the configured issuer, `aud` (string or array) containing the audience, `sub`.
    fn check_claims(&self, claims: &Map<String, Value>, now: u64) -> Result<(), TokenError> {
        if !self.defects.is_on(Defect::SkipExpiryCheck) {
            let exp = claims.get("exp").and_then(Value::as_f64).ok_or(TokenError::MissingExpiry)?;
            if (now as f64) >= exp {
                return Err(TokenError::Expired);
            }
        }
        if let Some(nbf) = claims.get("nbf")
            && nbf.as_f64().is_none_or(|nbf| (now as f64) < nbf)
        {
            return Err(TokenError::NotYetValid);
        }
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        if (iss.trim() != self.issuer.trim() || iss.is_empty()) && !self.defects.is_on(Defect::SkipIssuerCheck) {
            return Err(TokenError::WrongIssuer);
        }
        if !self.defects.is_on(Defect::SkipAudienceCheck) {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => *a == self.audience,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(self.audience.as_str())),
                _ => false,
            };
            if !ok {
                return Err(TokenError::WrongAudience);
            }
        }
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if !sub.is_empty() => Ok(()),
            _ => Err(TokenError::MissingSubject),
        }
    }

    /// Test-only: the RFC 8725 §2.1 key confusion, an HS256 token verified with the published
    /// JWK of its `kid` as the HMAC secret.
    fn hs256_with_public_key(&self, token: &str) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let jwk = self.embedded.as_ref()?.published_jwk(header.kid.as_deref()?)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let key = DecodingKey::from_secret(jwk.to_string().as_bytes()).ok()?;
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).ok().map(|d| d.claims)
    }

    async fn key_for(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, TokenError> {
        if let Some(embedded) = &self.embedded
            && let Some(k) = embedded.verification_keys().into_iter().find(|k| k.kid == kid)
        {
            if k.algorithm != alg {
                return Err(TokenError::AlgorithmMismatch {
                    kid: kid.to_owned(),
                    key_alg: format!("{:?}", k.algorithm),
                    token_alg: format!("{alg:?}"),
                });
            }
            return Ok(k.key);
        }
        match &self.remote {
            Some(remote) => remote.key(kid, alg).await,
            None => Err(TokenError::UnknownKid(kid.to_owned())),
        }
    }
}

/// The JOSE header's `alg`, unchecked (only for the `accept-alg-none` defect).
fn header_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    header.get("alg").and_then(Value::as_str).map(str::to_owned)
}

/// Reads `alg` and `kid` from the JOSE header, refusing what [`ACCEPTED_ALGORITHMS`] excludes.
fn parse_header(token: &str) -> Result<(Algorithm, String), TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed("expected three dot-separated parts".into()));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|e| TokenError::Malformed(format!("header is not base64url: {e}")))?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::Malformed(format!("header is not a JSON object: {e}")))?;
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or_default();
    let alg = ACCEPTED_ALGORITHMS
        .iter()
        .copied()
        .find(|a| format!("{a:?}") == alg_name)
        .ok_or_else(|| TokenError::UnsupportedAlgorithm(alg_name.to_owned()))?;
    let kid = header.get("kid").and_then(Value::as_str).filter(|k| !k.is_empty()).ok_or(TokenError::MissingKid)?;
    Ok((alg, kid.to_owned()))
}

/// A JWKS fetched over HTTP (configured `jwksUrl`, or the issuer's discovery document), cached
/// and fetched again once when a token names an unknown `kid` (key rotation).
struct RemoteJwks {
    http: reqwest::Client,
    jwks_url: Option<String>,
    issuer: String,
    cache: tokio::sync::Mutex<Option<Vec<Jwk>>>,
    /// The `NoJwksRefetch` defect: an unknown `kid` never refreshes the cached set.
    no_refetch: bool,
}

/// RFC 7662 introspection of opaque tokens with HTTP Basic client authentication (§2.1).
struct Introspector {
    http: reqwest::Client,
    issuer: String,
    config: crate::vmcp::config::IntrospectionConfig,
}

impl Introspector {
    async fn endpoint(&self) -> Result<String, TokenError> {
        if let Some(url) = &self.config.url {
            return Ok(url.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let fail = |e: String| TokenError::IntrospectionFailed(e);
        let doc: Value = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(format!("GET {url}: {e}")))?
            .json()
            .await
            .map_err(|e| fail(format!("GET {url}: {e}")))?;
        doc.get("introspection_endpoint")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| fail(format!("{url} has no introspection_endpoint")))
    }

    async fn introspect(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        let url = self.endpoint().await?;
        let fail = |e: String| TokenError::IntrospectionFailed(e);
        let resp = self
            .http
            .post(&url)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .header(http::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| fail(format!("POST {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(fail(format!("POST {url}: HTTP {}", resp.status())));
        }
        let body: Map<String, Value> = resp.json().await.map_err(|e| fail(format!("POST {url}: {e}")))?;
        if body.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenError::Inactive);
        }
        Ok(body)
    }
}

impl RemoteJwks {
    async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, TokenError> {
        let mut cache = self.cache.lock().await;
        let mut fresh = false;
        if cache.is_none() {
            *cache = Some(self.fetch().await?);
            fresh = true;
        }
        let find = |keys: &Option<Vec<Jwk>>| {
            keys.as_ref().and_then(|keys| keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)).cloned())
        };
        let mut jwk = find(&cache);
        if jwk.is_none() && !fresh && !self.no_refetch {
            *cache = Some(self.fetch().await?);
            jwk = find(&cache);
        }
        let jwk = jwk.ok_or_else(|| TokenError::UnknownKid(kid.to_owned()))?;
        if let Some(key_alg) = jwk.common.key_algorithm
            && format!("{key_alg:?}") != format!("{alg:?}")
        {
            return Err(TokenError::AlgorithmMismatch {
                kid: kid.to_owned(),
                key_alg: format!("{key_alg:?}"),
                token_alg: format!("{alg:?}"),
            });
        }
        DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::KeysUnavailable(format!("key `{kid}` is unusable: {e}")))
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, TokenError> {
        let url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => self.discover_jwks_uri().await?,
        };
        let doc = self.get_json(&url).await?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| TokenError::KeysUnavailable(format!("{url} did not return a JWK Set (no `keys` array)")))?;
        // Keys this library cannot represent are skipped rather than failing the whole set.
        Ok(keys.iter().filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok()).collect())
    }

    /// OIDC Discovery 1.0 §4, then RFC 8414 §3 for a plain OAuth issuer.
    async fn discover_jwks_uri(&self) -> Result<String, TokenError> {
        let base = self.issuer.trim_end_matches('/');
        let mut last = String::new();
        for suffix in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
            let url = format!("{base}{suffix}");
            match self.get_json(&url).await {
                Ok(doc) => match doc.get("jwks_uri").and_then(Value::as_str) {
                    Some(uri) => return Ok(uri.to_owned()),
                    None => last = format!("{url} has no jwks_uri"),
                },
                Err(e) => last = e.to_string(),
            }
        }
        Err(TokenError::KeysUnavailable(format!("discovery of issuer {} failed: {last}", self.issuer)))
    }

    async fn get_json(&self, url: &str) -> Result<Value, TokenError> {
        let resp = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| TokenError::KeysUnavailable(format!("GET {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(TokenError::KeysUnavailable(format!("GET {url}: HTTP {}", resp.status())));
        }
        resp.json::<Value>().await.map_err(|e| TokenError::KeysUnavailable(format!("GET {url}: {e}")))
    }
}

/// The `resource_metadata` URL for a resource identifier: the well-known suffix inserted between
/// the origin and the path (RFC 9728 §3.1); a bare `/` path is dropped. `None` when the
/// resource URL is empty or not an absolute URL.
pub fn resource_metadata_url(resource_url: &str) -> Option<String> {
    let url = url::Url::parse(resource_url).ok()?;
    if !url.has_host() {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    let path = url.path();
    let path = if path == "/" { "" } else { path.trim_end_matches('/') };
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some(format!("{origin}/.well-known/oauth-protected-resource{path}{query}"))
}

/// The parameters of the `WWW-Authenticate: Bearer` challenge (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub realm: Option<String>,
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    /// Defect `omit-invalid-token-error`: refused tokens get no `error` parameter.
    pub omit_error: bool,
}

impl Challenge {
    pub fn from_config(oidc: &OidcIncoming) -> Self {
        let scopes: Vec<&str> = oidc.scopes.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        Self {
            realm: Some(oidc.issuer.clone()).filter(|i| !i.is_empty()),
            resource_metadata: resource_metadata_url(&oidc.resource_url),
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            omit_error: false,
        }
    }

    /// The header value. `error` is `(code, description)`; absent when the request carried no
    /// credentials (RFC 6750 §3.1: "the resource server SHOULD NOT include an error code").
    pub fn header_value(&self, error: Option<(&str, &str)>) -> String {
        let mut params = Vec::new();
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{}\"", quote(realm)));
        }
        if let Some(url) = &self.resource_metadata {
            params.push(format!("resource_metadata=\"{}\"", quote(url)));
        }
        if let Some(scope) = &self.scope {
            params.push(format!("scope=\"{}\"", quote(scope)));
        }
        if let Some((code, description)) = error.filter(|_| !self.omit_error) {
            params.push(format!("error=\"{}\"", quote(code)));
            params.push(format!("error_description=\"{}\"", description_chars(description)));
        }
        if params.is_empty() { "Bearer".to_owned() } else { format!("Bearer {}", params.join(", ")) }
    }
}

/// RFC 9110 §5.6.4 quoted-string content: `"` and `\` escaped; characters a header cannot carry
/// (controls, non-ASCII) replaced by `?`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' ' | '\t' => out.push(c),
            c if c.is_ascii_graphic() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// RFC 6750 §3: `error_description` uses %x20-21 / %x23-5B / %x5D-7E only, so `"` and `\`
/// cannot appear even escaped; they become `'` and `/`.
fn description_chars(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' ' => ' ',
            c if c.is_ascii_graphic() => c,
            _ => '?',
        })
        .collect()
}

/// What the middleware answers instead of passing a request on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No Bearer credentials at all (no header, or another scheme).
    MissingCredentials(String),
    /// A token was presented and refused, or its session's upstream tokens expired.
    InvalidToken(String),
    /// The embedded server's storage could not be read.
    Unavailable(String),
}

impl AuthFailure {
    pub fn into_response(self, challenge: &Challenge) -> Response {
        let (status, body, www) = match &self {
            AuthFailure::MissingCredentials(d) => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "unauthorized", "error_description": d}),
                Some(challenge.header_value(None)),
            ),
            AuthFailure::InvalidToken(d) => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_token", "error_description": d}),
                Some(challenge.header_value(Some(("invalid_token", d)))),
            ),
            AuthFailure::Unavailable(d) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "temporarily_unavailable", "error_description": d}),
                None,
            ),
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(www) = www.and_then(|w| HeaderValue::from_str(&w).ok()) {
            headers.insert(WWW_AUTHENTICATE, www);
        }
        headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        (status, headers, body.to_string()).into_response()
    }
}

/// Incoming authentication as configured: shared by every request to `/mcp`.
pub struct IncomingAuth {
    mode: Mode,
    challenge: Challenge,
}

enum Mode {
    Anonymous { require_token: bool },
    Oidc { validator: Box<TokenValidator>, embedded: Option<Arc<dyn EmbeddedAuth>> },
}

impl std::fmt::Debug for IncomingAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.mode {
            Mode::Anonymous { .. } => "anonymous".to_owned(),
            Mode::Oidc { validator, .. } => format!("{validator:?}"),
        };
        f.debug_struct("IncomingAuth").field("mode", &mode).field("challenge", &self.challenge).finish()
    }
}

impl IncomingAuth {
    pub fn new(
        config: &IncomingAuthConfig,
        embedded: Option<Arc<dyn EmbeddedAuth>>,
        http: reqwest::Client,
        defects: Defects,
    ) -> Self {
        match config {
            IncomingAuthConfig::Anonymous => Self {
                mode: Mode::Anonymous { require_token: defects.is_on(crate::defects::Defect::AnonymousRequiresToken) },
                challenge: Challenge::default(),
            },
            IncomingAuthConfig::Oidc(oidc) => {
                let mut challenge = Challenge::from_config(oidc);
                if defects.is_on(crate::defects::Defect::OmitResourceMetadata) {
                    challenge.resource_metadata = None;
                }
                challenge.omit_error = defects.is_on(crate::defects::Defect::OmitInvalidTokenError);
                Self {
                    mode: Mode::Oidc {
                        validator: Box::new(TokenValidator::new(oidc, embedded.clone(), http, defects)),
                        embedded,
                    },
                    challenge,
                }
            }
        }
    }

    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The caller's identity, or why the request is refused.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, AuthFailure> {
        let (validator, embedded) = match &self.mode {
            Mode::Anonymous { require_token } => {
                if *require_token && headers.get(AUTHORIZATION).is_none() {
                    return Err(AuthFailure::MissingCredentials("authorization header required".into()));
                }
                return Ok(Identity::anonymous());
            }
            Mode::Oidc { validator, embedded } => (validator, embedded),
        };
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Err(AuthFailure::MissingCredentials("authorization header required".into()));
        };
        let Ok(value) = value.to_str() else {
            return Err(AuthFailure::InvalidToken("authorization header is not visible ASCII".into()));
        };
        // RFC 6750 §2.1 with ToolHive's case-sensitive `Bearer ` prefix; another scheme counts as
        // no credentials for this resource (RFC 6750 §3.1).
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Err(AuthFailure::MissingCredentials("a Bearer token is required".into()));
        };
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthFailure::InvalidToken("empty bearer token".into()));
        }
        let claims = validator.validate(token).await.map_err(|e| AuthFailure::InvalidToken(e.to_string()))?;
        let str_claim = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let mut identity = Identity {
            subject: str_claim("sub").unwrap_or_default(),
            issuer: str_claim("iss"),
            session_id: str_claim("tsid").filter(|s| !s.is_empty()),
            claims: claims.clone(),
            upstream_tokens: BTreeMap::new(),
        };
        if let (Some(tsid), Some(embedded)) = (&identity.session_id, embedded) {
            identity.upstream_tokens = embedded.upstream_tokens(tsid).await.map_err(|e| match e {
                EmbeddedAuthError::Unavailable(_) => AuthFailure::Unavailable(e.to_string()),
                EmbeddedAuthError::Expired(_) => AuthFailure::InvalidToken(e.to_string()),
            })?;
        }
        Ok(identity)
    }
}

/// axum middleware: authenticate, then pass the request on with its [`Identity`] in the
/// extensions.
pub async fn require_auth(State(auth): State<Arc<IncomingAuth>>, mut req: Request, next: Next) -> Response {
    match auth.authenticate(req.headers()).await {
        Ok(identity) => {
            req.extensions_mut().insert(identity);
            next.run(req).await
        }
        Err(failure) => {
            tracing::info!(path = %req.uri().path(), ?failure, "vmcp: request refused by incoming auth");
            failure.into_response(&auth.challenge)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::vmcp::embedded::VerificationKey;

    pub(crate) const ISSUER: &str = "http://127.0.0.1:9999";
    pub(crate) const AUDIENCE: &str = "http://127.0.0.1:9999/mcp";

    /// A locally generated P-256 key: signer plus the embedded-server view of it.
    pub(crate) struct TestKey {
        pub kid: String,
        pub encoding: EncodingKey,
        pub public: Vec<u8>,
    }

    impl TestKey {
        pub(crate) fn generate(kid: &str) -> Self {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
            Self {
                kid: kid.into(),
                encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
                public: pair.public_key().as_ref().to_vec(),
            }
        }

        pub(crate) fn verification_key(&self) -> VerificationKey {
            VerificationKey {
                kid: self.kid.clone(),
                algorithm: Algorithm::ES256,
                key: DecodingKey::from_ec_der(&self.public),
            }
        }

        pub(crate) fn sign(&self, claims: &Value) -> String {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(self.kid.clone());
            jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
        }
    }

    /// An in-memory embedded server: keys plus upstream tokens per `tsid`.
    pub(crate) struct FakeEmbedded {
        pub keys: Vec<VerificationKey>,
        pub sessions: BTreeMap<String, BTreeMap<String, UpstreamTokens>>,
        pub fail: Option<EmbeddedAuthError>,
    }

    #[async_trait::async_trait]
    impl EmbeddedAuth for FakeEmbedded {
        fn verification_keys(&self) -> Vec<VerificationKey> {
            self.keys.clone()
        }
        async fn upstream_tokens(
            &self,
            session_id: &str,
        ) -> Result<BTreeMap<String, UpstreamTokens>, EmbeddedAuthError> {
            match &self.fail {
                Some(EmbeddedAuthError::Unavailable(m)) => Err(EmbeddedAuthError::Unavailable(m.clone())),
                Some(EmbeddedAuthError::Expired(m)) => Err(EmbeddedAuthError::Expired(m.clone())),
                None => Ok(self.sessions.get(session_id).cloned().unwrap_or_default()),
            }
        }
    }

    pub(crate) fn oidc() -> OidcIncoming {
        OidcIncoming {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            resource_url: AUDIENCE.into(),
            scopes: vec!["openid".into(), "profile".into()],
            jwks_url: None,
            introspection: None,
            required_subject: None,
        }
    }

    fn claims(now: u64) -> Value {
        json!({"iss": ISSUER, "aud": [AUDIENCE], "sub": "user-1", "exp": now + 300, "iat": now, "tsid": "s1"})
    }

    fn validator(key: &TestKey, defects: Defects) -> TokenValidator {
        let embedded: Arc<dyn EmbeddedAuth> =
            Arc::new(FakeEmbedded { keys: vec![key.verification_key()], sessions: BTreeMap::new(), fail: None });
        TokenValidator::new(&oidc(), Some(embedded), reqwest::Client::new(), defects)
    }

    fn with(mut v: Value, key: &str, value: Value) -> Value {
        if value.is_null() {
            v.as_object_mut().unwrap().remove(key);
        } else {
            v[key] = value;
        }
        v
    }

    fn unsigned(header: Value, claims: &Value) -> String {
        let b = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", b(&header), b(claims))
    }

    #[tokio::test]
    async fn jwt_validation_matrix() {
        let key = TestKey::generate("k1");
        let v = validator(&key, Defects::none());
        let now = now_secs();
        let good = claims(now);

        let ok = v.validate_at(&key.sign(&good), now).await.unwrap();
        assert_eq!(ok["sub"], "user-1");
        // aud as a plain string is accepted too.
        assert!(v.validate_at(&key.sign(&with(good.clone(), "aud", json!(AUDIENCE))), now).await.is_ok());

        let cases: Vec<(&str, String, TokenError)> = vec![
            ("wrong iss", key.sign(&with(good.clone(), "iss", json!("http://evil"))), TokenError::WrongIssuer),
            ("wrong aud", key.sign(&with(good.clone(), "aud", json!(["other"]))), TokenError::WrongAudience),
            ("expired", key.sign(&with(good.clone(), "exp", json!(now - 1))), TokenError::Expired),
            ("exp == now (zero leeway)", key.sign(&with(good.clone(), "exp", json!(now))), TokenError::Expired),
            ("no exp", key.sign(&with(good.clone(), "exp", Value::Null)), TokenError::MissingExpiry),
            ("nbf in the future", key.sign(&with(good.clone(), "nbf", json!(now + 60))), TokenError::NotYetValid),
            ("missing sub", key.sign(&with(good.clone(), "sub", Value::Null)), TokenError::MissingSubject),
            (
                "alg none",
                unsigned(json!({"alg": "none", "kid": "k1"}), &good),
                TokenError::UnsupportedAlgorithm("none".into()),
            ),
            ("unknown kid", TestKey::generate("other").sign(&good), TokenError::UnknownKid("other".into())),
            ("no kid", unsigned(json!({"alg": "ES256"}), &good), TokenError::MissingKid),
            ("garbage", "not-a-jwt".into(), TokenError::Malformed("expected three dot-separated parts".into())),
        ];
        for (name, token, want) in cases {
            assert_eq!(v.validate_at(&token, now).await.unwrap_err(), want, "{name}");
        }

        // HS256 signed with the public key bytes (the classic key-confusion attack).
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let hs = jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&key.public).unwrap()).unwrap();
        assert_eq!(v.validate_at(&hs, now).await.unwrap_err(), TokenError::UnsupportedAlgorithm("HS256".into()));

        // Same kid, another key: the signature does not verify.
        let impostor = TestKey::generate("k1");
        assert!(matches!(v.validate_at(&impostor.sign(&good), now).await, Err(TokenError::BadSignature(_))));
        // Tampered payload.
        let token = key.sign(&good);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(with(good.clone(), "sub", json!("admin")).to_string());
        parts[1] = &forged;
        assert!(matches!(v.validate_at(&parts.join("."), now).await, Err(TokenError::BadSignature(_))));
    }

    #[tokio::test]
    async fn defect_switches_relax_exactly_one_check() {
        let key = TestKey::generate("k1");
        let now = now_secs();
        let good = claims(now);
        let aud = validator(&key, Defects::none().with(Defect::SkipAudienceCheck));
        assert!(aud.validate_at(&key.sign(&with(good.clone(), "aud", json!("x"))), now).await.is_ok());
        assert_eq!(
            aud.validate_at(&key.sign(&with(good.clone(), "exp", json!(now - 5))), now).await.unwrap_err(),
            TokenError::Expired
        );
        let exp = validator(&key, Defects::none().with(Defect::SkipExpiryCheck));
        assert!(exp.validate_at(&key.sign(&with(good.clone(), "exp", json!(now - 5))), now).await.is_ok());
        let sig = validator(&key, Defects::none().with(Defect::SkipSignatureCheck));
        assert!(sig.validate_at(&TestKey::generate("zz").sign(&good), now).await.is_ok());
        assert_eq!(
            sig.validate_at(&key.sign(&with(good.clone(), "iss", json!("x"))), now).await.unwrap_err(),
            TokenError::WrongIssuer
        );
    }

    #[test]
    fn challenge_string() {
        let c = Challenge::from_config(&oidc());
        assert_eq!(
            c.header_value(None),
            "Bearer realm=\"http://127.0.0.1:9999\", \
             resource_metadata=\"http://127.0.0.1:9999/.well-known/oauth-protected-resource/mcp\", \
             scope=\"openid profile\""
        );
        assert_eq!(
            c.header_value(Some(("invalid_token", "token has \"expired\"\n"))),
            "Bearer realm=\"http://127.0.0.1:9999\", \
             resource_metadata=\"http://127.0.0.1:9999/.well-known/oauth-protected-resource/mcp\", \
             scope=\"openid profile\", error=\"invalid_token\", error_description=\"token has 'expired'?\""
        );
        let odd = Challenge { realm: Some("a\"b\\c".into()), resource_metadata: None, scope: None, omit_error: false };
        assert_eq!(odd.header_value(None), "Bearer realm=\"a\\\"b\\\\c\"");
        assert_eq!(Challenge::default().header_value(None), "Bearer");
    }

    #[test]
    fn resource_metadata_urls() {
        assert_eq!(
            resource_metadata_url("https://mcp.example.com/mcp").as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            resource_metadata_url("https://mcp.example.com/").as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            resource_metadata_url("http://localhost:8080").as_deref(),
            Some("http://localhost:8080/.well-known/oauth-protected-resource")
        );
        assert_eq!(resource_metadata_url(""), None);
        assert_eq!(resource_metadata_url("not a url"), None);
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        h
    }

    #[tokio::test]
    async fn authenticate_loads_upstream_tokens_and_maps_storage_errors() {
        let key = TestKey::generate("k1");
        let tokens = BTreeMap::from([(
            "github".to_owned(),
            UpstreamTokens { access_token: "gh".into(), id_token: None, expires_at: None },
        )]);
        let fake = FakeEmbedded {
            keys: vec![key.verification_key()],
            sessions: BTreeMap::from([("s1".to_owned(), tokens.clone())]),
            fail: None,
        };
        let cfg = IncomingAuthConfig::Oidc(oidc());
        let auth = IncomingAuth::new(&cfg, Some(Arc::new(fake)), reqwest::Client::new(), Defects::none());
        let token = key.sign(&claims(now_secs()));
        let id = auth.authenticate(&bearer(&token)).await.unwrap();
        assert_eq!(id.subject, "user-1");
        assert_eq!(id.session_id.as_deref(), Some("s1"));
        assert_eq!(id.upstream_tokens, tokens);

        assert!(matches!(auth.authenticate(&HeaderMap::new()).await, Err(AuthFailure::MissingCredentials(_))));
        let mut basic = HeaderMap::new();
        basic.insert(AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwdw=="));
        assert!(matches!(auth.authenticate(&basic).await, Err(AuthFailure::MissingCredentials(_))));
        let mut lower = HeaderMap::new();
        lower.insert(AUTHORIZATION, HeaderValue::from_str(&format!("bearer {token}")).unwrap());
        assert!(matches!(auth.authenticate(&lower).await, Err(AuthFailure::MissingCredentials(_))));

        for (fail, unavailable) in [
            (EmbeddedAuthError::Unavailable("redis down".into()), true),
            (EmbeddedAuthError::Expired("github".into()), false),
        ] {
            let fake = FakeEmbedded { keys: vec![key.verification_key()], sessions: BTreeMap::new(), fail: Some(fail) };
            let auth = IncomingAuth::new(&cfg, Some(Arc::new(fake)), reqwest::Client::new(), Defects::none());
            let err = auth.authenticate(&bearer(&token)).await.unwrap_err();
            assert_eq!(matches!(err, AuthFailure::Unavailable(_)), unavailable, "{err:?}");
            let resp = err.into_response(auth.challenge());
            let want = if unavailable { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::UNAUTHORIZED };
            assert_eq!(resp.status(), want);
        }
    }

    #[tokio::test]
    async fn failure_responses_follow_rfc_6750() {
        let c = Challenge::from_config(&oidc());
        let resp = AuthFailure::MissingCredentials("authorization header required".into()).into_response(&c);
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let www = resp.headers().get(WWW_AUTHENTICATE).unwrap().to_str().unwrap().to_owned();
        assert!(!www.contains("error="), "{www}");
        let resp = AuthFailure::InvalidToken("token has expired".into()).into_response(&c);
        let www = resp.headers().get(WWW_AUTHENTICATE).unwrap().to_str().unwrap().to_owned();
        assert!(www.ends_with("error=\"invalid_token\", error_description=\"token has expired\""), "{www}");
        assert_eq!(resp.headers().get(CONTENT_TYPE).unwrap(), "application/json");
        let body = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"error": "invalid_token", "error_description": "token has expired"}));
    }

    #[tokio::test]
    async fn remote_jwks_is_fetched_through_discovery_and_refetched_on_unknown_kid() {
        use std::sync::Mutex;
        let key1 = TestKey::generate("k1");
        let key2 = TestKey::generate("k2");
        let jwk = |k: &TestKey| {
            // Uncompressed point: 0x04 || x || y.
            let b = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            json!({"kty": "EC", "crv": "P-256", "kid": k.kid, "alg": "ES256", "use": "sig",
                   "x": b(&k.public[1..33]), "y": b(&k.public[33..65])})
        };
        let published = Arc::new(Mutex::new(vec![jwk(&key1)]));
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = {
            let (published, fetches, base) = (published.clone(), fetches.clone(), base.clone());
            axum::Router::new()
                .route(
                    "/.well-known/openid-configuration",
                    axum::routing::get(move || {
                        let base = base.clone();
                        async move { axum::Json(json!({"issuer": base, "jwks_uri": format!("{base}/jwks")})) }
                    }),
                )
                .route(
                    "/jwks",
                    axum::routing::get(move || {
                        fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let keys = published.lock().unwrap().clone();
                        async move { axum::Json(json!({"keys": keys})) }
                    }),
                )
        };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let cfg = OidcIncoming { issuer: base.clone(), ..oidc() };
        let v = TokenValidator::new(&cfg, None, reqwest::Client::new(), Defects::none());
        let now = now_secs();
        let c = with(claims(now), "iss", json!(base));
        assert!(v.validate_at(&key1.sign(&c), now).await.is_ok());
        assert!(v.validate_at(&key1.sign(&c), now).await.is_ok());
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1, "cached");
        // Rotation: k2 appears; the unknown kid triggers one refetch.
        published.lock().unwrap().push(jwk(&key2));
        assert!(v.validate_at(&key2.sign(&c), now).await.is_ok());
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
        let stranger = TestKey::generate("k3");
        assert_eq!(v.validate_at(&stranger.sign(&c), now).await.unwrap_err(), TokenError::UnknownKid("k3".into()));
    }
}
