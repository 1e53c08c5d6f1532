//! Horizontal-scaling session storage (`spec.sessionStorage`): the MCP sessions of the gateway in
//! a standalone Redis, so that any replica serves any session (redis-session-storage.mdx,
//! "Horizontal scaling session storage"). Not the authorization server's storage.
//!
//! As documented: a direct `address` (no Sentinel), `db`, a password only (the `default` user),
//! and `keyPrefix` keeping use cases apart. A session is stored under `<keyPrefix>:<session id>`
//! (the `:` added when the prefix lacks it, so that the shared-instance ACL patterns
//! `~vmcp-sessions:*` match) as the JSON of rmcp's `SessionState` (the client's `initialize`
//! parameters), from which another replica restores the session. Entries carry no TTL: the
//! session ends with the client's DELETE, or with the (ephemeral) Redis.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use rmcp::transport::streamable_http_server::session::store::{SessionState, SessionStore, SessionStoreError};

use super::redis::resolve;

/// Test-only: a process-wide cache in front of Redis (see `Defect::SessionStoreProcessCache`).
static PROCESS_CACHE: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

/// The default prefix of ToolHive's vMCP when `keyPrefix` is not set (toolhive-behaviour.md).
pub const DEFAULT_VMCP_PREFIX: &str = "thv:vmcp:session:";

/// `spec.sessionStorage` with the password resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionStorageConfig {
    pub address: String,
    pub db: i64,
    pub key_prefix: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SessionStorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStorageConfig")
            .field("address", &self.address)
            .field("db", &self.db)
            .field("key_prefix", &self.key_prefix)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The key prefix in use: `keyPrefix` with a trailing `:`, or ToolHive's default.
pub fn prefix_of(key_prefix: Option<&str>) -> String {
    match key_prefix.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) if p.ends_with(':') => p.to_string(),
        Some(p) => format!("{p}:"),
        None => DEFAULT_VMCP_PREFIX.to_string(),
    }
}

/// rmcp's [`SessionStore`] in Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisSessionStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: SessionStorageConfig,
    prefix: String,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    process_cache: bool,
}

impl RedisSessionStore {
    /// Connects and `PING`s (an unreachable or misconfigured Redis is a start-up error).
    pub async fn connect(
        config: SessionStorageConfig,
        ignore_prefix: bool,
        process_cache: bool,
    ) -> Result<Self, String> {
        let prefix =
            if ignore_prefix { DEFAULT_VMCP_PREFIX.to_string() } else { prefix_of(config.key_prefix.as_deref()) };
        let store =
            Self { inner: Arc::new(Inner { config, prefix, conn: tokio::sync::Mutex::new(None), process_cache }) };
        let mut conn = store.conn().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.map_err(|e| store.context(e))?;
        Ok(store)
    }

    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    pub fn describe(&self) -> String {
        format!("redis {} db {}, keys {}*", self.inner.config.address, self.inner.config.db, self.inner.prefix)
    }

    fn context(&self, e: impl std::fmt::Display) -> String {
        format!("spec.sessionStorage (redis {}): {e}", self.inner.config.address)
    }

    async fn conn(&self) -> Result<MultiplexedConnection, String> {
        let mut guard = self.inner.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let config = &self.inner.config;
        let mut errors = Vec::new();
        for endpoint in resolve(&config.address) {
            let Some((host, port)) = endpoint.rsplit_once(':').and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            else {
                errors.push(format!("{endpoint}: not host:port"));
                continue;
            };
            let mut settings = redis::RedisConnectionInfo::default().set_db(config.db);
            if let Some(p) = config.password.as_deref().filter(|p| !p.is_empty()) {
                settings = settings.set_password(p);
            }
            let info = match redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp(
                host.to_string(),
                port,
            )) {
                Ok(i) => i.set_redis_settings(settings),
                Err(e) => {
                    errors.push(format!("{endpoint}: {e}"));
                    continue;
                }
            };
            let client = match redis::Client::open(info) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(format!("{endpoint}: {e}"));
                    continue;
                }
            };
            let timeouts = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_response_timeout(Some(Duration::from_secs(3)));
            match client.get_multiplexed_async_connection_with_config(&timeouts).await {
                Ok(c) => {
                    *guard = Some(c.clone());
                    return Ok(c);
                }
                Err(e) => errors.push(format!("{endpoint}: {e}")),
            }
        }
        Err(self.context(errors.join("; ")))
    }

    /// Runs a command, reconnecting once when the connection broke (a restarted Redis).
    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, SessionStoreError> {
        let mut last = String::new();
        for _ in 0..2 {
            let mut conn = self.conn().await?;
            match cmd.query_async::<T>(&mut conn).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                    *self.inner.conn.lock().await = None;
                    last = self.context(e);
                }
                Err(e) => return Err(self.context(e).into()),
            }
        }
        Err(last.into())
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let key = format!("{}{session_id}", self.inner.prefix);
        let cached = self.inner.process_cache.then(|| PROCESS_CACHE.lock().ok()?.get(&key).cloned()).flatten();
        let raw: Option<String> = match cached {
            Some(json) => Some(json),
            None => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(&key);
                self.run(&cmd).await?
            }
        };
        match raw {
            None => Ok(None),
            Some(json) => {
                Ok(Some(serde_json::from_str(&json).map_err(|e| self.context(format!("session {session_id}: {e}")))?))
            }
        }
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let json = serde_json::to_string(state)?;
        if self.inner.process_cache
            && let Ok(mut cache) = PROCESS_CACHE.lock()
        {
            cache.insert(format!("{}{session_id}", self.inner.prefix), json.clone());
        }
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}{session_id}", self.inner.prefix)).arg(json);
        let _: () = self.run(&cmd).await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(format!("{}{session_id}", self.inner.prefix));
        let _: i64 = self.run(&cmd).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_with_a_colon() {
        assert_eq!(prefix_of(Some("vmcp-sessions")), "vmcp-sessions:");
        assert_eq!(prefix_of(Some("mcp-sessions:")), "mcp-sessions:");
        assert_eq!(prefix_of(None), DEFAULT_VMCP_PREFIX);
        assert_eq!(prefix_of(Some(" ")), DEFAULT_VMCP_PREFIX);
    }
}
