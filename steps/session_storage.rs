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
use vmcp_conformance::topology::cluster::RedisCluster;
use vmcp_conformance::topology::standalone::StandaloneRedis;
use vmcp_conformance::topology::tls::TopologyTls;
use vmcp_conformance::topology::{Options, Shape, Topology};

use super::suite_prelude::*;
use super::world::{ConformanceWorld, ManifestSource};

const DOC_PAGE: &str = "guides-k8s/redis-session-storage.mdx";
const DOC_STORAGE: &str = "redis-session-storage.mdx#embedded-auth-server-session-storage";
const DOC_ACL: &str = "redis-session-storage.mdx#deploy-redis-sentinel";
const DOC_VERIFY: &str = "redis-session-storage.mdx#verify-the-integration";
const DOC_FAILOVER: &str = "redis-session-storage.mdx#troubleshooting";
const DOC_TLS: &str = "redis-session-storage.mdx#enable-tls";
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
    /// The outcome of a deployment the scenario expects may fail (its error text).
    attempted_deploy: Option<Result<(), String>>,
    /// The password-only Redis of the scaling section.
    standalone: Option<Arc<StandaloneRedis>>,
    /// The MCP session a raw client initialized (`Mcp-Session-Id`).
    mcp_session: Option<String>,
    /// Status and body of the last request sent in that session.
    session_reply: Option<(u16, String)>,
    /// The Redis Cluster of the cluster-mode section.
    cluster: Option<Arc<RedisCluster>>,
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
    place_storage(w, storage, format!("{DOC_PAGE}:{} ({title})", block.line))
}

/// A storage block the scenario writes itself (the docs describe it in prose only).
#[given("the VirtualMCPServer keeps its sessions in this storage block:")]
async fn storage_docstring(w: &mut ConformanceWorld, step: &cucumber::gherkin::Step) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs a YAML docstring")?;
    let doc: serde_json::Value = serde_saphyr::from_str(&super::deploy::docstring_text(raw))
        .map_err(|e| format!("the docstring is not valid YAML: {e}"))?;
    let storage = doc.get("storage").cloned().ok_or("the docstring has no `storage:` block")?;
    place_storage(w, storage, "the scenario's storage block".into())
}

/// Puts `storage` under the VirtualMCPServer's `spec.authServerConfig` and creates the
/// `redis-acl-secret` the docs create with kubectl (the topology's ACL password when one runs).
fn place_storage(w: &mut ConformanceWorld, storage: serde_json::Value, from: String) -> Result<(), String> {
    let st = state(w);
    let password = match (st.topology.as_ref(), st.standalone.as_ref(), st.cluster.as_ref()) {
        (Some(t), _, _) => t.acl_password.clone(),
        (None, Some(r), _) => r.password.clone(),
        (None, None, Some(c)) => c.password.clone(),
        (None, None, None) => format!("conformance-{}", uuid::Uuid::new_v4().simple()),
    };
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
        source.origin = format!("{} + storage from {from}", source.origin);
        placed = Some(namespace);
        break;
    }
    let namespace = placed.ok_or("no VirtualMCPServer among the scenario's manifests")?;
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "redis-acl-secret", "namespace": namespace},
        "type": "Opaque",
        "stringData": {"username": ACL_USER, "password": password},
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
    let client =
        ().serve(StreamableHttpClientTransport::with_client(w.mcp_http(), config)).await.map_err(|e| e.to_string())?;
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
    let users = storage_clients(&t, &master).await?;
    verify(
        &mut w.checks,
        Check::must("redis.acl.user", "redis-session-storage.mdx#configure-mcpexternalauthconfig"),
        !users.is_empty() && users.iter().all(|u| *u == user),
        format!("every storage connection on {master} as {user}"),
        format!("connections as {users:?}"),
    )
}

/// The users of the clients connected to `pod`, leaving out the harness's own connection,
/// Sentinels' links and replication links.
async fn storage_clients(t: &Topology, pod: &str) -> Result<Vec<String>, String> {
    let mut conn = t.connect(pod, None).await?;
    let own: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    let users: Vec<String> = list
        .lines()
        .filter(|l| !l.contains(&format!("id={own} ")))
        // Sentinels' own links (named `sentinel-<id>-cmd` / `-pubsub`) and replication links.
        .filter(|l| !l.contains(" name=sentinel-") && !l.contains("flags=S") && !l.contains("flags=M"))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("user=")).map(str::to_string))
        .collect();
    Ok(users)
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

/// The server side of TLS is left to Redis' own docs (redis-session-storage.mdx#enable-tls); the
/// harness serves TLS only (plaintext ports closed), with CAs generated for the run.
#[given(
    expr = "the documented Redis Sentinel topology is running with TLS, {word} CA(s) signing the Redis and Sentinel certificates"
)]
async fn tls_topology(w: &mut ConformanceWorld, cas: String) -> Result<(), String> {
    let tls = match cas.as_str() {
        "one" => TopologyTls::one_ca()?,
        "two" => TopologyTls::separate_sentinel_ca()?,
        other => return Err(format!("{other:?} CAs: say one or two")),
    };
    let t = Topology::start_with(Shape::Documented, Options { tls: Some(tls), ..Options::default() }).await?;
    state(w).topology = Some(Arc::new(t));
    Ok(())
}

/// `kubectl create secret generic <name> --from-file=ca.crt=…` (redis-session-storage.mdx#create-a-ca-certificate-secret),
/// in the VirtualMCPServer's namespace.
#[given(expr = "the Secret {string} holds the CA that signed the {word} certificates")]
async fn ca_secret(w: &mut ConformanceWorld, name: String, which: String) -> Result<(), String> {
    let t = topology(w)?;
    let tls = t.tls.as_ref().ok_or("the topology does not serve TLS")?;
    let ca = match which.as_str() {
        "Redis" => &tls.redis_ca,
        "Sentinel" => tls.sentinel_ca(),
        other => return Err(format!("{other:?} certificates: say Redis or Sentinel")),
    };
    let (namespace, _) = vmcp_identity(w)?;
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "stringData": {"ca.crt": ca.cert_pem},
    });
    w.manifests.push(ManifestSource {
        origin: format!(
            "{DOC_PAGE}#create-a-ca-certificate-secret (kubectl create secret generic {name}, {})",
            ca.name
        ),
        yaml: serde_json::to_string_pretty(&secret).map_err(|e| e.to_string())?,
        documented: false,
    });
    Ok(())
}

/// Replaces one field of the `storage.redis` block placed in the VirtualMCPServer.
#[given(expr = "the storage block's {string} is replaced by:")]
async fn replace_storage_field(
    w: &mut ConformanceWorld,
    step: &cucumber::gherkin::Step,
    field: String,
) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs a YAML docstring")?;
    let value: serde_json::Value = serde_saphyr::from_str(&super::deploy::docstring_text(raw))
        .map_err(|e| format!("the docstring is not valid YAML: {e}"))?;
    for source in &mut w.manifests {
        let mut docs_in: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml).unwrap_or_default();
        let Some(vmcp) = docs_in.iter_mut().find(|d| d["kind"] == "VirtualMCPServer") else { continue };
        let redis = vmcp
            .pointer_mut("/spec/authServerConfig/storage/redis")
            .and_then(|v| v.as_object_mut())
            .ok_or("the VirtualMCPServer has no spec.authServerConfig.storage.redis block")?;
        redis.insert(field.clone(), value);
        let rendered: Vec<String> = docs_in
            .iter()
            .filter(|d| !d.is_null())
            .map(|d| serde_json::to_string_pretty(d).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        source.yaml = rendered.join("\n---\n");
        source.origin = format!("{} (storage.redis.{field} replaced by the scenario)", source.origin);
        return Ok(());
    }
    Err("no VirtualMCPServer among the scenario's manifests".into())
}

#[when("the vMCP deployment is attempted")]
async fn attempt_deploy(w: &mut ConformanceWorld) -> Result<(), String> {
    let outcome = match super::deploy::deploy_manifests(w).await {
        Ok(()) => match w.deployed.as_ref() {
            Some(d) if d.ready => Ok(()),
            Some(d) => Err(d.conditions.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            None => Err("no deployment outcome".to_string()),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = &outcome {
        eprintln!("the vMCP did not start: {e}");
    }
    state(w).attempted_deploy = Some(outcome);
    Ok(())
}

#[then("the vMCP starts with its session storage reached over TLS")]
async fn started_over_tls(w: &mut ConformanceWorld) -> Result<(), String> {
    let outcome = state(w).attempted_deploy.clone().ok_or("no deployment was attempted")?;
    let t = topology(w)?;
    let tls_only = t.tls.is_some();
    let master = t.current_master().await?;
    let clients = storage_clients(&t, &master).await?;
    verify(
        &mut w.checks,
        Check::must("redis.tls.connected", DOC_TLS),
        outcome.is_ok() && tls_only && !clients.is_empty(),
        "the vMCP starts with storage connections on a master and Sentinels that only accept TLS",
        match outcome {
            Ok(()) => format!("started; TLS-only topology: {tls_only}; storage connections on {master}: {clients:?}"),
            Err(e) => e,
        },
    )
}

/// Plaintext clients are refused by every pod, and the session's keys are on the master: the
/// storage can only have written them over TLS.
#[then("no pod accepts plaintext clients, and the session keys were written over TLS")]
async fn written_over_tls(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = topology(w)?;
    let mut plaintext = Vec::new();
    for node in &t.nodes {
        if let Ok(pong) = t.plaintext_ping(&node.pod).await {
            plaintext.push(format!("{} answered {pong}", node.pod));
        }
    }
    let (namespace, name) = vmcp_identity(w)?;
    let prefix = format!("thv:auth:{{{namespace}:{name}}}:");
    let master = t.current_master().await?;
    let keys: Vec<String> = t.keys(&master).await?.into_iter().filter(|k| k.starts_with(&prefix)).collect();
    verify(
        &mut w.checks,
        Check::must("redis.tls.only", DOC_TLS),
        plaintext.is_empty() && !keys.is_empty(),
        format!("no plaintext answer, session keys under {prefix} on {master}"),
        format!("plaintext answers: {plaintext:?}; {} session keys", keys.len()),
    )
}

/// A CA that does not match fails at start (ToolHive PINGs Redis at start-up and aborts), with an
/// error naming the field, and nothing is written.
#[then(expr = "the vMCP does not start, its error names {string} and the certificate, and nothing is stored")]
async fn wrong_ca_refused(w: &mut ConformanceWorld, field: String) -> Result<(), String> {
    let outcome = state(w).attempted_deploy.clone().ok_or("no deployment was attempted")?;
    let t = topology(w)?;
    let master = t.current_master().await?;
    let keys = t.keys(&master).await?;
    let error = outcome.clone().err().unwrap_or_default();
    let ok =
        outcome.is_err() && error.contains(&field) && error.to_lowercase().contains("certificate") && keys.is_empty();
    verify(
        &mut w.checks,
        Check::must("redis.tls.wrong-ca-refused", DOC_TLS),
        ok,
        format!("start-up refused with an error naming {field} and the certificate; no key on {master}"),
        format!(
            "{}; {} keys",
            match &outcome {
                Ok(()) => "the vMCP started".to_string(),
                Err(e) => e.clone(),
            },
            keys.len()
        ),
    )
}

/// The deployment is refused (not started) with a False condition naming every field given.
#[then(expr = "the deployment is refused with a condition naming {string}")]
async fn condition_names(w: &mut ConformanceWorld, fields: String) -> Result<(), String> {
    let attempted = state(w).attempted_deploy.clone().ok_or("no deployment was attempted")?;
    let wanted: Vec<&str> = fields.split(", ").collect();
    let (ready, failing) = match (&attempted, w.deployed.as_ref()) {
        (Err(_), Some(d)) => (
            d.ready,
            d.conditions
                .iter()
                .filter(|c| c.resource.starts_with("VirtualMCPServer/") && !c.status)
                .map(|c| c.message.clone())
                .collect::<Vec<_>>(),
        ),
        (Ok(()), _) => (true, Vec::new()),
        (Err(e), None) => (false, vec![format!("no conditions; the start failed: {e}")]),
    };
    let ok = !ready && w.deployed.is_some() && failing.iter().any(|m| wanted.iter().all(|f| m.contains(f)));
    verify(
        &mut w.checks,
        Check::must("redis.config.field-named", "redis-session-storage.mdx#managed-redis-standalone-and-cluster-modes"),
        ok,
        format!("the deployment refused with a False condition naming {wanted:?}"),
        format!("started: {ready}; False conditions: {failing:?}"),
    )
}

/// The documented `redis-scaling.yaml` (`redis-server --requirepass`): what managed tiers without
/// ACL users look like to the storage. `address` (the storage block's `addr`) is mapped to it.
#[given(expr = "the documented password-only Redis of {string} is running, reachable as {string}")]
async fn standalone_redis(w: &mut ConformanceWorld, block: String, address: String) -> Result<(), String> {
    if block != "redis-scaling.yaml" {
        return Err(format!("no password-only Redis block {block:?}: the docs have redis-scaling.yaml"));
    }
    let r = StandaloneRedis::start(&[address.as_str()]).await?;
    state(w).standalone = Some(Arc::new(r));
    Ok(())
}

/// Without `usernameSecretRef` the storage sends the password alone (`AUTH <password>`, i.e. the
/// `default` user): the start-up `PING` passed, every storage connection is `user=default`, and a
/// client without the password is refused.
#[then("the storage authenticated with the password alone, as Redis' default user")]
async fn password_only(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = state(w).standalone.clone().ok_or("no password-only Redis is running")?;
    let mut conn = r.connect(Some(&r.password)).await?;
    let own: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    let users: Vec<String> = list
        .lines()
        .filter(|l| !l.contains(&format!("id={own} ")))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("user=")).map(str::to_string))
        .collect();
    let anonymous = match r.connect(None).await {
        Ok(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let refused = anonymous.as_ref().is_err_and(|e| e.contains("NOAUTH"));
    let deployed = state(w).attempted_deploy.clone().unwrap_or(Ok(()));
    verify(
        &mut w.checks,
        Check::must("redis.auth.password-only", "redis-session-storage.mdx#standalone-mode"),
        deployed.is_ok() && !users.is_empty() && users.iter().all(|u| u == "default") && refused,
        "the vMCP started (its PING passed) on connections as `default`, and a client without the password is refused",
        format!("start: {deployed:?}; connections as {users:?}; without the password: {anonymous:?}"),
    )
}

/// The docs' production advice (the warning under #deploy-redis-sentinel): `user default off`, and
/// Sentinel authenticating to Redis with `sentinel auth-user` / `sentinel auth-pass`.
#[given("the documented Redis Sentinel topology is running with the default user off and Sentinel authenticating")]
async fn hardened_topology(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = Topology::start_with(Shape::Documented, Options { default_user_off: true, ..Options::default() }).await?;
    state(w).topology = Some(Arc::new(t));
    Ok(())
}

/// A precondition of the hardened topology, not a requirement on the target: a client without
/// credentials is refused, and past `down-after-milliseconds` the Sentinels still see the master
/// up (their own authentication works).
#[when("the harness confirms a client without credentials is refused while the Sentinels still see the master up")]
async fn hardened_as_advised(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = topology(w)?;
    let mut anonymous = t.connect_as("redis-0", None).await?;
    let ping = redis::cmd("PING").query_async::<String>(&mut anonymous).await;
    if !ping.as_ref().is_err_and(|e| e.to_string().contains("NOAUTH")) {
        return Err(format!("the default user is not off: an anonymous PING answered {ping:?}"));
    }
    // down-after-milliseconds 5000 as documented.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let sentinel = t.nodes.iter().find(|n| n.sentinel).ok_or("no Sentinel")?;
    let mut conn = t.connect(&sentinel.pod, None).await?;
    let info: std::collections::HashMap<String, String> = redis::cmd("SENTINEL")
        .arg("master")
        .arg(&t.master_name)
        .query_async(&mut conn)
        .await
        .map_err(|e| format!("SENTINEL MASTER: {e}"))?;
    let flags = info.get("flags").cloned().unwrap_or_default();
    if flags != "master" {
        return Err(format!(
            "Sentinel {} sees the master with flags {flags:?}: its authentication failed",
            sentinel.pod
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Horizontal-scaling session storage (spec.sessionStorage): MCP sessions shared across replicas
// ---------------------------------------------------------------------------------------------

const DOC_SCALING: &str = "redis-session-storage.mdx#configure-virtualmcpserver-session-storage";
/// The protocol version the raw client negotiates (one with sessions).
const MCP_VERSION: &str = "2025-06-18";

/// Puts the documented `spec.sessionStorage` in the VirtualMCPServer, and creates the Secret its
/// `passwordRef` names (the docs' `redis-password`) with the running Redis' password.
#[given(
    expr = "the VirtualMCPServer shares its MCP sessions through the sessionStorage of {string} from section {string}"
)]
async fn scaling_block(w: &mut ConformanceWorld, title: String, section: String) -> Result<(), String> {
    let (_, text) = docs::read_page(DOC_PAGE)?;
    let block = docs::extract_blocks(&text)
        .into_iter()
        .find(|b| b.heading_anchor == section && b.title.as_deref() == Some(title.as_str()))
        .ok_or_else(|| format!("{DOC_PAGE} has no block titled {title:?} under #{section}"))?;
    let doc: serde_json::Value = serde_saphyr::from_str(&block.content)
        .map_err(|e| format!("{DOC_PAGE}:{} is not valid YAML: {e}", block.line))?;
    let storage = doc
        .pointer("/spec/sessionStorage")
        .cloned()
        .ok_or_else(|| format!("{DOC_PAGE}:{} has no spec.sessionStorage", block.line))?;
    place_session_storage(w, storage, format!("{DOC_PAGE}:{} ({title})", block.line))
}

/// The untitled `sessionStorage:` snippet of a section (the shared-instance one points at the
/// master pod).
#[given(expr = "the VirtualMCPServer shares its MCP sessions through the sessionStorage snippet of section {string}")]
async fn scaling_snippet(w: &mut ConformanceWorld, section: String) -> Result<(), String> {
    let (_, text) = docs::read_page(DOC_PAGE)?;
    let block = docs::extract_blocks(&text)
        .into_iter()
        .find(|b| b.heading_anchor == section && b.content.trim_start().starts_with("sessionStorage:"))
        .ok_or_else(|| format!("{DOC_PAGE} has no sessionStorage snippet under #{section}"))?;
    let doc: serde_json::Value = serde_saphyr::from_str(&block.content)
        .map_err(|e| format!("{DOC_PAGE}:{} is not valid YAML: {e}", block.line))?;
    let storage = doc.get("sessionStorage").cloned().ok_or("no sessionStorage")?;
    place_session_storage(w, storage, format!("{DOC_PAGE}:{} (sessionStorage snippet)", block.line))
}

/// `keyPrefix`, as the docs' table suggests per use case (#sharing-a-redis-instance).
#[given(expr = "the sessionStorage's keyPrefix is {string}, as the docs' table suggests")]
async fn scaling_prefix(w: &mut ConformanceWorld, prefix: String) -> Result<(), String> {
    for source in &mut w.manifests {
        let mut docs_in: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml).unwrap_or_default();
        let Some(vmcp) = docs_in.iter_mut().find(|d| d["kind"] == "VirtualMCPServer") else { continue };
        let storage = vmcp
            .pointer_mut("/spec/sessionStorage")
            .and_then(|v| v.as_object_mut())
            .ok_or("the VirtualMCPServer has no spec.sessionStorage")?;
        storage.insert("keyPrefix".into(), serde_json::Value::String(prefix.clone()));
        let rendered: Vec<String> = docs_in
            .iter()
            .filter(|d| !d.is_null())
            .map(|d| serde_json::to_string_pretty(d).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        source.yaml = rendered.join("\n---\n");
        source.origin = format!("{} (sessionStorage.keyPrefix {prefix})", source.origin);
        return Ok(());
    }
    Err("no VirtualMCPServer among the scenario's manifests".into())
}

fn place_session_storage(w: &mut ConformanceWorld, storage: serde_json::Value, from: String) -> Result<(), String> {
    let st = state(w);
    let password = match (st.standalone.as_ref(), st.topology.as_ref().and_then(|t| t.scaling_password.clone())) {
        (Some(r), _) => r.password.clone(),
        (None, Some(p)) => p,
        (None, None) => return Err("no Redis for the scaling storage is running".into()),
    };
    let secret_name = storage.pointer("/passwordRef/name").and_then(|v| v.as_str()).unwrap_or("redis-password");
    let secret_key = storage.pointer("/passwordRef/key").and_then(|v| v.as_str()).unwrap_or("password");
    let mut namespace = None;
    for source in &mut w.manifests {
        let mut docs_in: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml).unwrap_or_default();
        let Some(vmcp) = docs_in.iter_mut().find(|d| d["kind"] == "VirtualMCPServer") else { continue };
        namespace = Some(vmcp["metadata"]["namespace"].as_str().unwrap_or("default").to_string());
        let spec = vmcp.pointer_mut("/spec").and_then(|v| v.as_object_mut()).ok_or("VirtualMCPServer without spec")?;
        spec.insert("sessionStorage".into(), storage.clone());
        let rendered: Vec<String> = docs_in
            .iter()
            .filter(|d| !d.is_null())
            .map(|d| serde_json::to_string_pretty(d).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        source.yaml = rendered.join("\n---\n");
        source.origin = format!("{} + sessionStorage from {from}", source.origin);
        break;
    }
    let namespace = namespace.ok_or("no VirtualMCPServer among the scenario's manifests")?;
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": namespace},
        "type": "Opaque",
        "stringData": {secret_key: password},
    });
    w.manifests.push(ManifestSource {
        origin: format!(
            "{DOC_PAGE}#deploy-a-standalone-redis-instance (Secret {secret_name}, the running Redis' password)"
        ),
        yaml: serde_json::to_string_pretty(&secret).map_err(|e| e.to_string())?,
        documented: false,
    });
    Ok(())
}

fn replica_url(w: &mut ConformanceWorld, which: &str) -> Result<String, String> {
    match which {
        "first" => Ok(w.base_url()),
        "second" => state(w).second.clone().map(|(_, url)| url).ok_or_else(|| "no second replica is running".into()),
        other => Err(format!("{other:?} replica: say first or second")),
    }
}

/// One JSON-RPC message over Streamable HTTP; the JSON-RPC reply is read from a JSON or an SSE body.
async fn mcp_post(
    w: &ConformanceWorld,
    base: &str,
    session: Option<&str>,
    body: serde_json::Value,
) -> Result<(u16, Option<String>, String), String> {
    let token = w.login()?.access_token.clone();
    let mut request = w
        .http
        .post(format!("{base}/mcp"))
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .json(&body);
    if let Some(id) = session {
        request = request.header("Mcp-Session-Id", id).header("MCP-Protocol-Version", MCP_VERSION);
    }
    let response = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .map_err(|_| format!("POST {base}/mcp timed out"))?
        .map_err(|e| format!("POST {base}/mcp: {e}"))?;
    let status = response.status().as_u16();
    let session_id = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .map_err(|_| format!("the answer of {base}/mcp did not end"))?
        .unwrap_or_default();
    Ok((status, session_id, text))
}

#[when(expr = "an MCP client initializes a session through the {word} replica")]
async fn initialize_session(w: &mut ConformanceWorld, which: String) -> Result<(), String> {
    let base = replica_url(w, &which)?;
    let init = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": MCP_VERSION, "capabilities": {}, "clientInfo": {"name": "vmcp-conformance", "version": "1"}}
    });
    let (status, session, body) = mcp_post(w, &base, None, init).await?;
    let session = match (status, session) {
        (200, Some(s)) => s,
        _ => return Err(format!("initialize through the {which} replica answered {status} without a session: {body}")),
    };
    let initialized = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _, body) = mcp_post(w, &base, Some(&session), initialized).await?;
    if status != 202 && status != 200 {
        return Err(format!("notifications/initialized answered {status}: {body}"));
    }
    state(w).mcp_session = Some(session);
    Ok(())
}

#[when(expr = "the client sends {string} in that session through the {word} replica")]
async fn send_in_session(w: &mut ConformanceWorld, method: String, which: String) -> Result<(), String> {
    let base = replica_url(w, &which)?;
    let session = state(w).mcp_session.clone().ok_or("no MCP session was initialized")?;
    let request = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": {}});
    let (status, _, body) = mcp_post(w, &base, Some(&session), request).await?;
    state(w).session_reply = Some((status, body));
    Ok(())
}

#[when("the scaling Redis restarts")]
async fn scaling_redis_restarts(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = state(w).standalone.clone().ok_or("no password-only Redis is running")?;
    // The replica may store a new session after answering `initialize`: wait until Redis holds
    // it, so that the restart is what loses it (under load the write could otherwise land on the
    // restarted, empty Redis and the session would survive).
    if let Some(session) = state(w).mcp_session.clone() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !r.keys().await?.iter().any(|k| k.contains(&session)) {
            if std::time::Instant::now() > deadline {
                return Err(format!("the first replica never stored the MCP session {session} in Redis"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    r.restart().await
}

#[then(expr = "the {word} replica serves the session without a new initialize")]
async fn session_served(w: &mut ConformanceWorld, which: String) -> Result<(), String> {
    let (status, body) = state(w).session_reply.clone().ok_or("nothing was sent in the session")?;
    let ok = status == 200 && body.contains("\"result\"") && body.contains("\"tools\"");
    verify(
        &mut w.checks,
        Check::must("scaling.session-shared", DOC_SCALING),
        ok,
        format!("200 with the tools/list result from the {which} replica"),
        format!("{status}: {}", body.chars().take(300).collect::<String>()),
    )
}

/// The docs: when the ephemeral scaling Redis restarts, active sessions are lost and clients
/// reconnect (redis-session-storage.mdx#deploy-a-standalone-redis-instance). The MCP answer to a
/// session the server does not know is 404, after which the client initializes again.
#[then(expr = "the {word} replica answers 404: the session is gone and the client must initialize again")]
async fn session_gone(w: &mut ConformanceWorld, which: String) -> Result<(), String> {
    let (status, body) = state(w).session_reply.clone().ok_or("nothing was sent in the session")?;
    verify(
        &mut w.checks,
        Check::must("scaling.session-lost-with-redis", "redis-session-storage.mdx#deploy-a-standalone-redis-instance"),
        status == 404,
        format!("404 from the {which} replica for a session Redis no longer holds"),
        format!("{status}: {}", body.chars().take(300).collect::<String>()),
    )
}

#[then(expr = "the MCP session is kept in Redis under the key prefix {string}")]
async fn session_key(w: &mut ConformanceWorld, prefix: String) -> Result<(), String> {
    let session = state(w).mcp_session.clone().ok_or("no MCP session was initialized")?;
    let (standalone, topology) = (state(w).standalone.clone(), state(w).topology.clone());
    let keys: Vec<String> = match (standalone, topology) {
        (Some(r), _) => r.keys().await?,
        // A shared instance also holds the auth server's keys.
        (None, Some(t)) => {
            t.keys(&t.current_master().await?).await?.into_iter().filter(|k| !k.starts_with("thv:auth:")).collect()
        }
        (None, None) => return Err("no Redis for the scaling storage is running".into()),
    };
    let want = format!("{prefix}{session}");
    let outside: Vec<&String> = keys.iter().filter(|k| !k.starts_with(&prefix)).collect();
    verify(
        &mut w.checks,
        Check::must("scaling.key-prefix", "redis-session-storage.mdx#sharing-a-redis-instance"),
        keys.contains(&want) && outside.is_empty(),
        format!("the key {want}, and no key outside {prefix}"),
        format!("keys: {keys:?}"),
    )
}

#[given("the documented Redis Sentinel topology is running, shared with the scaling workloads as the docs describe")]
async fn shared_topology(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = Topology::start_with(Shape::Documented, Options { shared_scaling: true, ..Options::default() }).await?;
    state(w).topology = Some(Arc::new(t));
    Ok(())
}

/// A precondition of the shared instance, not a requirement on the target: the scaling password
/// (the `default` user) can neither read nor write the auth server's `thv:auth:*` keys.
#[when("the harness confirms the scaling credentials can neither read nor write the thv:auth keys")]
async fn scaling_isolated(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = topology(w)?;
    let password = t.scaling_password.clone().ok_or("the topology is not the shared instance")?;
    let master = t.current_master().await?;
    let auth_key =
        t.keys(&master).await?.into_iter().find(|k| k.starts_with("thv:auth:")).ok_or("no thv:auth key was written")?;
    let mut conn = t.connect_as(&master, Some(("default", password.as_str()))).await?;
    let read = redis::cmd("GET").arg(&auth_key).query_async::<redis::Value>(&mut conn).await;
    let write = redis::cmd("SET").arg("thv:auth:scaling-probe").arg("1").query_async::<redis::Value>(&mut conn).await;
    for (what, outcome) in [("GET", &read), ("SET", &write)] {
        if !outcome.as_ref().is_err_and(|e| e.to_string().to_lowercase().contains("noperm")) {
            return Err(format!("{what} on thv:auth as the scaling user was not refused: {outcome:?}"));
        }
    }
    Ok(())
}

#[given(expr = "a Redis Cluster of three masters is running, its discovery endpoint reachable as {string}")]
async fn redis_cluster(w: &mut ConformanceWorld, address: String) -> Result<(), String> {
    let c = RedisCluster::start(&[address.as_str()]).await?;
    state(w).cluster = Some(Arc::new(c));
    Ok(())
}

/// A precondition of the cluster scenario, not a claim of its own: the start-up `PING` went
/// through the cluster client.
#[then("the vMCP started with its session storage in the Redis Cluster")]
async fn started_on_cluster(w: &mut ConformanceWorld) -> Result<(), String> {
    match state(w).attempted_deploy.clone() {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(format!("the vMCP did not start with clusterMode storage: {e}")),
        None => Err("the vMCP deployment has not been attempted".into()),
    }
}

/// ToolHive's prefix carries one hash tag (`{<namespace>:<name>}`), so every key of a server maps
/// to one slot of the cluster (one shard), which its multi-key transactions need.
#[then(expr = "every Redis Cluster key of the session is under the workload's prefix {string}, all in one hash slot")]
async fn cluster_keys_one_slot(w: &mut ConformanceWorld, pattern: String) -> Result<(), String> {
    let c = state(w).cluster.clone().ok_or("no Redis Cluster is running")?;
    let (namespace, name) = vmcp_identity(w)?;
    let prefix = pattern.replace("<namespace>", &namespace).replace("<name>", &name);
    let keys = c.keys().await?;
    let outside: Vec<&String> = keys.iter().map(|(k, _, _)| k).filter(|k| !k.starts_with(&prefix)).collect();
    let slots: std::collections::BTreeSet<i64> = keys.iter().map(|(_, s, _)| *s).collect();
    let nodes: std::collections::BTreeSet<usize> = keys.iter().map(|(_, _, n)| *n).collect();
    verify(
        &mut w.checks,
        Check::must("redis.cluster.keys.one-slot", "redis-session-storage.mdx#cluster-mode"),
        !keys.is_empty() && outside.is_empty() && slots.len() == 1,
        format!("keys only under {prefix}, all in one hash slot"),
        format!("{} keys in slots {slots:?} on nodes {nodes:?}; outside the prefix: {outside:?}", keys.len()),
    )
}
