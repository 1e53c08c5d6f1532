//! The Redis 7 image the topology runs.
//!
//! `CONFORMANCE_REDIS_IMAGE` names it (default: the `redis:7-alpine` the docs use). When that image
//! is neither present locally nor pullable (this project's machines have no registry), the
//! harness builds `vmcp-conformance/redis:7-debian` once: a `FROM scratch` image holding Debian's
//! `redis-server`, `redis-sentinel` and `redis-cli` with the libraries `ldd` lists, installed on
//! the host with apt-get when missing. Done at most once per process.

use std::path::Path;
use std::process::Command;

use tokio::sync::OnceCell;

/// The image the docs name.
pub const DOCUMENTED_IMAGE: &str = "redis:7-alpine";
/// The image the harness builds from Debian's packages when the documented one is unavailable.
pub const LOCAL_IMAGE: &str = "vmcp-conformance/redis:7-debian";

static IMAGE: OnceCell<Result<String, String>> = OnceCell::const_new();

/// `name:tag` of a usable Redis 7 image, building it when needed (once per process).
pub async fn ensure() -> Result<String, String> {
    IMAGE
        .get_or_init(|| async {
            tokio::task::spawn_blocking(resolve).await.unwrap_or_else(|e| Err(format!("image task failed: {e}")))
        })
        .await
        .clone()
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn present(image: &str) -> bool {
    Command::new("docker").args(["image", "inspect", image]).output().map(|o| o.status.success()).unwrap_or(false)
}

fn resolve() -> Result<String, String> {
    run(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]))
        .map_err(|e| format!("the Redis topology needs a running Docker engine (docker version failed): {e}"))?;
    let wanted = std::env::var("CONFORMANCE_REDIS_IMAGE").unwrap_or_else(|_| DOCUMENTED_IMAGE.to_string());
    if present(&wanted) {
        return Ok(wanted);
    }
    if run(Command::new("timeout").args(["60", "docker", "pull", "-q", &wanted])).is_ok() && present(&wanted) {
        return Ok(wanted);
    }
    if present(LOCAL_IMAGE) {
        eprintln!("redis topology: {wanted} is not available; using the locally built {LOCAL_IMAGE}");
        return Ok(LOCAL_IMAGE.to_string());
    }
    eprintln!("redis topology: {wanted} is not available; building {LOCAL_IMAGE} from Debian's redis packages");
    build_local().map_err(|e| {
        format!(
            "cannot provide a Redis 7 image: {wanted} is not present and cannot be pulled, and building \
             {LOCAL_IMAGE} from Debian's packages failed: {e}. Set CONFORMANCE_REDIS_IMAGE to a local Redis 7 image."
        )
    })?;
    Ok(LOCAL_IMAGE.to_string())
}

const BINARIES: &[(&str, &str)] = &[
    ("redis-server", "/usr/bin/redis-server"),
    ("redis-sentinel", "/usr/bin/redis-server"),
    ("redis-cli", "/usr/bin/redis-cli"),
];

fn build_local() -> Result<(), String> {
    if !Path::new("/usr/bin/redis-server").exists() || !Path::new("/usr/bin/redis-cli").exists() {
        eprintln!("redis topology: installing redis-server, redis-sentinel and redis-tools with apt-get");
        run(Command::new("apt-get").arg("update").arg("-qq"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", "redis-server", "redis-sentinel", "redis-tools"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let dir = std::env::temp_dir().join(format!("vmcp-conformance-redis-image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rootfs = dir.join("rootfs");
    for d in ["usr/bin", "data", "tmp", "etc/redis-acl"] {
        std::fs::create_dir_all(rootfs.join(d)).map_err(|e| format!("mkdir {d}: {e}"))?;
    }
    let mut libraries = std::collections::BTreeSet::new();
    for (name, source) in BINARIES {
        std::fs::copy(source, rootfs.join("usr/bin").join(name)).map_err(|e| format!("copy {source}: {e}"))?;
        let ldd = run(Command::new("ldd").arg(source))?;
        for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
            libraries.insert(lib.to_string());
        }
    }
    for lib in &libraries {
        let target = rootfs.join(lib.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
        }
        // `copy` follows symlinks: the image gets the library's bytes under the path ldd named.
        std::fs::copy(lib, &target).map_err(|e| format!("copy {lib}: {e}"))?;
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/false\n").map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nWORKDIR /data\n",
    )
    .map_err(|e| e.to_string())?;
    let built = run(Command::new("docker").args(["build", "-q", "-t", LOCAL_IMAGE]).arg(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    built.map(|_| ())
}
