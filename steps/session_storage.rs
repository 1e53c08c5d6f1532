//! Redis session storage: the documented Sentinel topology in containers, the documented
//! `storage` block, restarts, outages and failover. The topology is the harness's (like the
//! IdP mocks); the target is reached only over HTTP and through `Target`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use vmcp_conformance::docs;
use vmcp_conformance::target::reference::ReferenceTarget;
use vmcp_conformance::target::{Deployed, Deployment, Target, TargetError};
use vmcp_conformance::topology::{Shape, Topology};

use super::suite_prelude::*;
use super::world::{ConformanceWorld, ManifestSource};

const DOC_PAGE: &str = "guides-k8s/redis-session-storage.mdx";
const DOC_STORAGE: &str = "redis-session-storage.mdx#embedded-auth-server-session-storage";
const DOC_ACL: &str = "redis-session-storage.mdx#deploy-redis-sentinel";
const DOC_VERIFY: &str = "redis-session-storage.mdx#verify-the-integration";
const DOC_FAILOVER: &str = "redis-session-storage.mdx#troubleshooting";
const ACL_USER: &str = "toolhive-auth";

/// A target kept in the scenario state (`w.ext` needs `Clone + Send + Sync`).
type SharedTarget = Arc<tokio::sync::Mutex<Box<dyn Target>>>;

/// This module's per-scenario state (in `w.ext`).
#[derive(Clone, Default)]
struct RedisState {
    topology: Option<Arc<Topology>>,
    /// Tool calls the backend had received when the scenario marked a point in time.
    calls_at_mark: Option<(String, usize)>,
    /// The outcome of a login the scenario expects may fail.
    attempted_login: Option<Result<(), String>>,
    /// A second replica of the vMCP (same manifests, same public URL, own port).
    second: Option<(SharedTarget, String)>,
    /// Statuses and bodies of the concurrent refresh requests.
    refreshes: Vec<(u16, String)>,
}

/// A second replica: it serves on its own port but is deployed as if it were reached through the
/// first one's public URL (the issuer and the MCP URL of the manifests), like pods behind one
/// Service.
struct SameIssuer {
    inner: ReferenceTarget,
    public: String,
}

#[async_trait::async_trait]
impl Target for SameIssuer {
    fn describe(&self) -> String {
        format!("{} (second replica)", self.inner.describe())
    }
    fn base_url(&self) -> String {
        self.public.clone()
    }
    async fn start(&mut self, deployment: Deployment) -> Result<Deployed, TargetError> {
        self.inner.start(deployment).await
    }
    async fn restart(&mut self) -> Result<Deployed, TargetError> {
        self.inner.restart().await
    }
    async fn stop(&mut self) {
        self.inner.stop().await
    }
    fn logs(&self) -> Vec<String> {
        self.inner.logs()
    }
}

fn state(w: &mut ConformanceWorld) -> &mut RedisState {
    w.ext.get_or_insert_default::<RedisState>()
}

fn topology(w: &mut ConformanceWorld) -> Result<Arc<Topology>, String> {
    state(w).topology.clone().ok_or_else(|| "no Redis topology is running in this scenario".to_string())
}

#[given("the documented Redis Sentinel topology is running")]
async fn documented_topology(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = Topology::start(Shape::Documented).await?;
    state(w).topology = Some(Arc::new(t));
    Ok(())
}

#[given("the documented Redis Sentinel topology with two replicas is running")]
async fn replicated_topology(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = Topology::start(Shape::WithReplicas).await?;
    state(w).topology = Some(Arc::new(t));
    Ok(())
}

/// The documented `storage` block goes under the VirtualMCPServer's `spec.authServerConfig`
/// (embedded-auth-server-vmcp.mdx#configure-session-storage); the Secret the docs create with
/// `kubectl create secret generic redis-acl-secret` holds the topology's ACL credentials.
#[given(expr = "the VirtualMCPServer keeps its sessions in the Redis storage block {string} from section {string}")]
async fn storage_block(w: &mut ConformanceWorld, title: String, section: String) -> Result<(), String> {
    let t = topology(w)?;
    let (_, text) = docs::read_page(DOC_PAGE)?;
    let block = docs::extract_blocks(&text)
        .into_iter()
        .find(|b| b.heading_anchor == section && b.title.as_deref() == Some(title.as_str()))
        .ok_or_else(|| format!("{DOC_PAGE} has no block titled {title:?} under #{section}"))?;
    let doc: serde_json::Value = serde_saphyr::from_str(&block.content)
        .map_err(|e| format!("{DOC_PAGE}:{} is not valid YAML: {e}", block.line))?;
    // A full MCPExternalAuthConfig (spec.embeddedAuthServer.storage) or a bare `storage:` block.
    let storage = doc
        .pointer("/spec/embeddedAuthServer/storage")
        .or_else(|| doc.get("storage"))
        .cloned()
        .ok_or_else(|| format!("{DOC_PAGE}:{} has no storage block", block.line))?;
    let mut placed = None;
    for source in &mut w.manifests {
        let mut docs_in: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml)
            .map_err(|e| format!("{} is not valid YAML: {e}", source.origin))?;
        let Some(vmcp) = docs_in.iter_mut().find(|d| d["kind"] == "VirtualMCPServer") else { continue };
        let namespace = vmcp["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
        let asc = vmcp
            .pointer_mut("/spec/authServerConfig")
            .and_then(|v| v.as_object_mut())
            .ok_or_else(|| format!("{}: the VirtualMCPServer has no spec.authServerConfig", source.origin))?;
        asc.insert("storage".into(), storage.clone());
        let rendered: Vec<String> = docs_in
            .iter()
            .filter(|d| !d.is_null())
            .map(|d| serde_json::to_string_pretty(d).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        source.yaml = rendered.join("\n---\n");
        source.origin = format!("{} + storage from {DOC_PAGE}:{} ({title})", source.origin, block.line);
        placed = Some(namespace);
        break;
    }
    let namespace = placed.ok_or("no VirtualMCPServer among the scenario's manifests")?;
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "redis-acl-secret", "namespace": namespace},
        "type": "Opaque",
        "stringData": {"username": ACL_USER, "password": t.acl_password},
    });
    w.manifests.push(ManifestSource {
        origin: format!("{DOC_PAGE}#create-kubernetes-secrets (kubectl create secret generic redis-acl-secret)"),
        yaml: serde_json::to_string_pretty(&secret).map_err(|e| e.to_string())?,
        documented: false,
    });
    Ok(())
}

#[when(expr = "the Redis pod {string} is {word}")]
async fn fault(w: &mut ConformanceWorld, pod: String, action: String) -> Result<(), String> {
    let t = topology(w)?;
    match action.as_str() {
        "stopped" => t.stop(&pod).await,
        "killed" => t.kill(&pod).await,
        "paused" => t.pause(&pod).await,
        "unpaused" => t.unpause(&pod).await,
        "restarted" => t.start_pod(&pod).await,
        other => Err(format!("unknown fault {other:?}: stopped, killed, paused, unpaused or restarted")),
    }
}

/// The documented single master has no replica to promote (redis-session-storage.mdx:210-213):
/// past `down-after-milliseconds` the Sentinels still name the same master.
#[when(expr = "the Sentinels still name {string} as the master once it is down")]
async fn no_failover(w: &mut ConformanceWorld, pod: String) -> Result<(), String> {
    let t = topology(w)?;
    // down-after-milliseconds 5000 as documented, plus the time an election would take.
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        let master = t.current_master().await?;
        if master != pod {
            return Err(format!("Sentinel promoted {master}, but the documented topology has no replica to promote"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// With replicas, Sentinel promotes one within down-after-milliseconds + failover-timeout.
#[when(expr = "Sentinel promotes a replica of {string} within the documented timeouts")]
async fn promoted(w: &mut ConformanceWorld, pod: String) -> Result<(), String> {
    let t = topology(w)?;
    let started = Instant::now();
    let until = started + Duration::from_millis(5000 + 10000 + 5000);
    loop {
        if let Ok(master) = t.current_master().await
            && master != pod
        {
            eprintln!("redis topology: Sentinel promoted {master} {:?} after {pod} went down", started.elapsed());
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("Sentinel did not promote a replica within {:?}", started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn try_tool(w: &ConformanceWorld, tool: &str) -> Result<rmcp::model::CallToolResult, String> {
    try_tool_at(w, &w.base_url(), tool).await
}

async fn try_tool_at(w: &ConformanceWorld, base: &str, tool: &str) -> Result<rmcp::model::CallToolResult, String> {
    let token = w.login()?.access_token.clone();
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(token);
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.map_err(|e| e.to_string())?;
    let params = CallToolRequestParams::new(Cow::Owned(tool.to_string())).with_arguments(serde_json::Map::new());
    let result = client.call_tool(params).await.map_err(|e| e.to_string());
    let _ = client.cancel().await;
    result
}

#[when(expr = "the harness notes what {string} has received so far")]
async fn mark(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let n = w.backend(&backend)?.tool_calls().len();
    state(w).calls_at_mark = Some((backend, n));
    Ok(())
}

#[when(expr = "the client tries the tool {string} through the vMCP")]
async fn try_tool_step(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    match try_tool(w, &tool).await {
        Ok(result) => w.last_call = Some(result),
        Err(e) => {
            w.last_call = None;
            eprintln!("tools/call {tool} failed: {e}");
        }
    }
    Ok(())
}

/// The GitHub token the mock issued to the scenario's user last, and the calls `backend`
/// received since the mark.
fn calls_since_mark(w: &mut ConformanceWorld) -> Result<(String, Vec<Option<String>>, String), String> {
    let (backend, at) = state(w).calls_at_mark.clone().ok_or("the scenario marked no point in time")?;
    let github = w.github.as_ref().ok_or("the GitHub mock is not running")?;
    let user = w.user.login.clone();
    let token = github
        .issued()
        .into_iter()
        .filter(|t| t.user == user)
        .map(|t| t.access_token)
        .next_back()
        .ok_or_else(|| format!("the GitHub mock issued no token to {user}"))?;
    let calls = w.backend(&backend)?.tool_calls();
    let auth = calls
        .iter()
        .skip(at)
        .map(|c| c.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone()))
        .collect();
    Ok((backend, auth, format!("Bearer {token}")))
}

#[then(expr = "after the restart {string} received the user's GitHub token without a new login")]
async fn token_survived(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let (marked, auth, want) = calls_since_mark(w)?;
    let ok = marked == backend && auth.iter().any(|a| a.as_deref() == Some(want.as_str()));
    let shown: Vec<String> =
        auth.iter().map(|a| a.as_deref().map(super::backends::redact).unwrap_or_default()).collect();
    verify(
        &mut w.checks,
        Check::must("redis.restart.session-kept", DOC_VERIFY),
        ok,
        format!("a tools/call with Authorization: {}", super::backends::redact(&want)),
        format!("tools/call Authorization headers since the restart: {shown:?}"),
    )
}

#[then(expr = "after the restart {string} received no GitHub token until the user logs in again")]
async fn token_lost(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let (marked, auth, want) = calls_since_mark(w)?;
    let leaked = auth.iter().any(|a| a.as_deref() == Some(want.as_str()));
    let errored = w.last_call.as_ref().is_none_or(|r| r.is_error.unwrap_or(false));
    verify(
        &mut w.checks,
        Check::must("memory.restart.session-lost", "redis-session-storage.mdx#embedded-auth-server-session-storage"),
        marked == backend && !leaked && errored,
        "no tools/call carrying the user's GitHub token, and a failed tool call",
        format!(
            "{} tools/call since the restart, carrying the token: {leaked}, tool call failed: {errored}",
            auth.len()
        ),
    )
}

/// What the storage connections authenticate as (Redis `CLIENT LIST`, read as the default user).
#[then(expr = "the session storage connections authenticate as the ACL user {string}")]
async fn connections_as(w: &mut ConformanceWorld, user: String) -> Result<(), String> {
    let t = topology(w)?;
    let master = t.current_master().await?;
    let mut conn = t.connect(&master, None).await?;
    let own: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    let users: Vec<String> = list
        .lines()
        .filter(|l| !l.contains(&format!("id={own} ")))
        // Sentinels' own links (named `sentinel-<id>-cmd` / `-pubsub`) and replication links.
        .filter(|l| !l.contains(" name=sentinel-") && !l.contains("flags=S") && !l.contains("flags=M"))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("user=")).map(str::to_string))
        .collect();
    verify(
        &mut w.checks,
        Check::must("redis.acl.user", "redis-session-storage.mdx#configure-mcpexternalauthconfig"),
        !users.is_empty() && users.iter().all(|u| *u == user),
        format!("every storage connection on {master} as {user}"),
        format!("connections as {users:?}"),
    )
}

#[then(expr = "every Redis key of the session is under the workload's prefix {string}")]
async fn keys_under_prefix(w: &mut ConformanceWorld, pattern: String) -> Result<(), String> {
    let t = topology(w)?;
    let (namespace, name) = vmcp_identity(w)?;
    let prefix = pattern.replace("<namespace>", &namespace).replace("<name>", &name);
    let master = t.current_master().await?;
    let keys = t.keys(&master).await?;
    let outside: Vec<&String> = keys.iter().filter(|k| !k.starts_with(&prefix)).collect();
    verify(
        &mut w.checks,
        Check::must("redis.keys.prefix", DOC_ACL),
        !keys.is_empty() && outside.is_empty(),
        format!("keys only under {prefix}"),
        format!("{} keys, outside the prefix: {outside:?}", keys.len()),
    )
}

#[then("the documented ACL refused no command of the flow")]
async fn acl_log_clean(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = topology(w)?;
    let master = t.current_master().await?;
    let mut conn = t.connect(&master, None).await?;
    let log: Vec<redis::Value> =
        redis::cmd("ACL").arg("LOG").query_async(&mut conn).await.map_err(|e| format!("ACL LOG: {e}"))?;
    let keys = t.keys(&master).await?;
    verify(
        &mut w.checks,
        Check::must("redis.acl.categories-suffice", DOC_ACL),
        log.is_empty() && !keys.is_empty(),
        format!("session keys written as {ACL_USER} and an empty ACL LOG"),
        format!("{} keys; ACL LOG: {log:?}", keys.len()),
    )
}

#[then("the vMCP answers 503 saying the session storage is unavailable")]
async fn clear_outage_error(w: &mut ConformanceWorld) -> Result<(), String> {
    let reply = w.reply()?.clone();
    let ok = reply.status == 503 && reply.body.to_lowercase().contains("unavailable");
    verify(
        &mut w.checks,
        Check::must("redis.outage.clear-error", DOC_STORAGE),
        ok,
        "503 naming the unavailable session storage",
        format!("{}: {}", reply.status, reply.body),
    )
}

#[then(expr = "the vMCP serves the user's session again within {int} seconds")]
async fn served_again(w: &mut ConformanceWorld, seconds: u64) -> Result<(), String> {
    let backend = state(w).calls_at_mark.clone().map(|(b, _)| b).unwrap_or_else(|| "backend-github".into());
    let tool = format!("{backend}_search_repositories");
    let started = Instant::now();
    let mut last = String::new();
    let mut ok = false;
    while started.elapsed() < Duration::from_secs(seconds) {
        match try_tool(w, &tool).await {
            Ok(r) if !r.is_error.unwrap_or(false) => {
                ok = true;
                w.last_call = Some(r);
                break;
            }
            Ok(r) => last = format!("isError: {:?}", r.content),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("redis: session served again after {:?} (ok: {ok})", started.elapsed());
    verify(
        &mut w.checks,
        Check::must("redis.session.served-again", DOC_FAILOVER),
        ok,
        format!("a successful {tool} with the same access token within {seconds} s"),
        format!("still failing after {:?}: {last}", started.elapsed()),
    )
}

#[when("the user tries to log in through the vMCP")]
async fn attempt_login(w: &mut ConformanceWorld) -> Result<(), String> {
    let outcome = super::login::run_login(w, "openid offline_access").await;
    state(w).attempted_login = Some(outcome.map(|login| {
        w.login = Some(login);
    }));
    Ok(())
}

#[then("the login does not complete while no replica can acknowledge its records")]
async fn login_not_unreplicated(w: &mut ConformanceWorld) -> Result<(), String> {
    let outcome = state(w).attempted_login.clone().ok_or("no login was attempted")?;
    verify(
        &mut w.checks,
        Check::must("redis.wait.replicated-before-complete", DOC_FAILOVER),
        outcome.is_err(),
        "the login fails (its records could be lost in a failover)",
        match outcome {
            Ok(()) => "the login completed with its records on the master only".to_string(),
            Err(e) => e,
        },
    )
}

/// `(namespace, name)` of the scenario's VirtualMCPServer.
fn vmcp_identity(w: &ConformanceWorld) -> Result<(String, String), String> {
    for source in &w.manifests {
        let docs_in: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml).unwrap_or_default();
        if let Some(v) = docs_in.iter().find(|d| d["kind"] == "VirtualMCPServer") {
            let ns = v["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
            let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
            return Ok((ns, name));
        }
    }
    Err("no VirtualMCPServer among the scenario's manifests".into())
}

#[when("a second replica of the vMCP is deployed from the same manifests")]
async fn second_replica(w: &mut ConformanceWorld) -> Result<(), String> {
    let inner = ReferenceTarget::bind(super::world::harness_defects()).await.map_err(|e| e.to_string())?;
    let url = inner.base_url();
    let public = w.base_url();
    let first = std::mem::replace(&mut w.target, Box::new(SameIssuer { inner, public }));
    let deployed = w.deployed.clone();
    let result = super::deploy::deploy_manifests(w).await;
    let second = std::mem::replace(&mut w.target, first);
    let second_deployed = std::mem::replace(&mut w.deployed, deployed);
    result?;
    if !second_deployed.is_some_and(|d| d.ready) {
        return Err("the second replica refused the deployment".into());
    }
    state(w).second = Some((Arc::new(tokio::sync::Mutex::new(second)), url));
    Ok(())
}

#[when(expr = "the client calls the tool {string} through the second replica")]
async fn call_second(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    let (_, url) = state(w).second.clone().ok_or("no second replica is running")?;
    match try_tool_at(w, &url, &tool).await {
        Ok(result) => w.last_call = Some(result),
        Err(e) => {
            w.last_call = None;
            eprintln!("tools/call {tool} through the second replica failed: {e}");
        }
    }
    Ok(())
}

#[then(expr = "through the second replica {string} received the user's GitHub token without a new login")]
async fn second_served(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let (marked, auth, want) = calls_since_mark(w)?;
    let ok = marked == backend && auth.iter().any(|a| a.as_deref() == Some(want.as_str()));
    verify(
        &mut w.checks,
        Check::must("redis.replicas.shared-session", DOC_STORAGE),
        ok,
        format!("a tools/call through the second replica with Authorization: {}", super::backends::redact(&want)),
        format!(
            "{} tools/call since the mark; last result: {:?}",
            auth.len(),
            w.last_call.as_ref().map(|r| &r.content)
        ),
    )
}

#[when("both replicas are sent the user's refresh token at the same moment")]
async fn concurrent_refresh(w: &mut ConformanceWorld) -> Result<(), String> {
    let (_, second) = state(w).second.clone().ok_or("no second replica is running")?;
    let login = w.login()?.clone();
    let refresh =
        login.token_response["refresh_token"].as_str().ok_or("the login returned no refresh_token")?.to_string();
    let send = |base: String| {
        let http = w.http.clone();
        let form = [
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh.clone()),
            ("client_id", login.client_id.clone()),
        ];
        async move {
            let r = http.post(format!("{base}/oauth/token")).form(&form).send().await.map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            Ok::<_, String>((status, r.text().await.unwrap_or_default()))
        }
    };
    let (a, b) = tokio::join!(send(w.base_url()), send(second));
    state(w).refreshes = vec![a?, b?];
    Ok(())
}

#[then("exactly one replica rotates the refresh token and the other answers invalid_grant")]
async fn one_winner(w: &mut ConformanceWorld) -> Result<(), String> {
    let answers = state(w).refreshes.clone();
    let winners = answers.iter().filter(|(s, _)| *s == 200).count();
    let losers = answers.iter().filter(|(s, b)| *s == 400 && b.contains("invalid_grant")).count();
    verify(
        &mut w.checks,
        Check::must(
            "redis.refresh.single-winner",
            "RFC 9700 §4.14.2; redis-session-storage.mdx#embedded-auth-server-session-storage",
        ),
        winners == 1 && losers == 1,
        "one 200 and one 400 invalid_grant",
        format!("{answers:?}"),
    )
}
