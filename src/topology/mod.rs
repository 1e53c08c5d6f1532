//! The documented Redis Sentinel topology, started with testcontainers.
//!
//! The manifests are read from the docs at run time (guides-k8s/redis-session-storage.mdx, the
//! blocks titled "redis-sentinel.yaml - …") and decoded with k8s-openapi types: the `users.acl`
//! line of the `redis-acl` Secret, the master StatefulSet's command and replica count, the
//! `sentinel.conf` of the ConfigMap and the Sentinel StatefulSet's command and replica count.
//! What the docs lack (replicas for failover) is in manifests/redis-sentinel/.
//!
//! Every container runs with host networking on its own 127.0.0.1 port, so the addresses Sentinel
//! announces are reachable and nothing leaves loopback. The only departures from the documented
//! configuration are the network mapping, printed by [`Topology::mapping_report`]: each pod's
//! cluster DNS name resolves to 127.0.0.1 (`--add-host` in the containers, and
//! [`crate::storage::redis::map_cluster_dns`] for the reference), each pod listens on its own
//! port (`--port` / `port`, the monitor line's port follows), and `--bind 0.0.0.0` (a pod's own
//! network namespace) becomes `--bind 127.0.0.1` (the host's).

pub mod cluster;
pub mod image;
pub mod standalone;
pub mod tls;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use testcontainers::core::{Host, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::docs;
use crate::storage::redis::{map_cluster_dns, unmap_cluster_dns};
use tls::TopologyTls;

/// The docs page holding the manifests.
pub const PAGE: &str = "guides-k8s/redis-session-storage.mdx";
const MASTER_BLOCK: &str = "redis-sentinel.yaml - Redis master and ACL";
const SENTINEL_BLOCK: &str = "redis-sentinel.yaml - Sentinel cluster (append to same file)";
/// The placeholder the docs use for the ACL password.
pub const PASSWORD_PLACEHOLDER: &str = "YOUR_REDIS_ACL_PASSWORD";
/// Cluster DNS of the documented Services.
pub const SENTINEL_SERVICE: &str = "redis-sentinel.redis.svc.cluster.local";

/// One topology at a time per process: the cluster DNS names are the documented ones.
static EXCLUSIVE: LazyLock<Arc<tokio::sync::Mutex<()>>> = LazyLock::new(Default::default);

/// What the harness takes from the documented manifests.
#[derive(Debug, Clone)]
pub struct RedisManifests {
    /// `page:line (title)` of each block read.
    pub origins: Vec<String>,
    pub image: String,
    /// The `users.acl` entry of the `redis-acl` Secret, with its password placeholder.
    pub users_acl: String,
    pub server_command: Vec<String>,
    pub server_replicas: i32,
    /// `sentinel.conf` of the `redis-sentinel-config` ConfigMap.
    pub sentinel_conf: String,
    pub sentinel_command: Vec<String>,
    pub sentinel_replicas: i32,
}

fn decode<T: serde::de::DeserializeOwned>(doc: &serde_json::Value, what: &str) -> Result<T, String> {
    serde_json::from_value(doc.clone()).map_err(|e| format!("{what}: {e}"))
}

impl RedisManifests {
    /// Reads the documented manifests from the docs snapshot.
    pub fn documented() -> Result<Self, String> {
        let (_, text) = docs::read_page(PAGE)?;
        let blocks = docs::extract_blocks(&text);
        let mut docs_found: Vec<serde_json::Value> = Vec::new();
        let mut origins = Vec::new();
        for title in [MASTER_BLOCK, SENTINEL_BLOCK] {
            let block = blocks
                .iter()
                .find(|b| b.title.as_deref() == Some(title))
                .ok_or_else(|| format!("{PAGE} has no block titled {title:?}"))?;
            origins.push(format!("{PAGE}:{} ({title})", block.line));
            let parsed: Vec<serde_json::Value> = serde_saphyr::from_multiple(&block.content)
                .map_err(|e| format!("{PAGE}:{} is not valid YAML: {e}", block.line))?;
            docs_found.extend(parsed.into_iter().filter(|d| !d.is_null()));
        }
        let find = |kind: &str, name: &str| {
            docs_found
                .iter()
                .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
                .ok_or_else(|| format!("{PAGE}: no {kind} {name}"))
        };
        let secret: Secret = decode(find("Secret", "redis-acl")?, "Secret redis-acl")?;
        let users_acl = secret
            .string_data
            .as_ref()
            .and_then(|d| d.get("users.acl"))
            .cloned()
            .ok_or("Secret redis-acl has no stringData users.acl")?;
        let config: ConfigMap = decode(find("ConfigMap", "redis-sentinel-config")?, "ConfigMap redis-sentinel-config")?;
        let sentinel_conf = config
            .data
            .as_ref()
            .and_then(|d| d.get("sentinel.conf"))
            .cloned()
            .ok_or("ConfigMap redis-sentinel-config has no sentinel.conf")?;
        let container = |set: &StatefulSet, name: &str| -> Result<(Vec<String>, String, i32), String> {
            let spec = set.spec.as_ref().ok_or("StatefulSet without spec")?;
            let pod = spec.template.spec.as_ref().ok_or("StatefulSet without pod spec")?;
            let c = pod.containers.iter().find(|c| c.name == name).ok_or_else(|| format!("no container {name}"))?;
            Ok((c.command.clone().unwrap_or_default(), c.image.clone().unwrap_or_default(), spec.replicas.unwrap_or(1)))
        };
        let redis: StatefulSet = decode(find("StatefulSet", "redis")?, "StatefulSet redis")?;
        let sentinel: StatefulSet = decode(find("StatefulSet", "redis-sentinel")?, "StatefulSet redis-sentinel")?;
        let (server_command, image, server_replicas) = container(&redis, "redis")?;
        let (sentinel_command, _, sentinel_replicas) = container(&sentinel, "sentinel")?;
        Ok(Self {
            origins,
            image,
            users_acl,
            server_command,
            server_replicas,
            sentinel_conf,
            sentinel_command,
            sentinel_replicas,
        })
    }

    /// The quorum of the documented `sentinel monitor` line.
    pub fn quorum(&self) -> Option<u32> {
        self.sentinel_conf
            .lines()
            .find_map(|l| l.trim().strip_prefix("sentinel monitor "))
            .and_then(|rest| rest.split_whitespace().nth(3))
            .and_then(|q| q.parse().ok())
    }

    /// `(master name, host, port)` of the documented `sentinel monitor` line.
    pub fn monitor(&self) -> Option<(String, String, u16)> {
        let rest = self.sentinel_conf.lines().find_map(|l| l.trim().strip_prefix("sentinel monitor "))?;
        let mut parts = rest.split_whitespace();
        Some((parts.next()?.into(), parts.next()?.into(), parts.next()?.parse().ok()?))
    }
}

/// The replicas the docs ask for without showing them (manifests/redis-sentinel/replicas.yaml).
pub fn replication_manifest() -> Result<(i32, Vec<String>), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/redis-sentinel/replicas.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let set: StatefulSet = decode(&doc, "manifests/redis-sentinel/replicas.yaml")?;
    let spec = set.spec.ok_or("replicas.yaml: no spec")?;
    let args = spec
        .template
        .spec
        .and_then(|p| p.containers.into_iter().find(|c| c.name == "redis"))
        .and_then(|c| c.args)
        .unwrap_or_default();
    Ok((spec.replicas.unwrap_or(1), args))
}

/// The placeholder of the docs' shared-instance ACL line.
pub const SCALING_PASSWORD_PLACEHOLDER: &str = "YOUR_SCALING_PASSWORD";
/// The Sentinel ACL user of the default-user-off variant (as in Redis' Sentinel docs).
pub const SENTINEL_USER: &str = "sentinel-user";
/// The harness's inspection user of the default-user-off variant.
pub const HARNESS_USER: &str = "conformance-harness";

/// Variations of the documented topology.
#[derive(Default)]
pub struct Options {
    /// Serve TLS only, with certificates from these CAs.
    pub tls: Option<TopologyTls>,
    /// The docs' production advice: `user default off`, Sentinel authenticating to Redis.
    pub default_user_off: bool,
    /// The docs' shared instance (#acl-configuration-for-a-shared-instance): the `default` user
    /// gets a password and only the scaling key patterns; Sentinel authenticates as for
    /// `default_user_off`.
    pub shared_scaling: bool,
}

/// Which topology to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// As documented: one master, three sentinels.
    Documented,
    /// One master, two replicas, three sentinels (quorum 2), for failover.
    WithReplicas,
}

/// One running pod.
pub struct Node {
    /// `redis-0`, `redis-sentinel-1`, …
    pub pod: String,
    pub dns: String,
    pub port: u16,
    pub sentinel: bool,
    container: ContainerAsync<GenericImage>,
}

impl Node {
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A running topology. Dropping it removes the containers and the DNS mapping.
pub struct Topology {
    pub manifests: RedisManifests,
    pub shape: Shape,
    /// The ACL password substituted for the docs' placeholder.
    pub acl_password: String,
    pub master_name: String,
    pub nodes: Vec<Node>,
    /// `(what, documented, here)` for every change made to the documented configuration.
    pub changes: Vec<(String, String, String)>,
    /// TLS-only pods (plaintext ports closed) when set.
    pub tls: Option<TopologyTls>,
    /// With the default user off or restricted: the password of the harness's inspection user.
    admin: Option<String>,
    /// The shared instance's `default` user password (the docs' `YOUR_SCALING_PASSWORD`).
    pub scaling_password: Option<String>,
    mapped: Vec<String>,
    _exclusive: tokio::sync::OwnedMutexGuard<()>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.mapping_report())
    }
}

/// A free loopback port below Linux's ephemeral range (32768+), so that client sockets of this
/// and other processes do not take it between the check and the container's bind. Several
/// processes may pick the same one at once: callers retry a start that fails on `bind`.
fn free_port() -> Result<u16, String> {
    for _ in 0..200 {
        let port: u16 = rand::random_range(20000..32000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free loopback port in 20000-32000".into())
}

/// Start attempts per pod (a port taken by another process in the meantime is retried).
const START_ATTEMPTS: usize = 4;

fn pod_dns(set: &str, index: usize) -> String {
    format!("{set}-{index}.{set}.redis.svc.cluster.local")
}

impl Topology {
    /// Starts the topology (waits for any other topology of this process to be dropped first).
    pub async fn start(shape: Shape) -> Result<Self, String> {
        Self::start_with(shape, Options::default()).await
    }

    /// Starts the topology with the variations of `options`.
    pub async fn start_with(shape: Shape, options: Options) -> Result<Self, String> {
        let Options { tls, default_user_off, shared_scaling } = options;
        if (default_user_off || shared_scaling) && shape != Shape::Documented {
            return Err("the default-user-off variant is built on the documented topology only".into());
        }
        let exclusive =
            tokio::time::timeout(Duration::from_secs(600), EXCLUSIVE.clone().lock_owned()).await.map_err(|_| {
                "another Redis topology of this process was still in use after 10 minutes (topologies share the \
                 documented cluster DNS names, so one runs at a time)"
                    .to_string()
            })?;
        let manifests = RedisManifests::documented()?;
        let image = image::ensure().await?;
        let (image_name, image_tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
        let (master_name, master_host, master_port) =
            manifests.monitor().ok_or("sentinel.conf has no `sentinel monitor` line")?;
        let (server_count, replica_args) = match shape {
            Shape::Documented => (manifests.server_replicas, Vec::new()),
            Shape::WithReplicas => replication_manifest()?,
        };
        let acl_password = format!("conformance-{}", uuid::Uuid::new_v4().simple());
        let mut users_acl = manifests.users_acl.replace(PASSWORD_PLACEHOLDER, &acl_password);
        let mut changes = vec![(
            "users.acl password".to_string(),
            PASSWORD_PLACEHOLDER.to_string(),
            "a random password per topology".to_string(),
        )];
        let admin_password = format!("conformance-{}", uuid::Uuid::new_v4().simple());
        let mut sentinel_auth = String::new();
        let mut scaling_password = None;
        if shared_scaling {
            let (_, text) = docs::read_page(PAGE)?;
            let line = docs::extract_blocks(&text)
                .into_iter()
                .find_map(|b| b.content.lines().find(|l| l.starts_with("user default on")).map(str::to_string))
                .ok_or_else(|| format!("{PAGE} has no `user default on` ACL line"))?;
            let password = format!("conformance-{}", uuid::Uuid::new_v4().simple());
            users_acl.push_str(&format!("\n{}", line.replace(SCALING_PASSWORD_PLACEHOLDER, &password)));
            changes.push((
                "users.acl".into(),
                "toolhive-auth only".into(),
                format!("+ {line} (the docs' shared instance)"),
            ));
            scaling_password = Some(password);
        }
        if default_user_off || shared_scaling {
            let default_line = if default_user_off { "\nuser default off" } else { "" };
            // The docs' production advice (redis-session-storage.mdx#deploy-redis-sentinel, the
            // warning): `user default off`, and Sentinel authenticating with `sentinel auth-user` /
            // `sentinel auth-pass`. The docs name no user for Sentinel: the harness adds the one
            // Redis' Sentinel docs define, and an inspection user for its own checks.
            users_acl.push_str(&format!(
                "{default_line}\nuser {SENTINEL_USER} on >{admin_password} allchannels +multi +slaveof +ping +exec \
                 +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill\n\
                 user {HARNESS_USER} on >{admin_password} ~* &* +@all\n"
            ));
            sentinel_auth = format!(
                "\nsentinel auth-user {master_name} {SENTINEL_USER}\nsentinel auth-pass {master_name} {admin_password}\n"
            );
            changes.push((
                "users.acl".into(),
                "toolhive-auth only".into(),
                format!(
                    "{}+ user {SENTINEL_USER} (Redis' Sentinel ACL), + user {HARNESS_USER} (inspection)",
                    if default_user_off { "+ user default off, " } else { "" }
                ),
            ));
            changes.push((
                "sentinel.conf".into(),
                "no auth".into(),
                format!("+ sentinel auth-user {master_name} {SENTINEL_USER} / sentinel auth-pass"),
            ));
        }
        if image != manifests.image {
            changes.push(("image".into(), manifests.image.clone(), image.clone()));
        }
        if let Some(t) = &tls {
            changes.push((
                "TLS (the docs leave the server side to Redis' TLS docs)".into(),
                "plaintext ports".into(),
                format!(
                    "tls-port only (port 0), tls-replication yes; Redis certificates from {:?}, Sentinel certificates from {:?}",
                    t.redis_ca.name,
                    t.sentinel_ca().name
                ),
            ));
        }
        // Certificate, key and trusted CAs of a pod, as files, and the server options naming them.
        let tls_files = |sentinel: bool, dns: &str| -> Result<Vec<(&'static str, Vec<u8>)>, String> {
            let Some(t) = &tls else { return Ok(Vec::new()) };
            let cert = t.ca_for(sentinel).issue(&["127.0.0.1".into(), "localhost".into(), dns.to_string()])?;
            Ok(vec![
                ("/tls/server.crt", cert.cert_pem.into_bytes()),
                ("/tls/server.key", cert.key_pem.into_bytes()),
                ("/tls/ca.crt", t.bundle().into_bytes()),
            ])
        };
        const TLS_OPTIONS: [(&str, &str); 5] = [
            ("tls-cert-file", "/tls/server.crt"),
            ("tls-key-file", "/tls/server.key"),
            ("tls-ca-cert-file", "/tls/ca.crt"),
            ("tls-auth-clients", "no"),
            ("tls-replication", "yes"),
        ];
        let mut server_ports: Vec<u16> = Vec::new();
        let hosts: Vec<String> = (0..server_count as usize)
            .map(|i| pod_dns("redis", i))
            .chain((0..manifests.sentinel_replicas as usize).map(|i| pod_dns("redis-sentinel", i)))
            .collect();
        let request = |cmd: Vec<String>, files: Vec<(&str, Vec<u8>)>, ready: &str| {
            let mut r = GenericImage::new(image_name, image_tag)
                .with_wait_for(WaitFor::message_on_stdout(ready))
                .with_network("host")
                .with_cmd(cmd)
                .with_label("vmcp-conformance", "redis-topology")
                .with_startup_timeout(Duration::from_secs(30));
            for host in &hosts {
                r = r.with_host(host.clone(), Host::Addr(std::net::Ipv4Addr::LOCALHOST.into()));
            }
            for (path, bytes) in files {
                r = r.with_copy_to(path.to_string(), bytes);
            }
            r
        };
        let mut nodes = Vec::new();
        for i in 0..server_count as usize {
            let mut cmd = manifests.server_command.clone();
            if let Some(pos) = cmd.iter().position(|a| a == "--bind")
                && let Some(v) = cmd.get_mut(pos + 1)
            {
                if i == 0 {
                    changes.push(("redis-server --bind".into(), v.clone(), "127.0.0.1".into()));
                }
                *v = "127.0.0.1".into();
            }
            if i > 0 {
                // The replica args name the master by its documented DNS name and port.
                let args: Vec<String> = replica_args
                    .iter()
                    .map(|a| if a == &master_port.to_string() { server_ports[0].to_string() } else { a.clone() })
                    .collect();
                cmd.extend(args);
            }
            let pod = format!("redis-{i}");
            let acl = users_acl.clone().into_bytes();
            let certs = tls_files(false, &pod_dns("redis", i))?;
            let mut attempt = 0;
            let (port, container) = loop {
                attempt += 1;
                let port = free_port()?;
                let mut cmd = cmd.clone();
                if tls.is_some() {
                    cmd.extend(["--port".to_string(), "0".into(), "--tls-port".into(), port.to_string()]);
                    for (k, v) in TLS_OPTIONS {
                        cmd.extend([format!("--{k}"), v.to_string()]);
                    }
                } else {
                    cmd.extend(["--port".to_string(), port.to_string()]);
                }
                let mut files = vec![("/etc/redis-acl/users.acl", acl.clone()), ("/data/users.acl", acl.clone())];
                files.extend(certs.clone());
                let started = request(cmd, files, "Ready to accept connections").start().await;
                match started {
                    Ok(c) => break (port, c),
                    Err(e) if attempt < START_ATTEMPTS => {
                        eprintln!("redis topology: {pod} on port {port}: {e}; retrying")
                    }
                    Err(e) => return Err(format!("cannot start {pod} from {image}: {e}")),
                }
            };
            changes.push((format!("{pod} port"), "6379".into(), port.to_string()));
            server_ports.push(port);
            nodes.push(Node { pod, dns: pod_dns("redis", i), port, sentinel: false, container });
        }
        let monitor_line = format!("sentinel monitor {master_name} {master_host} {master_port}");
        for i in 0..manifests.sentinel_replicas as usize {
            let documented = manifests
                .sentinel_conf
                .replace(&monitor_line, &format!("sentinel monitor {master_name} {master_host} {}", server_ports[0]));
            if i == 0 {
                changes.push((
                    "sentinel.conf".into(),
                    monitor_line.clone(),
                    format!("port <own> / bind 127.0.0.1 / monitor port {}", server_ports[0]),
                ));
            }
            let pod = format!("redis-sentinel-{i}");
            let certs = tls_files(true, &pod_dns("redis-sentinel", i))?;
            let mut attempt = 0;
            let (port, container) = loop {
                attempt += 1;
                let port = free_port()?;
                let ports = if tls.is_some() {
                    let options: String = TLS_OPTIONS.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
                    format!("port 0\ntls-port {port}\n{options}")
                } else {
                    format!("port {port}\n")
                };
                let conf = format!("{ports}bind 127.0.0.1\n{documented}{sentinel_auth}");
                let mut files = vec![
                    ("/etc/sentinel-ro/sentinel.conf", conf.clone().into_bytes()),
                    ("/data/sentinel.conf", conf.into_bytes()),
                ];
                files.extend(certs.clone());
                let started = request(manifests.sentinel_command.clone(), files, "+monitor master").start().await;
                match started {
                    Ok(c) => break (port, c),
                    Err(e) if attempt < START_ATTEMPTS => {
                        eprintln!("redis topology: {pod} on port {port}: {e}; retrying")
                    }
                    Err(e) => return Err(format!("cannot start {pod} from {image}: {e}")),
                }
            };
            nodes.push(Node { pod, dns: pod_dns("redis-sentinel", i), port, sentinel: true, container });
        }
        // The reference resolves the same names: pods to 127.0.0.1 (ports as announced), the
        // headless Sentinel Service to every Sentinel endpoint.
        let mut mapped = Vec::new();
        for node in &nodes {
            // A pod addressed with its documented port (`redis-0.redis.redis.svc.cluster.local:6379`).
            if !node.sentinel {
                map_cluster_dns(&format!("{}:6379", node.dns), vec![node.endpoint()]);
                mapped.push(format!("{}:6379", node.dns));
            }
            map_cluster_dns(&node.dns, vec!["127.0.0.1".into()]);
            map_cluster_dns(&format!("{}:26379", node.dns), vec![node.endpoint()]);
            mapped.push(node.dns.clone());
            mapped.push(format!("{}:26379", node.dns));
        }
        let sentinels: Vec<String> = nodes.iter().filter(|n| n.sentinel).map(Node::endpoint).collect();
        map_cluster_dns(&format!("{SENTINEL_SERVICE}:26379"), sentinels);
        mapped.push(format!("{SENTINEL_SERVICE}:26379"));
        let topology = Self {
            manifests,
            shape,
            acl_password,
            master_name,
            nodes,
            changes,
            tls,
            admin: (default_user_off || shared_scaling).then_some(admin_password),
            scaling_password,
            mapped,
            _exclusive: exclusive,
        };
        if shape == Shape::WithReplicas {
            topology.wait_replication(Duration::from_secs(20)).await?;
        }
        eprintln!("{}", topology.mapping_report());
        Ok(topology)
    }

    /// The explicit mapping of cluster DNS names to loopback endpoints, and every other change.
    pub fn mapping_report(&self) -> String {
        let mut out = format!("redis topology ({:?}) from {}\n", self.shape, self.manifests.origins.join(", "));
        for node in &self.nodes {
            out.push_str(&format!("  {} -> {}\n", node.dns, node.endpoint()));
        }
        let sentinels: Vec<String> = self.sentinel_endpoints();
        out.push_str(&format!("  {SENTINEL_SERVICE}:26379 -> {}\n", sentinels.join(", ")));
        for (what, documented, here) in &self.changes {
            out.push_str(&format!("  changed {what}: {documented} -> {here}\n"));
        }
        out
    }

    pub fn sentinel_endpoints(&self) -> Vec<String> {
        self.nodes.iter().filter(|n| n.sentinel).map(Node::endpoint).collect()
    }

    pub fn node(&self, pod: &str) -> Result<&Node, String> {
        self.nodes.iter().find(|n| n.pod == pod).ok_or_else(|| format!("no pod {pod} in this topology"))
    }

    /// A connection as `user` (`None`: the default user, which the documented ACL leaves open, or
    /// the harness's inspection user when the default user is off).
    pub async fn connect(
        &self,
        pod: &str,
        user: Option<(&str, &str)>,
    ) -> Result<redis::aio::MultiplexedConnection, String> {
        let node = self.node(pod)?;
        let user = match (user, &self.admin) {
            (None, Some(p)) if !node.sentinel => Some((HARNESS_USER, p.as_str())),
            (u, _) => u,
        };
        self.connect_as(pod, user).await
    }

    /// A connection as `user`, or without `AUTH` at all.
    pub async fn connect_as(
        &self,
        pod: &str,
        user: Option<(&str, &str)>,
    ) -> Result<redis::aio::MultiplexedConnection, String> {
        let node = self.node(pod)?;
        let mut settings = redis::RedisConnectionInfo::default();
        if let Some((u, p)) = user {
            settings = settings.set_username(u).set_password(p);
        }
        let addr = match &self.tls {
            Some(_) => redis::ConnectionAddr::TcpTls {
                host: "127.0.0.1".into(),
                port: node.port,
                insecure: false,
                tls_params: None,
            },
            None => redis::ConnectionAddr::Tcp("127.0.0.1".into(), node.port),
        };
        let info = redis::IntoConnectionInfo::into_connection_info(addr)
            .map_err(|e| e.to_string())?
            .set_redis_settings(settings);
        let client = match &self.tls {
            Some(t) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(t.ca_for(node.sentinel).cert_pem.clone().into_bytes()),
                },
            ),
            None => redis::Client::open(info),
        }
        .map_err(|e| e.to_string())?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| format!("{pod}: {e}"))
    }

    /// A plaintext `PING` to `pod` (what a client without TLS would get).
    pub async fn plaintext_ping(&self, pod: &str) -> Result<String, String> {
        let node = self.node(pod)?;
        let info =
            redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp("127.0.0.1".into(), node.port))
                .map_err(|e| e.to_string())?;
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let mut conn =
            client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| format!("{pod}: {e}"))?;
        redis::cmd("PING").query_async(&mut conn).await.map_err(|e| format!("{pod}: {e}"))
    }

    /// The master the Sentinels currently name, as a pod name.
    pub async fn current_master(&self) -> Result<String, String> {
        let mut errors = Vec::new();
        for node in self.nodes.iter().filter(|n| n.sentinel) {
            let Ok(mut conn) = self.connect(&node.pod, None).await else {
                errors.push(format!("{} unreachable", node.pod));
                continue;
            };
            let addr: Result<Option<(String, u16)>, _> = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&self.master_name)
                .query_async(&mut conn)
                .await;
            match addr {
                Ok(Some((_, port))) => {
                    if let Some(n) = self.nodes.iter().find(|n| !n.sentinel && n.port == port) {
                        return Ok(n.pod.clone());
                    }
                    errors.push(format!("{} names unknown port {port}", node.pod));
                }
                Ok(None) => errors.push(format!("{} knows no master", node.pod)),
                Err(e) => errors.push(format!("{}: {e}", node.pod)),
            }
        }
        Err(errors.join("; "))
    }

    /// Waits until every replica reports `master_link_status:up`.
    pub async fn wait_replication(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        'replicas: for node in self.nodes.iter().filter(|n| !n.sentinel && n.pod != "redis-0") {
            loop {
                if let Ok(mut conn) = self.connect(&node.pod, None).await {
                    let info: String =
                        redis::cmd("INFO").arg("replication").query_async(&mut conn).await.unwrap_or_default();
                    if info.contains("master_link_status:up") {
                        continue 'replicas;
                    }
                }
                if Instant::now() > deadline {
                    return Err(format!("{} did not sync with the master within {within:?}", node.pod));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Stops a pod gracefully (SIGTERM: Redis saves its data first).
    pub async fn stop(&self, pod: &str) -> Result<(), String> {
        self.node(pod)?.container.stop_with_timeout(Some(10)).await.map_err(|e| format!("stop {pod}: {e}"))
    }

    /// Kills a pod (no time to save).
    pub async fn kill(&self, pod: &str) -> Result<(), String> {
        self.node(pod)?.container.stop_with_timeout(Some(0)).await.map_err(|e| format!("kill {pod}: {e}"))
    }

    pub async fn pause(&self, pod: &str) -> Result<(), String> {
        self.node(pod)?.container.pause().await.map_err(|e| format!("pause {pod}: {e}"))
    }

    pub async fn unpause(&self, pod: &str) -> Result<(), String> {
        self.node(pod)?.container.unpause().await.map_err(|e| format!("unpause {pod}: {e}"))
    }

    /// Starts a stopped pod again and waits until it answers `PING`.
    pub async fn start_pod(&self, pod: &str) -> Result<(), String> {
        self.node(pod)?.container.start().await.map_err(|e| format!("start {pod}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut conn) = self.connect(pod, None).await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{pod} did not answer PING within 20 s of its restart"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every key on `pod`, read as the default user.
    pub async fn keys(&self, pod: &str) -> Result<Vec<String>, String> {
        let mut conn = self.connect(pod, None).await?;
        let mut keys: Vec<String> =
            redis::cmd("KEYS").arg("*").query_async(&mut conn).await.map_err(|e| format!("KEYS on {pod}: {e}"))?;
        keys.sort();
        Ok(keys)
    }

    /// The keys of `pod` by type, for reports.
    pub async fn key_types(&self, pod: &str) -> Result<BTreeMap<String, String>, String> {
        let mut conn = self.connect(pod, None).await?;
        let mut out = BTreeMap::new();
        for key in self.keys(pod).await? {
            let t: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.map_err(|e| e.to_string())?;
            out.insert(key, t);
        }
        Ok(out)
    }
}

impl Drop for Topology {
    /// Removes the containers synchronously: testcontainers' own clean-up is a task spawned on
    /// drop, which never runs when the process exits right after a scenario, leaving the
    /// containers running.
    fn drop(&mut self) {
        for name in &self.mapped {
            unmap_cluster_dns(name);
        }
        let ids: Vec<String> = self.nodes.iter().map(|n| n.container.id().to_string()).collect();
        if ids.is_empty() {
            return;
        }
        match std::process::Command::new("docker").args(["rm", "--force", "--volumes"]).args(&ids).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "redis topology: docker rm {} failed: {}",
                ids.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("redis topology: cannot run docker rm for {}: {e}", ids.join(" ")),
        }
    }
}
