//! RFC 7591 dynamic client registration, public clients only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::AuthServer;
use super::config::DEFAULT_SCOPES_SUPPORTED;
use super::error::RegisterError;
use super::store::{ClientRecord, now_unix};

/// At most this many redirect URIs per client.
pub const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2048;
const MAX_CLIENT_NAME_LEN: usize = 256;

pub async fn register(State(s): State<Arc<AuthServer>>, headers: HeaderMap, body: Bytes) -> Response {
    match s.register_client(&headers, &body).await {
        Ok(c) => {
            let mut resp = (StatusCode::CREATED, axum::Json(client_response(&c))).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

fn client_response(c: &ClientRecord) -> Value {
    let mut v = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.client_id_issued_at,
        "redirect_uris": c.redirect_uris,
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "grant_types": c.grant_types,
        "response_types": c.response_types,
        "scope": c.scopes.join(" "),
    });
    if let (Some(name), Some(m)) = (&c.client_name, v.as_object_mut()) {
        m.insert("client_name".into(), json!(name));
    }
    v
}

impl AuthServer {
    async fn register_client(&self, headers: &HeaderMap, body: &[u8]) -> Result<ClientRecord, RegisterError> {
        let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !ct.trim_start().to_ascii_lowercase().starts_with("application/json") {
            return Err(RegisterError::InvalidClientMetadata("Content-Type must be application/json".into()));
        }
        let meta: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(RegisterError::InvalidClientMetadata("the body must be a JSON object".into())),
            Err(e) => return Err(RegisterError::InvalidClientMetadata(format!("invalid JSON request body: {e}"))),
        };
        let redirect_uris =
            redirect_uris(&meta, self.defects.is_on(crate::defects::Defect::SkipRedirectUriValidation))?;
        let client_name = match meta.get("client_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) if n.chars().count() <= MAX_CLIENT_NAME_LEN => Some(n.clone()),
            Some(Value::String(_)) => {
                return Err(RegisterError::InvalidClientMetadata(format!(
                    "client_name is longer than {MAX_CLIENT_NAME_LEN} characters"
                )));
            }
            Some(_) => return Err(RegisterError::InvalidClientMetadata("client_name must be a string".into())),
        };
        match meta.get("token_endpoint_auth_method") {
            None | Some(Value::Null) => {}
            Some(Value::String(m)) if m == "none" => {}
            Some(other) => {
                return Err(RegisterError::InvalidClientMetadata(format!(
                    "token_endpoint_auth_method {other} is not supported: this server only registers public clients (`none`)"
                )));
            }
        }
        let grant_types = string_list(&meta, "grant_types")?
            .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
        if let Some(g) = grant_types.iter().find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token")) {
            return Err(RegisterError::InvalidClientMetadata(format!("grant type `{g}` is not supported")));
        }
        if !grant_types.iter().any(|g| g == "authorization_code") {
            return Err(RegisterError::InvalidClientMetadata("grant_types must include authorization_code".into()));
        }
        let response_types = string_list(&meta, "response_types")?.unwrap_or_else(|| vec!["code".into()]);
        if response_types.is_empty() || response_types.iter().any(|r| r != "code") {
            return Err(RegisterError::InvalidClientMetadata("response_types must be [\"code\"]".into()));
        }
        let requested: Option<Vec<String>> = match meta.get("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.split_whitespace().map(str::to_owned).collect()),
            Some(Value::Array(_)) => string_list(&meta, "scope")?,
            Some(_) => {
                return Err(RegisterError::InvalidClientMetadata(
                    "scope must be a space-delimited string or an array of strings".into(),
                ));
            }
        };
        let mut scopes: Vec<String> = Vec::new();
        match requested.filter(|r| !r.is_empty()) {
            Some(req) => {
                for s in req {
                    if !self.scopes_supported.contains(&s)
                        && !self.defects.is_on(crate::defects::Defect::RegisterAcceptsUnsupportedScope)
                    {
                        return Err(RegisterError::InvalidClientMetadata(format!("unsupported scope: {s}")));
                    }
                    if !scopes.contains(&s) {
                        scopes.push(s);
                    }
                }
            }
            // RFC 7591 §2: a default set; the documented defaults the server supports.
            None => scopes.extend(
                DEFAULT_SCOPES_SUPPORTED
                    .iter()
                    .filter(|d| self.scopes_supported.iter().any(|s| s == *d))
                    .map(|d| d.to_string()),
            ),
        }
        let baseline: &[String] = if self.defects.is_on(crate::defects::Defect::IgnoreBaselineScopes) {
            &[]
        } else {
            &self.config.baseline_client_scopes
        };
        for b in baseline {
            if !scopes.contains(b) {
                scopes.push(b.clone());
            }
        }
        let record = ClientRecord {
            client_id: uuid::Uuid::new_v4().to_string(),
            client_id_issued_at: now_unix(),
            redirect_uris,
            token_endpoint_auth_method: "none".into(),
            grant_types: dedup(grant_types),
            response_types: dedup(response_types),
            scopes,
            client_name,
        };
        self.store().put_client(&record).await?;
        Ok(record)
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// An optional array of strings.
fn string_list(meta: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, RegisterError> {
    match meta.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| RegisterError::InvalidClientMetadata(format!("{field} must be an array of strings"))),
        Some(_) => Err(RegisterError::InvalidClientMetadata(format!("{field} must be an array of strings"))),
    }
}

fn redirect_uris(meta: &Map<String, Value>, lax: bool) -> Result<Vec<String>, RegisterError> {
    let bad = |m: String| RegisterError::InvalidRedirectUri(m);
    let list = match meta.get("redirect_uris") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) | None | Some(Value::Null) => return Err(bad("redirect_uris is required".into())),
        Some(_) => return Err(bad("redirect_uris must be an array of strings".into())),
    };
    if list.len() > MAX_REDIRECT_URIS {
        return Err(bad(format!("at most {MAX_REDIRECT_URIS} redirect_uris are allowed")));
    }
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        let uri = v.as_str().ok_or_else(|| bad("redirect_uris must be an array of strings".into()))?;
        if !lax {
            validate_redirect_uri(uri).map_err(|m| bad(format!("{uri}: {m}")))?;
        }
        if !out.iter().any(|u| u == uri) {
            out.push(uri.to_owned());
        }
    }
    Ok(out)
}

/// https anywhere, http on loopback only, private-use schemes (RFC 8252 §7.1); absolute, no
/// fragment (RFC 6749 §3.1.2).
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("longer than {MAX_URI_LEN} characters"));
    }
    let u = url::Url::parse(uri).map_err(|e| format!("not an absolute URI ({e})"))?;
    if u.fragment().is_some() || uri.contains('#') {
        return Err("must not contain a fragment".into());
    }
    match u.scheme() {
        "https" => {
            if u.host_str().is_none_or(str::is_empty) {
                return Err("https URI without a host".into());
            }
            Ok(())
        }
        "http" => match u.host_str() {
            Some(h) if super::is_loopback_host(h) => Ok(()),
            _ => Err("http is only allowed for loopback hosts".into()),
        },
        "javascript" | "data" | "file" | "vbscript" | "about" | "blob" | "ftp" | "ws" | "wss" => {
            Err(format!("scheme `{}` is not allowed", u.scheme()))
        }
        _ => Ok(()), // private-use scheme (e.g. `cursor://`, `vscode://`)
    }
}
