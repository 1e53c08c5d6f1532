//! Client ID Metadata Documents (docs VE:284-305, KE:406-455, CE:45-48): with `cimd.enabled`,
//! an HTTPS URL is a valid `client_id`; the server fetches the JSON document at that URL,
//! validates it as the troubleshooting section lists, and keeps the resulting client in an LRU
//! cache of `cacheMaxSize` entries for `cacheFallbackTtl` (`Cache-Control` is not honoured).
//!
//! Fetch rules (KE:449-451): `https` (or `http` on a loopback host, for development, KE:437-438),
//! the host resolved before dialing and private addresses refused (loopback allowed, as ToolHive
//! does for fixtures), no redirects, a 5-second timeout and a 10 KB cap.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::AuthServer;
use super::config::DEFAULT_SCOPES_SUPPORTED;
use super::register::validate_redirect_uri;
use super::store::{ClientRecord, now_unix};
use crate::defects::Defect;
use crate::storage::StorageError;

/// The documented fetch limits.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024;

/// `authServerConfig.cimd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimdSettings {
    pub cache_max_size: usize,
    pub cache_fallback_ttl: Duration,
}

impl Default for CimdSettings {
    fn default() -> Self {
        Self { cache_max_size: 256, cache_fallback_ttl: Duration::from_secs(300) }
    }
}

/// Why a client could not be resolved.
#[derive(Debug)]
pub enum ClientLookupError {
    /// `invalid_client`, with a description.
    Invalid(String),
    Storage(StorageError),
}

/// Cached clients by URL with when they were fetched, and the use order (most recent last).
type Lru = (HashMap<String, (Instant, ClientRecord)>, VecDeque<String>);

/// An LRU of resolved documents: most recently used at the back.
#[derive(Debug, Default)]
pub struct CimdCache {
    inner: Mutex<Lru>,
}

impl CimdCache {
    fn get(&self, url: &str, ttl: Duration) -> Option<ClientRecord> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        let fresh = map.get(url).filter(|(at, _)| at.elapsed() < ttl).map(|(_, c)| c.clone());
        order.retain(|u| u != url);
        match fresh {
            Some(c) => {
                order.push_back(url.to_owned());
                Some(c)
            }
            None => {
                map.remove(url);
                None
            }
        }
    }

    fn put(&self, url: &str, client: ClientRecord, max: usize) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        order.retain(|u| u != url);
        map.insert(url.to_owned(), (Instant::now(), client));
        order.push_back(url.to_owned());
        while order.len() > max.max(1) {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

fn is_url_client_id(id: &str) -> bool {
    id.starts_with("https://") || id.starts_with("http://")
}

/// Private-use, link-local and unique-local ranges (loopback is allowed).
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast(),
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            v6.is_unspecified() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

impl AuthServer {
    /// A registered client, or with CIMD on a client resolved from its metadata document.
    pub(crate) async fn lookup_client(&self, id: &str) -> Result<Option<ClientRecord>, ClientLookupError> {
        let cimd_on = self.config.cimd.is_some() || self.defects.is_on(Defect::CimdIgnoresEnabled);
        if !(cimd_on && is_url_client_id(id)) {
            return self.store().client(id).await.map_err(ClientLookupError::Storage);
        }
        let settings = self.config.cimd.clone().unwrap_or_default();
        if !self.defects.is_on(Defect::CimdNoCache)
            && let Some(c) = self.cimd_cache.get(id, settings.cache_fallback_ttl)
        {
            return Ok(Some(c));
        }
        let client = self.resolve_document(id).await.map_err(ClientLookupError::Invalid)?;
        self.cimd_cache.put(id, client.clone(), settings.cache_max_size);
        Ok(Some(client))
    }

    async fn resolve_document(&self, id: &str) -> Result<ClientRecord, String> {
        let url = url::Url::parse(id).map_err(|e| format!("client_id is not a URL: {e}"))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        match url.scheme() {
            "https" => {}
            "http" if super::is_loopback_host(&host) || self.defects.is_on(Defect::CimdAllowHttp) => {}
            _ => return Err("a client ID metadata document URL must use https".into()),
        }
        if url.fragment().is_some() || url.username() != "" || url.password().is_some() {
            return Err("a client ID metadata document URL must not carry a fragment or credentials".into());
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let host_for_dns = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let addrs: Vec<_> = tokio::time::timeout(FETCH_TIMEOUT, tokio::net::lookup_host((host_for_dns, port)))
            .await
            .map_err(|_| "resolving the client ID metadata document host timed out".to_string())?
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        if addrs.iter().any(|a| is_private(a.ip())) {
            return Err(format!("{host} resolves to a private address; refused"));
        }
        let timeout = if self.defects.is_on(Defect::CimdNoFetchTimeout) { FETCH_TIMEOUT * 12 } else { FETCH_TIMEOUT };
        let get =
            |u: &str| self.http.get(u).header(reqwest::header::ACCEPT, "application/json").timeout(timeout).send();
        let fetch_err = |e: reqwest::Error| format!("fetching the client ID metadata document failed: {e}");
        let mut resp = get(url.as_str()).await.map_err(fetch_err)?;
        if resp.status().is_redirection()
            && self.defects.is_on(Defect::CimdFollowRedirects)
            && let Some(to) = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok())
        {
            let to = url.join(to).map_err(|e| format!("bad redirect: {e}"))?;
            resp = get(to.as_str()).await.map_err(fetch_err)?;
        }
        if !resp.status().is_success() {
            // Redirects are not followed (the server's client never follows them).
            return Err(format!("the client ID metadata document answered HTTP {}", resp.status()));
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = tokio::time::timeout(timeout, resp.chunk())
            .await
            .map_err(|_| "reading the client ID metadata document timed out".to_string())?
            .map_err(|e| format!("reading the client ID metadata document failed: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES && !self.defects.is_on(Defect::CimdNoSizeCap) {
                return Err(format!("the client ID metadata document exceeds {MAX_DOCUMENT_BYTES} bytes"));
            }
        }
        let doc: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
            Ok(Value::Object(m)) => m,
            _ => return Err("the client ID metadata document is not a JSON object".into()),
        };
        self.validate_document(id, &doc)
    }

    /// The troubleshooting rules (KE:439-447; VE:936-945).
    fn validate_document(&self, id: &str, doc: &serde_json::Map<String, Value>) -> Result<ClientRecord, String> {
        let rules = !self.defects.is_on(Defect::CimdSkipDocumentRules);
        if doc.get("client_id").and_then(Value::as_str) != Some(id)
            && !self.defects.is_on(Defect::CimdSkipClientIdCheck)
        {
            return Err(format!(
                "the document's client_id {:?} is not the URL it was fetched from",
                doc.get("client_id")
            ));
        }
        let strings = |field: &str| -> Result<Option<Vec<String>>, String> {
            match doc.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map(String::from).ok_or_else(|| format!("{field} must be strings")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(format!("{field} must be an array of strings")),
            }
        };
        let redirect_uris = strings("redirect_uris")?.unwrap_or_default();
        if rules {
            if redirect_uris.is_empty() {
                return Err("redirect_uris is required in a client ID metadata document".into());
            }
            for r in &redirect_uris {
                validate_redirect_uri(r).map_err(|m| format!("redirect_uris: {r}: {m}"))?;
            }
        }
        let method = doc.get("token_endpoint_auth_method").and_then(Value::as_str).unwrap_or("none");
        if method != "none" && !self.defects.is_on(Defect::CimdAllowSharedSecret) {
            return Err(format!(
                "token_endpoint_auth_method `{method}` is not allowed: a CIMD client is public (`none`)"
            ));
        }
        let grant_types = strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
        if rules
            && (!grant_types.iter().any(|g| g == "authorization_code")
                || grant_types.iter().any(|g| g != "authorization_code" && g != "refresh_token"))
        {
            return Err(format!(
                "grant_types {grant_types:?} must include authorization_code and only authorization_code and refresh_token"
            ));
        }
        let response_types = strings("response_types")?.unwrap_or_else(|| vec!["code".into()]);
        if rules && response_types.iter().any(|r| r != "code") {
            return Err(format!("response_types {response_types:?} may only contain code"));
        }
        let mut scopes: Vec<String> = match doc.get("scope").and_then(Value::as_str) {
            Some(s) => {
                let list: Vec<String> = s.split_whitespace().map(String::from).collect();
                if rules && let Some(bad) = list.iter().find(|s| !self.scopes_supported.contains(s)) {
                    return Err(format!("scope `{bad}` is not supported by this server"));
                }
                list
            }
            None => DEFAULT_SCOPES_SUPPORTED
                .iter()
                .filter(|d| self.scopes_supported.iter().any(|s| s == *d))
                .map(|d| d.to_string())
                .collect(),
        };
        if !self.defects.is_on(Defect::IgnoreBaselineScopes) {
            for b in &self.config.baseline_client_scopes {
                if !scopes.contains(b) {
                    scopes.push(b.clone());
                }
            }
        }
        Ok(ClientRecord {
            client_id: id.to_owned(),
            client_id_issued_at: now_unix(),
            redirect_uris,
            token_endpoint_auth_method: "none".into(),
            grant_types,
            response_types,
            scopes,
            client_name: doc.get("client_name").and_then(Value::as_str).map(String::from),
        })
    }
}
