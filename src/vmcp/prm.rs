//! OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint.
//!
//! Served unauthenticated at `/.well-known/oauth-protected-resource` and at the path-suffixed
//! form (`/.well-known/oauth-protected-resource/mcp`, RFC 9728 §3.1), with permissive CORS so
//! browser-based MCP clients can read it.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    CONTENT_TYPE, HeaderMap, HeaderValue,
};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::config::{IncomingAuthConfig, OidcIncoming};

/// The metadata document for `oidc`; `None` when no resource URL is configured.
pub fn document(oidc: &OidcIncoming) -> Option<Value> {
    if oidc.resource_url.trim().is_empty() {
        return None;
    }
    let scopes: Vec<&str> = oidc.scopes.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    let scopes = if scopes.is_empty() { vec!["openid"] } else { scopes };
    Some(json!({
        "resource": oidc.resource_url,
        "authorization_servers": [oidc.issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
    }))
}

/// State of the PRM routes: the document, computed once.
#[derive(Debug, Clone)]
pub struct PrmState {
    document: Option<Arc<Value>>,
}

impl PrmState {
    pub fn new(incoming: &IncomingAuthConfig) -> Self {
        let document = match incoming {
            IncomingAuthConfig::Anonymous => None,
            IncomingAuthConfig::Oidc(oidc) => document(oidc).map(Arc::new),
        };
        Self { document }
    }
}

fn cors() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, OPTIONS"));
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("mcp-protocol-version, content-type, authorization"),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    h
}

/// GET (and HEAD) -> the document; OPTIONS -> 204 preflight; 404 JSON when there is none
/// (anonymous incoming auth, or no resource URL).
pub async fn handler(State(state): State<PrmState>, method: Method) -> Response {
    let mut headers = cors();
    if method == Method::OPTIONS {
        return (StatusCode::NO_CONTENT, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match &state.document {
        Some(doc) => (StatusCode::OK, headers, doc.to_string()).into_response(),
        None => (StatusCode::NOT_FOUND, headers, json!({"error": "not_found"}).to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmcp::incoming::tests::oidc;

    #[test]
    fn document_has_the_rfc_9728_fields() {
        assert_eq!(
            document(&oidc()).unwrap(),
            json!({
                "resource": "http://127.0.0.1:9999/mcp",
                "authorization_servers": ["http://127.0.0.1:9999"],
                "bearer_methods_supported": ["header"],
                "scopes_supported": ["openid", "profile"],
            })
        );
        let no_scopes = OidcIncoming { scopes: vec![], ..oidc() };
        assert_eq!(document(&no_scopes).unwrap()["scopes_supported"], json!(["openid"]));
        assert!(document(&OidcIncoming { resource_url: String::new(), ..oidc() }).is_none());
    }

    #[tokio::test]
    async fn anonymous_has_no_metadata() {
        let resp = handler(State(PrmState::new(&IncomingAuthConfig::Anonymous)), Method::GET).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp = handler(State(PrmState::new(&IncomingAuthConfig::Oidc(oidc()))), Method::OPTIONS).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(resp.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(), "*");
    }
}
