//! The vMCP gateway in depth (issue 4): outgoing strategies (token exchange, header injection,
//! default and discovered configs), `passthroughHeaders`, `disableUpstreamTokenInjection`,
//! anonymous incoming auth, and start-up refusals. Everything is asserted from the harness's own
//! mocks: the RFC 8693 endpoint records each exchange, the mock backends record each header.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use mock_idps::{ExchangeFault, OidcIssuerMock, TokenExchangeMock};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::backends::redact;
use super::suite_prelude::*;
use super::world::{ConformanceWorld, Login, ManifestSource};

/// The Secret value the harness stores for the documented `<YOUR_API_KEY>`.
const API_KEY: &str = "conformance-api-key";

const DOC_EXCHANGE_STORED: &str = "embedded-auth-server-vmcp.mdx#exchange-a-stored-upstream-token-token-exchange";
const DOC_EXCHANGE: &str = "authentication.mdx#federate-identity-with-token-exchange; RFC 8693 §2.1";
const DOC_HEADER_INJECTION: &str = "authentication.mdx#inject-a-static-credential-header-injection";
const DOC_DISCOVERY: &str = "authentication.mdx#discovery-mode";
const DOC_PASSTHROUGH: &str = "authentication.mdx#pass-through-client-headers";
const DOC_SKIP_INJECTION: &str = "embedded-auth-server-vmcp.mdx#skip-token-injection-for-public-backends";
const DOC_ANONYMOUS: &str = "authentication.mdx#anonymous-development-only";

/// Per-scenario state of this module (in `w.ext`).
#[derive(Clone, Default)]
struct GatewayState {
    exchange: Option<Arc<TokenExchangeMock>>,
    exchange_client: (String, String),
    /// The outcome of "the vMCP is started": `Err(message)` when the target refused to start.
    startup: Option<Result<(), String>>,
    /// Headers the client sent on its last call.
    sent_headers: Vec<(String, String)>,
    /// The last anonymous call: the tool result text or the error.
    anonymous_call: Option<Result<String, String>>,
    /// An external OIDC identity provider (or Kubernetes API-server issuer) and its introspection client.
    idp: Option<Arc<OidcIssuerMock>>,
    idp_client: (String, String),
    /// XAA: the IdP (Step A) and the target authorization server (Step B), with their clients.
    xaa_idp: Option<XaaEndpoint>,
    xaa_target: Option<XaaEndpoint>,
}

/// A token endpoint mock with the client id and secret it knows.
type XaaEndpoint = (Arc<TokenExchangeMock>, String, String);

fn state(w: &mut ConformanceWorld) -> &mut GatewayState {
    w.ext.get_or_insert_default::<GatewayState>()
}

fn exchange_mock(w: &mut ConformanceWorld) -> Result<Arc<TokenExchangeMock>, String> {
    state(w).exchange.clone().ok_or_else(|| "no token exchange endpoint was started in this scenario".to_string())
}

/// Harness values for the placeholders of the documented blocks this module reads.
fn fill(w: &mut ConformanceWorld, text: &str) -> String {
    let st = state(w).clone();
    let w = &*w;
    let mut out = text.replace("<YOUR_API_KEY>", API_KEY);
    if let Some((mock, id, secret)) = &st.xaa_idp {
        out = out
            .replace("https://idp.example.com/oauth2/v1/token", &mock.token_url())
            .replace("<IDP_CLIENT_ID>", id)
            .replace("{xaa-idp-secret}", secret);
    }
    if let Some((mock, id, secret)) = &st.xaa_target {
        out = out
            .replace("https://target-as.example.com/oauth2/v1/token", &mock.token_url())
            .replace("<TARGET_CLIENT_ID>", id)
            .replace("{xaa-target-secret}", secret);
    }
    for (name, backend) in &w.backends {
        out = out.replace(&format!("{{backend-url:{name}}}"), &backend.url());
    }
    if let Some(idp) = &st.idp {
        out = out
            .replace("https://auth.example.com", &idp.issuer())
            .replace("{idp-issuer}", &idp.issuer())
            .replace("<YOUR_CLIENT_ID>", &st.idp_client.0)
            .replace("{idp-client-secret}", &st.idp_client.1);
    }
    if let Some(mock) = &st.exchange {
        out = out
            .replace("https://<YOUR_OKTA_DOMAIN>/oauth2/<AUTH_SERVER_ID>/v1/token", &mock.token_url())
            .replace("{token-exchange-url}", &mock.token_url())
            .replace("<YOUR_CLIENT_ID>", &st.exchange_client.0)
            .replace("{token-exchange-client-secret}", &st.exchange_client.1);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Manifests

/// Makes `mock` the scenario's token exchange endpoint (an Okta-like issuer's; steps/authserver.rs).
pub fn use_exchange_mock(w: &mut ConformanceWorld, mock: Arc<TokenExchangeMock>, client_id: &str, secret: &str) {
    let st = state(w);
    st.exchange = Some(mock);
    st.exchange_client = (client_id.to_owned(), secret.to_owned());
}

#[given(expr = "a token exchange endpoint that knows the client {string} with secret {string}")]
async fn start_exchange(w: &mut ConformanceWorld, client_id: String, secret: String) {
    let mock = TokenExchangeMock::start(&client_id, &secret).await;
    let st = state(w);
    st.exchange = Some(Arc::new(mock));
    st.exchange_client = (client_id, secret);
}

#[given(expr = "the documented block {string} from {string} section {string}")]
async fn documented_block(
    w: &mut ConformanceWorld,
    title: String,
    page: String,
    section: String,
) -> Result<(), String> {
    documented_block_n(w, title, 1, page, section).await
}

#[given(expr = "the documented block {string} number {int} from {string} section {string}")]
async fn documented_block_n(
    w: &mut ConformanceWorld,
    title: String,
    number: usize,
    page: String,
    section: String,
) -> Result<(), String> {
    let blocks = super::deploy::page_blocks(&page)?;
    let matching: Vec<_> =
        blocks.iter().filter(|b| b.heading_anchor == section && b.title.as_deref() == Some(title.as_str())).collect();
    let block = matching.get(number.saturating_sub(1)).ok_or_else(|| {
        format!("{page} has {} blocks titled {title:?} under #{section}; wanted number {number}", matching.len())
    })?;
    let origin = format!("{page}:{} ({title})", block.line);
    let yaml = fill(w, &block.content);
    let doc: serde_json::Value =
        serde_saphyr::from_str(&yaml).map_err(|e| format!("{origin} is not valid YAML: {e}"))?;
    if doc.get("kind").is_some() {
        w.manifests.push(ManifestSource { origin, yaml, documented: true });
        Ok(())
    } else {
        merge_into(w, "VirtualMCPServer", None, &doc, Some(&origin))
    }
}

#[given("the scenario adds these manifests, with the harness endpoints filled in:")]
async fn scenario_manifests_filled(w: &mut ConformanceWorld, step: &Step) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs a docstring with the manifests")?;
    let yaml = fill(w, &super::deploy::docstring_text(raw));
    w.manifests.push(ManifestSource { origin: "feature docstring".into(), yaml, documented: false });
    Ok(())
}

#[given(expr = "the {word} {string} has the field {string} set to {string}")]
async fn set_field(
    w: &mut ConformanceWorld,
    kind: String,
    name: String,
    path: String,
    value: String,
) -> Result<(), String> {
    let value = fill(w, &value);
    let value: serde_json::Value =
        serde_json::from_str(&value).unwrap_or_else(|_| serde_json::Value::String(value.clone()));
    let mut patch = value;
    for part in path.split('.').rev() {
        patch = serde_json::json!({ part: patch });
    }
    merge_into(w, &kind, Some(&name), &patch, None)
}

#[given(expr = "the {word} {string} has the field {string} removed")]
async fn remove_field(w: &mut ConformanceWorld, kind: String, name: String, path: String) -> Result<(), String> {
    edit_docs(w, &kind, Some(&name), None, |doc| {
        let parts: Vec<&str> = path.split('.').collect();
        let mut cursor = doc;
        for part in &parts[..parts.len() - 1] {
            cursor = cursor.get_mut(*part).ok_or_else(|| format!("{path}: no `{part}`"))?;
        }
        let last = parts[parts.len() - 1];
        cursor.as_object_mut().and_then(|o| o.remove(last)).map(|_| ()).ok_or_else(|| format!("{path} is not set"))
    })
}

/// Deep-merges `patch` into every manifest of `kind` (and `name`, when given).
fn merge_into(
    w: &mut ConformanceWorld,
    kind: &str,
    name: Option<&str>,
    patch: &serde_json::Value,
    origin: Option<&str>,
) -> Result<(), String> {
    edit_docs(w, kind, name, origin, |doc| {
        merge(doc, patch);
        Ok(())
    })
}

fn edit_docs(
    w: &mut ConformanceWorld,
    kind: &str,
    name: Option<&str>,
    origin: Option<&str>,
    mut edit: impl FnMut(&mut serde_json::Value) -> Result<(), String>,
) -> Result<(), String> {
    let mut found = false;
    for source in &mut w.manifests {
        let mut docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml)
            .map_err(|e| format!("{} is not valid YAML: {e}", source.origin))?;
        let mut touched = false;
        for doc in docs.iter_mut().filter(|d| !d.is_null()) {
            let k = doc.get("kind").and_then(|k| k.as_str());
            let n = doc.pointer("/metadata/name").and_then(|n| n.as_str());
            if k == Some(kind) && name.is_none_or(|want| n == Some(want)) {
                edit(doc)?;
                touched = true;
            }
        }
        if touched {
            found = true;
            let texts: Result<Vec<String>, String> = docs
                .iter()
                .filter(|d| !d.is_null())
                .map(|d| serde_json::to_string_pretty(d).map_err(|e| e.to_string()))
                .collect();
            source.yaml = texts?.join("\n---\n");
            if let Some(o) = origin {
                source.origin = format!("{} + {o}", source.origin);
                source.documented = true;
            }
        }
    }
    if found { Ok(()) } else { Err(format!("no {kind} {} among the scenario's manifests", name.unwrap_or("(any)"))) }
}

fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Start-up

#[when("the vMCP is started")]
async fn start(w: &mut ConformanceWorld) {
    let outcome = match super::deploy::deploy_manifests(w).await {
        Err(e) => Err(e),
        Ok(()) => match w.deployed.as_ref() {
            Some(d) if d.ready => Ok(()),
            Some(d) => {
                Err(d.conditions.iter().filter(|c| !c.status).map(ToString::to_string).collect::<Vec<_>>().join("\n"))
            }
            None => Err("no deployment outcome".into()),
        },
    };
    state(w).startup = Some(outcome);
}

#[then(expr = "the vMCP refuses to start with a message naming {string} and {string}")]
async fn refused_to_start(w: &mut ConformanceWorld, a: String, b: String) -> Result<(), String> {
    let outcome = state(w).startup.clone().ok_or("the vMCP was not started in this scenario")?;
    let (ok, actual) = match &outcome {
        Ok(()) => (false, "the vMCP started and serves requests".to_string()),
        Err(m) => (m.contains(&a) && m.contains(&b), m.clone()),
    };
    verify(
        &mut w.checks,
        Check::must("startup.refused", "documented incompatible or restricted configuration"),
        ok,
        format!("a start-up refusal naming `{a}` and `{b}`"),
        actual,
    )
}

// ---------------------------------------------------------------------------------------------
// Calls

async fn call(
    w: &mut ConformanceWorld,
    tool: &str,
    token: Option<String>,
    headers: Vec<(String, String)>,
) -> Result<rmcp::model::CallToolResult, String> {
    let mut custom = HashMap::new();
    for (k, v) in &headers {
        let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header {k}: {e}"))?;
        let value = http::HeaderValue::from_str(v).map_err(|e| format!("header {k}: {e}"))?;
        custom.insert(name, value);
    }
    let mut config =
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", w.base_url())).custom_headers(custom);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    let client =
        ().serve(StreamableHttpClientTransport::with_client(w.mcp_http(), config))
            .await
            .map_err(|e| format!("MCP initialize through the vMCP failed: {e}"))?;
    let _ = client.list_all_tools().await.map_err(|e| format!("tools/list failed: {e}"))?;
    let params = CallToolRequestParams::new(Cow::Owned(tool.to_owned())).with_arguments(serde_json::Map::new());
    let result = client.call_tool(params).await.map_err(|e| format!("tools/call {tool} failed: {e}"));
    let _ = client.cancel().await;
    result
}

#[when(expr = "the client calls the tool {string} through the vMCP sending the headers:")]
async fn call_with_headers(w: &mut ConformanceWorld, tool: String, step: &Step) -> Result<(), String> {
    let table = step.table.as_ref().ok_or("this step needs a table of header | value")?;
    let headers: Vec<(String, String)> =
        table.rows.iter().filter(|r| r.len() >= 2).map(|r| (r[0].clone(), r[1].clone())).collect();
    let token = w.login()?.access_token.clone();
    state(w).sent_headers = headers.clone();
    let result = call(w, &tool, Some(token), headers).await?;
    w.last_call = Some(result);
    Ok(())
}

#[when(expr = "an anonymous client calls the tool {string} through the vMCP")]
async fn anonymous_call(w: &mut ConformanceWorld, tool: String) {
    let outcome = call(w, &tool, None, Vec::new()).await.and_then(|r| {
        if r.is_error.unwrap_or(false) {
            Err(format!("isError result: {:?}", r.content))
        } else {
            Ok(r.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default())
        }
    });
    state(w).anonymous_call = Some(outcome);
}

#[then(expr = "the anonymous call reached {string}")]
async fn anonymous_reached(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let outcome = state(w).anonymous_call.clone().ok_or("no anonymous call was made")?;
    let calls = w.backend(&backend)?.tool_calls().len();
    verify(
        &mut w.checks,
        Check::must("incoming.anonymous-allowed", DOC_ANONYMOUS),
        outcome.is_ok() && calls > 0,
        format!("a successful tool call without credentials, executed by {backend}"),
        format!("{outcome:?}; {backend} executed {calls} calls"),
    )
}

// ---------------------------------------------------------------------------------------------
// Token exchange

#[given(expr = "the token exchange endpoint answers {word}")]
async fn exchange_fault(w: &mut ConformanceWorld, how: String) -> Result<(), String> {
    let fault = match how.as_str() {
        "500" => ExchangeFault::ServerError,
        "garbage" => ExchangeFault::Garbage,
        "normally" => ExchangeFault::None,
        other => return Err(format!("unknown exchange behaviour {other:?} (500, garbage, normally)")),
    };
    exchange_mock(w)?.set_fault(fault);
    Ok(())
}

#[then(
    expr = "the token exchange endpoint received an RFC 8693 request for audience {string} and scope {string} from client {string}"
)]
async fn exchange_request(
    w: &mut ConformanceWorld,
    audience: String,
    scope: String,
    client: String,
) -> Result<(), String> {
    let mock = exchange_mock(w)?;
    let secret = state(w).exchange_client.1.clone();
    let exchanges = mock.exchanges();
    let last = exchanges.last().ok_or("the token exchange endpoint received no request")?;
    let r = &last.request;
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{client}:{secret}"))
    );
    let got = |k: &str| r.form_param(k).unwrap_or_default();
    let problems: Vec<String> = [
        (r.method == "POST", format!("method {}", r.method)),
        (
            got("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange",
            format!("grant_type {:?}", got("grant_type")),
        ),
        (
            got("subject_token_type") == "urn:ietf:params:oauth:token-type:access_token",
            format!("subject_token_type {:?}", got("subject_token_type")),
        ),
        (!got("subject_token").is_empty(), "no subject_token".into()),
        (got("audience") == audience, format!("audience {:?}", got("audience"))),
        (got("scope") == scope, format!("scope {:?}", got("scope"))),
        (
            r.header("authorization") == Some(basic.as_str())
                || (got("client_id") == client && got("client_secret") == secret),
            format!("client authentication {:?}", r.header("authorization").map(redact)),
        ),
        (last.issued.is_some(), "the endpoint issued no token".into()),
    ]
    .into_iter()
    .filter_map(|(ok, what)| (!ok).then_some(what))
    .collect();
    verify(
        &mut w.checks,
        Check::must("token-exchange.request", DOC_EXCHANGE),
        problems.is_empty(),
        format!(
            "POST grant_type=token-exchange, subject_token_type=access_token, audience={audience}, scope={scope}, \
             client {client} authenticated"
        ),
        format!("{problems:?}"),
    )
}

#[then("its subject token is the GitHub access token issued to the user")]
async fn subject_is_upstream(w: &mut ConformanceWorld) -> Result<(), String> {
    let github = w.github.as_ref().ok_or("the GitHub mock is not running")?;
    let user = w.user.login.clone();
    let token = github.issued().into_iter().filter(|t| t.user == user).map(|t| t.access_token).next_back();
    let token = token.ok_or("the GitHub mock issued no token to the user")?;
    let subject = exchange_mock(w)?.exchanges().last().and_then(|e| e.request.form_param("subject_token"));
    verify(
        &mut w.checks,
        Check::must("token-exchange.subject-token", DOC_EXCHANGE_STORED),
        subject.as_deref() == Some(token.as_str()),
        format!("subject_token = the stored GitHub token {}", redact(&token)),
        format!("subject_token = {:?}", subject.as_deref().map(redact)),
    )
}

#[then("its subject token is the access token the client presented to the vMCP")]
async fn subject_is_jwt(w: &mut ConformanceWorld) -> Result<(), String> {
    let jwt = w.login()?.access_token.clone();
    let subject = exchange_mock(w)?.exchanges().last().and_then(|e| e.request.form_param("subject_token"));
    verify(
        &mut w.checks,
        Check::must("token-exchange.subject-token", DOC_EXCHANGE_STORED),
        subject.as_deref() == Some(jwt.as_str()),
        format!("subject_token = the vMCP-issued JWT {}", redact(&jwt)),
        format!("subject_token = {:?}", subject.as_deref().map(redact)),
    )
}

/// The Bearer token `backend` received on its last tools/call.
fn backend_bearer(w: &ConformanceWorld, backend: &str) -> Result<Option<String>, String> {
    let calls = w.backend(backend)?.tool_calls();
    let call = calls.last().ok_or_else(|| format!("{backend} received no tools/call"))?;
    Ok(call.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).map(str::to_owned))
}

#[then(expr = "{string} received the exchanged token as a Bearer token")]
async fn received_exchanged(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let issued: Vec<String> = exchange_mock(w)?.exchanges().into_iter().filter_map(|e| e.issued).collect();
    let got = backend_bearer(w, &backend)?;
    verify(
        &mut w.checks,
        Check::must("token-exchange.backend-token", DOC_EXCHANGE),
        got.as_ref().is_some_and(|g| issued.contains(g)),
        format!("Authorization: Bearer <one of the {} tokens the exchange endpoint issued>", issued.len()),
        format!("Authorization: {:?}", got.as_deref().map(redact)),
    )
}

#[then(expr = "the token {string} received keeps the user's subject with audience {string}")]
async fn identity_preserved(w: &mut ConformanceWorld, backend: String, audience: String) -> Result<(), String> {
    let jwt_sub = super::login::claims(&w.login()?.access_token)?["sub"].as_str().map(str::to_owned);
    let got = backend_bearer(w, &backend)?.ok_or_else(|| format!("{backend} received no Bearer token"))?;
    let claims = super::login::claims(&got).unwrap_or_default();
    let (sub, aud) = (claims["sub"].as_str().map(str::to_owned), claims["aud"].as_str().map(str::to_owned));
    verify(
        &mut w.checks,
        Check::must(
            "token-exchange.identity-preserved",
            "token-exchange-k8s.mdx; authentication.mdx#federate-identity-with-token-exchange",
        ),
        sub.is_some() && sub == jwt_sub && aud.as_deref() == Some(audience.as_str()),
        format!("sub {jwt_sub:?}, aud {audience:?}"),
        format!("sub {sub:?}, aud {aud:?}"),
    )
}

#[then(expr = "the token exchange endpoint received {int} request(s)")]
async fn exchange_count(w: &mut ConformanceWorld, n: usize) -> Result<(), String> {
    let got = exchange_mock(w)?.exchanges().len();
    verify(
        &mut w.checks,
        Check::must("token-exchange.cache", "DECISIONS.md: exchanged tokens cached until 30 s before expiry"),
        got == n,
        format!("{n} exchange requests"),
        format!("{got}"),
    )
}

#[then("the tool call failed with an error naming the token exchange endpoint")]
async fn exchange_failure_reported(w: &mut ConformanceWorld) -> Result<(), String> {
    let url = exchange_mock(w)?.token_url();
    let result = w.last_call.clone().ok_or("no tool was called")?;
    let text: String = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.clone()).collect();
    verify(
        &mut w.checks,
        Check::must("token-exchange.failure-reported", "issue 4: a failed exchange is a clear error"),
        result.is_error == Some(true) && text.contains(&url),
        format!("an isError result naming {url}"),
        format!("isError {:?}: {text}", result.is_error),
    )
}

// ---------------------------------------------------------------------------------------------
// Headers the backends received

fn last_call_header(w: &ConformanceWorld, backend: &str, name: &str) -> Result<Option<String>, String> {
    let calls = w.backend(backend)?.tool_calls();
    let call = calls.last().ok_or_else(|| format!("{backend} received no tools/call"))?;
    Ok(call.header(name).map(str::to_owned))
}

#[then(expr = "{string} received the header {string} with the value stored in the Secret")]
async fn received_injected(w: &mut ConformanceWorld, backend: String, header: String) -> Result<(), String> {
    let got = last_call_header(w, &backend, &header)?;
    verify(
        &mut w.checks,
        Check::must("header-injection.header", DOC_HEADER_INJECTION),
        got.as_deref() == Some(API_KEY),
        format!("{header}: {}", redact(API_KEY)),
        format!("{header}: {:?}", got.as_deref().map(redact)),
    )
}

#[then(expr = "{string} received the default strategy's header {string}")]
async fn received_default(w: &mut ConformanceWorld, backend: String, header: String) -> Result<(), String> {
    let got = last_call_header(w, &backend, &header)?;
    verify(
        &mut w.checks,
        Check::must("outgoing.default-applied", DOC_DISCOVERY),
        got.as_deref() == Some(API_KEY),
        format!("{header}: {}", redact(API_KEY)),
        format!("{header}: {:?}", got.as_deref().map(redact)),
    )
}

#[then(expr = "{string} received no {string} header on any request")]
async fn received_no_header(w: &mut ConformanceWorld, backend: String, header: String) -> Result<(), String> {
    let requests = w.backend(&backend)?.requests();
    let calls = w.backend(&backend)?.tool_calls().len();
    let seen: Vec<String> = requests.iter().filter_map(|r| r.header(&header).map(redact)).collect();
    verify(
        &mut w.checks,
        Check::must("outgoing.unauthenticated-opt-out", DOC_DISCOVERY),
        calls > 0 && seen.is_empty(),
        format!("a tools/call and no {header} header"),
        format!("{calls} tool calls; {header} values {seen:?}"),
    )
}

#[then(expr = "{string} received the client's {string} header")]
async fn received_passthrough(w: &mut ConformanceWorld, backend: String, header: String) -> Result<(), String> {
    let sent = state(w).sent_headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(&header)).map(|(_, v)| v.clone());
    let got = last_call_header(w, &backend, &header)?;
    verify(
        &mut w.checks,
        Check::must("passthrough.forwarded", DOC_PASSTHROUGH),
        got.is_some() && got == sent,
        format!("{header}: {:?}", sent.as_deref().map(redact)),
        format!("{header}: {:?}", got.as_deref().map(redact)),
    )
}

#[then(expr = "{string} received the client's own access token as {string}")]
async fn received_client_token(w: &mut ConformanceWorld, backend: String, header: String) -> Result<(), String> {
    let want = format!("Bearer {}", w.login()?.access_token);
    let got = last_call_header(w, &backend, &header)?;
    verify(
        &mut w.checks,
        Check::must("passthrough.forwarded", DOC_PASSTHROUGH),
        got.as_deref() == Some(want.as_str()),
        format!("{header}: {}", redact(&want)),
        format!("{header}: {:?}", got.as_deref().map(redact)),
    )
}

#[then(expr = "{string} did not receive the client's {string} header")]
async fn not_passed(w: &mut ConformanceWorld, backend: String, header: String) -> Result<(), String> {
    let requests = w.backend(&backend)?.requests();
    let seen: Vec<String> = requests.iter().filter_map(|r| r.header(&header).map(redact)).collect();
    verify(
        &mut w.checks,
        Check::must(
            "passthrough.unlisted-dropped",
            "authentication.mdx#pass-through-client-headers; configuration.mdx#forward-client-headers-to-backends",
        ),
        !requests.is_empty() && seen.is_empty(),
        format!("no {header} header on any request"),
        format!("{header} values {seen:?}"),
    )
}

#[then(expr = "{string} received its strategy's GitHub token, not the client's Authorization")]
async fn strategy_wins(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let github = w.github.as_ref().ok_or("the GitHub mock is not running")?;
    let user = w.user.login.clone();
    let token = github.issued().into_iter().filter(|t| t.user == user).map(|t| t.access_token).next_back();
    let want = format!("Bearer {}", token.ok_or("the GitHub mock issued no token")?);
    let got = last_call_header(w, &backend, "authorization")?;
    verify(
        &mut w.checks,
        Check::must("passthrough.strategy-wins", DOC_PASSTHROUGH),
        got.as_deref() == Some(want.as_str()),
        format!("Authorization: {}", redact(&want)),
        format!("Authorization: {:?}", got.as_deref().map(redact)),
    )
}

#[then(expr = "{string} received no Authorization, Cookie or Proxy-Authorization header on any request")]
async fn no_credentials(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let requests = w.backend(&backend)?.requests();
    let calls = w.backend(&backend)?.tool_calls().len();
    let seen: Vec<String> = requests
        .iter()
        .flat_map(|r| {
            ["authorization", "cookie", "proxy-authorization"]
                .into_iter()
                .filter_map(|h| r.header(h).map(|v| format!("{h}: {}", redact(v))))
                .collect::<Vec<_>>()
        })
        .collect();
    verify(
        &mut w.checks,
        Check::must("token-injection-disabled.no-credentials", DOC_SKIP_INJECTION),
        calls > 0 && seen.is_empty(),
        "a tools/call and no credential header on any request",
        format!("{calls} tool calls; credential headers {seen:?}"),
    )
}

// ---------------------------------------------------------------------------------------------
// An external identity provider for incoming auth

#[given(expr = "an external OIDC identity provider with the introspection client {string} and secret {string}")]
async fn start_idp(w: &mut ConformanceWorld, client_id: String, secret: String) -> Result<(), String> {
    let idp = OidcIssuerMock::start(&client_id, &secret).await.map_err(|e| format!("OIDC mock: {e}"))?;
    let st = state(w);
    st.idp = Some(Arc::new(idp));
    st.idp_client = (client_id, secret);
    Ok(())
}

fn idp(w: &mut ConformanceWorld) -> Result<Arc<OidcIssuerMock>, String> {
    state(w).idp.clone().ok_or_else(|| "no external identity provider was started in this scenario".to_string())
}

/// A documented value (`https://mcp.example.com/mcp`) as the deployed target sees it.
fn deployed_value(w: &ConformanceWorld, documented: &str) -> String {
    let mut out = documented.to_owned();
    for (from, to) in &w.substitutions {
        out = out.replace(from.as_str(), to);
    }
    out
}

fn hold(w: &mut ConformanceWorld, token: String) {
    w.login = Some(Login { access_token: token, ..Login::default() });
}

#[given(expr = "the client holds a token from the identity provider for the audience {string}")]
async fn idp_token(w: &mut ConformanceWorld, audience: String) -> Result<(), String> {
    let aud = deployed_value(w, &audience);
    let token = idp(w)?.mint("external-user-1", &aud, 300, serde_json::json!({})).map_err(|e| e.to_string())?;
    hold(w, token);
    Ok(())
}

#[given(
    expr = "the client holds a token from the identity provider for the subject {string} and the audience {string}"
)]
async fn idp_token_for(w: &mut ConformanceWorld, subject: String, audience: String) -> Result<(), String> {
    let aud = deployed_value(w, &audience);
    let token = idp(w)?.mint(&subject, &aud, 300, serde_json::json!({})).map_err(|e| e.to_string())?;
    hold(w, token);
    Ok(())
}

#[given(expr = "the client holds a token from the identity provider for the audience {string} with the claims:")]
async fn idp_token_with_claims(w: &mut ConformanceWorld, audience: String, step: &Step) -> Result<(), String> {
    let aud = deployed_value(w, &audience);
    let raw = step.docstring.as_deref().ok_or("this step needs a JSON docstring with the extra claims")?;
    let extra: serde_json::Value = serde_json::from_str(&super::deploy::docstring_text(raw))
        .map_err(|e| format!("the claims docstring is not JSON: {e}"))?;
    let token = idp(w)?.mint("external-user-1", &aud, 300, extra).map_err(|e| e.to_string())?;
    hold(w, token);
    Ok(())
}

/// Makes the GitHub or Google mock issue the user JWT access tokens carrying these claims (instead
/// of opaque ones): Cedar reads the primary upstream's access-token claims.
#[given(expr = "{word} issues the user JWT access tokens with the claims:")]
async fn upstream_jwt_access_claims(w: &mut ConformanceWorld, provider: String, step: &Step) -> Result<(), String> {
    let kind = match provider.as_str() {
        "GitHub" => "github",
        "Google" => "google",
        other => return Err(format!("no upstream mock named {other:?} (GitHub or Google)")),
    };
    let raw = step.docstring.as_deref().ok_or("this step needs a JSON docstring with the claims")?;
    let claims: serde_json::Value = serde_json::from_str(&super::deploy::docstring_text(raw))
        .map_err(|e| format!("the claims docstring is not JSON: {e}"))?;
    w.user.jwt_access_claims.insert(kind.into(), claims);
    Ok(())
}

/// Replaces `spec.incomingAuth.authzConfig` by inline policies, one per paragraph of the docstring.
#[given("the VirtualMCPServer's inline Cedar policies are:")]
async fn inline_policies(w: &mut ConformanceWorld, step: &Step) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs a docstring with Cedar policies")?;
    let text = super::deploy::docstring_text(raw);
    let policies: Vec<String> =
        text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
    let patch = serde_json::json!({"spec": {"incomingAuth": {"authzConfig": {
        "type": "inline", "inline": {"policies": policies}
    }}}});
    merge_into(w, "VirtualMCPServer", None, &patch, None)
}

#[given(expr = "the client holds an expired token from the identity provider for the audience {string}")]
async fn idp_expired(w: &mut ConformanceWorld, audience: String) -> Result<(), String> {
    let aud = deployed_value(w, &audience);
    let token = idp(w)?.mint("external-user-1", &aud, -60, serde_json::json!({})).map_err(|e| e.to_string())?;
    hold(w, token);
    Ok(())
}

#[given(expr = "the client holds an opaque token from the identity provider for the audience {string}")]
async fn idp_opaque(w: &mut ConformanceWorld, audience: String) -> Result<(), String> {
    let aud = deployed_value(w, &audience);
    let token = idp(w)?.mint_opaque("external-user-1", &aud, 300);
    hold(w, token);
    Ok(())
}

#[given("the client holds an opaque token the identity provider never issued")]
async fn idp_unknown_opaque(w: &mut ConformanceWorld) {
    hold(w, "opaque-never-issued-by-the-idp".into());
}

#[given("the identity provider rotates its signing key")]
async fn idp_rotate(w: &mut ConformanceWorld) -> Result<(), String> {
    idp(w)?.rotate_key().map(|_| ()).map_err(|e| e.to_string())
}

#[then("the identity provider's introspection endpoint was asked by the configured client")]
async fn introspected(w: &mut ConformanceWorld) -> Result<(), String> {
    let mock = idp(w)?;
    let (id, secret) = state(w).idp_client.clone();
    let token = w.login()?.access_token.clone();
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{id}:{secret}"))
    );
    let requests = mock.received().await;
    let hit = requests.iter().any(|r| {
        r.method == "POST"
            && r.path == "/introspect"
            && r.form_param("token").as_deref() == Some(token.as_str())
            && r.header("authorization") == Some(basic.as_str())
    });
    let seen: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    verify(
        &mut w.checks,
        Check::must("incoming.introspection", "authentication.mdx#oidc-authentication; RFC 7662 §2.1"),
        hit,
        format!("POST /introspect with token={} and client {id} authenticated", redact(&token)),
        format!("{seen:?}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Remote backends (MCPServerEntry)

#[given(expr = "a remote MCP server {string} serving the tool {string}")]
async fn remote_backend(w: &mut ConformanceWorld, name: String, tool: String) {
    let backend = mock_idps::MockBackend::start(&name, &[tool.as_str()]).await;
    w.backends.insert(name, backend);
}

#[then(expr = "{string} received the Google access token issued to the user as a Bearer token")]
async fn received_google_token(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let google = w.google.as_ref().ok_or("the Google mock is not running")?;
    let user = w.user.login.clone();
    let token = google.issued().into_iter().filter(|t| t.user == user).map(|t| t.access_token).next_back();
    let token = token.ok_or_else(|| format!("the Google mock issued no token to {user}"))?;
    let want = format!("Bearer {token}");
    let got = last_call_header(w, &backend, "authorization")?;
    verify(
        &mut w.checks,
        Check::must(
            "upstream-inject.remote-entry-token",
            "embedded-auth-server-vmcp.mdx#forward-a-stored-upstream-token-upstream-injection",
        ),
        got.as_deref() == Some(want.as_str()),
        format!("Authorization: {}", redact(&want)),
        format!("Authorization: {:?}", got.as_deref().map(redact)),
    )
}

// ---------------------------------------------------------------------------------------------
// Cross-application access (XAA)

const DOC_XAA: &str = "embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access";

#[given(expr = "an XAA identity provider that knows the client {string} with secret {string}")]
async fn start_xaa_idp(w: &mut ConformanceWorld, id: String, secret: String) {
    let mock = TokenExchangeMock::start(&id, &secret).await;
    state(w).xaa_idp = Some((Arc::new(mock), id, secret));
}

#[given(expr = "a target authorization server that knows the client {string} with secret {string}")]
async fn start_xaa_target(w: &mut ConformanceWorld, id: String, secret: String) {
    let mock = TokenExchangeMock::start(&id, &secret).await;
    state(w).xaa_target = Some((Arc::new(mock), id, secret));
}

fn xaa_mocks(w: &mut ConformanceWorld) -> Result<(XaaEndpoint, XaaEndpoint), String> {
    let st = state(w).clone();
    Ok((
        st.xaa_idp.ok_or("no XAA identity provider was started")?,
        st.xaa_target.ok_or("no target authorization server was started")?,
    ))
}

fn basic_of(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{id}:{secret}")))
}

#[then(
    expr = "the XAA identity provider received an ID-JAG request for audience {string}, resource {string} and scope {string} whose subject is the Google ID token issued to the user"
)]
async fn xaa_step_a(w: &mut ConformanceWorld, audience: String, resource: String, scope: String) -> Result<(), String> {
    let ((idp, id, secret), _) = xaa_mocks(w)?;
    let google = w.google.as_ref().ok_or("the Google mock is not running")?;
    let user = w.user.login.clone();
    let id_token = google.issued().into_iter().filter(|t| t.user == user).filter_map(|t| t.id_token).next_back();
    let id_token = id_token.ok_or("the Google mock issued no ID token to the user")?;
    let exchanges = idp.exchanges();
    let last = exchanges.last().ok_or("the XAA identity provider received no request")?;
    let r = &last.request;
    let got = |k: &str| r.form_param(k).unwrap_or_default();
    let problems: Vec<String> = [
        (
            got("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange",
            format!("grant_type {:?}", got("grant_type")),
        ),
        (
            got("requested_token_type") == "urn:ietf:params:oauth:token-type:id-jag",
            format!("requested_token_type {:?}", got("requested_token_type")),
        ),
        (got("subject_token") == id_token, format!("subject_token {}", redact(&got("subject_token")))),
        (
            got("subject_token_type") == "urn:ietf:params:oauth:token-type:id_token",
            format!("subject_token_type {:?}", got("subject_token_type")),
        ),
        (got("audience") == audience, format!("audience {:?}", got("audience"))),
        (got("resource") == resource, format!("resource {:?}", got("resource"))),
        (got("scope") == scope, format!("scope {:?}", got("scope"))),
        (
            r.header("authorization") == Some(basic_of(&id, &secret).as_str()),
            "IdP client not authenticated with HTTP Basic".into(),
        ),
        (last.issued.is_some(), "no ID-JAG was issued".into()),
    ]
    .into_iter()
    .filter_map(|(ok, what)| (!ok).then_some(what))
    .collect();
    verify(
        &mut w.checks,
        Check::must(
            "xaa.step-a",
            "embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access; RFC 8693; RFC 8707",
        ),
        problems.is_empty(),
        format!(
            "token-exchange for an ID-JAG: subject = the user's Google ID token, audience {audience}, resource {resource}, scope {scope}, client {id}"
        ),
        format!("{problems:?}"),
    )
}

#[then(
    expr = "the target authorization server received an RFC 7523 JWT-bearer request presenting that ID-JAG with scope {string}"
)]
async fn xaa_step_b(w: &mut ConformanceWorld, scope: String) -> Result<(), String> {
    let ((idp, _, _), (target, id, secret)) = xaa_mocks(w)?;
    let id_jag = idp.exchanges().into_iter().filter_map(|e| e.issued).next_back().ok_or("no ID-JAG was issued")?;
    let exchanges = target.exchanges();
    let last = exchanges.last().ok_or("the target authorization server received no request")?;
    let r = &last.request;
    let got = |k: &str| r.form_param(k).unwrap_or_default();
    let problems: Vec<String> = [
        (
            got("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer",
            format!("grant_type {:?}", got("grant_type")),
        ),
        (got("assertion") == id_jag, format!("assertion {}", redact(&got("assertion")))),
        (got("scope") == scope, format!("scope {:?}", got("scope"))),
        (
            r.header("authorization") == Some(basic_of(&id, &secret).as_str()),
            "target client not authenticated with HTTP Basic".into(),
        ),
        (last.issued.is_some(), "no access token was issued".into()),
    ]
    .into_iter()
    .filter_map(|(ok, what)| (!ok).then_some(what))
    .collect();
    verify(
        &mut w.checks,
        Check::must(
            "xaa.step-b",
            "embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access; RFC 7523 §2.1",
        ),
        problems.is_empty(),
        format!("jwt-bearer grant with the ID-JAG as assertion, scope {scope}, client {id}"),
        format!("{problems:?}"),
    )
}

#[then(expr = "{string} received the target authorization server's access token as a Bearer token")]
async fn xaa_backend_token(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let (_, (target, _, _)) = xaa_mocks(w)?;
    let issued: Vec<String> = target.exchanges().into_iter().filter_map(|e| e.issued).collect();
    let got = backend_bearer(w, &backend)?;
    verify(
        &mut w.checks,
        Check::must("xaa.backend-token", DOC_XAA),
        got.as_ref().is_some_and(|g| issued.contains(g)),
        "Authorization: Bearer <an access token the target authorization server issued>",
        format!("Authorization: {:?}", got.as_deref().map(redact)),
    )
}

#[then(expr = "the vMCP logged a start-up warning naming {string} and {string}")]
async fn startup_warning(w: &mut ConformanceWorld, first: String, second: String) -> Result<(), String> {
    let logs = w.target.logs();
    let found = logs.iter().any(|l| l.to_lowercase().contains("warn") && l.contains(&first) && l.contains(&second));
    verify(
        &mut w.checks,
        Check::must("startup.warning", DOC_XAA),
        found,
        format!("a warning line naming {first:?} and {second:?}"),
        format!("{:?}", logs.iter().filter(|l| l.to_lowercase().contains("warn")).collect::<Vec<_>>()),
    )
}

#[then("the tool call failed with an error naming the target authorization server")]
async fn xaa_failure_reported(w: &mut ConformanceWorld) -> Result<(), String> {
    let (_, (target, _, _)) = xaa_mocks(w)?;
    let url = target.token_url();
    let result = w.last_call.clone().ok_or("no tool was called")?;
    let text: String = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.clone()).collect();
    verify(
        &mut w.checks,
        Check::must("xaa.failure-reported", DOC_XAA),
        result.is_error == Some(true) && text.contains(&url),
        format!("an isError result naming {url}"),
        format!("isError {:?}: {text}", result.is_error),
    )
}

#[then(expr = "both XAA steps ran {int} times")]
async fn xaa_per_call(w: &mut ConformanceWorld, n: usize) -> Result<(), String> {
    let ((idp, _, _), (target, _, _)) = xaa_mocks(w)?;
    let (a, b) = (idp.exchanges().len(), target.exchanges().len());
    verify(
        &mut w.checks,
        Check::must("xaa.per-call", DOC_XAA),
        a == n && b == n,
        format!("{n} Step A and {n} Step B requests"),
        format!("{a} Step A, {b} Step B"),
    )
}

// ---------------------------------------------------------------------------------------------
// Bad input and failing backends

#[when(expr = "an MCP request with the access token carries the body {string}")]
async fn raw_body(w: &mut ConformanceWorld, body: String) -> Result<(), String> {
    send_raw(w, body.into_bytes()).await
}

#[when(expr = "an MCP request with the access token carries a JSON-RPC body of {int} MiB")]
async fn big_body(w: &mut ConformanceWorld, mib: usize) -> Result<(), String> {
    let padding = "x".repeat(mib * 1024 * 1024);
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{padding}"}}}}"#);
    send_raw(w, body.into_bytes()).await
}

async fn send_raw(w: &mut ConformanceWorld, body: Vec<u8>) -> Result<(), String> {
    let token = w.login()?.access_token.clone();
    let url = format!("{}/mcp", w.base_url());
    let resp = w
        .http
        .post(&url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    w.reply = Some(super::login::reply(resp).await?);
    Ok(())
}

#[then("the vMCP answers 400 with a JSON-RPC parse error")]
async fn parse_error(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    let code = r.json().ok().and_then(|v| v.pointer("/error/code").and_then(serde_json::Value::as_i64));
    verify(
        &mut w.checks,
        Check::must("gateway.parse-error", "JSON-RPC 2.0 §5.1; MCP Streamable HTTP transport"),
        r.status == 400 && code == Some(-32700),
        "400 with a JSON-RPC error -32700",
        format!("{}: {}", r.status, r.body.chars().take(300).collect::<String>()),
    )
}

#[then("the vMCP answers 413")]
async fn too_large(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    verify(
        &mut w.checks,
        Check::must("gateway.body-limit", "RFC 9110 §15.5.14"),
        r.status == 413,
        "413 Content Too Large",
        format!("{}: {}", r.status, r.body.chars().take(200).collect::<String>()),
    )
}

#[given(expr = "the backend {string} answers every request with 500")]
async fn backend_down(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    w.backend(&backend)?.set_fault(mock_idps::Fault::ServerError);
    Ok(())
}

#[when(expr = "the user starts a login asking for the resource {string}")]
async fn login_for_resource(w: &mut ConformanceWorld, resource: String) -> Result<(), String> {
    use super::login::{self, AuthorizeParams, Pkce};
    let endpoints = login::discover(w).await?;
    let client_id = login::register(w, &endpoints.registration).await?;
    let params = AuthorizeParams::standard(&client_id, "openid", &resource, &Pkce::new());
    let sent_state = params.state().map(String::from);
    let (_, query) = login::authorize_until_client(w, &endpoints, &params).await?;
    w.redirect_query = Some((sent_state, query));
    Ok(())
}

#[given(expr = "the backend {string} answers tools\\/call only after {int} seconds")]
async fn backend_slow(w: &mut ConformanceWorld, backend: String, secs: u64) -> Result<(), String> {
    w.backend(&backend)?.set_fault(mock_idps::Fault::SlowToolCall(std::time::Duration::from_secs(secs)));
    Ok(())
}

#[then(expr = "the tool call failed with a timeout naming the backend {string}")]
async fn timed_out_naming_backend(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let result = w.last_call.clone().ok_or("no tool was called")?;
    let text: String = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.clone()).collect();
    verify(
        &mut w.checks,
        Check::must("gateway.backend-timeout", "configuration.mdx#timeouts"),
        result.is_error == Some(true) && text.contains(&backend) && text.contains("timed out"),
        format!("an isError result naming {backend} and saying it timed out"),
        format!("isError {:?}: {text}", result.is_error),
    )
}

#[then(expr = "the tool call failed with an error naming the backend {string}")]
async fn failed_naming_backend(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let result = w.last_call.clone().ok_or("no tool was called")?;
    let text: String = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.clone()).collect();
    verify(
        &mut w.checks,
        Check::must("gateway.backend-failure-reported", "failure-handling.mdx; issue 4: a clear error for that tool"),
        result.is_error == Some(true) && text.contains(&backend),
        format!("an isError result naming {backend}"),
        format!("isError {:?}: {text}", result.is_error),
    )
}
