//! Upstream identity providers: the authorization URL, the code exchange and identity resolution.
//!
//! OIDC upstreams ([`oidc`]) get their endpoints from discovery and their identity from a verified
//! ID token; OAuth 2.0 upstreams ([`oauth2`]) have explicit endpoints and resolve identity through
//! a userinfo endpoint, or synthesize a non-PII subject when none is configured.

pub mod dcr;
pub mod oauth2;
pub mod oidc;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::config::{UpstreamKind, UpstreamProvider, UserInfoConfig};
use super::error::AuthServerError;
use super::store::now_unix;

/// Authorization-request parameters the server sets itself; `additionalAuthorizationParams` may
/// not override them.
pub const RESERVED_AUTHORIZATION_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
];

/// Why an upstream leg failed (never shown to the client beyond `server_error`).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    #[error("token endpoint answered: {0}")]
    TokenResponse(String),
    #[error("ID token rejected: {0}")]
    IdToken(String),
    #[error("userinfo failed: {0}")]
    UserInfo(String),
}

/// A parsed upstream token response.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub expires_in: Option<u64>,
    /// The response as received (before `tokenResponseMapping`), for `identityFromToken`.
    pub raw: Value,
}

impl TokenResponse {
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_in.map(|s| now_unix().saturating_add(s))
    }
}

/// The user an upstream vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Synthesized from the access token (no userinfo configured).
    pub synthetic: bool,
}

#[derive(Debug)]
pub enum UpstreamKindRuntime {
    Oidc(oidc::OidcProvider),
    OAuth2 {
        userinfo: Option<UserInfoConfig>,
        token_response_mapping: Option<crate::crd::TokenResponseMapping>,
        identity_from_token: Option<crate::crd::IdentityFromToken>,
    },
}

/// A configured upstream, ready to use.
#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    pub client_id: String,
    client_secret: Option<String>,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    additional_authorization_params: BTreeMap<String, String>,
    pub kind: UpstreamKindRuntime,
    /// Test-only (defect `identity-from-token-falls-back`).
    pub fallback_to_userinfo: bool,
    /// Test-only (defect `forward-unmapped-upstream-token`).
    pub keep_top_level_token: bool,
    /// Test-only (defect `synthesized-identity-has-name`).
    pub name_synthesized_identity: bool,
}

impl Upstream {
    /// Builds the runtime upstream; OIDC upstreams run discovery now.
    pub async fn from_config(
        index: usize,
        p: &UpstreamProvider,
        http: &reqwest::Client,
    ) -> Result<Self, AuthServerError> {
        let field = |f: &str| format!("upstreamProviders[{index}].{f}");
        let (client_id, client_secret, redirect_uri, scopes, params) = match &p.kind {
            UpstreamKind::Oidc(o) => {
                (&o.client_id, &o.client_secret, &o.redirect_uri, &o.scopes, &o.additional_authorization_params)
            }
            UpstreamKind::OAuth2(o) => {
                (&o.client_id, &o.client_secret, &o.redirect_uri, &o.scopes, &o.additional_authorization_params)
            }
        };
        let cfg_block = if matches!(p.kind, UpstreamKind::Oidc(_)) { "oidcConfig" } else { "oauth2Config" };
        if let Some(k) = params.keys().find(|k| RESERVED_AUTHORIZATION_PARAMS.contains(&k.as_str())) {
            return Err(AuthServerError::config(
                field(&format!("{cfg_block}.additionalAuthorizationParams")),
                format!("`{k}` is set by the authorization server and cannot be overridden"),
            ));
        }
        if url::Url::parse(redirect_uri).is_err() {
            return Err(AuthServerError::config(field(&format!("{cfg_block}.redirectUri")), "not an absolute URL"));
        }
        let (authorization_endpoint, token_endpoint, kind) = match &p.kind {
            UpstreamKind::Oidc(o) => {
                if !o.scopes.is_empty() && !o.scopes.iter().any(|s| s == "openid") {
                    return Err(AuthServerError::config(
                        field("oidcConfig.scopes"),
                        "an OIDC upstream must request the `openid` scope",
                    ));
                }
                let provider = oidc::OidcProvider::discover(&p.name, o, http).await?;
                (
                    provider.authorization_endpoint.clone(),
                    provider.token_endpoint.clone(),
                    UpstreamKindRuntime::Oidc(provider),
                )
            }
            UpstreamKind::OAuth2(o) => {
                for (f, v) in
                    [("authorizationEndpoint", &o.authorization_endpoint), ("tokenEndpoint", &o.token_endpoint)]
                {
                    if url::Url::parse(v).is_err() {
                        return Err(AuthServerError::config(
                            field(&format!("oauth2Config.{f}")),
                            "not an absolute URL",
                        ));
                    }
                }
                (
                    o.authorization_endpoint.clone(),
                    o.token_endpoint.clone(),
                    UpstreamKindRuntime::OAuth2 {
                        userinfo: o.userinfo.clone(),
                        token_response_mapping: o.token_response_mapping.clone(),
                        identity_from_token: o.identity_from_token.clone(),
                    },
                )
            }
        };
        let scopes = match (&p.kind, scopes.is_empty()) {
            // Documented default for OIDC upstreams (KE:775-776).
            (UpstreamKind::Oidc(_), true) => vec!["openid".to_owned(), "offline_access".to_owned()],
            _ => scopes.clone(),
        };
        Ok(Self {
            name: p.name.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone().filter(|s| !s.is_empty()),
            redirect_uri: redirect_uri.clone(),
            scopes,
            authorization_endpoint,
            token_endpoint,
            additional_authorization_params: params.clone(),
            kind,
            fallback_to_userinfo: false,
            keep_top_level_token: false,
            name_synthesized_identity: false,
        })
    }

    pub fn is_oidc(&self) -> bool {
        matches!(self.kind, UpstreamKindRuntime::Oidc(_))
    }

    /// The URL the user agent is sent to for this leg.
    pub fn authorization_url(&self, state: &str, code_challenge: &str, nonce: &str) -> String {
        let mut pairs: Vec<(&str, &str)> =
            vec![("response_type", "code"), ("client_id", &self.client_id), ("redirect_uri", &self.redirect_uri)];
        let scope = self.scopes.join(" ");
        if !scope.is_empty() {
            pairs.push(("scope", &scope));
        }
        pairs.extend([("state", state), ("code_challenge", code_challenge), ("code_challenge_method", "S256")]);
        if self.is_oidc() {
            pairs.push(("nonce", nonce));
        }
        for (k, v) in &self.additional_authorization_params {
            pairs.push((k, v));
        }
        match url::Url::parse(&self.authorization_endpoint) {
            Ok(mut u) => {
                u.query_pairs_mut().extend_pairs(pairs);
                u.to_string()
            }
            Err(_) => {
                let q: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
                format!("{}?{q}", self.authorization_endpoint)
            }
        }
    }

    fn client_credentials(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![("client_id", self.client_id.clone())];
        if let Some(s) = &self.client_secret {
            v.push(("client_secret", s.clone()));
        }
        v
    }

    /// Exchanges the upstream's authorization code (credentials in the body).
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse, UpstreamError> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("code_verifier", code_verifier.to_owned()),
        ];
        form.extend(self.client_credentials());
        self.token_request(http, &form).await
    }

    /// Refreshes this upstream's tokens (RFC 6749 §6; no `scope`, so the original grant applies).
    pub async fn refresh(&self, http: &reqwest::Client, refresh_token: &str) -> Result<TokenResponse, UpstreamError> {
        let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh_token.to_owned())];
        form.extend(self.client_credentials());
        self.token_request(http, &form).await
    }

    async fn token_request(
        &self,
        http: &reqwest::Client,
        form: &[(&'static str, String)],
    ) -> Result<TokenResponse, UpstreamError> {
        let url = &self.token_endpoint;
        let http_err = |e: reqwest::Error| UpstreamError::Http { url: url.clone(), reason: e.to_string() };
        let resp = http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(http_err)?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = resp.bytes().await.map_err(http_err)?;
        let fields = parse_token_body(&content_type, &body)
            .ok_or_else(|| UpstreamError::TokenResponse(format!("HTTP {status}: body is neither JSON nor a form")))?;
        if let Some(err) = fields.get("error").and_then(Value::as_str) {
            let desc = fields.get("error_description").and_then(Value::as_str).unwrap_or("");
            return Err(UpstreamError::TokenResponse(format!("HTTP {status}: {err} {desc}").trim_end().to_owned()));
        }
        if !status.is_success() {
            return Err(UpstreamError::TokenResponse(format!("HTTP {status}")));
        }
        match &self.kind {
            UpstreamKindRuntime::OAuth2 { token_response_mapping: Some(m), .. } => {
                let mut t = token_response_from(&oauth2::map_token_response(&fields, m)?)?;
                if self.keep_top_level_token
                    && let Some(top) = fields.get("access_token").and_then(Value::as_str)
                {
                    t.access_token = top.to_owned();
                }
                t.raw = Value::Object(fields);
                Ok(t)
            }
            _ => token_response_from(&fields),
        }
    }

    /// Resolves who the user is from this leg's tokens.
    pub async fn identity(
        &self,
        http: &reqwest::Client,
        tokens: &TokenResponse,
        nonce: &str,
    ) -> Result<Identity, UpstreamError> {
        match &self.kind {
            UpstreamKindRuntime::Oidc(p) => p.identity(http, &self.client_id, tokens, nonce).await,
            // Docs KE:731-734: identityFromToken wins over userInfo, and a failed extraction fails
            // the login with no fallback.
            UpstreamKindRuntime::OAuth2 { identity_from_token: Some(ift), userinfo, .. } => {
                match (oauth2::identity_from_token(&tokens.raw, ift), userinfo) {
                    (Err(_), Some(ui)) if self.fallback_to_userinfo => {
                        match oauth2::userinfo_identity(http, ui, &tokens.access_token).await {
                            Ok(id) => Ok(id),
                            Err(_) => Ok(oauth2::synthesize_identity(&tokens.access_token)),
                        }
                    }
                    (Err(_), None) if self.fallback_to_userinfo => {
                        Ok(oauth2::synthesize_identity(&tokens.access_token))
                    }
                    (r, _) => r,
                }
            }
            UpstreamKindRuntime::OAuth2 { userinfo: Some(ui), .. } => {
                oauth2::userinfo_identity(http, ui, &tokens.access_token).await
            }
            UpstreamKindRuntime::OAuth2 { userinfo: None, .. } => {
                let mut id = oauth2::synthesize_identity(&tokens.access_token);
                if self.name_synthesized_identity {
                    id.name = Some(id.subject.clone());
                }
                Ok(id)
            }
        }
    }
}

/// A token response body as a JSON object: JSON, or `application/x-www-form-urlencoded` (what
/// GitHub answers without `Accept: application/json`).
fn parse_token_body(content_type: &str, body: &[u8]) -> Option<Map<String, Value>> {
    let trimmed = body.trim_ascii_start();
    if content_type.contains("json") || trimmed.starts_with(b"{") {
        return match serde_json::from_slice::<Value>(body).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        };
    }
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains('=') {
        return None;
    }
    Some(
        url::form_urlencoded::parse(text.trim().as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
    )
}

fn token_response_from(fields: &Map<String, Value>) -> Result<TokenResponse, UpstreamError> {
    let string = |k: &str| fields.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let access_token = string("access_token")
        .ok_or_else(|| UpstreamError::TokenResponse("the response has no access_token".into()))?;
    if let Some(tt) = string("token_type")
        && !tt.eq_ignore_ascii_case("bearer")
    {
        return Err(UpstreamError::TokenResponse(format!("token_type `{tt}` is not Bearer")));
    }
    let expires_in = match fields.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        refresh_token: string("refresh_token"),
        id_token: string("id_token"),
        expires_in,
        raw: Value::Object(fields.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bodies_json_and_form() {
        let j =
            parse_token_body("application/json", br#"{"access_token":"a","token_type":"bearer","expires_in":"60"}"#)
                .unwrap();
        let t = token_response_from(&j).unwrap();
        assert_eq!(t.access_token, "a");
        assert_eq!(t.expires_in, Some(60));
        let f = parse_token_body(
            "application/x-www-form-urlencoded; charset=utf-8",
            b"access_token=gho_x&scope=repo%2Cgist&token_type=bearer",
        )
        .unwrap();
        assert_eq!(token_response_from(&f).unwrap().access_token, "gho_x");
        let mac = parse_token_body("application/json", br#"{"access_token":"a","token_type":"mac"}"#).unwrap();
        assert!(token_response_from(&mac).is_err());
        assert!(parse_token_body("text/html", b"<html>").is_none());
    }
}
