//! `vmcp-conformance bench storage`: per-operation latency and login-shaped throughput for memory,
//! standalone Redis, Redis through Sentinel (with and without replicas, i.e. with `WAIT`) and a
//! 3-master Redis Cluster, side by side; then the time from killing the master to the first
//! successful write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::redis::{RedisDefects, RedisStorage, key_prefix};
use super::{MemoryStorage, Storage};
use crate::bundle::{RedisConfig, RedisMode};
use crate::topology::{SENTINEL_SERVICE, Shape, Topology};

const OPS: usize = 1000;
const LOGINS: usize = 300;
const CONCURRENCY: usize = 16;

fn config(mode: RedisMode, password: &str) -> RedisConfig {
    RedisConfig {
        mode,
        username: Some("toolhive-auth".into()),
        password: password.into(),
        tls: None,
        sentinel_tls: None,
        dial_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(3),
        write_timeout: Duration::from_secs(3),
    }
}

fn sentinel(t: &Topology) -> RedisMode {
    RedisMode::Sentinel {
        master_name: t.master_name.clone(),
        sentinel_addrs: vec![format!("{SENTINEL_SERVICE}:26379")],
        db: 0,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The storage operations one login performs (registration, pending authorization, two upstream
/// legs, code, grant, refresh token).
async fn login_sequence(s: &dyn Storage, i: usize) -> Result<(), String> {
    let ttl = Some(Duration::from_secs(600));
    let e = |e: super::StorageError| e.to_string();
    s.put(&format!("client:bench-{i}"), &[b'c'; 300], None).await.map_err(e)?;
    s.put(&format!("pending:bench-{i}"), &[b'p'; 400], ttl).await.map_err(e)?;
    s.take(&format!("pending:bench-{i}")).await.map_err(e)?;
    s.put_field(&format!("upstream:bench-{i}"), "github", &[b'g'; 300], ttl).await.map_err(e)?;
    s.put_field(&format!("upstream:bench-{i}"), "google", &[b'o'; 900], ttl).await.map_err(e)?;
    s.put(&format!("code:bench-{i}"), &[b'k'; 400], ttl).await.map_err(e)?;
    s.get(&format!("client:bench-{i}")).await.map_err(e)?;
    s.take(&format!("code:bench-{i}")).await.map_err(e)?;
    s.put(&format!("grant:bench-{i}"), &[b'r'; 400], ttl).await.map_err(e)?;
    s.put(&format!("refresh:bench-{i}"), &[b'f'; 200], ttl).await.map_err(e)?;
    Ok(())
}

async fn measure(name: &str, s: Arc<dyn Storage>) -> Result<(), String> {
    let mut rows = Vec::new();
    for op in ["put", "get", "put_field", "fields", "take"] {
        let mut times = Vec::with_capacity(OPS);
        for i in 0..OPS {
            let key = format!("bench:{op}:{i}");
            if op == "take" || op == "get" {
                s.put(&key, b"v", None).await.map_err(|e| e.to_string())?;
            }
            let started = Instant::now();
            let r = match op {
                "put" => s.put(&key, &[b'v'; 256], Some(Duration::from_secs(60))).await,
                "get" => s.get(&key).await.map(|_| ()),
                // A session's upstream tokens: one hash per session, one field per provider.
                "put_field" => s.put_field(&format!("bench:hash:{i}"), "github", &[b'v'; 256], None).await,
                "fields" => s.fields(&format!("bench:hash:{i}")).await.map(|_| ()),
                _ => s.take(&key).await.map(|_| ()),
            };
            times.push(started.elapsed());
            r.map_err(|e| e.to_string())?;
        }
        times.sort();
        rows.push(format!(
            "{op} p50 {:.0} µs p99 {:.0} µs",
            percentile(&times, 0.5).as_secs_f64() * 1e6,
            percentile(&times, 0.99).as_secs_f64() * 1e6
        ));
    }
    let started = Instant::now();
    for i in 0..LOGINS {
        login_sequence(s.as_ref(), i).await?;
    }
    let sequential = LOGINS as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..LOGINS * 4).step_by(CONCURRENCY) {
                login_sequence(s.as_ref(), 100_000 + i).await?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let concurrent = (LOGINS * 4) as f64 / started.elapsed().as_secs_f64();
    println!("{name:<34} {}", rows.join(" | "));
    println!(
        "{:<34} login storage path (10 ops): {sequential:.0}/s sequential, {concurrent:.0}/s with {CONCURRENCY} concurrent",
        ""
    );
    // The same storage under a real authorization server: complete HTTP logins (registration,
    // authorize, the upstream leg, callback, token) through one mock upstream.
    let (sequential, concurrent) = crate::authserver::bench::http_logins_per_second(s, HTTP_LOGINS, 8).await?;
    println!(
        "{:<34} complete HTTP logins: {sequential:.0}/s sequential, {concurrent:.0}/s with 8 concurrent browsers",
        ""
    );
    Ok(())
}

/// Complete HTTP logins per storage and mode (each starts the mocks and the authorization server).
const HTTP_LOGINS: usize = 200;

pub async fn run() -> Result<(), String> {
    println!(
        "storage benchmark: {OPS} ops per operation, {LOGINS} sequential + {} concurrent login sequences",
        LOGINS * 4
    );
    measure("memory", Arc::new(MemoryStorage::new())).await?;
    let prefix = key_prefix("bench", "vmcp");
    {
        let t = Topology::start(Shape::Documented).await?;
        let port = t.node("redis-0")?.port;
        let standalone = config(RedisMode::Standalone { addr: format!("127.0.0.1:{port}") }, &t.acl_password);
        let s = RedisStorage::connect(&standalone, prefix.clone(), RedisDefects::default())
            .await
            .map_err(|e| e.to_string())?;
        measure("redis standalone (ACL user)", Arc::new(s)).await?;
        let s = RedisStorage::connect(&config(sentinel(&t), &t.acl_password), prefix.clone(), RedisDefects::default())
            .await
            .map_err(|e| e.to_string())?;
        measure("redis via sentinel, 1 master", Arc::new(s)).await?;
    }
    {
        let c = crate::topology::cluster::RedisCluster::start(&[]).await?;
        let mut cluster = config(RedisMode::Cluster { addr: c.endpoint(0) }, &c.password);
        cluster.username = None;
        let s = RedisStorage::connect(&cluster, prefix.clone(), RedisDefects::default())
            .await
            .map_err(|e| e.to_string())?;
        measure("redis cluster, 3 masters", Arc::new(s)).await?;
    }
    let t = Topology::start(Shape::WithReplicas).await?;
    let s = RedisStorage::connect(&config(sentinel(&t), &t.acl_password), prefix.clone(), RedisDefects::default())
        .await
        .map_err(|e| e.to_string())?;
    measure("redis via sentinel, 2 replicas+WAIT", Arc::new(s.clone())).await?;
    let rig = crate::authserver::bench::LoginRig::start(Arc::new(s.clone())).await?;
    t.kill("redis-0").await?;
    let killed = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        if s.put("bench:after-failover", b"1", None).await.is_ok() {
            break;
        }
        if killed.elapsed() > Duration::from_secs(60) {
            return Err("no successful write within 60 s of killing the master".into());
        }
    }
    let first_write = killed.elapsed();
    let mut login_attempts = 0;
    loop {
        login_attempts += 1;
        if rig.login().await.is_ok() {
            break;
        }
        if killed.elapsed() > Duration::from_secs(60) {
            return Err("no complete login within 60 s of killing the master".into());
        }
    }
    let first_login = killed.elapsed();
    let master = t.current_master().await?;
    println!(
        "failover: master killed -> first successful write through Sentinel after {:.2} s ({attempts} storage calls; \
         new master {master}; documented down-after-milliseconds 5000, failover-timeout 10000)",
        first_write.as_secs_f64()
    );
    println!(
        "failover: master killed -> first complete HTTP login after {:.2} s ({login_attempts} attempts)",
        first_login.as_secs_f64()
    );
    Ok(())
}
