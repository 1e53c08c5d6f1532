//! The harness as an MCP client (the official Rust SDK over Streamable HTTP), plus raw HTTP for
//! the authentication challenges an SDK would hide.

use std::borrow::Cow;

use cucumber::{then, when};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::login::{auth_param, reply};
use super::suite_prelude::*;
use super::world::ConformanceWorld;

/// A minimal `initialize` request, for probing authentication without an SDK in the way.
pub const INITIALIZE_BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"vmcp-conformance","version":"0"}}}"#;

async fn connect(w: &ConformanceWorld) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, String> {
    let token = w.login()?.access_token.clone();
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", w.base_url())).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(w.mcp_http(), config);
    ().serve(transport).await.map_err(|e| format!("MCP initialize through the vMCP failed: {e}"))
}

#[when("the client lists the tools through the vMCP")]
async fn list_tools(w: &mut ConformanceWorld) -> Result<(), String> {
    let client = connect(w).await?;
    let tools = client.list_all_tools().await.map_err(|e| format!("tools/list failed: {e}"))?;
    w.tools = tools.into_iter().map(|t| t.name.to_string()).collect();
    let _ = client.cancel().await;
    Ok(())
}

#[when(expr = "the client calls the tool {string} through the vMCP")]
async fn call_tool(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    let client = connect(w).await?;
    let params = CallToolRequestParams::new(Cow::Owned(tool.clone())).with_arguments(serde_json::Map::new());
    let result = client.call_tool(params).await.map_err(|e| format!("tools/call {tool} failed: {e}"))?;
    w.last_call = Some(result);
    let _ = client.cancel().await;
    Ok(())
}

#[then(expr = "the tool list contains {string}")]
async fn tool_listed(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    let listed = w.tools.contains(&tool);
    verify(
        &mut w.checks,
        Check::must(
            "aggregation.prefixed-tool",
            "vmcp.mdx; VirtualMCPServer config.aggregation prefixFormat {workload}_",
        ),
        listed,
        format!("{tool} among the tools"),
        format!("{:?}", w.tools),
    )
}

#[then("the tool call succeeded")]
async fn call_succeeded(w: &mut ConformanceWorld) -> Result<(), String> {
    let result = w.last_call.clone().ok_or("no tool was called")?;
    let failed = result.is_error.unwrap_or(false);
    verify(
        &mut w.checks,
        Check::must("mcp.tool-call", "MCP tools/call"),
        !failed,
        "a result without isError",
        format!("{:?}", result.content),
    )
}

#[when("an MCP request carries the access token")]
async fn raw_mcp_request(w: &mut ConformanceWorld) -> Result<(), String> {
    let token = w.login()?.access_token.clone();
    send_initialize(w, Some(&token)).await
}

#[when("an MCP request carries the access token re-signed by a key the issuer never used")]
async fn forged_request(w: &mut ConformanceWorld) -> Result<(), String> {
    let token = w.login()?.access_token.clone();
    let forged = forge(&token)?;
    send_initialize(w, Some(&forged)).await
}

#[when("an MCP request carries no token")]
async fn anonymous_request(w: &mut ConformanceWorld) -> Result<(), String> {
    send_initialize(w, None).await
}

async fn send_initialize(w: &mut ConformanceWorld, token: Option<&str>) -> Result<(), String> {
    let url = format!("{}/mcp", w.base_url());
    let mut request = w
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE_BODY);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request.send().await.map_err(|e| format!("POST {url} failed: {e}"))?;
    w.reply = Some(reply(resp).await?);
    Ok(())
}

/// The same claims, signed by a freshly generated key under the original `kid`.
fn forge(jwt: &str) -> Result<String, String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = jwt.split('.');
    let header: serde_json::Value = parts
        .next()
        .and_then(|h| engine.decode(h).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the access token has no JSON header")?;
    let claims = super::login::claims(jwt)?;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .map_err(|e| format!("key generation failed: {e}"))?;
    let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut forged_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    forged_header.kid = header["kid"].as_str().map(String::from);
    jsonwebtoken::encode(&forged_header, &claims, &key).map_err(|e| format!("signing the forged token failed: {e}"))
}

#[then("the vMCP answers 401 with a Bearer challenge naming its protected resource metadata")]
async fn challenged(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    let www = r.header("www-authenticate").unwrap_or_default().to_string();
    let metadata = auth_param(&www, "resource_metadata");
    let want = format!("{}/.well-known/oauth-protected-resource/mcp", w.base_url());
    verify(
        &mut w.checks,
        Check::must("incoming.401-challenge", "RFC 9728 §5.1; RFC 6750 §3; MCP authorization"),
        r.status == 401 && www.starts_with("Bearer ") && metadata.as_deref() == Some(want.as_str()),
        format!("401 with WWW-Authenticate: Bearer …resource_metadata=\"{want}\""),
        format!("{} with WWW-Authenticate: {www:?}", r.status),
    )
}

#[then(expr = "the vMCP refuses it with 401 and error {string}")]
async fn refused(w: &mut ConformanceWorld, error: String) -> Result<(), String> {
    let r = w.reply()?.clone();
    let www = r.header("www-authenticate").unwrap_or_default().to_string();
    let actual_error = auth_param(&www, "error");
    verify(
        &mut w.checks,
        Check::must("incoming.token-refused", "authentication.mdx#incoming-authentication; RFC 6750 §3"),
        r.status == 401 && www.starts_with("Bearer"),
        "401 with a Bearer challenge",
        format!("{} with WWW-Authenticate: {www:?}; body {}", r.status, r.body),
    )?;
    // RFC 6750 §3.1: a request that carried a token which failed SHOULD name the error.
    verify(
        &mut w.checks,
        Check::should("incoming.invalid-token-error", "RFC 6750 §3.1"),
        actual_error.as_deref() == Some(error.as_str()),
        format!("error=\"{error}\""),
        format!("error={actual_error:?}"),
    )
}

#[then("the vMCP accepts it")]
async fn accepted(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    verify(
        &mut w.checks,
        Check::must("incoming.token-accepted", "authentication.mdx"),
        r.status == 200,
        "200",
        format!("{}: {}", r.status, r.body),
    )
}

#[when("a client reads the protected resource metadata it was pointed to")]
async fn read_prm(w: &mut ConformanceWorld) -> Result<(), String> {
    let www = w.reply()?.header("www-authenticate").unwrap_or_default().to_string();
    let url = auth_param(&www, "resource_metadata").ok_or_else(|| format!("no resource_metadata in {www:?}"))?;
    let r = super::login::get(w, &url).await?;
    w.metadata = Some(r.json()?);
    w.reply = Some(r);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cedar authorization (guides-vmcp/authentication.mdx#authorize-requests)

const DOC_AUTHZ: &str = "authentication.mdx#authorize-requests; concepts/auth-framework.mdx (403 Forbidden)";
/// The JSON-RPC id the raw `tools/call` carries, so the answer can be matched to it.
const RAW_CALL_ID: i64 = 7;

/// `initialize`, `notifications/initialized`, then `tools/call` over plain HTTP, so that an HTTP
/// refusal (which an SDK turns into a transport error) can be inspected. The last reply is kept.
#[when(expr = "the client calls the tool {string} through the vMCP over plain HTTP")]
async fn raw_call(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    let token = w.login()?.access_token.clone();
    let url = format!("{}/mcp", w.base_url());
    let post = |body: String, session: Option<&str>| {
        let mut r = w
            .http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(s) = session {
            r = r.header("mcp-session-id", s).header("mcp-protocol-version", "2025-06-18");
        }
        r.send()
    };
    let init = reply(post(INITIALIZE_BODY.into(), None).await.map_err(|e| format!("POST {url}: {e}"))?).await?;
    let session = init
        .header("mcp-session-id")
        .map(str::to_owned)
        .ok_or_else(|| format!("initialize answered {} without Mcp-Session-Id: {}", init.status, init.body))?;
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned();
    post(note, Some(&session)).await.map_err(|e| format!("POST {url}: {e}"))?;
    let call = serde_json::json!({
        "jsonrpc": "2.0", "id": RAW_CALL_ID, "method": "tools/call",
        "params": {"name": tool, "arguments": {}},
    });
    let resp = post(call.to_string(), Some(&session)).await.map_err(|e| format!("POST {url}: {e}"))?;
    w.reply = Some(reply(resp).await?);
    Ok(())
}

#[then("the vMCP refuses the call with 403 and a JSON-RPC error for it")]
async fn call_forbidden(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    let body = r.json().unwrap_or_default();
    let id = body.get("id").and_then(serde_json::Value::as_i64);
    let message = body.pointer("/error/message").and_then(serde_json::Value::as_str);
    verify(
        &mut w.checks,
        Check::must("authz.call-denied", DOC_AUTHZ),
        r.status == 403 && id == Some(RAW_CALL_ID) && message.is_some(),
        format!("403 with a JSON-RPC error whose id is {RAW_CALL_ID}"),
        format!("{}: {}", r.status, r.body.chars().take(300).collect::<String>()),
    )
}

#[then("the vMCP answers the call with a result")]
async fn call_allowed(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    // The result may come as JSON or as one SSE event; either way it carries the call's id.
    let data = r.body.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).find(|d| !d.is_empty());
    let json: serde_json::Value = serde_json::from_str(data.unwrap_or(&r.body)).unwrap_or_default();
    let ok = r.status == 200
        && json.get("id").and_then(serde_json::Value::as_i64) == Some(RAW_CALL_ID)
        && json.get("result").is_some_and(|res| res.get("isError") != Some(&serde_json::Value::Bool(true)));
    verify(
        &mut w.checks,
        Check::must("authz.call-allowed", DOC_AUTHZ),
        ok,
        format!("200 with a JSON-RPC result for id {RAW_CALL_ID}"),
        format!("{}: {}", r.status, r.body.chars().take(300).collect::<String>()),
    )
}

#[then(expr = "the tool list does not contain {string}")]
async fn tool_not_listed(w: &mut ConformanceWorld, tool: String) -> Result<(), String> {
    let listed = w.tools.contains(&tool);
    verify(
        &mut w.checks,
        Check::must(
            "authz.list-filtered",
            "concepts/cedar-policies.mdx#list-operations-and-filtering; authz-policy-reference.mdx",
        ),
        !listed,
        format!("{tool} not among the tools"),
        format!("{:?}", w.tools),
    )
}

#[then(expr = "{string} received no tools\\/call")]
async fn no_tool_call(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let calls = w.backend(&backend)?.tool_calls().len();
    verify(
        &mut w.checks,
        Check::must("authz.not-forwarded", DOC_AUTHZ),
        calls == 0,
        "no tools/call reached the backend",
        format!("{calls} tools/call requests"),
    )
}
