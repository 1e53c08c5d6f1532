//! The access tokens the server issues: JWTs signed with the active key.

use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};

use super::keys::SigningKey;

/// Claims of an issued access token (docs KE:215; ToolHive's session layout).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The internal user id.
    pub sub: String,
    /// Always a JSON array holding the one audience.
    pub aud: Vec<String>,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub scp: Vec<String>,
    pub client_id: String,
    /// The login session whose upstream tokens the gateway reads.
    pub tsid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Signs `claims` with `key` (header: `alg` from the key, `kid`, `typ: JWT`).
pub fn sign(key: &SigningKey, claims: &AccessTokenClaims) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, claims, &key.encoding)
}
