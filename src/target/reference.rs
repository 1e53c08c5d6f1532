//! The reference target: this crate's own vMCP and embedded authorization server, in process,
//! on a loopback port chosen before the manifests are written.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Deployed, Deployment, Target, TargetError};
use crate::authserver::AuthServer;
use crate::bundle::{Bundle, Environment};
use crate::bundle::{RedisConfig, RuntimeConfig, StorageConfig};
use crate::defects::Defect;
use crate::defects::Defects;
use crate::storage::redis as redis_storage;
use crate::storage::{MemoryStorage, Storage};
use crate::vmcp::Gateway;
use crate::vmcp::embedded::EmbeddedAuth;
use rmcp::transport::streamable_http_server::session::store::SessionStore;

/// How long a stopping server may take to finish in-flight requests before it is aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub struct ReferenceTarget {
    addr: SocketAddr,
    /// Bound in [`ReferenceTarget::bind`] so the port is known (and held) before `start`.
    listener: Option<TcpListener>,
    defects: Defects,
    deployment: Option<Deployment>,
    running: Option<Running>,
    logs: Arc<Mutex<Vec<String>>>,
    /// Only with the `memory-survives-restart` defect: one memory store for every start.
    kept_memory: Option<Arc<MemoryStorage>>,
}

struct Running {
    stop: CancellationToken,
    /// The gateway's own token: cancelling it ends the open MCP streams, so a graceful
    /// shutdown does not wait on clients.
    sessions: CancellationToken,
    task: JoinHandle<()>,
}

impl ReferenceTarget {
    /// Reserves a loopback port. `defects` are test-only departures from the docs (empty in
    /// every normal run).
    pub async fn bind(defects: Defects) -> Result<Self, TargetError> {
        let listener =
            TcpListener::bind("127.0.0.1:0").await.map_err(|e| TargetError::Start(format!("bind 127.0.0.1:0: {e}")))?;
        let addr = listener.local_addr().map_err(|e| TargetError::Start(e.to_string()))?;
        Ok(Self {
            addr,
            listener: Some(listener),
            defects,
            deployment: None,
            running: None,
            logs: Arc::default(),
            kept_memory: None,
        })
    }

    fn log(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::debug!(target: "reference", "{line}");
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    /// The embedded authorization server's storage (`spec.authServerConfig.storage`).
    async fn storage(&mut self, bundle: &Bundle, config: &StorageConfig) -> Result<Arc<dyn Storage>, TargetError> {
        let redis = match config {
            StorageConfig::Redis(redis) if !self.defects.is_on(Defect::IgnoreRedisStorage) => redis,
            _ if self.defects.is_on(Defect::MemorySurvivesRestart) => {
                return Ok(self.kept_memory.get_or_insert_with(|| Arc::new(MemoryStorage::new())).clone());
            }
            _ => return Ok(Arc::new(MemoryStorage::new())),
        };
        let prefix = match bundle.virtual_mcp_server() {
            _ if self.defects.is_on(Defect::RedisKeysOutsidePrefix) => "thv:auth:".to_string(),
            Some(v) => redis_storage::key_prefix(
                v.metadata.namespace.as_deref().unwrap_or(crate::bundle::DEFAULT_NAMESPACE),
                v.metadata.name.as_deref().unwrap_or_default(),
            ),
            None => return Err(TargetError::Manifests("no VirtualMCPServer".into())),
        };
        let storage = connect_redis(redis, prefix, &self.defects).await?;
        self.log(format!("session storage: {}", storage.describe()));
        Ok(storage)
    }

    /// The VirtualMCPServer's `spec.sessionStorage` (horizontal scaling) when it names Redis.
    async fn session_store(&mut self, bundle: &Bundle) -> Result<Option<Arc<dyn SessionStore>>, TargetError> {
        use crate::storage::session_store::RedisSessionStore;
        if self.defects.is_on(Defect::IgnoreSessionStore) {
            return Ok(None);
        }
        let Some(config) = bundle.session_storage().map_err(TargetError::Manifests)? else { return Ok(None) };
        let store = RedisSessionStore::connect(
            config,
            self.defects.is_on(Defect::IgnoreSessionKeyPrefix),
            self.defects.is_on(Defect::SessionStoreProcessCache),
        )
        .await
        .map_err(TargetError::Start)?;
        self.log(format!("MCP session storage: {}", store.describe()));
        Ok(Some(Arc::new(store)))
    }

    /// Loads the bundle, applies the admission and reconcile rules, and when they pass starts
    /// the authorization server and the gateway on the reserved port.
    async fn launch(&mut self, deployment: &Deployment) -> Result<Deployed, TargetError> {
        let bundle = Bundle::from_yaml(&deployment.manifests).map_err(|e| TargetError::Manifests(e.to_string()))?;
        let reconciled = bundle
            .reconcile(&Environment { backend_urls: deployment.backend_urls.clone(), defects: self.defects.clone() });
        for condition in &reconciled.conditions {
            self.log(format!("condition {condition}"));
        }
        let Some(runtime) = reconciled.runtime else {
            return Ok(Deployed { ready: false, conditions: reconciled.conditions });
        };
        // Memory storage is the documented default: a restart starts from an empty store. Redis
        // keeps everything under the workload's prefix, so a restart finds it again.
        let storage = self.storage(&bundle, &runtime.auth_storage).await?;
        let listener = match self.listener.take() {
            Some(l) => l,
            None => TcpListener::bind(self.addr)
                .await
                .map_err(|e| TargetError::Start(format!("re-bind {}: {e}", self.addr)))?,
        };
        for warning in crate::vmcp::startup_warnings(&runtime.vmcp, &self.defects) {
            self.log(format!("warning: {warning}"));
        }
        let session_store = self.session_store(&bundle).await?;
        let Served { stop, sessions, task } =
            serve_runtime_with(runtime, storage, listener, self.defects.clone(), session_store).await?;
        self.running = Some(Running { stop, sessions, task });
        self.log(format!("serving on {}", self.base_url()));
        Ok(Deployed { ready: true, conditions: reconciled.conditions })
    }
}

#[async_trait]
impl Target for ReferenceTarget {
    fn describe(&self) -> String {
        let defects: Vec<String> = self.defects.iter().map(|d| d.to_string()).collect();
        if defects.is_empty() {
            "reference (in-process)".into()
        } else {
            format!("reference (in-process, defects: {})", defects.join(", "))
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn start(&mut self, deployment: Deployment) -> Result<Deployed, TargetError> {
        self.stop().await;
        let deployed = self.launch(&deployment).await;
        self.deployment = Some(deployment);
        deployed
    }

    async fn restart(&mut self) -> Result<Deployed, TargetError> {
        let deployment = self.deployment.clone().ok_or(TargetError::NotRunning)?;
        self.stop().await;
        self.launch(&deployment).await
    }

    async fn stop(&mut self) {
        if let Some(Running { stop, sessions, mut task }) = self.running.take() {
            sessions.cancel();
            stop.cancel();
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                // Streaming connections can hold a graceful shutdown open: cut them.
                task.abort();
                let _ = task.await;
            }
            self.log("stopped");
        }
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Connects the embedded authorization server's Redis storage under `prefix`.
pub async fn connect_redis(
    redis: &RedisConfig,
    prefix: String,
    defects: &Defects,
) -> Result<Arc<dyn Storage>, TargetError> {
    let redis_defects = redis_storage::RedisDefects {
        skip_wait: defects.is_on(Defect::RedisSkipWait),
        probe_role: defects.is_on(Defect::RedisProbeRole),
        swallow_errors: defects.is_on(Defect::RedisSwallowErrors),
        no_reconnect: defects.is_on(Defect::RedisNoReconnect),
        take_keeps_record: defects.is_on(Defect::RedisTakeKeepsRecord),
        tls_accept_any: defects.is_on(Defect::RedisTlsAcceptAny),
        sentinel_plaintext: defects.is_on(Defect::RedisSentinelPlaintext),
        ignore_sentinel_tls: defects.is_on(Defect::RedisIgnoreSentinelTls),
        ignore_insecure_skip_verify: defects.is_on(Defect::RedisIgnoreInsecureSkipVerify),
        cluster_ignore_hash_tag: defects.is_on(Defect::RedisClusterIgnoreHashTag),
    };
    let mut redis = redis.clone();
    if defects.is_on(Defect::RedisIgnoreAclUser) {
        redis.username = None;
        redis.password.clear();
    }
    let storage = redis_storage::RedisStorage::connect(&redis, prefix, redis_defects)
        .await
        .map_err(|e| TargetError::Start(format!("session storage (spec.authServerConfig.storage.redis): {e}")))?;
    Ok(Arc::new(storage))
}

/// A running reference authorization server + gateway (see [`serve_runtime`]).
pub struct Served {
    stop: CancellationToken,
    sessions: CancellationToken,
    task: JoinHandle<()>,
}

impl Served {
    /// Ends the open MCP streams, then stops the listener (aborting it after a grace period).
    pub async fn shutdown(self) {
        let Served { stop, sessions, mut task } = self;
        sessions.cancel();
        stop.cancel();
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Starts the authorization server (when configured) and the gateway from `runtime` on
/// `listener`: what the reference target does after reconciling a bundle, and what
/// `vmcp-conformance serve` does after loading ToolHive's files.
pub async fn serve_runtime(
    runtime: RuntimeConfig,
    storage: Arc<dyn Storage>,
    listener: TcpListener,
    defects: Defects,
) -> Result<Served, TargetError> {
    serve_runtime_with(runtime, storage, listener, defects, None).await
}

/// [`serve_runtime`], with the MCP sessions also kept in `session_store` (`spec.sessionStorage`).
pub async fn serve_runtime_with(
    runtime: RuntimeConfig,
    storage: Arc<dyn Storage>,
    listener: TcpListener,
    defects: Defects,
    session_store: Option<Arc<dyn SessionStore>>,
) -> Result<Served, TargetError> {
    serve_runtime_ttl(runtime, storage, listener, defects, session_store, None).await
}

/// [`serve_runtime_with`], closing MCP sessions idle for `session_ttl` (`serve --session-ttl`).
pub async fn serve_runtime_ttl(
    runtime: RuntimeConfig,
    storage: Arc<dyn Storage>,
    listener: TcpListener,
    defects: Defects,
    session_store: Option<Arc<dyn SessionStore>>,
    session_ttl: Option<Duration>,
) -> Result<Served, TargetError> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| TargetError::Start(format!("HTTP client: {e}")))?;
    let auth = match runtime.auth_server {
        Some(config) => Some(
            AuthServer::start(config, storage, http.clone(), defects.clone())
                .await
                .map_err(|e| TargetError::Start(format!("embedded authorization server: {e}")))?,
        ),
        None => None,
    };
    let embedded = auth.clone().map(|a| a as Arc<dyn EmbeddedAuth>);
    let mut gateway = Gateway::new(runtime.vmcp, embedded, http, defects)
        .map_err(|e| TargetError::Start(format!("vMCP gateway: {e}")))?;
    if let Some(store) = session_store {
        gateway = gateway.with_session_store(store);
    }
    if let Some(ttl) = session_ttl {
        gateway = gateway.with_session_ttl(ttl);
    }
    let sessions = gateway.cancellation_token();
    let mut router = gateway.router();
    if let Some(auth) = &auth {
        router = router.merge(auth.router());
    }
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    let task = tokio::spawn(async move {
        // Small request/response exchanges: without TCP_NODELAY, Nagle's algorithm and delayed
        // ACKs add ~40 ms to every call.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = serve.await {
            tracing::warn!("reference target stopped with an error: {e}");
        }
    });
    Ok(Served { stop, sessions, task })
}

impl Drop for ReferenceTarget {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.sessions.cancel();
            running.stop.cancel();
            running.task.abort();
        }
    }
}
