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
use crate::bundle::StorageConfig;
use crate::bundle::{Bundle, Environment};
use crate::defects::Defect;
use crate::defects::Defects;
use crate::storage::redis as redis_storage;
use crate::storage::{MemoryStorage, Storage};
use crate::vmcp::Gateway;
use crate::vmcp::embedded::EmbeddedAuth;

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
        let defects = redis_storage::RedisDefects {
            skip_wait: self.defects.is_on(Defect::RedisSkipWait),
            probe_role: self.defects.is_on(Defect::RedisProbeRole),
            swallow_errors: self.defects.is_on(Defect::RedisSwallowErrors),
            no_reconnect: self.defects.is_on(Defect::RedisNoReconnect),
            take_keeps_record: self.defects.is_on(Defect::RedisTakeKeepsRecord),
        };
        let mut redis = redis.as_ref().clone();
        if self.defects.is_on(Defect::RedisIgnoreAclUser) {
            redis.username = None;
            redis.password.clear();
        }
        let storage = redis_storage::RedisStorage::connect(&redis, prefix, defects)
            .await
            .map_err(|e| TargetError::Start(format!("session storage (spec.authServerConfig.storage.redis): {e}")))?;
        self.log(format!("session storage: {}", storage.describe()));
        Ok(Arc::new(storage))
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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TargetError::Start(format!("HTTP client: {e}")))?;
        // Memory storage is the documented default: a restart starts from an empty store. Redis
        // keeps everything under the workload's prefix, so a restart finds it again.
        let storage = self.storage(&bundle, &runtime.auth_storage).await?;
        let auth = match runtime.auth_server {
            Some(config) => Some(
                AuthServer::start(config, storage, http.clone(), self.defects.clone())
                    .await
                    .map_err(|e| TargetError::Start(format!("embedded authorization server: {e}")))?,
            ),
            None => None,
        };
        let embedded = auth.clone().map(|a| a as Arc<dyn EmbeddedAuth>);
        let gateway = Gateway::new(runtime.vmcp, embedded, http, self.defects.clone())
            .map_err(|e| TargetError::Start(format!("vMCP gateway: {e}")))?;
        let sessions = gateway.cancellation_token();
        let mut router = gateway.router();
        if let Some(auth) = &auth {
            router = router.merge(auth.router());
        }
        let listener = match self.listener.take() {
            Some(l) => l,
            None => TcpListener::bind(self.addr)
                .await
                .map_err(|e| TargetError::Start(format!("re-bind {}: {e}", self.addr)))?,
        };
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

impl Drop for ReferenceTarget {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.sessions.cancel();
            running.stop.cancel();
            running.task.abort();
        }
    }
}
