//! Typed records over the [`Storage`] key-value trait.
//!
//! | key | record | lifetime |
//! |---|---|---|
//! | `client:<client_id>` | [`ClientRecord`] | forever |
//! | `pending:<internal state>` | [`PendingAuthorization`] | 10 min, consumed by the callback |
//! | `code:<signature>` | [`AuthCodeRecord`] | auth-code lifespan, consumed by the token endpoint |
//! | `code-used:<signature>` | grant id of a redeemed code | refresh-token lifespan |
//! | `grant:<grant id>` | [`GrantRecord`] (what a code issued) | refresh-token lifespan |
//! | `grant-revoked:<grant id>` | marker | refresh-token lifespan |
//! | `refresh:<signature>` | [`RefreshTokenRecord`] | refresh-token lifespan, consumed on use |
//! | `refresh-used:<signature>` | grant id of a rotated-out refresh token | refresh-token lifespan |
//! | `identity:<provider>:<subject>` | internal user id | forever |
//! | `upstream:<tsid>` (hash, field = provider name) | [`StoredUpstreamTokens`] | refresh-token lifespan |

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::storage::{self, Storage, StorageError};

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Lifetime of a pending (upstream) authorization.
pub const PENDING_TTL: Duration = Duration::from_secs(600);

/// A registered (public) client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub client_id_issued_at: u64,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
}

/// The user resolved on the first upstream leg.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResolvedUser {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// What the client asked for at `/oauth/authorize`, carried across the upstream legs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri` (RFC 6749 §4.1.3: then the token request must too).
    pub redirect_uri_explicit: bool,
    pub state: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// One upstream leg in flight, stored under the internal state sent to the upstream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub client: ClientRequest,
    /// Name of the upstream this leg went to (the callback only accepts that provider's answer).
    pub provider: String,
    pub upstream_code_verifier: String,
    pub upstream_nonce: String,
    /// The login session (`tsid`), the same across all legs.
    pub session_id: String,
    /// Set after the first leg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<ResolvedUser>,
    pub created_at: u64,
}

/// An issued authorization code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthCodeRecord {
    pub client: ClientRequest,
    pub user: ResolvedUser,
    pub session_id: String,
    pub expires_at: u64,
}

/// What a redeemed authorization code issued, for revocation on code reuse (RFC 6749 §4.1.2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantRecord {
    pub client_id: String,
    /// Storage ids of refresh tokens issued in this grant.
    pub refresh_tokens: Vec<String>,
    /// `jti` of every access token issued in this grant.
    pub access_token_ids: Vec<String>,
}

/// An issued refresh token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub client_id: String,
    pub grant_id: String,
    pub user: ResolvedUser,
    pub session_id: String,
    pub scopes: Vec<String>,
    /// The `resource` authorized at `/oauth/authorize`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_resource: Option<String>,
    /// The audience of the access tokens issued so far.
    pub audience: String,
    pub expires_at: u64,
}

/// One provider's tokens in a login session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredUpstreamTokens {
    pub provider: String,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Unix seconds; `None` when the upstream gave no `expires_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    pub upstream_subject: String,
    pub user_id: String,
    pub client_id: String,
}

/// Typed access to the authorization server's records.
#[derive(Debug, Clone)]
pub struct Store<'a> {
    s: &'a dyn Storage,
}

impl<'a> Store<'a> {
    pub fn new(s: &'a dyn Storage) -> Self {
        Self { s }
    }

    pub async fn put_client(&self, c: &ClientRecord) -> Result<(), StorageError> {
        storage::put_json(self.s, &format!("client:{}", c.client_id), c, None).await
    }

    pub async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StorageError> {
        storage::get_json(self.s, &format!("client:{id}")).await
    }

    pub async fn put_pending(&self, state: &str, p: &PendingAuthorization) -> Result<(), StorageError> {
        storage::put_json(self.s, &format!("pending:{state}"), p, Some(PENDING_TTL)).await
    }

    pub async fn take_pending(&self, state: &str) -> Result<Option<PendingAuthorization>, StorageError> {
        storage::take_json(self.s, &format!("pending:{state}")).await
    }

    pub async fn put_code(&self, id: &str, c: &AuthCodeRecord, ttl: Duration) -> Result<(), StorageError> {
        storage::put_json(self.s, &format!("code:{id}"), c, Some(ttl)).await
    }

    pub async fn take_code(&self, id: &str) -> Result<Option<AuthCodeRecord>, StorageError> {
        storage::take_json(self.s, &format!("code:{id}")).await
    }

    /// Marks a code as redeemed by `grant_id`.
    pub async fn mark_code_used(&self, id: &str, grant_id: &str, ttl: Duration) -> Result<(), StorageError> {
        self.s.put(&format!("code-used:{id}"), grant_id.as_bytes(), Some(ttl)).await
    }

    pub async fn code_used_by(&self, id: &str) -> Result<Option<String>, StorageError> {
        Ok(self.s.get(&format!("code-used:{id}")).await?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub async fn put_grant(&self, id: &str, g: &GrantRecord, ttl: Duration) -> Result<(), StorageError> {
        storage::put_json(self.s, &format!("grant:{id}"), g, Some(ttl)).await
    }

    pub async fn grant(&self, id: &str) -> Result<Option<GrantRecord>, StorageError> {
        storage::get_json(self.s, &format!("grant:{id}")).await
    }

    /// Revokes a grant: its refresh tokens are deleted and any later refresh in it fails.
    pub async fn revoke_grant(&self, id: &str, ttl: Duration) -> Result<(), StorageError> {
        self.s.put(&format!("grant-revoked:{id}"), b"1", Some(ttl)).await?;
        if let Some(g) = self.grant(id).await? {
            for rt in &g.refresh_tokens {
                self.s.delete(&format!("refresh:{rt}")).await?;
            }
        }
        Ok(())
    }

    pub async fn grant_revoked(&self, id: &str) -> Result<bool, StorageError> {
        Ok(self.s.get(&format!("grant-revoked:{id}")).await?.is_some())
    }

    pub async fn put_refresh(&self, id: &str, r: &RefreshTokenRecord, ttl: Duration) -> Result<(), StorageError> {
        storage::put_json(self.s, &format!("refresh:{id}"), r, Some(ttl)).await
    }

    pub async fn refresh(&self, id: &str) -> Result<Option<RefreshTokenRecord>, StorageError> {
        storage::get_json(self.s, &format!("refresh:{id}")).await
    }

    /// Remembers that a rotated-out refresh token belonged to `grant_id` (reuse detection).
    pub async fn mark_refresh_used(&self, id: &str, grant_id: &str, ttl: Duration) -> Result<(), StorageError> {
        self.s.put(&format!("refresh-used:{id}"), grant_id.as_bytes(), Some(ttl)).await
    }

    pub async fn refresh_used_by(&self, id: &str) -> Result<Option<String>, StorageError> {
        Ok(self.s.get(&format!("refresh-used:{id}")).await?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub async fn take_refresh(&self, id: &str) -> Result<Option<RefreshTokenRecord>, StorageError> {
        storage::take_json(self.s, &format!("refresh:{id}")).await
    }

    /// The internal user id for `(provider, subject)`, created (UUID v4) on first sight. Safe
    /// under concurrent first logins: the first writer wins.
    pub async fn user_for_identity(&self, provider: &str, subject: &str) -> Result<String, StorageError> {
        let key = format!("identity:{provider}:{subject}");
        if let Some(b) = self.s.get(&key).await? {
            return Ok(String::from_utf8_lossy(&b).into_owned());
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        if self.s.put_if_absent(&key, fresh.as_bytes(), None).await? {
            return Ok(fresh);
        }
        match self.s.get(&key).await? {
            Some(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            None => Err(StorageError::Unavailable(format!("identity record `{key}` vanished"))),
        }
    }

    /// Links `provider:subject` to `user_id` unless it is already linked; returns the user it is
    /// linked to now (another user's id means the identity belongs to someone else).
    pub async fn link_identity(&self, provider: &str, subject: &str, user_id: &str) -> Result<String, StorageError> {
        let key = format!("identity:{provider}:{subject}");
        if self.s.put_if_absent(&key, user_id.as_bytes(), None).await? {
            return Ok(user_id.to_owned());
        }
        match self.s.get(&key).await? {
            Some(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            None => Err(StorageError::Unavailable(format!("identity record `{key}` vanished"))),
        }
    }

    pub async fn put_upstream_tokens(
        &self,
        session_id: &str,
        t: &StoredUpstreamTokens,
        ttl: Duration,
    ) -> Result<(), StorageError> {
        let key = format!("upstream:{session_id}");
        let bytes =
            serde_json::to_vec(t).map_err(|e| StorageError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        self.s.put_field(&key, &t.provider, &bytes, Some(ttl)).await
    }

    pub async fn upstream_tokens(
        &self,
        session_id: &str,
    ) -> Result<BTreeMap<String, StoredUpstreamTokens>, StorageError> {
        let key = format!("upstream:{session_id}");
        self.s.fields(&key).await?.into_iter().map(|(f, b)| Ok((f, storage::decode(&key, &b)?))).collect()
    }

    pub async fn delete_upstream_tokens(&self, session_id: &str) -> Result<(), StorageError> {
        self.s.delete(&format!("upstream:{session_id}")).await
    }
}
