//! The standalone, password-only Redis of the horizontal-scaling section
//! (redis-session-storage.mdx, block "redis-scaling.yaml"): a `redis-password` Secret and a
//! Deployment running `redis-server --requirepass $(REDIS_PASSWORD)`. The docs also point managed
//! services without ACL users at password-only `AUTH`; this is the same server.
//!
//! Started with host networking on its own loopback port; the changes to the documented
//! configuration (port, `--bind 127.0.0.1`, the password) are listed in `changes` and printed.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::{PAGE, decode, free_port, image};
use crate::docs;
use crate::storage::redis::{map_cluster_dns, unmap_cluster_dns};

const BLOCK: &str = "redis-scaling.yaml";
/// The password placeholder of the documented Secret.
pub const PASSWORD_PLACEHOLDER: &str = "YOUR_REDIS_PASSWORD";
/// The documented Service's cluster DNS name and port.
pub const SERVICE: &str = "redis.toolhive-system.svc.cluster.local:6379";

/// A running standalone Redis. Dropping it removes the container and the DNS mapping.
pub struct StandaloneRedis {
    /// `page:line (title)` of the block read.
    pub origin: String,
    pub password: String,
    pub port: u16,
    /// `(what, documented, here)` for every change made to the documented configuration.
    pub changes: Vec<(String, String, String)>,
    mapped: Vec<String>,
    container: ContainerAsync<GenericImage>,
    _exclusive: tokio::sync::OwnedMutexGuard<()>,
}

/// One at a time per process: the mapped names are the documented ones.
static EXCLUSIVE: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

impl StandaloneRedis {
    /// Starts the documented Deployment; `names` (`host:port`, besides the documented Service) are
    /// mapped to it too, e.g. the address of a documented storage block.
    pub async fn start(names: &[&str]) -> Result<Self, String> {
        let exclusive = tokio::time::timeout(Duration::from_secs(600), EXCLUSIVE.clone().lock_owned())
            .await
            .map_err(|_| "another scaling Redis of this process was still in use after 10 minutes".to_string())?;
        let (_, text) = docs::read_page(PAGE)?;
        let block = docs::extract_blocks(&text)
            .into_iter()
            .find(|b| b.title.as_deref() == Some(BLOCK))
            .ok_or_else(|| format!("{PAGE} has no block titled {BLOCK:?}"))?;
        let origin = format!("{PAGE}:{} ({BLOCK})", block.line);
        let parsed: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&block.content).map_err(|e| format!("{origin} is not valid YAML: {e}"))?;
        let find = |kind: &str| {
            parsed
                .iter()
                .find(|d| d["kind"] == kind && d["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("redis")))
                .ok_or_else(|| format!("{origin}: no {kind}"))
        };
        let secret: Secret = decode(find("Secret")?, "Secret redis-password")?;
        let documented_password = secret
            .string_data
            .as_ref()
            .and_then(|d| d.get("password"))
            .cloned()
            .ok_or("Secret redis-password has no stringData password")?;
        let deployment: Deployment = decode(find("Deployment")?, "Deployment redis")?;
        let container = deployment
            .spec
            .and_then(|s| s.template.spec)
            .and_then(|p| p.containers.into_iter().find(|c| c.name == "redis"))
            .ok_or("Deployment redis has no container redis")?;
        let args = container.args.clone().unwrap_or_default();
        let documented_image = container.image.clone().unwrap_or_default();
        // The env var the args expand (`$(REDIS_PASSWORD)`, from the Secret).
        let env_name = container
            .env
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).is_some())
            .map(|e| e.name)
            .ok_or("Deployment redis takes no env var from the Secret")?;
        let password = format!("conformance-{}", uuid::Uuid::new_v4().simple());
        let image = image::ensure().await?;
        let (image_name, image_tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
        let mut changes = vec![(
            "redis-password password".to_string(),
            documented_password,
            "a random password per start".to_string(),
        )];
        if image != documented_image {
            changes.push(("image".into(), documented_image, image.clone()));
        }
        changes.push(("redis-server --bind".into(), "(all interfaces of the pod)".into(), "127.0.0.1".into()));
        let mut attempt = 0;
        let (port, container) = loop {
            attempt += 1;
            let port = free_port()?;
            let mut cmd: Vec<String> = args.iter().map(|a| a.replace(&format!("$({env_name})"), &password)).collect();
            cmd.extend(["--port".into(), port.to_string(), "--bind".into(), "127.0.0.1".into()]);
            let started = GenericImage::new(image_name, image_tag)
                .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
                .with_network("host")
                .with_cmd(cmd)
                .with_label("vmcp-conformance", "redis-standalone")
                .with_startup_timeout(Duration::from_secs(30))
                .start()
                .await;
            match started {
                Ok(c) => break (port, c),
                Err(e) if attempt < super::START_ATTEMPTS => {
                    eprintln!("redis standalone: port {port}: {e}; retrying")
                }
                Err(e) => return Err(format!("cannot start the scaling Redis from {image}: {e}")),
            }
        };
        changes.push(("redis port".into(), "6379".into(), port.to_string()));
        let endpoint = format!("127.0.0.1:{port}");
        let mut mapped = Vec::new();
        for name in std::iter::once(SERVICE).chain(names.iter().copied().filter(|n| *n != SERVICE)) {
            map_cluster_dns(name, vec![endpoint.clone()]);
            mapped.push(name.to_string());
        }
        let redis = Self { origin, password, port, changes, mapped, container, _exclusive: exclusive };
        eprintln!("{}", redis.mapping_report());
        Ok(redis)
    }

    pub fn mapping_report(&self) -> String {
        let mut out = format!("standalone redis from {}\n", self.origin);
        for name in &self.mapped {
            out.push_str(&format!("  {name} -> 127.0.0.1:{}\n", self.port));
        }
        for (what, documented, here) in &self.changes {
            out.push_str(&format!("  changed {what}: {documented} -> {here}\n"));
        }
        out
    }

    /// A connection with `password` (`None`: no `AUTH` at all).
    pub async fn connect(&self, password: Option<&str>) -> Result<redis::aio::MultiplexedConnection, String> {
        let mut settings = redis::RedisConnectionInfo::default();
        if let Some(p) = password {
            settings = settings.set_password(p);
        }
        let info =
            redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp("127.0.0.1".into(), self.port))
                .map_err(|e| e.to_string())?
                .set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| e.to_string())
    }

    /// Every key, sorted (read with the password).
    pub async fn keys(&self) -> Result<Vec<String>, String> {
        let mut conn = self.connect(Some(&self.password)).await?;
        let mut keys: Vec<String> =
            redis::cmd("KEYS").arg("*").query_async(&mut conn).await.map_err(|e| format!("KEYS: {e}"))?;
        keys.sort();
        Ok(keys)
    }

    /// Restarts the container (the Deployment has no volume: an ephemeral pod restart).
    pub async fn restart(&self) -> Result<(), String> {
        // SIGKILL, not `docker stop`: on SIGTERM Redis saves an RDB file (default save points)
        // that the restarted container would load, while a restarted pod starts from an empty
        // filesystem. The race between that save and `stop -t 0`'s SIGKILL made the "sessions
        // are lost" scenario flaky.
        let id = self.container.id().to_string();
        let killed = std::process::Command::new("docker")
            .args(["kill", "--signal", "KILL", &id])
            .output()
            .map_err(|e| format!("docker kill {id}: {e}"))?;
        if !killed.status.success() {
            return Err(format!("docker kill {id}: {}", String::from_utf8_lossy(&killed.stderr).trim()));
        }
        self.container.start().await.map_err(|e| format!("start: {e}"))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut c) = self.connect(Some(&self.password)).await
                && redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
            {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err("the scaling Redis did not answer PING within 20 s of its restart".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for StandaloneRedis {
    /// Removes the container synchronously (see `Topology`'s `Drop`).
    fn drop(&mut self) {
        for name in &self.mapped {
            unmap_cluster_dns(name);
        }
        let id = self.container.id().to_string();
        match std::process::Command::new("docker").args(["rm", "--force", "--volumes", &id]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                eprintln!("redis standalone: docker rm {id} failed: {}", String::from_utf8_lossy(&out.stderr).trim())
            }
            Err(e) => eprintln!("redis standalone: cannot run docker rm {id}: {e}"),
        }
    }
}
