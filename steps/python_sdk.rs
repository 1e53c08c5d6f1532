//! Interoperability with an MCP client nobody on this project wrote: the official MCP Python SDK
//! (PyPI `mcp`). Its OAuth client discovers the protected resource metadata, registers
//! dynamically and runs PKCE through the embedded authorization server; a headless redirect
//! handler plays the browser (the mock upstreams consent automatically). It then lists and calls
//! tools.
//!
//! The SDK is installed with pip into a virtualenv under `target/python-sdk-venv`, created by the
//! first scenario that needs it. A machine without `python3` fails the scenario with a clear
//! message (ARCHITECTURE.md rule 3: a missing prerequisite is never a silent skip).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use cucumber::{then, when};

use super::suite_prelude::*;
use super::world::ConformanceWorld;

/// The SDK release line the script is written against (`streamable_http_client`, httpx2).
const MCP_REQUIREMENT: &str = "mcp>=2.3,<3";

/// The client script, written next to the venv at run time.
const SCRIPT: &str = r#"
import json, sys
from urllib.parse import urljoin, urlparse, parse_qs

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider, TokenStorage, AuthorizationCodeResult
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

SERVER_URL, TOOL = sys.argv[1], sys.argv[2]
REDIRECT_URI = "http://127.0.0.1:33418/callback"
captured = {}


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info):
        self.client = info


async def redirect_handler(url):
    # A headless browser: follow every redirect (authorization server, upstream providers with
    # automatic consent, the callback) until the client's own redirect URI.
    captured["hops"] = []
    async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as browser:
        current = url
        for _ in range(25):
            captured["hops"].append(urlparse(current).netloc)
            response = await browser.get(current)
            location = response.headers.get("location")
            if not location:
                raise RuntimeError(f"no redirect from {current}: HTTP {response.status_code} {response.text[:300]}")
            current = urljoin(current, location)
            if current.startswith(REDIRECT_URI):
                query = parse_qs(urlparse(current).query)
                if "code" not in query:
                    raise RuntimeError(f"redirected back without a code: {current}")
                captured["code"] = query["code"][0]
                captured["state"] = query.get("state", [None])[0]
                return
    raise RuntimeError("too many redirects")


async def callback_handler():
    return AuthorizationCodeResult(code=captured["code"], state=captured.get("state"))


async def main():
    storage = MemoryStorage()
    auth = OAuthClientProvider(
        server_url=SERVER_URL,
        client_metadata=OAuthClientMetadata(
            client_name="mcp-python-sdk-conformance",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=60) as http:
        async with streamable_http_client(SERVER_URL, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                result = await session.call_tool(TOOL, {})
                text = [getattr(c, "text", None) for c in result.content]
                print(json.dumps({
                    "registered_client": storage.client.client_id if storage.client else None,
                    "hops": captured.get("hops", []),
                    "tools": [t.name for t in tools.tools],
                    "is_error": bool(getattr(result, "is_error", None) or getattr(result, "isError", None)),
                    "content": text,
                    "token_type": storage.tokens.token_type if storage.tokens else None,
                }))


anyio.run(main)
"#;

/// What the SDK run printed.
#[derive(Clone, Default, Debug)]
struct SdkRun {
    outcome: Option<Result<serde_json::Value, String>>,
}

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("python-sdk-venv")
}

/// Creates the venv and installs the SDK once per machine (guarded by a process-wide lock).
async fn ensure_sdk() -> Result<PathBuf, String> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = LOCK.lock().await;
    let dir = venv_dir();
    let python = dir.join("bin").join("python");
    let marker = dir.join(".mcp-installed");
    if python.exists() && marker.exists() {
        return Ok(python);
    }
    let probe = tokio::process::Command::new("python3").arg("--version").output().await;
    if probe.as_ref().map(|o| !o.status.success()).unwrap_or(true) {
        let message = "python3 is not installed on this machine: the interoperability test with the official MCP \
                       Python SDK cannot run (install python3 with the venv module)";
        eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
        return Err(message.into());
    }
    let run = |cmd: &mut tokio::process::Command| {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.output()
    };
    let out = run(tokio::process::Command::new("python3").arg("-m").arg("venv").arg(&dir))
        .await
        .map_err(|e| format!("python3 -m venv {}: {e}", dir.display()))?;
    if !out.status.success() {
        return Err(format!("python3 -m venv failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let out = run(tokio::process::Command::new(&python).args(["-m", "pip", "install", "--quiet", MCP_REQUIREMENT]))
        .await
        .map_err(|e| format!("pip install {MCP_REQUIREMENT}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip install {MCP_REQUIREMENT} failed (PyPI must be reachable): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(&marker, MCP_REQUIREMENT).map_err(|e| e.to_string())?;
    Ok(python)
}

#[when(expr = "the official MCP Python SDK client logs in through the vMCP and calls the tool {string}")]
async fn python_sdk_call(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    let python = ensure_sdk().await?;
    let script = venv_dir().join("mcp_sdk_client.py");
    std::fs::write(&script, SCRIPT).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let url = format!("{}/mcp", w.base_url());
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(&python).arg(&script).arg(&url).arg(&tool).output(),
    )
    .await
    .map_err(|_| "the Python SDK client did not finish within 120 s".to_string())?
    .map_err(|e| format!("running {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let outcome = if out.status.success() {
        stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .ok_or_else(|| format!("no JSON result on stdout: {stdout}\n{stderr}"))
    } else {
        let tail: Vec<&str> = stderr.lines().rev().take(25).collect();
        Err(format!(
            "the Python SDK client failed ({}):\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    };
    w.ext.insert(SdkRun { outcome: Some(outcome) });
    Ok(())
}

#[then(expr = "the Python SDK registered a client, listed {string} and its call succeeded")]
async fn python_sdk_succeeded(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    let run = w.ext.get::<SdkRun>().cloned().unwrap_or_default();
    let outcome = run.outcome.ok_or("the Python SDK client was not run in this scenario")?;
    let (ok, actual) = match &outcome {
        Err(e) => (false, e.clone()),
        Ok(v) => {
            let listed = v["tools"].as_array().is_some_and(|t| t.iter().any(|n| n.as_str() == Some(tool.as_str())));
            let registered = v["registered_client"].as_str().is_some_and(|c| !c.is_empty());
            (listed && registered && v["is_error"] == serde_json::Value::Bool(false), v.to_string())
        }
    };
    verify(
        &mut w.checks,
        Check::must(
            "interop.python-sdk",
            "MCP authorization (RFC 9728 discovery, RFC 7591 DCR, PKCE) with the official Python SDK",
        ),
        ok,
        format!("a dynamically registered client, {tool} listed, a successful tools/call"),
        actual,
    )
}
