//! Identity for plain OAuth 2.0 upstreams: the userinfo endpoint, or a synthesized subject.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Identity, UpstreamError};
use crate::authserver::config::UserInfoConfig;

/// The largest userinfo body read.
const MAX_USERINFO_BYTES: usize = 1 << 20;

/// Calls `userInfo.endpointUrl` with the upstream access token and maps its fields (docs KE:559-563).
pub async fn userinfo_identity(
    http: &reqwest::Client,
    cfg: &UserInfoConfig,
    access_token: &str,
) -> Result<Identity, UpstreamError> {
    let url = &cfg.endpoint_url;
    let mut req = if cfg.http_method.eq_ignore_ascii_case("POST") { http.post(url) } else { http.get(url) };
    req = req.bearer_auth(access_token);
    // The configured headers replace the defaults (docs VE:834-838 set `Accept` for GitHub).
    if !cfg.additional_headers.keys().any(|k| k.eq_ignore_ascii_case("accept")) {
        req = req.header(reqwest::header::ACCEPT, "application/json");
    }
    for (k, v) in &cfg.additional_headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let http_err = |e: reqwest::Error| UpstreamError::Http { url: url.clone(), reason: e.to_string() };
    let resp = req.send().await.map_err(http_err)?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(UpstreamError::UserInfo(format!("{url} answered HTTP {status}")));
    }
    let body = resp.bytes().await.map_err(http_err)?;
    if body.len() > MAX_USERINFO_BYTES {
        return Err(UpstreamError::UserInfo(format!("{url} answered more than {MAX_USERINFO_BYTES} bytes")));
    }
    let obj = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(UpstreamError::UserInfo(format!("{url} did not answer a JSON object"))),
    };
    let m = &cfg.field_mapping;
    let subject = first_non_empty(&obj, &m.subject_fields).ok_or_else(|| {
        UpstreamError::UserInfo(format!("none of the subject fields {:?} is present", m.subject_fields))
    })?;
    Ok(Identity {
        subject,
        name: first_non_empty(&obj, &m.name_fields),
        email: first_non_empty(&obj, &m.email_fields),
        synthetic: false,
    })
}

/// The first listed field holding a non-empty string or a number (rendered as an integer when it
/// is one, e.g. GitHub's numeric `id`).
pub fn first_non_empty(obj: &serde_json::Map<String, Value>, fields: &[String]) -> Option<String> {
    fields.iter().find_map(|f| match obj.get(f)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => format!("{f:.0}"),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        }),
        _ => None,
    })
}

/// Synthesis mode (docs KE:565-571): `tk-` + hex of the first 16 bytes of SHA-256(access token).
pub fn synthesize_identity(access_token: &str) -> Identity {
    let digest = Sha256::digest(access_token.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Identity { subject: format!("tk-{hex}"), name: None, email: None, synthetic: true }
}

/// `tokenResponseMapping` (docs VE:228-234): the standard fields read from dot paths; the
/// result is a flat response (`token_type` dropped: nested shapes use their own values, such as
/// Slack's `user`).
pub fn map_token_response(
    fields: &serde_json::Map<String, Value>,
    m: &crate::crd::TokenResponseMapping,
) -> Result<serde_json::Map<String, Value>, UpstreamError> {
    let root = Value::Object(fields.clone());
    let mut out = serde_json::Map::new();
    let access =
        gjson(&root, &m.access_token_path).filter(|v| v.as_str().is_some_and(|s| !s.is_empty())).ok_or_else(|| {
            UpstreamError::TokenResponse(format!(
                "tokenResponseMapping.accessTokenPath `{}` found no token",
                m.access_token_path
            ))
        })?;
    out.insert("access_token".into(), access);
    for (key, path, default) in [
        ("scope", &m.scope_path, "scope"),
        ("refresh_token", &m.refresh_token_path, "refresh_token"),
        ("expires_in", &m.expires_in_path, "expires_in"),
    ] {
        if let Some(v) = gjson(&root, path.as_deref().unwrap_or(default)) {
            out.insert(key.into(), v);
        }
    }
    Ok(out)
}

/// `identityFromToken` (docs KE:681-741): subject (required), name and email from gjson paths
/// into the token response. A missing or non-scalar subject fails the login.
pub fn identity_from_token(raw: &Value, ift: &crate::crd::IdentityFromToken) -> Result<Identity, UpstreamError> {
    let scalar = |path: &str| -> Option<String> {
        match gjson(raw, path)? {
            Value::String(s) if !s.is_empty() => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let subject = scalar(&ift.subject_path).ok_or_else(|| {
        UpstreamError::UserInfo(format!(
            "identityFromToken.subjectPath `{}` found no string in the token response",
            ift.subject_path
        ))
    })?;
    Ok(Identity {
        subject,
        name: ift.name_path.as_deref().and_then(scalar),
        email: ift.email_path.as_deref().and_then(scalar),
        synthetic: false,
    })
}

/// A gjson path subset: `a.b.0.c` walks objects and arrays; `|` chains segments; the
/// `@upstreamjwt` modifier turns a JWT-shaped string into its decoded payload (no signature
/// verification, as documented).
pub fn gjson(root: &Value, path: &str) -> Option<Value> {
    let mut cur = root.clone();
    for segment in path.split('|').map(str::trim).filter(|s| !s.is_empty()) {
        if segment == "@upstreamjwt" {
            let payload = cur.as_str()?.split('.').nth(1)?;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
            cur = serde_json::from_slice(&bytes).ok()?;
            continue;
        }
        for key in segment.split('.') {
            cur = match cur {
                Value::Object(mut m) => m.remove(key)?,
                Value::Array(mut a) => {
                    let i: usize = key.parse().ok()?;
                    if i < a.len() { a.swap_remove(i) } else { return None }
                }
                _ => return None,
            };
        }
    }
    (!cur.is_null()).then_some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_mapping_first_non_empty_wins_and_numbers_are_integers() {
        let obj = json!({"id": 12345, "login": "octocat", "name": "", "email": null, "f": 3.0});
        let obj = obj.as_object().unwrap();
        assert_eq!(first_non_empty(obj, &["id".into(), "login".into()]).as_deref(), Some("12345"));
        assert_eq!(first_non_empty(obj, &["name".into(), "login".into()]).as_deref(), Some("octocat"));
        assert_eq!(first_non_empty(obj, &["email".into()]), None);
        assert_eq!(first_non_empty(obj, &["f".into()]).as_deref(), Some("3"));
    }

    #[test]
    fn synthesized_subject_shape() {
        let id = synthesize_identity("token");
        assert!(id.synthetic);
        assert_eq!(id.subject.len(), 35);
        assert!(id.subject.starts_with("tk-"));
    }
}
