//! Redis storage: standalone `addr` or Sentinel (`masterName` + sentinel addresses), ACL user +
//! password or password-only `AUTH`, optional TLS (separately for Sentinel), and the key layout
//! ToolHive uses: every key under `thv:auth:{<namespace>:<name>}:` (one Redis Cluster hash tag).
//!
//! Cluster mode (`clusterMode: true`) hands `addr` to redis-rs' cluster client, which discovers the
//! shards with `CLUSTER SLOTS` and follows `MOVED`/`ASK`; the one hash tag of the prefix keeps every
//! key of a server in one slot, so `MULTI`/`EXEC` works there too. Cluster mode never `WAIT`s
//! (DECISIONS.md).
//!
//! Built on redis-rs' multiplexed connection with our own Sentinel discovery, because the
//! documented ACL (`+@read +@write +@keyspace +@scripting +@transaction +@connection`) refuses the
//! `ROLE` and `INFO` commands redis-rs' `SentinelClient` verifies the master with, and because
//! the master's address Sentinel announces is a cluster DNS name the harness maps explicitly
//! ([`map_cluster_dns`]). Discovery follows the Sentinel client guidelines: ask each Sentinel in
//! turn for `get-master-addr-by-name`, connect, and on an I/O error, a timeout or `READONLY`
//! (a demoted master) drop the connection and ask again.
//!
//! When Sentinel reports healthy replicas, every write that creates state a login depends on
//! (`put`, `put_if_absent`, `put_field`) is followed by `WAIT 1 <writeTimeout>` on the same
//! connection, and fails when no replica acknowledged it: a login that completed has its records
//! on a replica, so a failover to that replica keeps it. Consumption (`take`, `delete`) is not
//! waited for.
//!
//! Commands used and their ACL categories: `SET` (@write), `GET` (@read), `GETDEL` (@write),
//! `DEL` (@keyspace @write), `HSET` (@write), `HGETALL` (@read), `PEXPIRE`/`PERSIST` (@keyspace),
//! `MULTI`/`EXEC` (@transaction), `WAIT`, `PING`, `AUTH`/`HELLO` (@connection). Nothing else,
//! except `CLUSTER SLOTS` (@slow) in cluster mode, with which the cluster client finds the shards.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisError};

use super::{Storage, StorageError};
use crate::bundle::{RedisConfig, RedisMode, RedisTlsConfig};

/// Cluster DNS names the harness maps to reachable endpoints: `host:port` -> endpoints (a headless
/// Service with several pods), or a bare `host` -> IP (a pod name; the port is kept).
static CLUSTER_DNS: LazyLock<RwLock<BTreeMap<String, Vec<String>>>> = LazyLock::new(Default::default);

/// Maps a cluster DNS name (`redis-0.redis.redis.svc.cluster.local`, or with `:port` for a
/// Service whose pods listen on other ports here) to the endpoints the reference dials instead.
pub fn map_cluster_dns(name: &str, endpoints: Vec<String>) {
    CLUSTER_DNS.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), endpoints);
}

/// Every mapping made with [`map_cluster_dns`] (the command target hands them to its process).
pub fn cluster_dns_mappings() -> BTreeMap<String, Vec<String>> {
    CLUSTER_DNS.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Removes a mapping made with [`map_cluster_dns`].
pub fn unmap_cluster_dns(name: &str) {
    CLUSTER_DNS.write().unwrap_or_else(|p| p.into_inner()).remove(name);
}

/// The endpoints `host:port` stands for (itself when not mapped).
pub fn resolve(addr: &str) -> Vec<String> {
    let map = CLUSTER_DNS.read().unwrap_or_else(|p| p.into_inner());
    if let Some(endpoints) = map.get(addr) {
        return endpoints.clone();
    }
    if let Some((host, port)) = addr.rsplit_once(':')
        && let Some(ips) = map.get(host)
    {
        return ips.iter().map(|ip| format!("{ip}:{port}")).collect();
    }
    vec![addr.to_string()]
}

/// The key prefix ToolHive's operator derives for a workload (`storage.DeriveKeyPrefix`).
pub fn key_prefix(namespace: &str, name: &str) -> String {
    format!("thv:auth:{{{namespace}:{name}}}:")
}

/// Test-only departures (see `crate::defects`).
#[derive(Debug, Clone, Default)]
pub struct RedisDefects {
    /// Writes are acknowledged without waiting for a replica.
    pub skip_wait: bool,
    /// After connecting, `ROLE` is sent (as redis-rs' `SentinelClient` does) and a refusal ignored.
    pub probe_role: bool,
    /// Read failures are reported as absent records instead of errors.
    pub swallow_errors: bool,
    /// A broken connection is kept: the storage never reconnects nor re-resolves the master.
    pub no_reconnect: bool,
    /// `take` reads without deleting.
    pub take_keeps_record: bool,
    /// TLS connections accept any certificate (the CA of `caCertSecretRef` is not checked).
    pub tls_accept_any: bool,
    /// Sentinels are dialled in plaintext unless `sentinelTls` is set (`tls` not reused).
    pub sentinel_plaintext: bool,
    /// `sentinelTls` is ignored: Sentinel connections use `tls`.
    pub ignore_sentinel_tls: bool,
    /// `insecureSkipVerify` is ignored.
    pub ignore_insecure_skip_verify: bool,
    /// In cluster mode the prefix loses its hash tag braces: a server's keys spread over slots.
    pub cluster_ignore_hash_tag: bool,
}

/// A connection to one server (standalone, Sentinel's master) or to a Redis Cluster.
#[derive(Clone)]
enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

#[derive(Clone)]
struct Current {
    conn: Conn,
    addr: String,
    /// Healthy replicas Sentinel reported when the master was resolved.
    replicas: usize,
}

struct Inner {
    prefix: String,
    mode: RedisMode,
    settings: RedisConnectionInfo,
    tls: Option<RedisTlsConfig>,
    sentinel_tls: Option<RedisTlsConfig>,
    dial_timeout: Duration,
    read_timeout: Duration,
    write_timeout: Duration,
    defects: RedisDefects,
    current: tokio::sync::Mutex<Option<Current>>,
}

/// A [`Storage`] in Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisStorage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn unavailable(what: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(what.to_string())
}

/// Whether a failed command may succeed on a fresh connection (possibly to a new master).
fn retryable(e: &RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::ReadOnly
                    | ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::TryAgain
            )
        )
}

fn ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

impl RedisStorage {
    /// Connects (and `PING`s, as ToolHive does at start-up) with `config`; keys go under `prefix`.
    pub async fn connect(config: &RedisConfig, prefix: String, defects: RedisDefects) -> Result<Self, StorageError> {
        let mut prefix = prefix;
        if matches!(config.mode, RedisMode::Cluster { .. }) && defects.cluster_ignore_hash_tag {
            prefix.retain(|c| c != '{' && c != '}');
        }
        let mut settings = RedisConnectionInfo::default();
        if !config.password.is_empty() {
            settings = settings.set_password(&config.password);
        }
        if let Some(user) = &config.username {
            settings = settings.set_username(user);
        }
        // redis-rs' certificate-less verifier reads the process-wide rustls provider.
        if config.tls.iter().chain(&config.sentinel_tls).any(|t| t.insecure_skip_verify) || defects.tls_accept_any {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        if let RedisMode::Sentinel { db, .. } = &config.mode {
            settings = settings.set_db(*db);
        }
        let storage = Self {
            inner: Arc::new(Inner {
                prefix,
                mode: config.mode.clone(),
                settings,
                tls: config.tls.clone(),
                sentinel_tls: config.sentinel_tls.clone(),
                dial_timeout: config.dial_timeout,
                read_timeout: config.read_timeout,
                write_timeout: config.write_timeout,
                defects,
                current: tokio::sync::Mutex::new(None),
            }),
        };
        let pong: String = storage.exec(redis::cmd("PING"), false).await?;
        if pong != "PONG" {
            return Err(unavailable(format!("PING answered {pong:?}")));
        }
        Ok(storage)
    }

    /// The key prefix in use.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    /// Connects to `endpoint`; `tls` comes from the config field named `field` (`tls` or
    /// `sentinelTls`), which certificate errors name.
    async fn dial(
        &self,
        endpoint: &str,
        tls: Option<(&RedisTlsConfig, &str)>,
        settings: RedisConnectionInfo,
    ) -> Result<MultiplexedConnection, Dial> {
        let bad = |what: &str| Dial { message: format!("{endpoint}: {what}"), fatal: true };
        let (host, port) = endpoint.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        let defects = &self.inner.defects;
        let field = tls.map(|(_, f)| f).unwrap_or("tls");
        let tls = tls.map(|(t, _)| t);
        let addr = match tls {
            Some(t) => ConnectionAddr::TcpTls {
                host: host.to_string(),
                port,
                insecure: (t.insecure_skip_verify && !defects.ignore_insecure_skip_verify) || defects.tls_accept_any,
                tls_params: None,
            },
            None => ConnectionAddr::Tcp(host.to_string(), port),
        };
        let info = addr.into_connection_info().map_err(|e| bad(&e.to_string()))?.set_redis_settings(settings);
        let client = match tls.and_then(|t| t.ca_cert_pem.clone()) {
            Some(ca) => Client::build_with_tls(
                info,
                redis::TlsCertificates { client_tls: None, root_cert: Some(ca.into_bytes()) },
            ),
            None => Client::open(info),
        }
        .map_err(|e| bad(&e.to_string()))?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.dial_timeout))
            .set_response_timeout(Some(self.inner.read_timeout));
        client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| {
            let text = e.to_string();
            // A certificate the configured CA does not verify will not verify on a retry either.
            if tls.is_some() && text.to_lowercase().contains("certificate") {
                return Dial {
                    message: format!(
                        "{endpoint}: TLS: {text}; the server certificate is not verified by {field}.caCertSecretRef \
                         (redis-session-storage.mdx#enable-tls)"
                    ),
                    fatal: true,
                };
            }
            Dial { message: format!("{endpoint}: {text}"), fatal: !retryable(&e) }
        })
    }

    /// The TLS settings for the master and for the Sentinels, with the field each comes from.
    fn tls_for(&self, sentinel: bool) -> Option<(&RedisTlsConfig, &'static str)> {
        let inner = &self.inner;
        let master = inner.tls.as_ref().map(|t| (t, "tls"));
        if !sentinel {
            return master;
        }
        match inner.sentinel_tls.as_ref() {
            Some(t) if !inner.defects.ignore_sentinel_tls => Some((t, "sentinelTls")),
            // Only `tls` set: Sentinel connections use it too (redis-session-storage.mdx#configure-tls-in-mcpexternalauthconfig).
            _ if inner.defects.sentinel_plaintext => None,
            _ => master,
        }
    }

    /// Finds the master (through Sentinel when configured) and connects to it.
    async fn discover(&self) -> Result<Current, Dial> {
        let inner = &self.inner;
        match &inner.mode {
            RedisMode::Cluster { addr } => self.dial_cluster(addr).await,
            RedisMode::Standalone { addr } => {
                let mut errors = Vec::new();
                for endpoint in resolve(addr) {
                    match self.dial(&endpoint, self.tls_for(false), inner.settings.clone()).await {
                        Ok(conn) => return Ok(Current { conn: Conn::Single(conn), addr: endpoint, replicas: 0 }),
                        Err(e) => errors.push(e),
                    }
                }
                Err(Dial::all(format!("cannot connect to Redis at {addr}"), errors))
            }
            RedisMode::Sentinel { master_name, sentinel_addrs, .. } => {
                let sentinel_tls = self.tls_for(true);
                let mut errors = Vec::new();
                for endpoint in sentinel_addrs.iter().flat_map(|a| resolve(a)) {
                    // Sentinels are dialled without credentials, as ToolHive does.
                    let mut sentinel = match self.dial(&endpoint, sentinel_tls, RedisConnectionInfo::default()).await {
                        Ok(c) => c,
                        Err(e) => {
                            errors.push(Dial { message: format!("sentinel {}", e.message), ..e });
                            continue;
                        }
                    };
                    let master: Option<(String, u16)> = match redis::cmd("SENTINEL")
                        .arg("get-master-addr-by-name")
                        .arg(master_name)
                        .query_async(&mut sentinel)
                        .await
                    {
                        Ok(m) => m,
                        Err(e) => {
                            errors.push(Dial { message: format!("sentinel {endpoint}: {e}"), fatal: false });
                            continue;
                        }
                    };
                    let Some((host, port)) = master else {
                        errors.push(Dial {
                            message: format!("sentinel {endpoint} does not know master {master_name:?}"),
                            fatal: false,
                        });
                        continue;
                    };
                    let replicas: Vec<HashMap<String, String>> = redis::cmd("SENTINEL")
                        .arg("replicas")
                        .arg(master_name)
                        .query_async(&mut sentinel)
                        .await
                        .unwrap_or_default();
                    let healthy = replicas
                        .iter()
                        .filter(|r| {
                            let flags = r.get("flags").map(String::as_str).unwrap_or("");
                            !flags.contains("down") && !flags.contains("disconnected")
                        })
                        .count();
                    let announced = format!("{host}:{port}");
                    for master in resolve(&announced) {
                        match self.dial(&master, self.tls_for(false), inner.settings.clone()).await {
                            Ok(conn) => {
                                tracing::debug!(target: "storage", "master {master_name} is {announced} ({master}), {healthy} healthy replicas");
                                return Ok(Current { conn: Conn::Single(conn), addr: master, replicas: healthy });
                            }
                            Err(e) => errors.push(Dial {
                                message: format!("master {announced} via sentinel {endpoint}: {}", e.message),
                                ..e
                            }),
                        }
                    }
                }
                Err(Dial::all(
                    format!("no Sentinel of {sentinel_addrs:?} gave a reachable master {master_name:?}"),
                    errors,
                ))
            }
        }
    }

    /// Connects to the Redis Cluster whose discovery endpoint is `addr` (the shards are found from
    /// it); the same credentials and TLS settings as a standalone server.
    async fn dial_cluster(&self, addr: &str) -> Result<Current, Dial> {
        let inner = &self.inner;
        let bad = |what: String| Dial { message: format!("Redis Cluster at {addr}: {what}"), fatal: true };
        let tls = inner.tls.as_ref();
        let insecure = tls.is_some_and(|t| t.insecure_skip_verify && !inner.defects.ignore_insecure_skip_verify)
            || inner.defects.tls_accept_any;
        let mut nodes = Vec::new();
        for endpoint in resolve(addr) {
            let (host, port) = endpoint.rsplit_once(':').ok_or_else(|| bad(format!("{endpoint}: no port")))?;
            let port: u16 = port.parse().map_err(|_| bad(format!("{endpoint}: bad port")))?;
            let node = match tls {
                Some(_) => ConnectionAddr::TcpTls { host: host.to_string(), port, insecure, tls_params: None },
                None => ConnectionAddr::Tcp(host.to_string(), port),
            };
            let info = node.into_connection_info().map_err(|e| bad(e.to_string()))?;
            nodes.push(info.set_redis_settings(inner.settings.clone()));
        }
        let mut builder = ClusterClientBuilder::new(nodes)
            .connection_timeout(inner.dial_timeout)
            .response_timeout(inner.read_timeout)
            .retries(2);
        if let Some(t) = tls {
            builder = builder.tls(if insecure { redis::TlsMode::Insecure } else { redis::TlsMode::Secure });
            if let Some(ca) = t.ca_cert_pem.clone().filter(|_| !insecure) {
                builder = builder.certs(redis::TlsCertificates { client_tls: None, root_cert: Some(ca.into_bytes()) });
            }
        }
        let client = builder.build().map_err(|e| bad(e.to_string()))?;
        match client.get_async_connection().await {
            Ok(conn) => Ok(Current { conn: Conn::Cluster(conn), addr: addr.to_string(), replicas: 0 }),
            Err(e) => {
                let text = e.to_string();
                if tls.is_some() && text.to_lowercase().contains("certificate") {
                    return Err(bad(format!(
                        "TLS: {text}; the server certificate is not verified by tls.caCertSecretRef \
                         (redis-session-storage.mdx#enable-tls)"
                    )));
                }
                Err(Dial { message: format!("Redis Cluster at {addr}: {text}"), fatal: !retryable(&e) })
            }
        }
    }

    async fn current(&self) -> Result<Current, Dial> {
        let mut guard = self.inner.current.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = self.discover().await?;
        if self.inner.defects.probe_role {
            let _ = redis::cmd("ROLE").query_async::<redis::Value>(&mut c.conn.clone()).await;
        }
        *guard = Some(c.clone());
        Ok(c)
    }

    async fn invalidate(&self, addr: &str) {
        if self.inner.defects.no_reconnect {
            return;
        }
        let mut guard = self.inner.current.lock().await;
        if guard.as_ref().is_some_and(|c| c.addr == addr) {
            *guard = None;
        }
    }

    /// Runs one command or pipeline on the master, re-resolving it on connection-level errors
    /// until `readTimeout` has passed; `replicated` writes then wait for a replica.
    async fn exec<C, T>(&self, command: C, replicated: bool) -> Result<T, StorageError>
    where
        C: Runnable,
        T: redis::FromRedisValue,
    {
        let deadline = Instant::now() + self.inner.read_timeout;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let error = match self.current().await {
                Ok(current) => {
                    let mut conn = current.conn.clone();
                    match command.run(&mut conn).await {
                        Ok(value) => {
                            if replicated && current.replicas > 0 && !self.inner.defects.skip_wait {
                                self.wait_replica(&mut conn).await?;
                            }
                            return redis::from_redis_value(value)
                                .map_err(|e| unavailable(format!("unexpected Redis reply: {e}")));
                        }
                        Err(e) if retryable(&e) => {
                            self.invalidate(&current.addr).await;
                            format!("{}: {e}", current.addr)
                        }
                        Err(e) => {
                            return Err(unavailable(format!("Redis at {} refused the command: {e}", current.addr)));
                        }
                    }
                }
                Err(e) if e.fatal => return Err(unavailable(e.message)),
                Err(e) => e.message,
            };
            if Instant::now() >= deadline {
                return Err(unavailable(format!("after {attempt} attempts: {error}")));
            }
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt.min(6)))).await;
        }
    }

    async fn wait_replica(&self, conn: &mut Conn) -> Result<(), StorageError> {
        let timeout = self.inner.write_timeout;
        let acked: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(ms(timeout))
            .query_async(conn)
            .await
            .map_err(|e| unavailable(format!("WAIT 1 failed: {e}")))?;
        if acked < 1 {
            return Err(unavailable(format!(
                "the write was not acknowledged by any replica within {} ms (WAIT 1)",
                ms(timeout)
            )));
        }
        Ok(())
    }
}

/// A failed connection attempt; `fatal` ones (authentication, ACL, bad address) are not retried.
struct Dial {
    message: String,
    fatal: bool,
}

impl Dial {
    fn all(context: String, errors: Vec<Dial>) -> Dial {
        let fatal = !errors.is_empty() && errors.iter().any(|e| e.fatal);
        let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
        Dial { message: format!("{context}: {}", messages.join("; ")), fatal }
    }
}

/// A command or a pipeline, run as one request.
trait Runnable: Send + Sync {
    fn run<'a>(&'a self, conn: &'a mut Conn) -> futures::future::BoxFuture<'a, Result<redis::Value, RedisError>>;
}

impl Runnable for redis::Cmd {
    fn run<'a>(&'a self, conn: &'a mut Conn) -> futures::future::BoxFuture<'a, Result<redis::Value, RedisError>> {
        Box::pin(self.query_async(conn))
    }
}

impl Runnable for redis::Pipeline {
    fn run<'a>(&'a self, conn: &'a mut Conn) -> futures::future::BoxFuture<'a, Result<redis::Value, RedisError>> {
        Box::pin(self.query_async(conn))
    }
}

#[async_trait]
impl Storage for RedisStorage {
    async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StorageError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ms(ttl));
        }
        let _: () = self.exec(cmd, true).await?;
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, StorageError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("NX");
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ms(ttl));
        }
        let stored: Option<String> = self.exec(cmd, true).await?;
        Ok(stored.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        match self.exec(cmd, false).await {
            Err(_) if self.inner.defects.swallow_errors => Ok(None),
            other => other,
        }
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let mut cmd = redis::cmd(if self.inner.defects.take_keeps_record { "GET" } else { "GETDEL" });
        cmd.arg(self.key(key));
        self.exec(cmd, false).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        let _: i64 = self.exec(cmd, false).await?;
        Ok(())
    }

    async fn put_field(&self, key: &str, field: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StorageError> {
        let key = self.key(key);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("HSET").arg(&key).arg(field).arg(value).ignore();
        match ttl {
            Some(ttl) => pipe.cmd("PEXPIRE").arg(&key).arg(ms(ttl)).ignore(),
            None => pipe.cmd("PERSIST").arg(&key).ignore(),
        };
        let _: () = self.exec(pipe, true).await?;
        Ok(())
    }

    async fn fields(&self, key: &str) -> Result<BTreeMap<String, Vec<u8>>, StorageError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.key(key));
        let map: HashMap<String, Vec<u8>> = match self.exec(cmd, false).await {
            Err(_) if self.inner.defects.swallow_errors => HashMap::new(),
            other => other?,
        };
        Ok(map.into_iter().collect())
    }

    fn describe(&self) -> String {
        let who = self.inner.settings.username().map(|u| format!(" as {u}")).unwrap_or_default();
        let tls = if self.inner.tls.is_some() { " (TLS)" } else { "" };
        match &self.inner.mode {
            RedisMode::Standalone { addr } => format!("redis {addr}{who}{tls}, keys {}*", self.inner.prefix),
            RedisMode::Cluster { addr } => format!("redis cluster {addr}{who}{tls}, keys {}*", self.inner.prefix),
            RedisMode::Sentinel { master_name, sentinel_addrs, db } => format!(
                "redis sentinel {master_name} via {} db {db}{who}{tls}, keys {}*",
                sentinel_addrs.join(","),
                self.inner.prefix
            ),
        }
    }
}

#[cfg(test)]
#[path = "redis_tests.rs"]
mod tests;
