//! The local CLI (`thv vmcp serve` / `validate`, local-cli.mdx) driven as a process: the steps
//! write a config file, run the configured CLI and speak HTTP to what it serves. The CLI is
//! `VMCP_CONFORMANCE_CLI` (`thv vmcp` for ToolHive), else this suite's own binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};
use mock_idps::MockBackend;
use rmcp::ServiceExt as _;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Value;

use super::suite_prelude::*;
use super::world::{ConformanceWorld, ManifestSource};

const PAGE: &str = "guides-vmcp/local-cli.mdx";
/// The tool every mock workload of these scenarios offers.
const TOOL: &str = "ping";

/// This scenario's CLI state (dropped with the World: the process is killed).
#[derive(Default, Clone)]
struct LocalCli {
    dir: Option<Arc<TempDir>>,
    /// The vMCP config as the scenario edits it (JSON form of the YAML).
    config: Option<Value>,
    /// Group name -> workloads, written as the quick-mode groups file.
    groups: BTreeMap<String, Vec<Value>>,
    mocks: Vec<Arc<MockBackend>>,
    child: Option<Arc<Running>>,
    port: u16,
    /// Exit status and combined output of a command that finished.
    finished: Option<(Option<i32>, String)>,
}

/// The scenario's folder, removed with the World.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The serving CLI process, killed with the World.
struct Running(std::sync::Mutex<tokio::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.lock().unwrap_or_else(|p| p.into_inner()).start_kill();
    }
}

fn state(w: &mut ConformanceWorld) -> &mut LocalCli {
    w.ext.get_or_insert_default::<LocalCli>()
}

/// The CLI under test as argv words: `VMCP_CONFORMANCE_CLI`, else this suite's binary.
fn cli() -> (Vec<String>, bool) {
    if let Ok(cli) = std::env::var("VMCP_CONFORMANCE_CLI")
        && !cli.trim().is_empty()
    {
        return (cli.split_whitespace().map(str::to_string).collect(), false);
    }
    // Under `cargo test` the runner is the test binary; the CLI is the package's binary.
    let own = option_env!("CARGO_BIN_EXE_vmcp-conformance")
        .map(PathBuf::from)
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("vmcp-conformance"));
    (vec![own.display().to_string()], true)
}

fn dir(w: &mut ConformanceWorld) -> Result<PathBuf, String> {
    let st = state(w);
    if st.dir.is_none() {
        let d = std::env::temp_dir().join(format!("vmcp-conformance-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        st.dir = Some(Arc::new(TempDir(d)));
    }
    st.dir.as_ref().map(|d| d.0.clone()).ok_or_else(|| "no scenario folder".into())
}

#[given(expr = "the documented block {string} from the local CLI page section {string} as the CLI config")]
async fn documented_config(w: &mut ConformanceWorld, title: String, section: String) -> Result<(), String> {
    let blocks = super::deploy::page_blocks(PAGE)?;
    let block = blocks
        .iter()
        .find(|b| b.heading_anchor == section && b.title.as_deref() == Some(title.as_str()))
        .ok_or_else(|| format!("{PAGE} has no block titled {title:?} under #{section}"))?;
    let value: Value =
        serde_saphyr::from_str(&block.content).map_err(|e| format!("{PAGE}:{} is not YAML: {e}", block.line))?;
    w.manifests.push(ManifestSource {
        origin: format!("{PAGE}:{} ({title})", block.line),
        yaml: block.content.clone(),
        documented: true,
    });
    state(w).config = Some(value);
    Ok(())
}

/// Each `backends[]` entry of the config is served by a harness mock (the documented URLs are
/// placeholders for local workloads); the mocks speak Streamable HTTP, so `transport` follows.
#[given("each backend of the CLI config is a mock workload")]
async fn mock_backends(w: &mut ConformanceWorld) -> Result<(), String> {
    let mut config = state(w).config.take().ok_or("no CLI config yet")?;
    let backends = config.get_mut("backends").and_then(Value::as_array_mut).ok_or("the config has no backends list")?;
    let mut mocks = Vec::new();
    for b in backends.iter_mut() {
        let name = b.get("name").and_then(Value::as_str).ok_or("a backend without a name")?.to_string();
        let mock = MockBackend::start(&name, &[TOOL]).await;
        let documented = (
            b["url"].as_str().unwrap_or_default().to_string(),
            b["transport"].as_str().unwrap_or_default().to_string(),
        );
        b["url"] = Value::String(mock.url());
        b["transport"] = Value::String("streamable-http".into());
        w.substitutions
            .push((format!("{} ({})", documented.0, documented.1), format!("{} (streamable-http)", mock.url())));
        mocks.push(Arc::new(mock));
    }
    let st = state(w);
    st.config = Some(config);
    st.mocks.extend(mocks);
    Ok(())
}

fn set_path(doc: &mut Value, path: &str, value: Option<Value>) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, parents) = parts.split_last().ok_or("an empty field path")?;
    let mut node = doc;
    for p in parents {
        node = node
            .as_object_mut()
            .ok_or_else(|| format!("{path}: {p} is not inside a mapping"))?
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    let map = node.as_object_mut().ok_or_else(|| format!("{path}: the parent is not a mapping"))?;
    match value {
        Some(v) => {
            map.insert(last.to_string(), v);
        }
        None => {
            map.remove(*last).ok_or_else(|| format!("{path} is not set in the config"))?;
        }
    }
    Ok(())
}

#[given(expr = "the CLI config has the field {string} set to {string}")]
async fn set_field(w: &mut ConformanceWorld, path: String, value: String) -> Result<(), String> {
    let value: Value = serde_saphyr::from_str(&value).map_err(|e| format!("{value:?} is not YAML: {e}"))?;
    let config = state(w).config.as_mut().ok_or("no CLI config yet")?;
    set_path(config, &path, Some(value))
}

#[given(expr = "the CLI config has no field {string}")]
async fn remove_field(w: &mut ConformanceWorld, path: String) -> Result<(), String> {
    let config = state(w).config.as_mut().ok_or("no CLI config yet")?;
    set_path(config, &path, None)
}

#[given(expr = "the local group {string} has the workloads {string}")]
async fn local_group(w: &mut ConformanceWorld, group: String, names: String) {
    let mut workloads = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let mock = MockBackend::start(name, &[TOOL]).await;
        workloads.push(serde_json::json!({"name": name, "url": mock.url(), "transport": "streamable-http"}));
        state(w).mocks.push(Arc::new(mock));
    }
    state(w).groups.insert(group, workloads);
}

/// Writes the config (and the groups file) and returns their paths.
fn write_inputs(w: &mut ConformanceWorld) -> Result<(PathBuf, PathBuf), String> {
    let dir = dir(w)?;
    let st = state(w);
    let config = dir.join("vmcp.yaml");
    if let Some(c) = &st.config {
        let text = serde_saphyr::to_string(c).map_err(|e| e.to_string())?;
        std::fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    }
    let groups = dir.join("groups.yaml");
    let text = serde_saphyr::to_string(&st.groups).map_err(|e| e.to_string())?;
    std::fs::write(&groups, text).map_err(|e| format!("cannot write {}: {e}", groups.display()))?;
    Ok((config, groups))
}

/// `args` after the CLI words, with the run's defect switches when the CLI is this suite's own.
fn command(args: &[String]) -> tokio::process::Command {
    let (words, own) = cli();
    let mut c = tokio::process::Command::new(&words[0]);
    c.args(&words[1..]).args(args);
    let defects: Vec<String> = super::world::harness_defects().iter().map(|d| d.to_string()).collect();
    if own && !defects.is_empty() {
        c.arg("--defect").arg(defects.join(","));
    }
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    c
}

#[when("the CLI validates the config")]
async fn validate(w: &mut ConformanceWorld) -> Result<(), String> {
    let (config, _) = write_inputs(w)?;
    let args = vec!["validate".to_string(), "--config".into(), config.display().to_string()];
    let out = command(&args).output().await.map_err(|e| format!("cannot run the CLI: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    state(w).finished = Some((out.status.code(), text));
    Ok(())
}

async fn serve(w: &mut ConformanceWorld, mut args: Vec<String>, host: &str) -> Result<(), String> {
    let (config, groups) = write_inputs(w)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot reserve a port: {e}"))?
        .port();
    for a in args.iter_mut() {
        *a = a.replace("{config}", &config.display().to_string()).replace("{groups}", &groups.display().to_string());
    }
    args.extend(["--host".into(), host.into(), "--port".into(), port.to_string()]);
    let mut child = command(&args).spawn().map_err(|e| format!("cannot start the CLI: {e}"))?;
    let http = super::world::http_client_via(None);
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(20);
    let st = state(w);
    st.port = port;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            st.finished = Some((out.status.code(), text));
            return Ok(());
        }
        if http.get(&url).send().await.is_ok() {
            st.child = Some(Arc::new(Running(std::sync::Mutex::new(child))));
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.start_kill();
            return Err(format!("the CLI `{}` neither served {url} nor exited within 20 s", args.join(" ")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[when("the CLI serves the config")]
async fn serve_config(w: &mut ConformanceWorld) -> Result<(), String> {
    serve(w, vec!["serve".into(), "--config".into(), "{config}".into()], "127.0.0.1").await
}

#[when(expr = "the CLI serves the config with --group {string}")]
async fn serve_config_and_group(w: &mut ConformanceWorld, group: String) -> Result<(), String> {
    let args = ["serve", "--config", "{config}", "--group", &group, "--groups", "{groups}"];
    serve(w, args.iter().map(|s| s.to_string()).collect(), "127.0.0.1").await
}

#[when(expr = "the CLI serves the group {string} in quick mode on the host {string}")]
async fn serve_group(w: &mut ConformanceWorld, group: String, host: String) -> Result<(), String> {
    let args = ["serve", "--group", &group, "--groups", "{groups}"];
    serve(w, args.iter().map(|s| s.to_string()).collect(), &host).await
}

#[then("the CLI exits with status 0")]
async fn exits_zero(w: &mut ConformanceWorld) -> Result<(), String> {
    let (code, out) = state(w).finished.clone().ok_or("the CLI has not finished")?;
    verify(
        &mut w.checks,
        Check::must("cli.validate-exit", "local-cli.mdx#step-3-validate-the-config"),
        code == Some(0),
        "exit status 0",
        format!("exit status {code:?}: {}", out.trim()),
    )
}

#[then(expr = "the CLI exits with a non-zero status and its message names {string}")]
async fn exits_nonzero(w: &mut ConformanceWorld, needle: String) -> Result<(), String> {
    let (code, out) = state(w).finished.clone().ok_or("the CLI is still running: it did not refuse")?;
    verify(
        &mut w.checks,
        Check::must("cli.refused", "local-cli.mdx"),
        code.is_some_and(|c| c != 0) && out.contains(&needle),
        format!("a non-zero exit status and a message naming {needle:?}"),
        format!("exit status {code:?}: {}", out.trim()),
    )
}

#[then(expr = "the CLI refuses to serve the group anywhere but loopback, naming {string}")]
async fn refuses_non_loopback(w: &mut ConformanceWorld, needle: String) -> Result<(), String> {
    let st = state(w);
    let (serving, outcome) = match (&st.child, &st.finished) {
        (Some(_), _) => (true, format!("it serves on port {}", st.port)),
        (None, Some((code, out))) => (false, format!("exit status {code:?}: {}", out.trim())),
        (None, None) => (false, "it never ran".to_string()),
    };
    let named = st.finished.as_ref().is_some_and(|(c, out)| c.is_some_and(|c| c != 0) && out.contains(&needle));
    verify(
        &mut w.checks,
        Check::must("cli.quick-mode-loopback", "local-cli.mdx#quick-mode"),
        !serving && named,
        format!("no server, a non-zero exit and a message naming {needle:?}"),
        outcome,
    )
}

async fn list_tools(w: &mut ConformanceWorld) -> Result<Result<Vec<String>, String>, String> {
    let port = state(w).port;
    if state(w).child.is_none() {
        let out = state(w).finished.clone().map(|(c, o)| format!("exit status {c:?}: {o}")).unwrap_or_default();
        return Err(format!("the CLI is not serving: {}", out.trim()));
    }
    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://127.0.0.1:{port}/mcp"));
    let transport = StreamableHttpClientTransport::with_client(w.mcp_http(), config);
    let client = match ().serve(transport).await {
        Ok(c) => c,
        Err(e) => return Ok(Err(format!("MCP initialize without a token failed: {e}"))),
    };
    let tools = client.list_all_tools().await.map_err(|e| format!("tools/list failed: {e}"));
    let _ = client.cancel().await;
    Ok(tools.map(|t| t.into_iter().map(|t| t.name.to_string()).collect()))
}

#[then(expr = "an anonymous MCP client at \\/mcp lists the tools {string}")]
async fn anonymous_tools(w: &mut ConformanceWorld, expected: String) -> Result<(), String> {
    let mut want: Vec<String> = expected.split(',').map(|s| s.trim().to_string()).collect();
    want.sort();
    let got = list_tools(w).await?;
    let shown = match &got {
        Ok(t) => {
            let mut t = t.clone();
            t.sort();
            format!("{t:?}")
        }
        Err(e) => e.clone(),
    };
    let ok = got.is_ok_and(|mut t| {
        t.sort();
        t == want
    });
    verify(
        &mut w.checks,
        Check::must("cli.serves-tools", "local-cli.mdx (thv vmcp serve; Streamable HTTP at /mcp)"),
        ok,
        format!("{want:?} without credentials"),
        shown,
    )
}

#[then("an MCP request without a token is refused with 401")]
async fn needs_token(w: &mut ConformanceWorld) -> Result<(), String> {
    let port = state(w).port;
    if state(w).child.is_none() {
        let out = state(w).finished.clone().map(|(c, o)| format!("exit status {c:?}: {o}")).unwrap_or_default();
        return Err(format!("the CLI is not serving: {}", out.trim()));
    }
    let reply = w
        .http
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(super::mcp::INITIALIZE_BODY)
        .send()
        .await
        .map_err(|e| format!("POST /mcp: {e}"))?;
    let status = reply.status().as_u16();
    verify(
        &mut w.checks,
        Check::must("cli.oidc-requires-token", "local-cli.mdx#step-2-review-and-edit"),
        status == 401,
        "401 for an MCP request without a token",
        status,
    )
}

#[when(expr = "the CLI serves the config with --session-ttl {string}")]
async fn serve_config_ttl(w: &mut ConformanceWorld, ttl: String) -> Result<(), String> {
    let args = ["serve", "--config", "{config}", "--session-ttl", &ttl];
    serve(w, args.iter().map(|s| s.to_string()).collect(), "127.0.0.1").await
}

/// One JSON-RPC POST to the served `/mcp`, in `session` when given: (status, `Mcp-Session-Id`).
async fn mcp_post(
    w: &mut ConformanceWorld,
    session: Option<&str>,
    body: &str,
) -> Result<(u16, Option<String>), String> {
    let port = state(w).port;
    if state(w).child.is_none() {
        let out = state(w).finished.clone().map(|(c, o)| format!("exit status {c:?}: {o}")).unwrap_or_default();
        return Err(format!("the CLI is not serving: {}", out.trim()));
    }
    let mut request = w
        .http
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(id) = session {
        request = request.header("Mcp-Session-Id", id).header("MCP-Protocol-Version", "2025-06-18");
    }
    let reply = request.send().await.map_err(|e| format!("POST /mcp: {e}"))?;
    let status = reply.status().as_u16();
    let id = reply.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let _ = reply.text().await;
    Ok((status, id))
}

#[then(expr = "an MCP session answers tools\\/list at once but is gone after {int} idle seconds")]
async fn session_expires(w: &mut ConformanceWorld, idle: u64) -> Result<(), String> {
    let (status, id) = mcp_post(w, None, super::mcp::INITIALIZE_BODY).await?;
    let id = id.ok_or_else(|| format!("initialize answered {status} without an Mcp-Session-Id"))?;
    mcp_post(w, Some(&id), r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await?;
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let (fresh, _) = mcp_post(w, Some(&id), list).await?;
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let (idle_status, _) = mcp_post(w, Some(&id), list).await?;
    verify(
        &mut w.checks,
        Check::must("cli.session-ttl", "local-cli.mdx#thv-vmcp-serve (--session-ttl)"),
        fresh == 200 && idle_status == 404,
        format!("tools/list 200 in the fresh session, 404 (session gone) after {idle} s idle"),
        format!("{fresh} at once, {idle_status} after {idle} s idle"),
    )
}
