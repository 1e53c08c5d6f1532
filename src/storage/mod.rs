//! Storage for everything the authorization server keeps: one small key-value trait.
//!
//! The trait is deliberately narrow (values with TTLs, atomic take, hash fields) so that every
//! backend maps it onto primitives it has natively: a `HashMap` in memory, and in Redis
//! `SET PX`, `SET NX`, `GETDEL`, `HSET` + `PEXPIRE` and `HGETALL`, all inside the command
//! categories the documented ACL grants. Typed records live with their owners
//! (`authserver::store`), serialized as JSON.

pub mod bench;
pub mod memory;
pub mod redis;
pub mod session_store;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use memory::MemoryStorage;

/// A storage failure. Never swallowed: callers turn it into an RFC `server_error` or a 503.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    #[error("stored record `{key}` cannot be decoded: {reason}")]
    Corrupt { key: String, reason: String },
}

/// The operations the authorization server needs. Keys are relative; a backend may prefix them
/// (Redis uses `thv:auth:{<namespace>:<name>}:`).
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Stores `value` under `key`, replacing any previous value. `ttl: None` keeps it forever.
    async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StorageError>;
    /// Stores `value` only if `key` is absent. Returns whether it was stored.
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, StorageError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Reads and deletes `key` atomically: single-use records (codes, pending authorizations,
    /// refresh tokens) are consumed by exactly one caller even across replicas.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Sets one field of the hash at `key` and (re)sets the hash's TTL.
    async fn put_field(&self, key: &str, field: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StorageError>;
    /// All fields of the hash at `key` (empty when absent).
    async fn fields(&self, key: &str) -> Result<BTreeMap<String, Vec<u8>>, StorageError>;
    /// A one-line description for logs and reports (`memory`, `redis sentinel mymaster via …`).
    fn describe(&self) -> String;
}

/// JSON helpers over any [`Storage`].
pub async fn put_json<T: Serialize + Sync>(
    s: &dyn Storage,
    key: &str,
    value: &T,
    ttl: Option<Duration>,
) -> Result<(), StorageError> {
    let bytes =
        serde_json::to_vec(value).map_err(|e| StorageError::Corrupt { key: key.into(), reason: e.to_string() })?;
    s.put(key, &bytes, ttl).await
}

pub async fn get_json<T: DeserializeOwned>(s: &dyn Storage, key: &str) -> Result<Option<T>, StorageError> {
    s.get(key).await?.map(|b| decode(key, &b)).transpose()
}

pub async fn take_json<T: DeserializeOwned>(s: &dyn Storage, key: &str) -> Result<Option<T>, StorageError> {
    s.take(key).await?.map(|b| decode(key, &b)).transpose()
}

pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt { key: key.into(), reason: e.to_string() })
}
