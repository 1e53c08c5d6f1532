//! What the gateway needs from an embedded authorization server in the same process.
//!
//! Kept as a trait so `vmcp` does not depend on `authserver`'s internals: JWKS retrieval is
//! in-process (the docs: no `jwksAllowPrivateIP` needed), and upstream tokens are read from the
//! server's storage by the JWT's `tsid`.

use std::collections::BTreeMap;

use async_trait::async_trait;

/// A public key that verifies the embedded server's JWTs.
#[derive(Clone)]
pub struct VerificationKey {
    /// RFC 7638 thumbprint, as in the JWT header's `kid`.
    pub kid: String,
    pub algorithm: jsonwebtoken::Algorithm,
    pub key: jsonwebtoken::DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish()
    }
}

/// One provider's stored tokens for a login session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTokens {
    pub access_token: String,
    pub id_token: Option<String>,
    /// Unix seconds; `None` when the provider gave no `expires_in`.
    pub expires_at: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedAuthError {
    /// Storage could not be read: the gateway answers 503.
    #[error("authentication service temporarily unavailable: {0}")]
    Unavailable(String),
    /// A stored token expired and could not be refreshed: the gateway answers 401 `invalid_token`.
    #[error("upstream token is no longer valid; re-authentication required ({0})")]
    Expired(String),
}

#[async_trait]
pub trait EmbeddedAuth: Send + Sync {
    /// The active signing key first, then the verification-only (fallback) keys.
    fn verification_keys(&self) -> Vec<VerificationKey>;
    /// The JWK published for `kid`, as JSON (only the `accept-hs256-public-key` defect reads it).
    fn published_jwk(&self, _kid: &str) -> Option<serde_json::Value> {
        None
    }
    /// The upstream tokens stored for `session_id` (the JWT's `tsid`), by provider name.
    async fn upstream_tokens(&self, session_id: &str) -> Result<BTreeMap<String, UpstreamTokens>, EmbeddedAuthError>;
}
