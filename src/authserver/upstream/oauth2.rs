//! Identity for plain OAuth 2.0 upstreams: the userinfo endpoint, or a synthesized subject.

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
    req = req.bearer_auth(access_token).header(reqwest::header::ACCEPT, "application/json");
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
