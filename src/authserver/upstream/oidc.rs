//! OIDC upstreams: discovery at start-up, ID-token verification at login.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::{Identity, TokenResponse, UpstreamError};
use crate::authserver::config::OidcUpstream;
use crate::authserver::error::AuthServerError;

/// Clock skew tolerated on the ID token's `exp`/`iat`.
const LEEWAY_SECS: u64 = 60;

#[derive(Debug)]
pub struct OidcProvider {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
    subject_claim: String,
    jwks: RwLock<Option<JwkSet>>,
    /// Test-only (defects `skip-upstream-id-token-issuer`, `skip-upstream-id-token-expiry`).
    skip_issuer_check: bool,
    skip_expiry_check: bool,
}

impl OidcProvider {
    /// Fetches `{issuerUrl}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
    pub async fn discover(name: &str, cfg: &OidcUpstream, http: &reqwest::Client) -> Result<Self, AuthServerError> {
        let issuer = cfg.issuer_url.trim_end_matches('/').to_owned();
        let url = format!("{issuer}/.well-known/openid-configuration");
        let fail = |reason: String| AuthServerError::Discovery { provider: name.to_owned(), url: url.clone(), reason };
        let resp = http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        let doc: Map<String, Value> = resp.json().await.map_err(|e| fail(format!("not a JSON object: {e}")))?;
        let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        let doc_issuer = field("issuer").ok_or_else(|| fail("the document has no `issuer`".into()))?;
        // §4.3: the advertised issuer must be the one the document was fetched for.
        if doc_issuer.trim_end_matches('/') != issuer {
            return Err(fail(format!("the document's issuer `{doc_issuer}` is not `{}`", cfg.issuer_url)));
        }
        let required = |k: &str| field(k).ok_or_else(|| fail(format!("the document has no `{k}`")));
        Ok(Self {
            issuer: doc_issuer,
            authorization_endpoint: required("authorization_endpoint")?,
            token_endpoint: required("token_endpoint")?,
            jwks_uri: required("jwks_uri")?,
            userinfo_endpoint: field("userinfo_endpoint"),
            subject_claim: cfg.subject_claim.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| "sub".into()),
            jwks: RwLock::new(None),
            skip_issuer_check: false,
            skip_expiry_check: false,
        })
    }

    /// Test-only: switches off the ID-token checks the defect switches name.
    pub fn apply_defects(&mut self, defects: &crate::defects::Defects) {
        use crate::defects::Defect;
        self.skip_issuer_check = defects.is_on(Defect::SkipUpstreamIdTokenIssuer);
        self.skip_expiry_check = defects.is_on(Defect::SkipUpstreamIdTokenExpiry);
        if defects.is_on(Defect::IgnoreSubjectClaim) {
            self.subject_claim = "sub".into();
        }
    }

    async fn fetch_jwks(&self, http: &reqwest::Client) -> Result<JwkSet, UpstreamError> {
        let err = |reason: String| UpstreamError::Http { url: self.jwks_uri.clone(), reason };
        let resp = http
            .get(&self.jwks_uri)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        let set: JwkSet = resp.json().await.map_err(|e| err(format!("not a JWKS: {e}")))?;
        *self.jwks.write().await = Some(set.clone());
        Ok(set)
    }

    /// The keys that may have signed a token with this header: by `kid` when given; refetches the
    /// JWKS once when the `kid` is unknown (key rotation at the IdP).
    async fn candidate_keys(&self, http: &reqwest::Client, kid: Option<&str>) -> Result<Vec<Jwk>, UpstreamError> {
        let select = |set: &JwkSet| -> Vec<Jwk> {
            set.keys.iter().filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid).cloned().collect()
        };
        let cached = self.jwks.read().await.clone();
        if let Some(set) = cached {
            let keys = select(&set);
            if !keys.is_empty() {
                return Ok(keys);
            }
        }
        Ok(select(&self.fetch_jwks(http).await?))
    }

    /// Verifies the ID token (signature against the upstream JWKS, `iss`, `aud` ∋ client id,
    /// `exp`, `nonce`) and reads the subject, name and email from it.
    pub async fn identity(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        tokens: &TokenResponse,
        nonce: &str,
    ) -> Result<Identity, UpstreamError> {
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| UpstreamError::IdToken("the token response has no id_token".into()))?;
        let claims = self.verify_id_token(http, client_id, id_token).await?;
        match claims.get("nonce").and_then(Value::as_str) {
            Some(n) if crate::authserver::keys::ct_eq(n, nonce) => {}
            Some(_) => return Err(UpstreamError::IdToken("nonce does not match".into())),
            None => return Err(UpstreamError::IdToken("nonce is missing".into())),
        }
        let subject = claims
            .get(&self.subject_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                UpstreamError::IdToken(format!("claim `{}` is missing or not a string", self.subject_claim))
            })?
            .to_owned();
        let string = |k: &str| claims.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Identity { subject, name: string("name"), email: string("email"), synthetic: false })
    }

    async fn verify_id_token(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        id_token: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let header =
            jsonwebtoken::decode_header(id_token).map_err(|e| UpstreamError::IdToken(format!("malformed: {e}")))?;
        if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(UpstreamError::IdToken(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let mut validation = Validation::new(header.alg);
        if !self.skip_issuer_check {
            validation.set_issuer(&[&self.issuer]);
        }
        validation.set_audience(&[client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = !self.skip_expiry_check;
        let keys = self.candidate_keys(http, header.kid.as_deref()).await?;
        if keys.is_empty() {
            return Err(UpstreamError::IdToken("no JWKS key matches the token's kid".into()));
        }
        let mut last = String::new();
        for jwk in keys {
            let Ok(key) = DecodingKey::from_jwk(&jwk) else { continue };
            match jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = e.to_string(),
            }
        }
        Err(UpstreamError::IdToken(last))
    }
}
