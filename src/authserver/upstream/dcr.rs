//! Upstream dynamic client registration (docs VE:329-405, KE:577-680): with `dcrConfig`, the
//! authorization server registers itself with the upstream at start-up (RFC 7591) and uses the
//! issued client ID and secret for the upstream flow. The credentials are kept in storage under
//! the upstream's name and registration endpoint, so a restart with Redis reuses them and a
//! restart with memory storage registers anew (KE:325-328; VE:427-430).

use serde::{Deserialize, Serialize};

use crate::authserver::AuthServerError;
use crate::authserver::config::{DcrSettings, OAuth2Upstream};
use crate::defects::{Defect, Defects};
use crate::storage::{self, Storage};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DcrCredentials {
    client_id: String,
    client_secret: Option<String>,
}

/// Fills `cfg.client_id` / `cfg.client_secret` from storage or a fresh registration.
pub async fn ensure_registered(
    index: usize,
    name: &str,
    cfg: &mut OAuth2Upstream,
    store: &dyn Storage,
    http: &reqwest::Client,
    defects: &Defects,
) -> Result<(), AuthServerError> {
    let Some(dcr) = cfg.dcr.clone() else { return Ok(()) };
    let field = format!("upstreamProviders[{index}].oauth2Config.dcrConfig");
    let err = |reason: String| AuthServerError::config(field.clone(), reason);
    let endpoint = registration_endpoint(&dcr, http).await.map_err(&err)?;
    let key = format!("upstream-dcr:{name}:{endpoint}");
    let stored: Option<DcrCredentials> = if defects.is_on(Defect::DcrCredentialsSurviveRestart) {
        process_cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned()
    } else {
        storage::get_json(store, &key).await.map_err(|e| err(format!("reading stored DCR credentials: {e}")))?
    };
    let creds = match stored {
        Some(c) => c,
        None => {
            let c = register(&dcr, &endpoint, cfg, http, defects).await.map_err(&err)?;
            storage::put_json(store, &key, &c, None).await.map_err(|e| err(format!("storing DCR credentials: {e}")))?;
            process_cache().lock().unwrap_or_else(|p| p.into_inner()).insert(key, c.clone());
            c
        }
    };
    if !defects.is_on(Defect::DcrIgnoreIssuedCredentials) {
        cfg.client_id = creds.client_id;
        cfg.client_secret = creds.client_secret;
    }
    Ok(())
}

/// Test-only (defect `dcr-credentials-survive-restart`): credentials kept per process.
fn process_cache() -> &'static std::sync::Mutex<std::collections::HashMap<String, DcrCredentials>> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, DcrCredentials>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// `registrationEndpoint`, or `registration_endpoint` from the document at `discoveryUrl`
/// (one GET, no well-known fallback).
async fn registration_endpoint(dcr: &DcrSettings, http: &reqwest::Client) -> Result<String, String> {
    if let Some(e) = &dcr.registration_endpoint {
        return Ok(e.clone());
    }
    let url = dcr.discovery_url.as_deref().ok_or("set discoveryUrl or registrationEndpoint")?;
    let resp = http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url} answered HTTP {}", resp.status()));
    }
    let doc: serde_json::Value = resp.json().await.map_err(|e| format!("{url} is not JSON: {e}"))?;
    doc["registration_endpoint"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("the discovery document at {url} has no registration_endpoint"))
}

async fn register(
    dcr: &DcrSettings,
    endpoint: &str,
    cfg: &OAuth2Upstream,
    http: &reqwest::Client,
    defects: &Defects,
) -> Result<DcrCredentials, String> {
    let mut metadata = serde_json::json!({
        "client_name": "ToolHive embedded authorization server",
        "redirect_uris": [cfg.redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
    });
    if !cfg.scopes.is_empty() {
        metadata["scope"] = serde_json::json!(cfg.scopes.join(" "));
    }
    if let Some(s) = &dcr.software_id {
        metadata["software_id"] = serde_json::json!(s);
    }
    if let Some(s) = &dcr.software_statement {
        metadata["software_statement"] = serde_json::json!(s);
    }
    let mut req = http.post(endpoint).json(&metadata);
    if let Some(t) = &dcr.initial_access_token
        && !defects.is_on(Defect::DcrIgnoreInitialAccessToken)
    {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| format!("POST {endpoint}: {e}"))?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("registration at {endpoint} answered HTTP {status}: {body}"));
    }
    let client_id = body["client_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the registration response has no client_id: {body}"))?;
    Ok(DcrCredentials {
        client_id: client_id.to_owned(),
        client_secret: body["client_secret"].as_str().map(String::from),
    })
}
