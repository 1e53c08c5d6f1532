//! Bad input at the authorization server's endpoints: each answered with the RFC's error code
//! and a 4xx, never a 500.

use cucumber::{then, when};

use super::login::{self, AuthorizeParams, Pkce};
use super::suite_prelude::*;
use super::world::ConformanceWorld;

#[when(expr = "a client registers with the malformed JSON body {string}")]
async fn register_malformed(w: &mut ConformanceWorld, body: String) -> Result<(), String> {
    let endpoints = login::discover(w).await?;
    let resp = w
        .http
        .post(&endpoints.registration)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {} failed: {e}", endpoints.registration))?;
    w.reply = Some(login::reply(resp).await?);
    Ok(())
}

#[when("the user starts a login without a PKCE code challenge")]
async fn login_without_pkce(w: &mut ConformanceWorld) -> Result<(), String> {
    let endpoints = login::discover(w).await?;
    let client_id = login::register(w, &endpoints.registration).await?;
    let params = AuthorizeParams::standard(&client_id, "openid", &endpoints.resource, &Pkce::new())
        .without("code_challenge")
        .without("code_challenge_method");
    let sent_state = params.state().map(String::from);
    let (_, query) = login::authorize_until_client(w, &endpoints, &params).await?;
    w.redirect_query = Some((sent_state, query));
    Ok(())
}

#[when("the client redeems its authorization code with a wrong code verifier")]
async fn wrong_verifier(w: &mut ConformanceWorld) -> Result<(), String> {
    let endpoints = login::discover(w).await?;
    let client_id = login::register(w, &endpoints.registration).await?;
    let pkce = Pkce::new();
    let params = AuthorizeParams::standard(&client_id, "openid", &endpoints.resource, &pkce);
    let (_, code) = login::authorize(w, &endpoints, &params).await?;
    // A well-formed verifier, just not the one the challenge was made from.
    let other = Pkce::new();
    w.reply = Some(login::redeem(w, &endpoints, &client_id, &code, &other.verifier).await?);
    Ok(())
}

#[then(expr = "the answer is {int} with the OAuth error {string} and is not cached")]
async fn oauth_error(w: &mut ConformanceWorld, status: u16, error: String) -> Result<(), String> {
    let r = w.reply()?.clone();
    let body_error = r.json().ok().and_then(|j| j["error"].as_str().map(String::from));
    let no_store = r.header("cache-control").is_some_and(|v| v.to_ascii_lowercase().contains("no-store"));
    verify(
        &mut w.checks,
        Check::must("oauth.error-response", "RFC 6749 §5.2; RFC 7591 §3.2.2"),
        r.status == status && body_error.as_deref() == Some(error.as_str()) && no_store,
        format!("{status} with {{\"error\": \"{error}\"}} and Cache-Control: no-store"),
        format!("{} with body {} and Cache-Control: {:?}", r.status, r.body, r.header("cache-control")),
    )
}

#[then(expr = "the client is sent back with the error {string} and its own state")]
async fn redirected_error(w: &mut ConformanceWorld, error: String) -> Result<(), String> {
    let (sent_state, query) = w.redirect_query.clone().ok_or("the login did not come back to the client")?;
    verify(
        &mut w.checks,
        Check::must("authorize.error-redirect", "RFC 6749 §4.1.2.1; RFC 7636 §4.4.1; embedded-auth-server-vmcp.mdx"),
        query.get("error") == Some(&error) && query.get("state") == sent_state.as_ref() && !query.contains_key("code"),
        format!("error={error} with the client's state and no code"),
        format!("{query:?}"),
    )
}
