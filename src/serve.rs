//! `vmcp-conformance serve` and `validate`: the reference run from ToolHive's non-Kubernetes
//! files (`vmcp.yaml` + sibling `authserver-config.yaml`), as `thv vmcp serve` runs them, so that
//! the `command` target can be proven against a separate process.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::bundle::{StorageConfig, parse_go_duration};
use crate::cliconfig::model::{
    Aggregation, ConflictResolutionConfig, IncomingAuth, OutgoingAuth, StaticBackend, VmcpFile,
};
use crate::cliconfig::{self, CliConfigError, Loaded};
use crate::defects::{Defect, Defects};
use crate::storage::{MemoryStorage, Storage};
use crate::target::reference::{connect_redis, serve_runtime_ttl};

/// What `serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub config: Option<PathBuf>,
    /// Quick mode: the group whose workloads are served (anonymous, loopback only).
    pub group: Option<String>,
    /// Where quick mode finds the group's workloads (the reference has no local ToolHive runtime).
    pub groups_file: Option<PathBuf>,
    pub host: String,
    pub port: u16,
    /// `--session-ttl` as given (a Go duration).
    pub session_ttl: String,
    pub defects: Defects,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(#[from] CliConfigError),
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("{0}")]
    Start(String),
}

/// The bind addresses quick mode accepts (local-cli.mdx#quick-mode).
pub fn is_loopback_bind(host: &str) -> bool {
    host.is_empty() || host == "localhost" || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Quick mode's in-memory config: the group's workloads, anonymous, inline unauthenticated, prefixed.
fn quick_mode(group: &str, groups_file: Option<&Path>) -> Result<Loaded, ServeError> {
    let flag = |message: String| ServeError::Flag { flag: "--group", message };
    let Some(path) = groups_file else {
        return Err(flag(format!(
            "quick mode needs the workloads of group {group:?}: the reference has no local ToolHive runtime, so \
             give them with --groups FILE (YAML: group name -> list of {{name, url, transport}})"
        )));
    };
    let text = std::fs::read_to_string(path).map_err(|e| flag(format!("cannot read {}: {e}", path.display())))?;
    let groups: BTreeMap<String, Vec<StaticBackend>> =
        serde_saphyr::from_str(&text).map_err(|e| flag(format!("{}: {e}", path.display())))?;
    let backends = groups
        .get(group)
        .cloned()
        .ok_or_else(|| flag(format!("no group {group:?} in {} (groups: {:?})", path.display(), groups.keys())))?;
    let file = VmcpFile {
        name: Some(format!("{group}-vmcp")),
        group_ref: Some(group.to_string()),
        backends,
        incoming_auth: Some(IncomingAuth { type_: "anonymous".into(), ..Default::default() }),
        outgoing_auth: Some(OutgoingAuth { source: "inline".into(), ..Default::default() }),
        aggregation: Some(Aggregation {
            conflict_resolution: "prefix".into(),
            conflict_resolution_config: Some(ConflictResolutionConfig {
                prefix_format: Some("{workload}_".into()),
                priority_order: Vec::new(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = serde_saphyr::to_string(&file).map_err(|e| ServeError::Start(e.to_string()))?;
    let file = cliconfig::parse_vmcp(&text, &process_env).map_err(|e| flag(format!("group {group:?}: {e}")))?;
    let unsupported = cliconfig::load::unsupported(&file);
    if !unsupported.is_empty() {
        return Err(CliConfigError::Unsupported { file: path.display().to_string(), features: unsupported }.into());
    }
    Ok(cliconfig::load::from_files(&file, None, Path::new("."), &process_env)?)
}

/// Loads the configuration, starts the reference, prints one readiness line, and serves until
/// SIGTERM or SIGINT.
pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    apply_cluster_dns()?;
    let ttl = parse_go_duration(&options.session_ttl)
        .map_err(|e| ServeError::Flag { flag: "--session-ttl", message: format!("{:?}: {e}", options.session_ttl) })?;
    if ttl < Duration::from_secs(1) {
        return Err(ServeError::Flag { flag: "--session-ttl", message: "must be at least 1s".into() });
    }
    let group_wins = options.defects.is_on(Defect::GroupWinsOverConfig) && options.group.is_some();
    let loaded = match (&options.config, &options.group) {
        (Some(config), group) if !group_wins => {
            if let Some(g) = group {
                eprintln!("vmcp-conformance serve: --config takes precedence; --group {g:?} is ignored");
            }
            cliconfig::load(config, &process_env)?
        }
        (_, Some(group)) => {
            if !is_loopback_bind(&options.host) && !options.defects.is_on(Defect::QuickModeAnyHost) {
                return Err(ServeError::Flag {
                    flag: "--host",
                    message: format!(
                        "{:?} is not a loopback address: quick mode (--group) serves anonymously and binds only \
                         127.0.0.1, ::1 or localhost; use --config with client authentication to bind elsewhere",
                        options.host
                    ),
                });
            }
            quick_mode(group, options.groups_file.as_deref())?
        }
        _ => {
            return Err(ServeError::Flag {
                flag: "--config",
                message: "either --config or --group is required".into(),
            });
        }
    };
    let mut loaded = loaded;
    if options.defects.is_on(Defect::ServeIgnoresIncomingAuth) {
        loaded.runtime.vmcp.incoming = crate::vmcp::config::IncomingAuthConfig::Anonymous;
    }
    let storage: Arc<dyn Storage> = match &loaded.runtime.auth_storage {
        StorageConfig::Memory => Arc::new(MemoryStorage::new()),
        StorageConfig::Redis(redis) => connect_redis(redis, loaded.redis_key_prefix.clone(), &options.defects)
            .await
            .map_err(|e| ServeError::Start(e.to_string()))?,
    };
    let host = if options.host.is_empty() { "127.0.0.1" } else { options.host.as_str() };
    let listener = tokio::net::TcpListener::bind((host, options.port)).await.map_err(|e| ServeError::Flag {
        flag: "--port",
        message: format!("cannot listen on {host}:{}: {e}", options.port),
    })?;
    let addr = listener.local_addr().map_err(|e| ServeError::Start(e.to_string()))?;
    let name = loaded.runtime.vmcp.name.clone();
    let with_as = loaded.runtime.auth_server.is_some();
    let session_store = match &loaded.session_storage {
        None => None,
        Some(config) => {
            let store = crate::storage::session_store::RedisSessionStore::connect(config.clone(), false, false)
                .await
                .map_err(|e| ServeError::Start(format!("vmcp.yaml: sessionStorage: {e}")))?;
            Some(Arc::new(store) as Arc<dyn rmcp::transport::streamable_http_server::session::store::SessionStore>)
        }
    };
    let ttl = (!options.defects.is_on(Defect::SessionTtlIgnored)).then_some(ttl);
    let served = serve_runtime_ttl(loaded.runtime, storage, listener, options.defects.clone(), session_store, ttl)
        .await
        .map_err(|e| ServeError::Start(e.to_string()))?;
    println!(
        "vmcp-conformance serve: {name} ready on http://{addr}/mcp (authorization server: {})",
        if with_as { "embedded" } else { "none" }
    );
    wait_for_signal().await;
    served.shutdown().await;
    eprintln!("vmcp-conformance serve: stopped");
    Ok(())
}

/// The environment variable carrying the harness's cluster DNS mapping (JSON: name -> endpoints).
pub const CLUSTER_DNS_ENV: &str = "VMCP_CONFORMANCE_CLUSTER_DNS";

/// Applies the harness's mapping of cluster DNS names (`redis-0.redis.redis.svc.cluster.local`) to
/// reachable endpoints, as the in-process reference gets it: Sentinel announces such names.
fn apply_cluster_dns() -> Result<(), ServeError> {
    let Some(text) = process_env(CLUSTER_DNS_ENV).filter(|t| !t.is_empty()) else { return Ok(()) };
    let map: BTreeMap<String, Vec<String>> = serde_json::from_str(&text)
        .map_err(|e| ServeError::Start(format!("{CLUSTER_DNS_ENV}: not a JSON map of name -> endpoints: {e}")))?;
    for (name, endpoints) in map {
        eprintln!("vmcp-conformance serve: cluster DNS {name} -> {}", endpoints.join(", "));
        crate::storage::redis::map_cluster_dns(&name, endpoints);
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `validate`: the vMCP file only (ToolHive's `validate` ignores `authserver-config.yaml`).
/// Returns notes about valid sections `serve` would refuse.
pub fn validate(config: &Path, defects: &Defects) -> Result<Vec<String>, CliConfigError> {
    let text = std::fs::read_to_string(config).map_err(|e| CliConfigError::Io {
        file: cliconfig::VMCP_FILE.into(),
        message: format!("cannot read {}: {e}", config.display()),
    })?;
    let file = if defects.is_on(Defect::ValidateSkipRequired) {
        cliconfig::load::decode_vmcp(&text)?
    } else {
        cliconfig::parse_vmcp(&text, &process_env)?
    };
    if defects.is_on(Defect::ValidateRefusesSse)
        && let Some(i) = file.backends.iter().position(|b| b.transport == "sse")
    {
        return Err(CliConfigError::Field {
            file: cliconfig::VMCP_FILE.into(),
            path: format!("backends[{i}].transport"),
            message: "sse is not supported".into(),
        });
    }
    Ok(cliconfig::load::unsupported(&file))
}
