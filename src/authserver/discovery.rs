//! RFC 8414 metadata, OpenID Connect discovery and the JWKS.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AuthServer;
use crate::defects::Defect;

fn cached_json(v: Value) -> Response {
    let mut resp = axum::Json(v).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

impl AuthServer {
    /// The RFC 8414 authorization server metadata.
    pub fn metadata(&self) -> Value {
        let authz_base = self.config.authorization_endpoint_base_url.as_deref().unwrap_or(&self.config.issuer);
        // Docs VE:167-177: the override moves `authorization_endpoint` only.
        let issuer =
            if self.defects.is_on(Defect::AuthorizationBaseOverridesAll) { authz_base } else { &self.config.issuer };
        let scopes_supported: Vec<String> = if self.defects.is_on(Defect::ScopesSupportedIgnoresConfig) {
            super::config::DEFAULT_SCOPES_SUPPORTED.iter().map(|s| s.to_string()).collect()
        } else {
            self.scopes_supported.clone()
        };
        let mut doc = json!({
            "issuer": self.config.issuer,
            "authorization_endpoint": format!("{authz_base}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "registration_endpoint": format!("{issuer}/oauth/register"),
            "response_types_supported": ["code"],
            "scopes_supported": scopes_supported,
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        });
        // Docs VE:925-930: advertised when CIMD is on; omitted otherwise.
        if self.config.cimd.is_some()
            && !self.defects.is_on(Defect::OmitCimdSupported)
            && let Some(m) = doc.as_object_mut()
        {
            m.insert("client_id_metadata_document_supported".into(), json!(true));
        }
        if self.defects.is_on(Defect::OmitRegistrationEndpoint)
            && let Some(m) = doc.as_object_mut()
        {
            m.remove("registration_endpoint");
        }
        if self.defects.is_on(Defect::MetadataOmitsCodeFlow)
            && let Some(m) = doc.as_object_mut()
        {
            m.insert("response_types_supported".into(), json!(["token"]));
            m.insert("grant_types_supported".into(), json!(["implicit", "refresh_token"]));
        }
        doc
    }

    /// The OpenID Connect discovery document: the metadata plus the two OIDC fields.
    pub fn openid_metadata(&self) -> Value {
        let mut doc = self.metadata();
        let mut algs: Vec<String> = Vec::new();
        for k in self.keys.all() {
            let a = format!("{:?}", k.algorithm);
            if !algs.contains(&a) {
                algs.push(a);
            }
        }
        if let Some(m) = doc.as_object_mut() {
            m.insert("subject_types_supported".into(), json!(["public"]));
            m.insert("id_token_signing_alg_values_supported".into(), json!(algs));
        }
        doc
    }
}

pub async fn oauth_metadata(State(s): State<Arc<AuthServer>>) -> Response {
    cached_json(s.metadata())
}

pub async fn openid_configuration(State(s): State<Arc<AuthServer>>) -> Response {
    cached_json(s.openid_metadata())
}

/// The active key and the fallback keys (docs KE:104-107), each with its thumbprint `kid`.
pub async fn jwks(State(s): State<Arc<AuthServer>>) -> Response {
    let mut set = s.keys.jwks();
    if s.defects.is_on(Defect::JwksPublishesUnconfiguredKey)
        && let Ok(extra) = super::keys::SigningKey::ephemeral()
    {
        set.keys.push(extra.jwk);
    }
    cached_json(serde_json::to_value(set).unwrap_or_else(|_| json!({ "keys": [] })))
}
