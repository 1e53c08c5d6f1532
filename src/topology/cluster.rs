//! A small Redis Cluster for the docs' cluster mode (redis-session-storage.mdx#cluster-mode):
//! three masters without replicas, `cluster-enabled yes`, created with
//! `redis-cli --cluster create … --cluster-yes`. The docs point `clusterMode: true` at a managed
//! service's discovery endpoint and show no server configuration; this is the smallest cluster
//! Redis accepts (`--cluster create` needs three masters).
//!
//! Every node runs from the Redis 7 image of [`super::image`] with host networking on its own
//! 127.0.0.1 port (the cluster bus on port + 10000), so the addresses the nodes announce in
//! `CLUSTER SLOTS` are reachable. The nodes require a random password (`requirepass`, the
//! password-only `AUTH` of the docs' block, which sets no `usernameSecretRef`). The discovery
//! endpoint of the storage block is mapped to the first node; the mapping and every choice made
//! here are printed by [`RedisCluster::mapping_report`].

use std::time::{Duration, Instant};

use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::{START_ATTEMPTS, image};
use crate::storage::redis::{map_cluster_dns, unmap_cluster_dns};

/// Masters of the cluster (the minimum `redis-cli --cluster create` accepts).
pub const MASTERS: usize = 3;
/// Offset of the cluster bus port (Redis' default).
const BUS_OFFSET: u16 = 10000;

/// One at a time per process: the mapped names are the docs' example hosts.
static EXCLUSIVE: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

/// A running Redis Cluster. Dropping it removes every container (also one that failed half-way
/// through its start) and the DNS mappings.
pub struct RedisCluster {
    pub password: String,
    /// The client ports of the nodes.
    pub ports: Vec<u16>,
    /// `(what, here)` for every choice the docs leave open, printed with the mapping.
    pub choices: Vec<(String, String)>,
    mapped: Vec<String>,
    containers: Vec<ContainerAsync<GenericImage>>,
    _exclusive: tokio::sync::OwnedMutexGuard<()>,
}

/// A loopback port whose cluster bus port (+10000) is free too.
fn free_pair() -> Result<u16, String> {
    for _ in 0..200 {
        let port: u16 = rand::random_range(20000..32000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", port + BUS_OFFSET)).is_ok()
        {
            return Ok(port);
        }
    }
    Err("no free loopback port pair (p, p+10000) in 20000-32000".into())
}

impl RedisCluster {
    /// Starts the cluster; `names` (`host:port`, e.g. the `addr` of a documented storage block) are
    /// mapped to the first node, the discovery endpoint.
    pub async fn start(names: &[&str]) -> Result<Self, String> {
        let exclusive = tokio::time::timeout(Duration::from_secs(600), EXCLUSIVE.clone().lock_owned())
            .await
            .map_err(|_| "another Redis Cluster of this process was still in use after 10 minutes".to_string())?;
        let image = image::ensure().await?;
        let (image_name, image_tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
        let password = format!("conformance-{}", uuid::Uuid::new_v4().simple());
        let mut cluster = Self {
            password,
            ports: Vec::new(),
            choices: vec![
                ("image".into(), image.clone()),
                ("shape".into(), format!("{MASTERS} masters, no replicas")),
                ("auth".into(), "requirepass + masterauth, a random password per start".into()),
            ],
            mapped: Vec::new(),
            containers: Vec::new(),
            _exclusive: exclusive,
        };
        for index in 0..MASTERS {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let port = free_pair()?;
                let cmd: Vec<String> = [
                    "redis-server",
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "5000",
                    "--requirepass",
                    &cluster.password,
                    "--masterauth",
                    &cluster.password,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                let started = GenericImage::new(image_name, image_tag)
                    .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
                    .with_network("host")
                    .with_cmd(cmd)
                    .with_label("vmcp-conformance", "redis-cluster")
                    .with_startup_timeout(Duration::from_secs(30))
                    .start()
                    .await;
                match started {
                    Ok(c) => {
                        cluster.containers.push(c);
                        cluster.ports.push(port);
                        break;
                    }
                    Err(e) if attempt < START_ATTEMPTS => {
                        eprintln!("redis cluster: node {index} on port {port}: {e}; retrying")
                    }
                    Err(e) => return Err(format!("cannot start Redis Cluster node {index} from {image}: {e}")),
                }
            }
        }
        cluster.create().await?;
        cluster.wait_ok(Duration::from_secs(30)).await?;
        let endpoint = cluster.endpoint(0);
        for name in names {
            map_cluster_dns(name, vec![endpoint.clone()]);
            cluster.mapped.push(name.to_string());
        }
        eprintln!("{}", cluster.mapping_report());
        Ok(cluster)
    }

    /// `redis-cli --cluster create` from inside the first node's container (its `redis-cli`).
    async fn create(&self) -> Result<(), String> {
        let id = self.containers[0].id().to_string();
        let mut args: Vec<String> =
            ["exec", &id, "redis-cli", "-a", &self.password, "--no-auth-warning", "--cluster", "create"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.extend((0..self.ports.len()).map(|i| self.endpoint(i)));
        args.extend(["--cluster-replicas".into(), "0".into(), "--cluster-yes".into()]);
        let out = tokio::process::Command::new("docker")
            .args(&args)
            .output()
            .await
            .map_err(|e| format!("cannot run docker exec redis-cli --cluster create: {e}"))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !out.status.success() || !text.contains("All 16384 slots covered") {
            return Err(format!("redis-cli --cluster create failed ({}): {}", out.status, text.trim()));
        }
        Ok(())
    }

    /// Waits until every node reports `cluster_state:ok`.
    async fn wait_ok(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            let mut states = Vec::new();
            for i in 0..self.ports.len() {
                let state = match self.connect(i).await {
                    Ok(mut c) => redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async::<String>(&mut c)
                        .await
                        .map_err(|e| e.to_string())
                        .map(|info| {
                            info.lines()
                                .find_map(|l| l.trim().strip_prefix("cluster_state:").map(str::to_string))
                                .unwrap_or_default()
                        }),
                    Err(e) => Err(e),
                };
                states.push(state);
            }
            if states.iter().all(|s| s.as_deref() == Ok("ok")) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the Redis Cluster did not reach cluster_state:ok within {within:?}: {states:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `127.0.0.1:<port>` of node `index`.
    pub fn endpoint(&self, index: usize) -> String {
        format!("127.0.0.1:{}", self.ports[index])
    }

    pub fn mapping_report(&self) -> String {
        let mut out = String::from("redis cluster (redis-session-storage.mdx#cluster-mode)\n");
        for (i, port) in self.ports.iter().enumerate() {
            out.push_str(&format!("  node {i}: 127.0.0.1:{port} (bus {})\n", port + BUS_OFFSET));
        }
        for name in &self.mapped {
            out.push_str(&format!("  {name} -> {} (discovery endpoint)\n", self.endpoint(0)));
        }
        for (what, here) in &self.choices {
            out.push_str(&format!("  {what}: {here}\n"));
        }
        out
    }

    /// A plain (non-cluster) connection to node `index`, with the password.
    pub async fn connect(&self, index: usize) -> Result<redis::aio::MultiplexedConnection, String> {
        let info = redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp(
            "127.0.0.1".into(),
            self.ports[index],
        ))
        .map_err(|e| e.to_string())?
        .set_redis_settings(redis::RedisConnectionInfo::default().set_password(&self.password));
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| e.to_string())
    }

    /// Every key of every node with its hash slot (`CLUSTER KEYSLOT`) and the node holding it, sorted.
    pub async fn keys(&self) -> Result<Vec<(String, i64, usize)>, String> {
        let mut out = Vec::new();
        for i in 0..self.ports.len() {
            let mut conn = self.connect(i).await?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg("*")
                .query_async(&mut conn)
                .await
                .map_err(|e| format!("KEYS on node {i}: {e}"))?;
            for key in keys {
                let slot: i64 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| format!("CLUSTER KEYSLOT on node {i}: {e}"))?;
                out.push((key, slot, i));
            }
        }
        out.sort();
        Ok(out)
    }
}

impl Drop for RedisCluster {
    /// Removes the containers synchronously (see `Topology`'s `Drop`).
    fn drop(&mut self) {
        for name in &self.mapped {
            unmap_cluster_dns(name);
        }
        let ids: Vec<String> = self.containers.iter().map(|c| c.id().to_string()).collect();
        if ids.is_empty() {
            return;
        }
        match std::process::Command::new("docker").args(["rm", "--force", "--volumes"]).args(&ids).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "redis cluster: docker rm {} failed: {}",
                ids.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("redis cluster: cannot run docker rm for {}: {e}", ids.join(" ")),
        }
    }
}
