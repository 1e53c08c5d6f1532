//! RFC 8693 token exchange for the `tokenExchange` outgoing strategy, with a cache of exchanged
//! tokens.
//!
//! The request is the one RFC 8693 §2.1 defines: `grant_type`
//! `urn:ietf:params:oauth:grant-type:token-exchange`, `subject_token` and `subject_token_type`,
//! `audience`, `scope` (space-separated) when scopes are configured, and
//! `requested_token_type` access token. A configured client authenticates with HTTP Basic
//! (RFC 6749 §2.3.1, both parts form-urlencoded); a client id without a secret is sent in the body.
//!
//! DECISION (DECISIONS.md): an exchanged token is cached per (MCPExternalAuthConfig, subject token)
//! until 30 s before its `expires_in`; a response without `expires_in` is not cached. A failed
//! exchange (HTTP error, unparsable body, no `access_token`) caches nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::config::TokenExchangeConfig;
use super::error::OutgoingError;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Exchanged tokens are dropped from the cache this long before they expire.
pub const CACHE_SKEW: Duration = Duration::from_secs(30);
/// Largest token endpoint response read.
const MAX_RESPONSE: usize = 64 * 1024;

/// Exchanged tokens by (config name, subject token).
#[derive(Debug, Default)]
pub struct ExchangeCache {
    entries: Mutex<HashMap<(String, String), (String, Instant)>>,
}

impl ExchangeCache {
    fn get(&self, key: &(String, String)) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(key) {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: (String, String), token: String, until: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, (_, u)| Instant::now() < *u);
        entries.insert(key, (token, until));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The form fields of the exchange request (without client authentication).
pub fn request_form(config: &TokenExchangeConfig, subject_token: &str) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("grant_type", GRANT_TYPE.to_owned()),
        ("subject_token", subject_token.to_owned()),
        ("subject_token_type", config.subject_token_type.clone()),
        ("requested_token_type", ACCESS_TOKEN_TYPE.to_owned()),
    ];
    if !config.audience.is_empty() {
        form.push(("audience", config.audience.clone()));
    }
    if !config.scopes.is_empty() {
        form.push(("scope", config.scopes.join(" ")));
    }
    form
}

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// Exchanges `subject_token` (cached when possible) and returns the backend token.
pub async fn exchange(
    http: &reqwest::Client,
    cache: &ExchangeCache,
    config: &TokenExchangeConfig,
    subject_token: &str,
    omit_audience: bool,
) -> Result<String, OutgoingError> {
    let key = (config.name.clone(), subject_token.to_owned());
    if let Some(token) = cache.get(&key) {
        return Ok(token);
    }
    let mut form = request_form(config, subject_token);
    if omit_audience {
        form.retain(|(k, _)| *k != "audience");
    }
    let client = (&config.client_id, &config.client_secret);
    let (token, value) = token_response(http, &config.token_url, client, form).await?;
    let fail = |reason: String| OutgoingError::ExchangeFailed { url: config.token_url.clone(), reason };
    if let Some(tt) = value.get("token_type").and_then(|t| t.as_str())
        && !tt.eq_ignore_ascii_case("bearer")
        && tt != "N_A"
    {
        return Err(fail(format!("token_type `{tt}` is not Bearer")));
    }
    if let Some(secs) = value.get("expires_in").and_then(serde_json::Value::as_u64) {
        let ttl = Duration::from_secs(secs);
        if ttl > CACHE_SKEW {
            cache.put(key, token.clone(), Instant::now() + ttl - CACHE_SKEW);
        }
    }
    Ok(token)
}

pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// POSTs `form` to `url` with optional HTTP Basic client authentication; returns `access_token`.
async fn token_request(
    http: &reqwest::Client,
    url: &str,
    client: (&Option<String>, &Option<String>),
    form: Vec<(&'static str, String)>,
) -> Result<String, OutgoingError> {
    token_response(http, url, client, form).await.map(|(token, _)| token)
}

/// POSTs `form` to `url` with optional HTTP Basic client authentication (RFC 6749 §2.3.1);
/// returns the non-empty `access_token` and the whole JSON response.
async fn token_response(
    http: &reqwest::Client,
    url: &str,
    client: (&Option<String>, &Option<String>),
    mut form: Vec<(&'static str, String)>,
) -> Result<(String, serde_json::Value), OutgoingError> {
    let fail = |reason: String| OutgoingError::ExchangeFailed { url: url.to_owned(), reason };
    let mut request = http.post(url).header(http::header::ACCEPT, "application/json");
    match client {
        (Some(id), Some(secret)) => request = request.header(http::header::AUTHORIZATION, basic(id, secret)),
        (Some(id), None) => form.push(("client_id", id.clone())),
        _ => {}
    }
    let response = tokio::time::timeout(Duration::from_secs(15), request.form(&form).send())
        .await
        .map_err(|_| fail("timed out after 15 s".into()))?
        .map_err(|e| fail(format!("request failed: {e}")))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| fail(format!("reading the response failed: {e}")))?;
    let body = &bytes[..bytes.len().min(MAX_RESPONSE)];
    if !status.is_success() {
        let detail = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .map(|e| format!(" (error `{e}`)"))
            .unwrap_or_default();
        return Err(fail(format!("HTTP {}{detail}", status.as_u16())));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| fail(format!("the response is not JSON: {e}")))?;
    let token = value
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| fail("the response has no access_token".into()))?;
    Ok((token, value))
}

/// Cross-application access (embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access):
/// Step A exchanges the upstream ID token for an ID-JAG at the IdP (RFC 8693, `audience` =
/// `targetAudience`, `resource` = `targetResource`), Step B presents it at the target
/// authorization server (RFC 7523 JWT bearer). Both run on every backend call (VE:597-598).
pub async fn xaa(
    http: &reqwest::Client,
    cache: &ExchangeCache,
    config: &super::config::XaaConfig,
    id_token: &str,
    defects: &crate::defects::Defects,
) -> Result<String, OutgoingError> {
    use crate::defects::Defect;
    // Defect `cache-xaa-token` only: the docs say both steps run on every call (VE:597-598).
    let cache_key = (format!("xaa/{}", config.name), id_token.to_owned());
    let cache_xaa = defects.is_on(Defect::CacheXaaToken);
    if cache_xaa && let Some(token) = cache.get(&cache_key) {
        return Ok(token);
    }
    let mut form = vec![
        ("grant_type", GRANT_TYPE.to_owned()),
        ("requested_token_type", ID_JAG_TYPE.to_owned()),
        ("subject_token", id_token.to_owned()),
        ("subject_token_type", config.subject_token_type.clone()),
        ("audience", config.target_audience.clone()),
    ];
    if let Some(resource) = &config.target_resource
        && !defects.is_on(Defect::XaaOmitResource)
    {
        form.push(("resource", resource.clone()));
    }
    if !config.scopes.is_empty() {
        form.push(("scope", config.scopes.join(" ")));
    }
    let id_jag =
        token_request(http, &config.idp_token_url, (&config.idp_client_id, &config.idp_client_secret), form).await?;
    let mut form = vec![("grant_type", JWT_BEARER_GRANT.to_owned()), ("assertion", id_jag.clone())];
    if !config.scopes.is_empty() {
        form.push(("scope", config.scopes.join(" ")));
    }
    let token =
        token_request(http, &config.target_token_url, (&config.target_client_id, &config.target_client_secret), form)
            .await?;
    let token = if defects.is_on(Defect::XaaForwardIdJag) { id_jag } else { token };
    if cache_xaa {
        cache.put(cache_key, token.clone(), Instant::now() + Duration::from_secs(3600));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TokenExchangeConfig {
        TokenExchangeConfig {
            name: "exchange-jira".into(),
            token_url: "http://127.0.0.1:1/token".into(),
            audience: "backend".into(),
            client_id: Some("vmcp".into()),
            client_secret: Some("s3cr:t".into()),
            scopes: vec!["a".into(), "b".into()],
            subject_provider_name: None,
            subject_token_type: ACCESS_TOKEN_TYPE.into(),
            external_token_header_name: None,
        }
    }

    #[test]
    fn form_has_the_rfc_8693_fields() {
        let form = request_form(&cfg(), "subj");
        let get = |k: &str| form.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grant_type"), Some(GRANT_TYPE));
        assert_eq!(get("subject_token"), Some("subj"));
        assert_eq!(get("audience"), Some("backend"));
        assert_eq!(get("scope"), Some("a b"));
    }

    #[test]
    fn basic_auth_form_encodes_both_parts() {
        assert_eq!(
            basic("vmcp", "s3cr:t"),
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("vmcp:s3cr%3At"))
        );
    }

    #[test]
    fn cache_expires() {
        let c = ExchangeCache::default();
        let k = ("a".to_owned(), "s".to_owned());
        c.put(k.clone(), "t".into(), Instant::now() + Duration::from_secs(60));
        assert_eq!(c.get(&k).as_deref(), Some("t"));
        c.put(k.clone(), "t".into(), Instant::now());
        assert!(c.get(&k).is_none());
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_a_clear_error_and_caches_nothing() {
        let cache = ExchangeCache::default();
        let err = exchange(&reqwest::Client::new(), &cache, &cfg(), "subj", false).await.unwrap_err();
        assert!(err.to_string().contains("127.0.0.1:1/token"), "{err}");
        assert!(cache.is_empty());
    }
}
