//! Against a real topology started from the documented manifests (Docker required: a missing
//! engine is a failure with a message, never a skip).

use std::time::Duration;

use super::*;
use crate::bundle::{RedisConfig, RedisMode};
use crate::topology::{SENTINEL_SERVICE, Shape, Topology};

fn config(mode: RedisMode, username: Option<&str>, password: &str) -> RedisConfig {
    RedisConfig {
        mode,
        username: username.map(str::to_string),
        password: password.to_string(),
        tls: None,
        sentinel_tls: None,
        dial_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        write_timeout: Duration::from_secs(2),
    }
}

fn sentinel_mode(topology: &Topology) -> RedisMode {
    RedisMode::Sentinel {
        master_name: topology.master_name.clone(),
        sentinel_addrs: vec![format!("{SENTINEL_SERVICE}:26379")],
        db: 0,
    }
}

#[test]
fn prefix_and_dns() {
    assert_eq!(key_prefix("toolhive-system", "vmcp"), "thv:auth:{toolhive-system:vmcp}:");
    map_cluster_dns("unit-test.svc.cluster.local", vec!["127.0.0.9".into()]);
    assert_eq!(resolve("unit-test.svc.cluster.local:6379"), vec!["127.0.0.9:6379"]);
    assert_eq!(resolve("elsewhere:1"), vec!["elsewhere:1"]);
    unmap_cluster_dns("unit-test.svc.cluster.local");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_topology_as_acl_user_through_sentinel() {
    let topology = Topology::start(Shape::Documented).await.expect("documented topology");
    let prefix = key_prefix("ns", "vmcp");
    let cfg = config(sentinel_mode(&topology), Some("toolhive-auth"), &topology.acl_password);
    let s = RedisStorage::connect(&cfg, prefix.clone(), RedisDefects::default()).await.expect("connect");

    s.put("a", b"1", Some(Duration::from_secs(60))).await.unwrap();
    assert_eq!(s.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert!(s.put_if_absent("b", b"x", None).await.unwrap());
    assert!(!s.put_if_absent("b", b"y", None).await.unwrap());
    assert_eq!(s.take("b").await.unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(s.take("b").await.unwrap(), None);
    s.put_field("h", "github", b"t1", Some(Duration::from_secs(60))).await.unwrap();
    s.put_field("h", "google", b"t2", None).await.unwrap();
    let f = s.fields("h").await.unwrap();
    assert_eq!(f.len(), 2);
    s.delete("a").await.unwrap();
    assert_eq!(s.get("a").await.unwrap(), None);
    s.put("ttl", b"1", Some(Duration::from_millis(50))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(s.get("ttl").await.unwrap(), None);

    // Everything is under the prefix, as the ACL requires.
    let keys = topology.keys("redis-0").await.unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|k| k.starts_with(&prefix)), "{keys:?}");

    // A prefix outside thv:auth:* is refused by the documented ACL with a clear error.
    let outside = RedisStorage::connect(&cfg, "thv:other:".into(), RedisDefects::default()).await.unwrap();
    let err = outside.put("a", b"1", None).await.unwrap_err().to_string();
    assert!(err.contains("NOPERM") || err.contains("permission"), "{err}");

    // A wrong password fails at start-up, clearly.
    let wrong = config(sentinel_mode(&topology), Some("toolhive-auth"), "wrong");
    let err = RedisStorage::connect(&wrong, prefix.clone(), RedisDefects::default()).await.unwrap_err().to_string();
    assert!(err.contains("WRONGPASS") || err.to_lowercase().contains("auth"), "{err}");

    // Standalone `addr` as the ACL user reaches the same data.
    let port = topology.node("redis-0").unwrap().port;
    let direct = config(
        RedisMode::Standalone { addr: format!("127.0.0.1:{port}") },
        Some("toolhive-auth"),
        &topology.acl_password,
    );
    let d = RedisStorage::connect(&direct, prefix.clone(), RedisDefects::default()).await.expect("standalone");
    assert_eq!(d.fields("h").await.unwrap().len(), 2);

    // Upstream tokens are one hash written as MULTI HSET PEXPIRE EXEC: a writer that dies after
    // sending part of it (here: MULTI and HSET, then the connection drops) leaves nothing, and a
    // completed write has both the field and its TTL.
    {
        let mut half = topology.connect("redis-0", Some(("toolhive-auth", &topology.acl_password))).await.unwrap();
        let torn = format!("{prefix}upstream:torn");
        let _: () = redis::cmd("MULTI").query_async(&mut half).await.unwrap();
        let queued: String = redis::cmd("HSET").arg(&torn).arg("github").arg("t").query_async(&mut half).await.unwrap();
        assert_eq!(queued, "QUEUED");
        drop(half);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut check = topology.connect("redis-0", None).await.unwrap();
        let exists: i64 = redis::cmd("EXISTS").arg(&torn).query_async(&mut check).await.unwrap();
        assert_eq!(exists, 0, "a transaction cut before EXEC left {torn}");
        s.put_field("upstream:whole", "github", b"t", Some(Duration::from_secs(60))).await.unwrap();
        let ttl: i64 = redis::cmd("PTTL").arg(format!("{prefix}upstream:whole")).query_async(&mut check).await.unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "the field was written without its TTL ({ttl})");
    }

    // Master stopped: clear errors after the response budget, then recovery on the same handle.
    topology.stop("redis-0").await.unwrap();
    let err = s.get("h").await.unwrap_err().to_string();
    assert!(err.contains("unavailable"), "{err}");
    topology.start_pod("redis-0").await.unwrap();
    let mut recovered = None;
    for _ in 0..40 {
        if let Ok(f) = s.fields("h").await {
            recovered = Some(f);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(recovered.expect("storage recovers when the master returns").len(), 2);
}
