//! What the harness's mock backends received.

use cucumber::then;

use super::suite_prelude::*;
use super::world::ConformanceWorld;

#[then(expr = "{string} received the GitHub access token issued to the user as a Bearer token")]
async fn received_github_token(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let github = w.github.as_ref().ok_or("the GitHub mock is not running")?;
    let user = w.user.login.clone();
    let issued: Vec<String> = github.issued().into_iter().filter(|t| t.user == user).map(|t| t.access_token).collect();
    let token = issued.last().cloned().ok_or_else(|| format!("the GitHub mock issued no token to {user}"))?;
    let calls = w.backend(&backend)?.tool_calls();
    let call = calls.last().ok_or_else(|| format!("{backend} received no tools/call"))?;
    let auth = header(&call.headers, "authorization");
    let want = format!("Bearer {token}");
    verify(
        &mut w.checks,
        Check::must(
            "upstream-inject.provider-token",
            "embedded-auth-server-vmcp.mdx#forward-a-stored-upstream-token-upstream-injection",
        ),
        auth.as_deref() == Some(want.as_str()),
        format!("Authorization: {}", redact(&want)),
        format!("Authorization: {:?}", auth.as_deref().map(redact)),
    )
}

#[then(expr = "{string} received no Authorization header on any request")]
async fn received_no_credential(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let requests = w.backend(&backend)?.requests();
    let tool_calls = w.backend(&backend)?.tool_calls().len();
    let leaked: Vec<String> = requests
        .iter()
        .filter_map(|r| r.header("authorization").map(|v| format!("{} {}: {}", r.method, r.path, redact(v))))
        .collect();
    verify(
        &mut w.checks,
        Check::must(
            "outgoing.unlisted-backend-unauthenticated",
            "embedded-auth-server-vmcp.mdx#forward-a-stored-upstream-token-upstream-injection",
        ),
        !requests.is_empty() && tool_calls > 0 && leaked.is_empty(),
        "requests (including a tools/call) without Authorization",
        format!("{} requests, {tool_calls} tool calls, with Authorization: {leaked:?}", requests.len()),
    )
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

/// Tokens in reports are shortened to a prefix and a suffix.
pub fn redact(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 16 {
        return value.to_string();
    }
    let head: String = chars[..10].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}
