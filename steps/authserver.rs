//! The embedded authorization server in depth: manifest edits for its configuration, restarts,
//! refresh-token rotation, authorization-code redemption, bad authorization and token requests,
//! and JWTs a client might forge with or without the configured signing key.
//!
//! Black-box like every step module: the harness reaches the target over HTTP and through the
//! `Target` trait. The one thing it knows beyond the wire is what it supplied itself: the
//! signing key in the prerequisite Secrets (fixtures/secrets/embedded-auth-server.yaml), which
//! lets it sign tokens the target must still refuse (wrong audience, issuer, expiry).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use super::login::{self, AuthorizeParams, Endpoints, Pkce};
use super::suite_prelude::*;
use super::world::{ConformanceWorld, HttpReply, Login};

/// What this module remembers across the steps of one scenario (kept in `w.ext`).
#[derive(Debug, Clone, Default)]
struct AsState {
    endpoints: Option<Endpoints>,
    /// A code the client holds but has not redeemed yet: (client_id, code, verifier).
    pending_code: Option<(String, String, String)>,
    /// Refresh tokens the client has held, oldest first.
    refresh_tokens: Vec<String>,
    /// An access token kept aside before a restart or a key rotation.
    kept_access_token: Option<String>,
}

fn state(w: &mut ConformanceWorld) -> &mut AsState {
    w.ext.get_or_insert_default::<AsState>()
}

async fn endpoints(w: &mut ConformanceWorld) -> Result<Endpoints, String> {
    if let Some(e) = state(w).endpoints.clone() {
        return Ok(e);
    }
    let e = login::discover(w).await?;
    state(w).endpoints = Some(e.clone());
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// Manifest edits (structured values the string override of deploy.rs cannot express)
// ---------------------------------------------------------------------------------------------

/// Applies `edit` to every document of `kind` in the scenario's manifests.
fn edit_manifests(
    w: &mut ConformanceWorld,
    kind: &str,
    mut edit: impl FnMut(&mut serde_json::Value) -> Result<(), String>,
) -> Result<(), String> {
    let mut touched = false;
    for source in &mut w.manifests {
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml)
            .map_err(|e| format!("{} is not valid YAML: {e}", source.origin))?;
        if !docs.iter().any(|d| d.get("kind").and_then(|k| k.as_str()) == Some(kind)) {
            continue;
        }
        let mut rendered = Vec::new();
        for mut doc in docs.into_iter().filter(|d| !d.is_null()) {
            if doc.get("kind").and_then(|k| k.as_str()) == Some(kind) {
                edit(&mut doc)?;
                touched = true;
            }
            rendered.push(serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?);
        }
        source.yaml = rendered.join("\n---\n");
    }
    if touched { Ok(()) } else { Err(format!("the scenario's manifests hold no {kind}")) }
}

/// Sets (or with `None` removes) a dotted path; numeric segments index arrays
/// (`spec.authServerConfig.upstreamProviders.1.oidcConfig.scopes`).
fn set_value(doc: &mut serde_json::Value, path: &str, value: Option<serde_json::Value>) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cursor = doc;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let at = parts[..=i].join(".");
        let index = part.parse::<usize>().ok().filter(|_| cursor.is_array());
        if let Some(index) = index {
            let len = cursor.as_array().map_or(0, Vec::len);
            if index >= len {
                return Err(format!("{at}: index out of range ({len} items)"));
            }
            if last {
                let list = cursor.as_array_mut().ok_or_else(|| format!("{at}: not a list"))?;
                match value {
                    Some(v) => list[index] = v,
                    None => {
                        list.remove(index);
                    }
                }
                return Ok(());
            }
            cursor = &mut cursor[index];
            continue;
        }
        let object = cursor.as_object_mut().ok_or_else(|| format!("{path}: `{at}` is not an object"))?;
        if last {
            match value {
                Some(v) => {
                    object.insert((*part).to_string(), v);
                }
                None => {
                    object.remove(*part);
                }
            }
            return Ok(());
        }
        if value.is_none() && !object.contains_key(*part) {
            return Ok(());
        }
        cursor = object.entry((*part).to_string()).or_insert_with(|| serde_json::json!({}));
    }
    Ok(())
}

#[given(expr = "the {word} field {string} is set to the YAML:")]
async fn set_yaml(w: &mut ConformanceWorld, kind: String, path: String, step: &Step) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs a docstring with the YAML value")?;
    let text = super::deploy::docstring_text(raw);
    let value: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("the docstring is not YAML: {e}\n{text}"))?;
    edit_manifests(w, &kind, |doc| set_value(doc, &path, Some(value.clone())))
}

#[given(expr = "the {word} field {string} is removed")]
async fn remove_field(w: &mut ConformanceWorld, kind: String, path: String) -> Result<(), String> {
    edit_manifests(w, &kind, |doc| set_value(doc, &path, None))
}

// ---------------------------------------------------------------------------------------------
// Restarts and kept tokens
// ---------------------------------------------------------------------------------------------

#[when("the vMCP restarts")]
async fn restart(w: &mut ConformanceWorld) -> Result<(), String> {
    let deployed = w.target.restart().await.map_err(|e| format!("the restart failed: {e}"))?;
    if !deployed.ready {
        let conditions: Vec<String> = deployed.conditions.iter().map(ToString::to_string).collect();
        return Err(format!("the target did not come back after the restart:\n  {}", conditions.join("\n  ")));
    }
    w.deployed = Some(deployed);
    state(w).endpoints = None;
    Ok(())
}

#[when("the client keeps its access token aside")]
async fn keep_token(w: &mut ConformanceWorld) -> Result<(), String> {
    let token = w.login()?.access_token.clone();
    state(w).kept_access_token = Some(token);
    Ok(())
}

#[when("an MCP request carries the kept access token")]
async fn kept_token_request(w: &mut ConformanceWorld) -> Result<(), String> {
    let token = state(w).kept_access_token.clone().ok_or("no access token was kept aside")?;
    send_initialize(w, &token).await
}

async fn send_initialize(w: &mut ConformanceWorld, token: &str) -> Result<(), String> {
    let url = format!("{}/mcp", w.base_url());
    let resp = w
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .body(super::mcp::INITIALIZE_BODY)
        .send()
        .await
        .map_err(|e| format!("POST {url} failed: {e}"))?;
    w.reply = Some(login::reply(resp).await?);
    Ok(())
}

#[then(expr = "the JWKS publishes {int} key(s)")]
async fn jwks_count(w: &mut ConformanceWorld, n: usize) -> Result<(), String> {
    let url = format!("{}/.well-known/jwks.json", w.base_url());
    let jwks = login::get(w, &url).await?.json()?;
    let kids: Vec<String> = jwks["keys"]
        .as_array()
        .map(|a| a.iter().map(|k| k["kid"].as_str().unwrap_or("?").to_string()).collect())
        .unwrap_or_default();
    verify(
        &mut w.checks,
        Check::must("jwks.keys", "embedded-auth-server-k8s.mdx#step-2-create-a-secret-for-jwt-signing-keys"),
        kids.len() == n,
        format!("{n} keys"),
        format!("{} keys: {kids:?}", kids.len()),
    )
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens
// ---------------------------------------------------------------------------------------------

fn remember_login_refresh(w: &mut ConformanceWorld) -> Result<String, String> {
    let rt = w.login()?.token_response["refresh_token"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| "the token response carries no refresh_token".to_string())?;
    let st = state(w);
    if st.refresh_tokens.last() != Some(&rt) {
        st.refresh_tokens.push(rt.clone());
    }
    Ok(rt)
}

async fn refresh_request(w: &mut ConformanceWorld, client_id: &str, refresh_token: &str) -> Result<HttpReply, String> {
    let e = endpoints(w).await?;
    let resp = w
        .http
        .post(&e.token)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)])
        .send()
        .await
        .map_err(|err| format!("POST {} failed: {err}", e.token))?;
    login::reply(resp).await
}

#[when("the client refreshes its token")]
async fn refresh(w: &mut ConformanceWorld) -> Result<(), String> {
    let rt = remember_login_refresh(w)?;
    let client_id = w.login()?.client_id.clone();
    let r = refresh_request(w, &client_id, &rt).await?;
    if r.status == 200 {
        let body = r.json()?;
        let access = body["access_token"].as_str().unwrap_or_default().to_string();
        let login = w.login.get_or_insert_with(Login::default);
        login.access_token = access;
        login.token_response = body;
        remember_login_refresh(w)?;
    }
    w.reply = Some(r);
    Ok(())
}

#[then("the token response carries a new refresh token")]
async fn rotated(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    let tokens = state(w).refresh_tokens.clone();
    let ok = r.status == 200 && tokens.len() >= 2 && tokens[tokens.len() - 1] != tokens[tokens.len() - 2];
    verify(
        &mut w.checks,
        Check::must("refresh.rotation", "RFC 9700 §4.14.2; embedded-auth-server-k8s.mdx"),
        ok,
        "200 with a refresh_token different from the one presented",
        format!("{} ({} refresh tokens seen): {}", r.status, tokens.len(), r.body),
    )
}

#[when("the client presents its previous refresh token again")]
async fn replay_refresh(w: &mut ConformanceWorld) -> Result<(), String> {
    let tokens = state(w).refresh_tokens.clone();
    let old = tokens.iter().rev().nth(1).cloned().ok_or("the client has not rotated a refresh token yet")?;
    let client_id = w.login()?.client_id.clone();
    w.reply = Some(refresh_request(w, &client_id, &old).await?);
    Ok(())
}

#[when("another registered client presents the user's refresh token")]
async fn other_client_refresh(w: &mut ConformanceWorld) -> Result<(), String> {
    let rt = remember_login_refresh(w)?;
    let e = endpoints(w).await?;
    let other = login::register(w, &e.registration).await?;
    w.reply = Some(refresh_request(w, &other, &rt).await?);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Authorization codes
// ---------------------------------------------------------------------------------------------

#[when("the user completes a login and the client holds the authorization code")]
async fn hold_code(w: &mut ConformanceWorld) -> Result<(), String> {
    let e = endpoints(w).await?;
    let client_id = login::register(w, &e.registration).await?;
    let pkce = Pkce::new();
    let params = AuthorizeParams::standard(&client_id, "openid offline_access", &e.resource, &pkce);
    let (_, code) = login::authorize(w, &e, &params).await?;
    state(w).pending_code = Some((client_id, code, pkce.verifier));
    Ok(())
}

#[when(expr = "the client redeems the authorization code")]
async fn redeem_code(w: &mut ConformanceWorld) -> Result<(), String> {
    let (client_id, code, verifier) = state(w).pending_code.clone().ok_or("the client holds no code")?;
    let e = endpoints(w).await?;
    let r = login::redeem(w, &e, &client_id, &code, &verifier).await?;
    if r.status == 200 {
        let body = r.json()?;
        let access_token = body["access_token"].as_str().unwrap_or_default().to_string();
        w.login = Some(Login { client_id, hops: Vec::new(), access_token, token_response: body });
    }
    w.reply = Some(r);
    Ok(())
}

#[when(expr = "the client redeems the same authorization code again")]
async fn redeem_again(w: &mut ConformanceWorld) -> Result<(), String> {
    redeem_code(w).await
}

#[when(expr = "{int} seconds pass")]
async fn wait_seconds(_w: &mut ConformanceWorld, seconds: u64) {
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
}

#[then(expr = "the token endpoint answers 200 with an access token")]
async fn token_ok(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    let has_token = r.json().ok().is_some_and(|j| j["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    verify(
        &mut w.checks,
        Check::must("token.issued", "RFC 6749 §5.1"),
        r.status == 200 && has_token,
        "200 with an access_token",
        format!("{}: {}", r.status, r.body),
    )
}

// ---------------------------------------------------------------------------------------------
// Authorization requests with one parameter changed
// ---------------------------------------------------------------------------------------------

async fn send_authorize(w: &mut ConformanceWorld, edit: impl FnOnce(&mut AuthorizeParams)) -> Result<(), String> {
    let e = endpoints(w).await?;
    let client_id = login::register(w, &e.registration).await?;
    send_authorize_as(w, &client_id, edit).await
}

async fn send_authorize_as(
    w: &mut ConformanceWorld,
    client_id: &str,
    edit: impl FnOnce(&mut AuthorizeParams),
) -> Result<(), String> {
    let e = endpoints(w).await?;
    let mut params = AuthorizeParams::standard(client_id, "openid", &e.resource, &Pkce::new());
    let client_redirect =
        params.0.iter().find(|(k, _)| *k == "redirect_uri").map(|(_, v)| v.clone()).unwrap_or_default();
    edit(&mut params);
    let sent_state = params.state().map(String::from);
    let mut url = reqwest::Url::parse(&e.authorization).map_err(|err| format!("{}: {err}", e.authorization))?;
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &params.0 {
            pairs.append_pair(k, v);
        }
    }
    let resp = w.http.get(url.as_str()).send().await.map_err(|err| format!("GET {url} failed: {err}"))?;
    let r = login::reply(resp).await?;
    w.redirect_query = None;
    if let Some(location) = r.header("location") {
        let next = url.join(location).map_err(|err| err.to_string())?;
        let mut query: std::collections::HashMap<String, String> = next.query_pairs().into_owned().collect();
        if !next.as_str().starts_with(&client_redirect) {
            // The request went on (to an upstream): record where, so the check shows it.
            query = [
                ("(redirected elsewhere)".to_string(), next.origin().ascii_serialization() + next.path()),
                ("(location)".to_string(), next.to_string()),
            ]
            .into();
        }
        w.redirect_query = Some((sent_state, query));
    }
    w.reply = Some(r);
    Ok(())
}

#[when(expr = "the user starts a login with {string} set to {string}")]
async fn authorize_with(w: &mut ConformanceWorld, name: String, value: String) -> Result<(), String> {
    send_authorize(w, |p| match p.0.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => {
            let key: &'static str = Box::leak(name.into_boxed_str());
            p.0.push((key, value));
        }
    })
    .await
}

#[when(expr = "the user starts a login without {string}")]
async fn authorize_without(w: &mut ConformanceWorld, name: String) -> Result<(), String> {
    send_authorize(w, |p| p.0.retain(|(k, _)| *k != name)).await
}

#[when("the user starts a login with a redirect URI that only extends the registered one")]
async fn authorize_extended_redirect(w: &mut ConformanceWorld) -> Result<(), String> {
    send_authorize(w, |p| {
        if let Some(slot) = p.0.iter_mut().find(|(k, _)| *k == "redirect_uri") {
            slot.1.push_str("/../attacker");
        }
    })
    .await
}

#[then("the answer is not a redirect")]
async fn not_redirected(w: &mut ConformanceWorld) -> Result<(), String> {
    let r = w.reply()?.clone();
    verify(
        &mut w.checks,
        Check::must("authorize.no-redirect-to-unverified-uri", "RFC 6749 §4.1.2.1; RFC 9700 §4.1"),
        !(300..400).contains(&r.status) && r.header("location").is_none(),
        "an error page, not a redirect",
        format!("{} Location: {:?}", r.status, r.header("location")),
    )
}

// ---------------------------------------------------------------------------------------------
// Token endpoint bad input
// ---------------------------------------------------------------------------------------------

#[when(expr = "a client sends a token request with grant_type {string}")]
async fn grant_type_request(w: &mut ConformanceWorld, grant_type: String) -> Result<(), String> {
    let e = endpoints(w).await?;
    let client_id = login::register(w, &e.registration).await?;
    let resp = w
        .http
        .post(&e.token)
        .form(&[("grant_type", grant_type.as_str()), ("client_id", &client_id), ("username", "alice")])
        .send()
        .await
        .map_err(|err| format!("POST {} failed: {err}", e.token))?;
    w.reply = Some(login::reply(resp).await?);
    Ok(())
}

#[when("a registered public client authenticates at the token endpoint with HTTP Basic and a secret")]
async fn basic_with_secret(w: &mut ConformanceWorld) -> Result<(), String> {
    let e = endpoints(w).await?;
    let client_id = login::register(w, &e.registration).await?;
    let resp = w
        .http
        .post(&e.token)
        .basic_auth(&client_id, Some("not-a-secret-it-was-given"))
        .form(&[("grant_type", "authorization_code"), ("code", "whatever")])
        .send()
        .await
        .map_err(|err| format!("POST {} failed: {err}", e.token))?;
    w.reply = Some(login::reply(resp).await?);
    Ok(())
}

#[when(expr = "a client sends the token request body {string}")]
async fn raw_token_body(w: &mut ConformanceWorld, body: String) -> Result<(), String> {
    post_token_body(w, body).await
}

#[when(expr = "a client sends a token request body of {int} KiB")]
async fn huge_token_body(w: &mut ConformanceWorld, kib: usize) -> Result<(), String> {
    post_token_body(w, format!("grant_type=authorization_code&code={}", "a".repeat(kib * 1024))).await
}

/// Posts `body` as a form to the token endpoint and keeps the reply.
async fn post_token_body(w: &mut ConformanceWorld, body: String) -> Result<(), String> {
    let e = endpoints(w).await?;
    let resp = w
        .http
        .post(&e.token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|err| format!("POST {} failed: {err}", e.token))?;
    w.reply = Some(login::reply(resp).await?);
    Ok(())
}

#[then(expr = "the answer is {int} with a Basic challenge")]
async fn basic_challenge(w: &mut ConformanceWorld, status: u16) -> Result<(), String> {
    let r = w.reply()?.clone();
    let www = r.header("www-authenticate").unwrap_or_default().to_string();
    verify(
        &mut w.checks,
        Check::must("oauth.invalid-client-challenge", "RFC 6749 §5.2 (invalid_client)"),
        r.status == status && www.to_ascii_lowercase().starts_with("basic"),
        format!("{status} with WWW-Authenticate: Basic …"),
        format!("{} with WWW-Authenticate: {www:?}", r.status),
    )
}

#[then(expr = "the answer status is {int}")]
async fn status_is(w: &mut ConformanceWorld, status: u16) -> Result<(), String> {
    let r = w.reply()?.clone();
    verify(
        &mut w.checks,
        Check::must("http.status", "RFC 9110 §15"),
        r.status == status,
        status,
        format!("{}: {}", r.status, r.body.chars().take(200).collect::<String>()),
    )
}

// ---------------------------------------------------------------------------------------------
// JWTs presented to the vMCP
// ---------------------------------------------------------------------------------------------

/// The signing key the harness supplied in the prerequisite Secret `auth-signing-key`.
fn configured_signing_key() -> Result<jsonwebtoken::EncodingKey, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/secrets/embedded-auth-server.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| format!("{} is not YAML: {e}", path.display()))?;
    let pem = docs
        .iter()
        .find(|d| d.pointer("/metadata/name").and_then(|n| n.as_str()) == Some("auth-signing-key"))
        .and_then(|d| d.pointer("/stringData/private-key").and_then(|k| k.as_str()))
        .ok_or_else(|| format!("{} has no Secret auth-signing-key with private-key", path.display()))?;
    jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| format!("auth-signing-key: {e}"))
}

fn jwt_parts(jwt: &str) -> Result<(serde_json::Value, serde_json::Value), String> {
    let header = jwt
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .ok_or("the access token has no JSON header")?;
    Ok((header, login::claims(jwt)?))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The user's access token with `edit` applied to its claims, signed with the configured key
/// under the original `kid`.
fn resign(w: &ConformanceWorld, edit: impl FnOnce(&mut serde_json::Value)) -> Result<String, String> {
    let (header, mut claims) = jwt_parts(&w.login()?.access_token)?;
    edit(&mut claims);
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = header["kid"].as_str().map(String::from);
    jsonwebtoken::encode(&h, &claims, &configured_signing_key()?).map_err(|e| format!("signing failed: {e}"))
}

#[when("an MCP request carries the access token re-signed with the configured signing key")]
async fn resigned_same(w: &mut ConformanceWorld) -> Result<(), String> {
    let token = resign(w, |_| {})?;
    send_initialize(w, &token).await
}

#[when(
    expr = "an MCP request carries the access token re-signed with the configured signing key and the audience {string}"
)]
async fn resigned_audience(w: &mut ConformanceWorld, aud: String) -> Result<(), String> {
    let token = resign(w, |c| c["aud"] = serde_json::json!(aud))?;
    send_initialize(w, &token).await
}

#[when(
    expr = "an MCP request carries the access token re-signed with the configured signing key and the issuer {string}"
)]
async fn resigned_issuer(w: &mut ConformanceWorld, iss: String) -> Result<(), String> {
    let token = resign(w, |c| c["iss"] = serde_json::json!(iss))?;
    send_initialize(w, &token).await
}

#[when("an MCP request carries the access token re-signed with the configured signing key, expired a minute ago")]
async fn resigned_expired(w: &mut ConformanceWorld) -> Result<(), String> {
    let t = now();
    let token = resign(w, |c| {
        c["iat"] = serde_json::json!(t - 3600);
        c["exp"] = serde_json::json!(t - 60);
    })?;
    send_initialize(w, &token).await
}

#[when("an MCP request carries the access token with its signature removed and alg none")]
async fn alg_none(w: &mut ConformanceWorld) -> Result<(), String> {
    let (mut header, claims) = jwt_parts(&w.login()?.access_token)?;
    header["alg"] = serde_json::json!("none");
    let token =
        format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    send_initialize(w, &token).await
}

/// The key-confusion attack: HS256 with the issuer's published public key as the HMAC secret.
#[when("an MCP request carries the access token re-signed with HS256 using the published public key as the secret")]
async fn hs256_confusion(w: &mut ConformanceWorld) -> Result<(), String> {
    let (header, claims) = jwt_parts(&w.login()?.access_token)?;
    let url = format!("{}/.well-known/jwks.json", w.base_url());
    let jwks = login::get(w, &url).await?.json()?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == header["kid"]))
        .cloned()
        .ok_or_else(|| format!("the JWKS has no key {}", header["kid"]))?;
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = header["kid"].as_str().map(String::from);
    let secret = jwk.to_string();
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).map_err(|e| format!("HS256 key: {e}"))?;
    let token = jsonwebtoken::encode(&h, &claims, &key).map_err(|e| format!("signing failed: {e}"))?;
    send_initialize(w, &token).await
}

// ---------------------------------------------------------------------------------------------
// Documented fragments, client registration and scopes
// ---------------------------------------------------------------------------------------------

fn merge(into: &mut serde_json::Value, from: &serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// Merges a documented YAML fragment (`spec: authServerConfig: …`) into the scenario's
/// VirtualMCPServer, so the documented values are what gets deployed.
#[given(expr = "the VirtualMCPServer is merged with the documented block {string} from {string} section {string}")]
async fn merge_documented(
    w: &mut ConformanceWorld,
    title: String,
    page: String,
    section: String,
) -> Result<(), String> {
    let blocks = super::deploy::page_blocks(&page)?;
    let block = blocks
        .iter()
        .find(|b| b.heading_anchor == section && b.title.as_deref() == Some(title.as_str()))
        .ok_or_else(|| format!("{page} has no block titled {title:?} under #{section}"))?;
    let fragment: serde_json::Value =
        serde_saphyr::from_str(&block.content).map_err(|e| format!("{page}:{} is not YAML: {e}", block.line))?;
    tracing::info!("merging documented block {page}:{} ({title}) into the VirtualMCPServer", block.line);
    edit_manifests(w, "VirtualMCPServer", |doc| {
        merge(doc, &fragment);
        Ok(())
    })
}

async fn register_with(w: &mut ConformanceWorld, metadata: serde_json::Value) -> Result<HttpReply, String> {
    let e = endpoints(w).await?;
    let resp = w
        .http
        .post(&e.registration)
        .json(&metadata)
        .send()
        .await
        .map_err(|err| format!("POST {} failed: {err}", e.registration))?;
    login::reply(resp).await
}

#[when("a client registers with the metadata:")]
async fn register_metadata(w: &mut ConformanceWorld, step: &Step) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs a docstring with the JSON metadata")?;
    let metadata: serde_json::Value = serde_json::from_str(&super::deploy::docstring_text(raw))
        .map_err(|e| format!("the docstring is not JSON: {e}"))?;
    w.reply = Some(register_with(w, metadata).await?);
    Ok(())
}

#[when(expr = "a client registered with the scope {string} starts a login asking for {string}")]
async fn narrowed_client_login(w: &mut ConformanceWorld, registered: String, asked: String) -> Result<(), String> {
    let redirect = {
        let params = AuthorizeParams::standard("x", "x", "x", &Pkce::new());
        params.0.iter().find(|(k, _)| *k == "redirect_uri").map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let r = register_with(
        w,
        serde_json::json!({
            "client_name": "vmcp-conformance narrowed client",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": registered,
        }),
    )
    .await?;
    if r.status != 201 {
        return Err(format!("registration answered {}: {}", r.status, r.body));
    }
    let client_id = r.json()?["client_id"].as_str().ok_or("no client_id")?.to_string();
    send_authorize_as(w, &client_id, |p| {
        if let Some(slot) = p.0.iter_mut().find(|(k, _)| *k == "scope") {
            slot.1 = asked;
        }
    })
    .await
}

#[then("the login goes on to the first upstream")]
async fn went_upstream(w: &mut ConformanceWorld) -> Result<(), String> {
    let github = w.github.as_ref().map(|g| g.base_url()).unwrap_or_default();
    let query = w.redirect_query.clone().map(|(_, q)| q).unwrap_or_default();
    let elsewhere = query.get("(redirected elsewhere)").cloned().unwrap_or_default();
    verify(
        &mut w.checks,
        Check::must("authorize.accepted", "embedded-auth-server-vmcp.mdx#enable-baseline-scopes-for-dcr-clients"),
        !github.is_empty() && elsewhere.starts_with(&github),
        format!("a redirect to the GitHub leg at {github}"),
        format!("{query:?}"),
    )
}

// ---------------------------------------------------------------------------------------------
// What the upstream providers received
// ---------------------------------------------------------------------------------------------

async fn upstream_requests(w: &ConformanceWorld, provider: &str) -> Result<Vec<mock_idps::RecordedRequest>, String> {
    match provider {
        "GitHub" => Ok(w.github.as_ref().ok_or("the GitHub mock is not running")?.received().await),
        "Google" => Ok(w.google.as_ref().ok_or("the Google mock is not running")?.received().await),
        other => Err(format!("no mock provider named {other}")),
    }
}

#[then(expr = "{word} received an authorization request with {string} set to {string}")]
async fn upstream_authorize_param(
    w: &mut ConformanceWorld,
    provider: String,
    name: String,
    value: String,
) -> Result<(), String> {
    let requests = upstream_requests(w, &provider).await?;
    let authz: Vec<&mock_idps::RecordedRequest> =
        requests.iter().filter(|r| r.query.iter().any(|(k, v)| k == "response_type" && v == "code")).collect();
    let seen: Vec<Option<&String>> =
        authz.iter().map(|r| r.query.iter().find(|(k, _)| *k == name).map(|(_, v)| v)).collect();
    verify(
        &mut w.checks,
        Check::must("upstream.authorize-param", "embedded-auth-server-k8s.mdx#configure-upstream-providers"),
        !seen.is_empty() && seen.iter().all(|v| v.map(String::as_str) == Some(value.as_str())),
        format!("{name}={value:?} on every authorization request {provider} received"),
        format!("{name} = {seen:?} on {} authorization request(s)", authz.len()),
    )
}

#[then(expr = "{word} received the userinfo request with the header {string} set to {string}")]
async fn upstream_userinfo_header(
    w: &mut ConformanceWorld,
    provider: String,
    header: String,
    value: String,
) -> Result<(), String> {
    let requests = upstream_requests(w, &provider).await?;
    let userinfo: Vec<&mock_idps::RecordedRequest> = requests.iter().filter(|r| r.path == "/user").collect();
    let seen: Vec<Option<&String>> = userinfo
        .iter()
        .map(|r| r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(&header)).map(|(_, v)| v))
        .collect();
    verify(
        &mut w.checks,
        Check::must("upstream.userinfo-header", "embedded-auth-server-vmcp.mdx#complete-example (userInfo)"),
        !seen.is_empty() && seen.iter().all(|v| v.map(String::as_str) == Some(value.as_str())),
        format!("GET /user with {header}: {value}"),
        format!("{header} = {seen:?} on {} userinfo request(s)", userinfo.len()),
    )
}

// ---------------------------------------------------------------------------------------------
// Client ID Metadata Documents
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct CimdState {
    host: Option<std::sync::Arc<mock_idps::CimdHost>>,
    /// A client ID the scenario published under a URL of its own making.
    published_id: Option<String>,
}

async fn cimd_host(w: &mut ConformanceWorld) -> std::sync::Arc<mock_idps::CimdHost> {
    if let Some(h) = w.ext.get_or_insert_default::<CimdState>().host.clone() {
        return h;
    }
    let h = std::sync::Arc::new(mock_idps::CimdHost::start().await);
    w.ext.get_or_insert_default::<CimdState>().host = Some(h.clone());
    h
}

fn harness_redirect_uri() -> String {
    let params = AuthorizeParams::standard("x", "x", "x", &Pkce::new());
    params.0.iter().find(|(k, _)| *k == "redirect_uri").map(|(_, v)| v.clone()).unwrap_or_default()
}

#[given(expr = "an MCP client publishes its metadata document at {string}:")]
async fn publish_document(w: &mut ConformanceWorld, path: String, step: &Step) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs the JSON document as a docstring")?;
    let host = cimd_host(w).await;
    let url = host.url(&path);
    let text = super::deploy::docstring_text(raw)
        .replace("{url}", &url)
        .replace("{redirect_uri}", &harness_redirect_uri())
        .replace("{host}", &host.base_url());
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("the docstring is not JSON: {e}"))?;
    host.serve(&path, mock_idps::CimdAnswer::Document(doc));
    Ok(())
}

/// Publishes a document whose client_id is `{url}` of `path`, answered in a misbehaving way.
async fn publish_answer(
    w: &mut ConformanceWorld,
    path: &str,
    answer: impl FnOnce(serde_json::Value) -> mock_idps::CimdAnswer,
) {
    let host = cimd_host(w).await;
    let url = host.url(path);
    let doc = serde_json::json!({
        "client_id": url, "client_name": "misbehaving host", "redirect_uris": [harness_redirect_uri()],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    host.serve(path, answer(doc));
}

#[given(expr = "the document host answers {string} with a valid document after {int} seconds")]
async fn publish_slow(w: &mut ConformanceWorld, path: String, seconds: u64) {
    publish_answer(w, &path, |doc| mock_idps::CimdAnswer::Slow(doc, std::time::Duration::from_secs(seconds))).await;
}

#[given(expr = "the document host answers {string} with a valid document padded to {int} KB")]
async fn publish_padded(w: &mut ConformanceWorld, path: String, kb: usize) {
    publish_answer(w, &path, |doc| mock_idps::CimdAnswer::Padded(doc, kb * 1024)).await;
}

#[given(expr = "the document host redirects {string} to {string}, a document naming the first URL as its client_id")]
async fn publish_redirect(w: &mut ConformanceWorld, path: String, target: String) {
    let host = cimd_host(w).await;
    let redirecting = host.url(&path);
    // The target names the redirecting URL, so only the redirect itself makes it unacceptable.
    let doc = serde_json::json!({
        "client_id": redirecting, "client_name": "moved", "redirect_uris": [harness_redirect_uri()],
        "token_endpoint_auth_method": "none",
    });
    let target_url = host.serve(&target, mock_idps::CimdAnswer::Document(doc));
    host.serve(&path, mock_idps::CimdAnswer::Redirect(target_url));
}

#[when(expr = "the user logs in through the vMCP with the client ID metadata document {string}")]
async fn cimd_login(w: &mut ConformanceWorld, path: String) -> Result<(), String> {
    let client_id = cimd_host(w).await.url(&path);
    let e = endpoints(w).await?;
    let pkce = Pkce::new();
    let params = AuthorizeParams::standard(&client_id, "openid offline_access", &e.resource, &pkce);
    let (hops, code) = login::authorize(w, &e, &params).await?;
    let r = login::redeem(w, &e, &client_id, &code, &pkce.verifier).await?;
    if r.status != 200 {
        return Err(format!("the token endpoint answered {}: {}", r.status, r.body));
    }
    let token_response = r.json()?;
    let access_token = token_response["access_token"].as_str().unwrap_or_default().to_string();
    w.login = Some(Login { client_id, hops, access_token, token_response });
    Ok(())
}

#[when(expr = "the user starts a login with the client ID metadata document {string}")]
async fn cimd_authorize(w: &mut ConformanceWorld, path: String) -> Result<(), String> {
    let client_id = cimd_host(w).await.url(&path);
    send_authorize_as(w, &client_id, |_| {}).await
}

#[when(expr = "the user starts a login with the client ID metadata document {string} asking for {string}")]
async fn cimd_authorize_scope(w: &mut ConformanceWorld, path: String, scope: String) -> Result<(), String> {
    let client_id = cimd_host(w).await.url(&path);
    send_authorize_as(w, &client_id, |p| {
        if let Some(slot) = p.0.iter_mut().find(|(k, _)| *k == "scope") {
            slot.1 = scope;
        }
    })
    .await
}

#[then(expr = "the document host received {int} request(s) for {string}")]
async fn document_gets(w: &mut ConformanceWorld, n: usize, path: String) -> Result<(), String> {
    let gets = cimd_host(w).await.gets(&path);
    verify(
        &mut w.checks,
        Check::must("cimd.fetch-count", "embedded-auth-server-vmcp.mdx#enable-cimd-for-zero-registration-clients"),
        gets == n,
        format!("{n} GET(s) of {path}"),
        format!("{gets} GET(s)"),
    )
}

#[then(expr = "the metadata field {string} is true")]
async fn metadata_flag(w: &mut ConformanceWorld, field: String) -> Result<(), String> {
    let metadata = w.metadata.clone().ok_or("the metadata has not been read")?;
    let actual = metadata.get(&field).cloned().unwrap_or(serde_json::Value::Null);
    verify(
        &mut w.checks,
        Check::must("as-metadata.flag", "RFC 8414 §2; embedded-auth-server-vmcp.mdx#troubleshooting"),
        actual == serde_json::Value::Bool(true),
        format!("{field} = true"),
        format!("{field} = {actual}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Upstream dynamic client registration
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct DcrState {
    provider: Option<std::sync::Arc<mock_idps::DcrProviderMock>>,
}

fn dcr_provider(w: &mut ConformanceWorld) -> Result<std::sync::Arc<mock_idps::DcrProviderMock>, String> {
    w.ext.get_or_insert_default::<DcrState>().provider.clone().ok_or_else(|| "no DCR provider was started".into())
}

/// The documented placeholders of the DCR examples -> this scenario's values.
fn dcr_substitute(w: &mut ConformanceWorld, text: &str) -> Result<String, String> {
    let provider = dcr_provider(w)?.base_url();
    Ok(text.replace("https://mcp.example.com", &provider).replace("https://toolhive.example.com", &w.base_url()))
}

fn documented_block(page: &str, section: &str, title: &str) -> Result<String, String> {
    super::deploy::page_blocks(page)?
        .iter()
        .find(|b| b.heading_anchor == section && b.title.as_deref() == Some(title))
        .map(|b| b.content.clone())
        .ok_or_else(|| format!("{page} has no block titled {title:?} under #{section}"))
}

#[given(expr = "an upstream provider that supports dynamic client registration with the initial access token {string}")]
async fn start_dcr_provider(w: &mut ConformanceWorld, token: String) {
    // Lenient: registrations without the token are recorded, so the check can name the header.
    let mock = mock_idps::DcrProviderMock::start(Some(&token), false).await;
    w.ext.get_or_insert_default::<DcrState>().provider = Some(std::sync::Arc::new(mock));
}

#[given(
    expr = "the upstream of the documented block {string} from {string} section {string} is placed first, served by that provider"
)]
async fn dcr_upstream_first(
    w: &mut ConformanceWorld,
    title: String,
    page: String,
    section: String,
) -> Result<(), String> {
    let text = dcr_substitute(w, &documented_block(&page, &section, &title)?)?;
    let fragment: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| format!("{title}: {e}"))?;
    let upstream = fragment
        .pointer("/spec/authServerConfig/upstreamProviders/0")
        .cloned()
        .ok_or_else(|| format!("{title} has no spec.authServerConfig.upstreamProviders[0]"))?;
    edit_manifests(w, "VirtualMCPServer", |doc| {
        let list = doc
            .pointer_mut("/spec/authServerConfig/upstreamProviders")
            .and_then(|l| l.as_array_mut())
            .ok_or("the VirtualMCPServer has no upstreamProviders")?;
        list.insert(0, upstream.clone());
        Ok(())
    })
}

#[given(expr = "the first upstream's dcrConfig is the documented block {string} from {string} section {string}")]
async fn dcr_config_block(
    w: &mut ConformanceWorld,
    title: String,
    page: String,
    section: String,
) -> Result<(), String> {
    let text = dcr_substitute(w, &documented_block(&page, &section, &title)?)?;
    let fragment: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| format!("{title}: {e}"))?;
    let dcr = fragment.get("dcrConfig").cloned().ok_or_else(|| format!("{title} has no dcrConfig"))?;
    edit_manifests(w, "VirtualMCPServer", |doc| {
        set_value(doc, "spec.authServerConfig.upstreamProviders.0.oauth2Config.dcrConfig", Some(dcr.clone()))
    })
}

#[given(expr = "the documented Secret {string} from {string} section {string} with {string} set to {string}")]
async fn documented_secret(
    w: &mut ConformanceWorld,
    title: String,
    page: String,
    section: String,
    placeholder: String,
    value: String,
) -> Result<(), String> {
    let text = documented_block(&page, &section, &title)?;
    if !text.contains(&placeholder) {
        return Err(format!("{title} does not contain the placeholder {placeholder}"));
    }
    w.manifests.push(super::world::ManifestSource {
        origin: format!("{page}#{section} ({title})"),
        yaml: text.replace(&placeholder, &value),
        documented: true,
    });
    Ok(())
}

#[then(expr = "the DCR provider received {int} registration(s)")]
async fn dcr_registrations(w: &mut ConformanceWorld, n: usize) -> Result<(), String> {
    let regs = dcr_provider(w)?.registrations();
    verify(
        &mut w.checks,
        Check::must(
            "upstream-dcr.registrations",
            "embedded-auth-server-vmcp.mdx#register-toolhive-with-an-oauth-provider",
        ),
        regs.len() == n,
        format!("{n} registration(s)"),
        format!("{} registration(s): {:?}", regs.len(), regs.iter().map(|r| &r.issued_client_id).collect::<Vec<_>>()),
    )
}

#[then(expr = "every registration carried the bearer token {string}")]
async fn dcr_bearer(w: &mut ConformanceWorld, token: String) -> Result<(), String> {
    let regs = dcr_provider(w)?.registrations();
    let want = format!("Bearer {token}");
    let seen: Vec<Option<String>> = regs.iter().map(|r| r.authorization.clone()).collect();
    verify(
        &mut w.checks,
        Check::must(
            "upstream-dcr.initial-access-token",
            "embedded-auth-server-vmcp.mdx#authorize-upstream-registration-with-an-initial-access-token",
        ),
        !seen.is_empty() && seen.iter().all(|a| a.as_deref() == Some(want.as_str())),
        format!("Authorization: {want} on every registration"),
        format!("{seen:?}"),
    )
}

#[then("the login goes to the provider with the client ID it issued")]
async fn dcr_client_id_used(w: &mut ConformanceWorld) -> Result<(), String> {
    let provider = dcr_provider(w)?;
    let issued: Vec<String> = provider.registrations().iter().filter_map(|r| r.issued_client_id.clone()).collect();
    let location = w.redirect_query.clone().and_then(|(_, q)| q.get("(location)").cloned()).unwrap_or_default();
    let sent = reqwest::Url::parse(&location)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "client_id").map(|(_, v)| v.into_owned()));
    verify(
        &mut w.checks,
        Check::must("upstream-dcr.client-id", "embedded-auth-server-vmcp.mdx#register-toolhive-with-an-oauth-provider"),
        location.starts_with(&provider.base_url()) && sent.as_ref().is_some_and(|s| issued.contains(s)),
        format!("a redirect to {} with client_id among {issued:?}", provider.base_url()),
        format!("{location:?}"),
    )
}

#[when("the user starts a login")]
async fn start_login(w: &mut ConformanceWorld) -> Result<(), String> {
    send_authorize(w, |_| {}).await
}

// ---------------------------------------------------------------------------------------------
// Providers with non-standard token responses (Slack-like, Snowflake-like)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct ShapedState {
    slack: Option<std::sync::Arc<mock_idps::SlackMock>>,
    snowflake: Option<std::sync::Arc<mock_idps::SnowflakeMock>>,
}

/// Points the first upstream (the documented `github` entry) at `base`'s endpoints. The mock
/// accepts the client credentials the documented GitHub entry carries.
fn point_first_upstream(w: &mut ConformanceWorld, base: &str) -> Result<(), String> {
    let (authz, token) = (format!("{base}/oauth/authorize"), format!("{base}/oauth/token"));
    edit_manifests(w, "VirtualMCPServer", |doc| {
        let at = "spec.authServerConfig.upstreamProviders.0.oauth2Config";
        set_value(doc, &format!("{at}.authorizationEndpoint"), Some(serde_json::json!(authz)))?;
        set_value(doc, &format!("{at}.tokenEndpoint"), Some(serde_json::json!(token)))
    })
}

#[given("the first upstream is a Slack-like provider")]
async fn slack_upstream(w: &mut ConformanceWorld) -> Result<(), String> {
    let mock = mock_idps::SlackMock::start(&w.github_client_id, "conformance-github-secret").await;
    mock.set_user(w.user.clone());
    let base = mock.base_url();
    w.ext.get_or_insert_default::<ShapedState>().slack = Some(std::sync::Arc::new(mock));
    point_first_upstream(w, &base)
}

#[given("the first upstream is a Snowflake-like provider")]
async fn snowflake_upstream(w: &mut ConformanceWorld) -> Result<(), String> {
    let mock = mock_idps::SnowflakeMock::start(&w.github_client_id, "conformance-github-secret").await;
    mock.set_user(w.user.clone());
    let base = mock.base_url();
    w.ext.get_or_insert_default::<ShapedState>().snowflake = Some(std::sync::Arc::new(mock));
    point_first_upstream(w, &base)
}

#[given(
    expr = "the first upstream's oauth2Config is merged with the documented block {string} from {string} section {string}"
)]
async fn merge_oauth2_block(
    w: &mut ConformanceWorld,
    title: String,
    page: String,
    section: String,
) -> Result<(), String> {
    let text = documented_block(&page, &section, &title)?;
    let fragment: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| format!("{title}: {e}"))?;
    let oauth2 = fragment.get("oauth2Config").cloned().ok_or_else(|| format!("{title} has no oauth2Config"))?;
    edit_manifests(w, "VirtualMCPServer", |doc| {
        let target = doc
            .pointer_mut("/spec/authServerConfig/upstreamProviders/0/oauth2Config")
            .ok_or("the first upstream has no oauth2Config")?;
        merge(target, &oauth2);
        Ok(())
    })
}

#[when("the user attempts a login through the vMCP")]
async fn attempt_login(w: &mut ConformanceWorld) -> Result<(), String> {
    let e = endpoints(w).await?;
    let client_id = login::register(w, &e.registration).await?;
    let pkce = Pkce::new();
    let params = AuthorizeParams::standard(&client_id, "openid offline_access", &e.resource, &pkce);
    let sent_state = params.state().map(String::from);
    let (hops, query) = login::authorize_until_client(w, &e, &params).await?;
    if let Some(code) = query.get("code") {
        let r = login::redeem(w, &e, &client_id, code, &pkce.verifier).await?;
        if r.status == 200 {
            let token_response = r.json()?;
            let access_token = token_response["access_token"].as_str().unwrap_or_default().to_string();
            w.login = Some(Login { client_id, hops, access_token, token_response });
        }
    }
    w.redirect_query = Some((sent_state, query));
    Ok(())
}

#[then("the client is sent back with a code")]
async fn sent_back_with_code(w: &mut ConformanceWorld) -> Result<(), String> {
    let query = w.redirect_query.clone().map(|(_, q)| q).unwrap_or_default();
    verify(
        &mut w.checks,
        Check::must("upstream.identity-login", "embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response"),
        query.contains_key("code") && w.login.is_some(),
        "a code, redeemed for tokens",
        format!("{query:?}"),
    )
}

#[then("the login fails without a code")]
async fn login_failed(w: &mut ConformanceWorld) -> Result<(), String> {
    let query = w.redirect_query.clone().map(|(_, q)| q).unwrap_or_default();
    verify(
        &mut w.checks,
        Check::must(
            "upstream.identity-failure",
            "embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response",
        ),
        query.contains_key("error") && !query.contains_key("code"),
        "an error and no code",
        format!("{query:?}"),
    )
}

#[then(expr = "{string} received the Slack user token as a Bearer token")]
async fn received_slack_token(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let slack = w.ext.get_or_insert_default::<ShapedState>().slack.clone().ok_or("no Slack-like provider")?;
    let token = slack.issued().last().map(|t| t.access_token.clone()).ok_or("the Slack mock issued no user token")?;
    let calls = w.backend(&backend)?.tool_calls();
    let auth = calls
        .last()
        .and_then(|c| c.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone()));
    let want = format!("Bearer {token}");
    verify(
        &mut w.checks,
        Check::must("upstream.mapped-token", "embedded-auth-server-vmcp.mdx#tokens-under-non-standard-paths"),
        auth.as_deref() == Some(want.as_str()),
        "Authorization: Bearer <authed_user.access_token>",
        format!("Authorization: {:?}", auth.map(|a| a.chars().take(16).collect::<String>() + "…")),
    )
}

#[then("GitHub received no userinfo request")]
async fn no_userinfo(w: &mut ConformanceWorld) -> Result<(), String> {
    let requests = upstream_requests(w, "GitHub").await?;
    let userinfo = requests.iter().filter(|r| r.path == "/user").count();
    verify(
        &mut w.checks,
        Check::must("upstream.no-userinfo", "embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response"),
        userinfo == 0,
        "no GET /user",
        format!("{userinfo} GET /user"),
    )
}

#[then(expr = "the access token's name claim is {string}")]
async fn name_claim(w: &mut ConformanceWorld, name: String) -> Result<(), String> {
    let claims = login::claims(&w.login()?.access_token)?;
    verify(
        &mut w.checks,
        Check::must("jwt.name", "embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response"),
        claims["name"].as_str() == Some(name.as_str()),
        format!("name = {name:?}"),
        format!("name = {}", claims["name"]),
    )
}

// ---------------------------------------------------------------------------------------------
// Admission: conditions on resources other than the VirtualMCPServer
// ---------------------------------------------------------------------------------------------

#[then(expr = "the {word} {string} reports {word}={word} with reason {word}")]
async fn resource_condition(
    w: &mut ConformanceWorld,
    kind: String,
    name: String,
    type_: String,
    status: String,
    reason: String,
) -> Result<(), String> {
    let deployed = w.deployed.as_ref().ok_or("nothing was deployed")?;
    let resource = format!("{kind}/{name}");
    let want = status.eq_ignore_ascii_case("true");
    let found = deployed
        .conditions
        .iter()
        .any(|c| c.resource == resource && c.type_ == type_ && c.status == want && c.reason == reason);
    let all: Vec<String> = deployed.conditions.iter().map(ToString::to_string).collect();
    verify(
        &mut w.checks,
        Check::must("bundle.status-condition", "auth-k8s.mdx#connect-to-an-external-identity-provider"),
        found,
        format!("{resource}: {type_}={status} reason {reason}"),
        format!("{all:?}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Upstream providers that misbehave, and Entra-like ID tokens
// ---------------------------------------------------------------------------------------------

fn google(w: &ConformanceWorld) -> Result<&mock_idps::GoogleMock, String> {
    w.google.as_ref().ok_or_else(|| "the Google-like provider has not been started (deploy first)".to_string())
}

#[when("the Google-like provider starts signing ID tokens for another issuer")]
async fn google_wrong_issuer(w: &mut ConformanceWorld) -> Result<(), String> {
    google(w)?.set_fault(mock_idps::Fault::WrongIssuer);
    Ok(())
}

#[when("the Google-like provider starts issuing ID tokens that expired ten minutes ago")]
async fn google_expired(w: &mut ConformanceWorld) -> Result<(), String> {
    google(w)?.set_fault(mock_idps::Fault::ExpiredIdToken);
    Ok(())
}

#[when(expr = "the Google-like provider's token endpoint starts answering HTTP {int}")]
async fn google_5xx(w: &mut ConformanceWorld, status: u16) -> Result<(), String> {
    if status != 500 {
        return Err(format!("the mock can only answer HTTP 500, not {status}"));
    }
    google(w)?.set_fault(mock_idps::Fault::ServerError);
    Ok(())
}

#[when(expr = "the Google-like provider's token endpoint starts answering after {int} seconds")]
async fn google_slow(w: &mut ConformanceWorld, seconds: u64) -> Result<(), String> {
    google(w)?.set_fault(mock_idps::Fault::SlowToken(std::time::Duration::from_secs(seconds)));
    Ok(())
}

#[when("the Google-like provider starts issuing Entra-like ID tokens (per-application sub, stable oid)")]
async fn google_entra(w: &mut ConformanceWorld) -> Result<(), String> {
    google(w)?.set_entra_claims(true);
    Ok(())
}

#[when(expr = "the Google-like provider starts issuing access tokens that expire after {int} seconds")]
async fn google_short_tokens(w: &mut ConformanceWorld, seconds: u64) -> Result<(), String> {
    google(w)?.set_access_token_lifetime(seconds);
    Ok(())
}

#[when("the Google-like provider revokes every refresh token it issued")]
async fn google_revoke(w: &mut ConformanceWorld) -> Result<(), String> {
    google(w)?.revoke_refresh_tokens();
    Ok(())
}

#[then(expr = "{string} received a Google access token obtained by refreshing, not the first one issued")]
async fn received_refreshed(w: &mut ConformanceWorld, backend: String) -> Result<(), String> {
    let user = w.user.login.clone();
    let issued: Vec<String> =
        google(w)?.issued().into_iter().filter(|t| t.user == user).map(|t| t.access_token).collect();
    let calls = w.backend(&backend)?.tool_calls();
    let auth = calls
        .last()
        .and_then(|c| c.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone()));
    let latest = issued.last().map(|t| format!("Bearer {t}"));
    let ok = issued.len() >= 2 && auth.is_some() && auth == latest;
    let short = |s: &str| s.chars().take(20).collect::<String>() + "…";
    verify(
        &mut w.checks,
        Check::must("upstream-refresh.refreshed-token", "concepts/embedded-auth-server.mdx#automatic-token-refresh"),
        ok,
        "a second Google access token (from the refresh grant) as Bearer",
        format!("{} Google tokens issued to {user}; the backend got {:?}", issued.len(), auth.as_deref().map(short)),
    )
}

#[when(expr = "GitHub now signs in {string} while Google still signs in {string}")]
async fn split_accounts(w: &mut ConformanceWorld, github_user: String, google_user: String) -> Result<(), String> {
    w.github
        .as_ref()
        .ok_or("the GitHub-like provider has not been started")?
        .set_user(mock_idps::MockUser::named(&github_user));
    google(w)?.set_user(mock_idps::MockUser::named(&google_user));
    Ok(())
}

#[then("the access token carries neither a name nor an email claim")]
async fn no_identity_claims(w: &mut ConformanceWorld) -> Result<(), String> {
    let claims = login::claims(&w.login()?.access_token)?;
    verify(
        &mut w.checks,
        Check::must("jwt.no-identity-claims", "embedded-auth-server-k8s.mdx#using-an-oauth-20-upstream-provider"),
        claims.get("name").is_none() && claims.get("email").is_none(),
        "no name and no email claim",
        format!("name = {}, email = {}", claims["name"], claims["email"]),
    )
}

#[then(expr = "neither GitHub nor Google saw the URL of {string}, only the configured client IDs")]
async fn cimd_url_not_upstream(w: &mut ConformanceWorld, path: String) -> Result<(), String> {
    let cimd_url = cimd_host(w).await.url(&path);
    let mut leaks = Vec::new();
    let mut client_ids = Vec::new();
    for (provider, configured) in [("GitHub", w.github_client_id.clone()), ("Google", w.google_client_id.clone())] {
        for r in upstream_requests(w, provider).await? {
            let text = format!("{:?} {:?} {}", r.query, r.headers, r.body);
            let decoded: String =
                url::form_urlencoded::parse(r.body.as_bytes()).map(|(k, v)| format!("{k}={v}&")).collect();
            if text.contains(&cimd_url) || decoded.contains(&cimd_url) {
                leaks.push(format!("{provider} {} {}", r.method, r.path));
            }
            if let Some((_, id)) = r.query.iter().find(|(k, _)| k == "client_id") {
                client_ids.push((provider, id.clone(), id == &configured));
            }
        }
    }
    verify(
        &mut w.checks,
        Check::must(
            "upstream.own-client-credentials",
            "concepts/embedded-auth-server.mdx#client-id-metadata-document-cimd",
        ),
        leaks.is_empty() && !client_ids.is_empty() && client_ids.iter().all(|(_, _, ok)| *ok),
        "upstream requests carry the configured client IDs and never the CIMD URL",
        format!("requests naming the CIMD URL: {leaks:?}; authorization client_ids: {client_ids:?}"),
    )
}

#[then(expr = "the user's browser is sent back to {string}, where nothing completes the login")]
async fn browser_lands_unserved(w: &mut ConformanceWorld, expected: String) -> Result<(), String> {
    let want = expected.replace("{issuer}", &w.base_url());
    let e = endpoints(w).await?;
    let client_id = login::register(w, &e.registration).await?;
    let pkce = Pkce::new();
    let params = AuthorizeParams::standard(&client_id, "openid offline_access", &e.resource, &pkce);
    let mut url = reqwest::Url::parse(&e.authorization).map_err(|err| err.to_string())?;
    url.query_pairs_mut().extend_pairs(params.0.iter().map(|(k, v)| (*k, v.as_str())));
    // Follow the browser until an answer is not a redirect; remember every URL visited.
    let mut visited = Vec::new();
    let mut current = url.to_string();
    let mut last_status = 0;
    let client_redirect = harness_redirect_uri();
    for _ in 0..10 {
        if current.starts_with(&client_redirect) {
            // Back at the client: the login completed (the harness's client does not listen).
            visited.push(client_redirect.clone());
            last_status = 0;
            break;
        }
        let resp = w.http.get(&current).send().await.map_err(|err| format!("GET {current} failed: {err}"))?;
        last_status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(String::from);
        let here = reqwest::Url::parse(&current).map_err(|err| err.to_string())?;
        visited.push(format!("{}{}", here.origin().ascii_serialization(), here.path()));
        match location {
            Some(l) if (300..400).contains(&last_status) => {
                current = here.join(&l).map_err(|err| err.to_string())?.to_string();
            }
            _ => break,
        }
    }
    let ended = visited.last().cloned().unwrap_or_default();
    verify(
        &mut w.checks,
        Check::must(
            "upstream.default-callback",
            "embedded-auth-server-k8s.mdx#default-callback-url-for-upstream-providers",
        ),
        ended == want && last_status >= 400,
        format!("the browser stops at {want} with an error status"),
        format!("stopped at {ended} with {last_status} (visited {visited:?})"),
    )
}

/// POSTs an empty-grant token request to `url` (after `{issuer}` expansion).
async fn probe_token_endpoint(w: &mut ConformanceWorld, url: &str) -> Result<HttpReply, String> {
    let url = url.replace("{issuer}", &w.base_url());
    let resp = w
        .http
        .post(&url)
        .form(&[("grant_type", "authorization_code"), ("code", "probe"), ("client_id", "probe")])
        .send()
        .await
        .map_err(|e| format!("POST {url} failed: {e}"))?;
    login::reply(resp).await
}

/// Whether `r` is a token endpoint's RFC 6749 §5.2 answer to a request it cannot honour.
fn is_token_endpoint_error(r: &HttpReply) -> bool {
    matches!(r.status, 400 | 401)
        && r.json().ok().and_then(|j| j["error"].as_str().map(String::from)).is_some_and(|e| {
            ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client"].contains(&e.as_str())
        })
}

#[then(expr = "a token request to {string} reaches the token endpoint")]
async fn token_endpoint_served(w: &mut ConformanceWorld, url: String) -> Result<(), String> {
    let r = probe_token_endpoint(w, &url).await?;
    verify(
        &mut w.checks,
        Check::must(
            "as-endpoints.root",
            "embedded-auth-server-k8s.mdx#step-4-create-the-mcpexternalauthconfig-resource",
        ),
        is_token_endpoint_error(&r),
        format!("{url}: a token endpoint's OAuth error (400/401 with error)"),
        format!("{}: {}", r.status, r.body.chars().take(200).collect::<String>()),
    )
}

#[then(expr = "a token request to {string} reaches no token endpoint")]
async fn token_endpoint_unserved(w: &mut ConformanceWorld, url: String) -> Result<(), String> {
    let r = probe_token_endpoint(w, &url).await?;
    verify(
        &mut w.checks,
        Check::must(
            "as-endpoints.path-unserved",
            "embedded-auth-server-k8s.mdx#step-4-create-the-mcpexternalauthconfig-resource",
        ),
        !is_token_endpoint_error(&r) && !(200..300).contains(&r.status),
        format!("{url}: no token endpoint there (not a 2xx, not a token endpoint's OAuth error)"),
        format!("{}: {}", r.status, r.body.chars().take(200).collect::<String>()),
    )
}

/// The `sub` of the access tokens seen, oldest first (for re-keying scenarios).
#[derive(Debug, Clone, Default)]
struct NotedSubjects(Vec<String>);

#[when("the harness notes the access token's subject")]
async fn note_subject(w: &mut ConformanceWorld) -> Result<(), String> {
    let sub = login::claims(&w.login()?.access_token)?["sub"].as_str().map(String::from).ok_or("the JWT has no sub")?;
    w.ext.get_or_insert_default::<NotedSubjects>().0.push(sub);
    Ok(())
}

#[then(expr = "the access token's subject {word} the noted one")]
async fn subject_compared(w: &mut ConformanceWorld, relation: String) -> Result<(), String> {
    let sub = login::claims(&w.login()?.access_token)?["sub"].as_str().map(String::from).ok_or("the JWT has no sub")?;
    let noted = w.ext.get_or_insert_default::<NotedSubjects>().0.last().cloned().ok_or("no subject was noted")?;
    let (id, want_same) = match relation.as_str() {
        "is" => ("identity.same-user", true),
        "differs-from" => ("identity.rekeyed", false),
        other => return Err(format!("unknown relation `{other}`: use `is` or `differs-from`")),
    };
    verify(
        &mut w.checks,
        Check::must(id, "embedded-auth-server-vmcp.mdx#stable-subject-for-oidc-upstreams"),
        (sub == noted) == want_same,
        format!("sub {} {noted}", if want_same { "=" } else { "!=" }),
        format!("sub = {sub}"),
    )
}

// ---------------------------------------------------------------------------------------------
// R6: a plain-http CIMD URL on a host that is not a loopback name
// ---------------------------------------------------------------------------------------------

#[given(
    expr = "the document host serves a valid document at {string} whose client_id is its http URL on the host {string}"
)]
async fn publish_on_host(w: &mut ConformanceWorld, path: String, host_name: String) -> Result<(), String> {
    let host = cimd_host(w).await;
    let port =
        reqwest::Url::parse(&host.base_url()).ok().and_then(|u| u.port()).ok_or("the document host has no port")?;
    let id = format!("http://{host_name}:{port}/{}", path.trim_start_matches('/'));
    let doc = serde_json::json!({
        "client_id": id, "client_name": "plain http client", "redirect_uris": [harness_redirect_uri()],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    host.serve(&path, mock_idps::CimdAnswer::Document(doc));
    w.ext.get_or_insert_default::<CimdState>().published_id = Some(id);
    Ok(())
}

#[when("the user starts a login with that http client ID")]
async fn authorize_published(w: &mut ConformanceWorld) -> Result<(), String> {
    let id = w.ext.get_or_insert_default::<CimdState>().published_id.clone().ok_or("no document was published")?;
    send_authorize_as(w, &id, |_| {}).await
}

// ---------------------------------------------------------------------------------------------
// The MCP conformance suite's authorization-server scenarios, run headlessly
// (modelcontextprotocol/conformance src/scenarios/authorization-server/)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct SuiteState {
    /// The metadata probe's answer: the URL that answered 200 and its reply.
    metadata: Option<(String, HttpReply)>,
    /// What the authorization-code grant found wrong (empty: nothing).
    grant_errors: Option<Vec<String>>,
}

/// `authorization-server-metadata-endpoint`: the three well-known URLs the suite tries, in its
/// order, the first 200 kept.
#[when("the MCP conformance suite's metadata probe runs against the issuer")]
async fn suite_metadata_probe(w: &mut ConformanceWorld) -> Result<(), String> {
    let issuer = reqwest::Url::parse(&w.base_url()).map_err(|e| e.to_string())?;
    let origin = issuer.origin().ascii_serialization();
    let path = issuer.path().trim_end_matches('/').to_string();
    let mut urls = vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
    ];
    urls.dedup();
    let mut found = None;
    for url in urls {
        if let Ok(r) = login::get(w, &url).await
            && r.status == 200
        {
            found = Some((url, r));
            break;
        }
    }
    w.ext.get_or_insert_default::<SuiteState>().metadata = found;
    Ok(())
}

fn suite_metadata(w: &mut ConformanceWorld) -> Option<serde_json::Value> {
    let (_, r) = w.ext.get_or_insert_default::<SuiteState>().metadata.clone()?;
    r.json().ok()
}

#[then("the conformance check \"authorization-server-metadata\" passes")]
async fn suite_metadata_check(w: &mut ConformanceWorld) -> Result<(), String> {
    let issuer = w.base_url();
    let probe = w.ext.get_or_insert_default::<SuiteState>().metadata.clone();
    let mut errors = Vec::new();
    match &probe {
        None => errors.push("all authorization server metadata endpoints answered other than 200".to_string()),
        Some((_, r)) => {
            let ct = r.header("content-type").unwrap_or_default().to_ascii_lowercase();
            if !ct.contains("application/json") {
                errors.push(format!("Content-Type {ct:?}"));
            }
            match r.json() {
                Err(e) => errors.push(e),
                Ok(m) => {
                    for f in ["authorization_endpoint", "token_endpoint"] {
                        if m[f].as_str().is_none_or(str::is_empty) {
                            errors.push(format!("no valid {f}"));
                        }
                    }
                    let has = |f: &str, v: &str| m[f].as_array().is_some_and(|a| a.iter().any(|x| x == v));
                    if !has("response_types_supported", "code") {
                        errors.push(format!("response_types_supported = {}", m["response_types_supported"]));
                    }
                    if !has("code_challenge_methods_supported", "S256") {
                        errors.push(format!(
                            "code_challenge_methods_supported = {}",
                            m["code_challenge_methods_supported"]
                        ));
                    }
                    if m["issuer"].as_str() != Some(issuer.as_str()) {
                        errors.push(format!("issuer = {}", m["issuer"]));
                    }
                }
            }
        }
    }
    verify(
        &mut w.checks,
        Check::must(
            "authorization-server-metadata",
            "MCP-Authorization-metadata-discovery; RFC 8414 §3; embedded-auth-server-vmcp.mdx#complete-example",
        ),
        errors.is_empty(),
        format!(
            "200 application/json at a well-known URL with issuer {issuer}, authorization_endpoint, token_endpoint, \
             response_types_supported ∋ code, code_challenge_methods_supported ∋ S256"
        ),
        match &probe {
            Some((url, _)) if errors.is_empty() => format!("all present at {url}"),
            _ => errors.join("; "),
        },
    )
}

#[then("the conformance check \"authorization-server-metadata-cimd\" passes")]
async fn suite_metadata_cimd_check(w: &mut ConformanceWorld) -> Result<(), String> {
    let supported = suite_metadata(w).map(|m| m["client_id_metadata_document_supported"].clone());
    verify(
        &mut w.checks,
        Check::must(
            "authorization-server-metadata-cimd",
            "IETF-OAuth-Client-ID-Metadata-Document §4; embedded-auth-server-vmcp.mdx#enable-cimd-for-zero-registration-clients",
        ),
        supported == Some(serde_json::Value::Bool(true)),
        "client_id_metadata_document_supported = true".to_string(),
        format!("client_id_metadata_document_supported = {supported:?}"),
    )
}

/// `authorization-code-grant` with the login automated: a public client registered through the
/// advertised registration endpoint, PKCE S256 and `state`, the redirect followed through every
/// upstream leg, then the token request with the auth method the suite would pick.
#[when("the MCP conformance suite's authorization-code grant runs with a dynamically registered public client")]
async fn suite_code_grant(w: &mut ConformanceWorld) -> Result<(), String> {
    let metadata = suite_metadata(w).ok_or("the metadata probe found no metadata")?;
    let field = |f: &str| metadata[f].as_str().map(String::from).ok_or_else(|| format!("the metadata has no {f}"));
    let client_id = login::register(w, &field("registration_endpoint")?).await?;
    let pkce = Pkce::new();
    let params = AuthorizeParams::standard(&client_id, "", "", &pkce).without("scope").without("resource");
    let state = params.state().unwrap_or_default().to_string();
    let mut url = reqwest::Url::parse(&field("authorization_endpoint")?).map_err(|e| e.to_string())?;
    url.query_pairs_mut().extend_pairs(params.0.iter().map(|(k, v)| (*k, v.as_str())));
    let (_, final_url) = login::follow_redirects(w, url.to_string()).await?;
    let back = reqwest::Url::parse(&final_url).map_err(|e| e.to_string())?;
    let expected = reqwest::Url::parse(login::CLIENT_REDIRECT_URI).map_err(|e| e.to_string())?;

    let mut errors = Vec::new();
    if back.origin() != expected.origin() || back.path() != expected.path() {
        errors.push(format!("redirected to {}{}", back.origin().ascii_serialization(), back.path()));
    }
    let all =
        |name: &str| back.query_pairs().filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()).collect::<Vec<_>>();
    let codes = all("code");
    if codes.len() != 1 || codes[0].is_empty() {
        errors.push(format!("code parameter {codes:?}"));
    }
    if all("state") != [state.clone()] {
        errors.push(format!("state parameter {:?}", all("state")));
    }
    let iss = all("iss");
    if !iss.is_empty() && (iss.len() != 1 || metadata["issuer"].as_str() != Some(iss[0].as_str())) {
        errors.push(format!("iss parameter {iss:?}"));
    }
    if !all("code_challenge").is_empty() {
        errors.push("code_challenge in the authorization response".into());
    }
    if let Some(e) = all("error").first() {
        errors.push(format!("error parameter {e}"));
    }
    if codes.len() == 1 {
        // RFC 8414 §2: without token_endpoint_auth_methods_supported the default is
        // client_secret_basic; a public client (no secret) uses `none` as the suite does.
        let resp = w
            .http
            .post(field("token_endpoint")?)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", codes[0].as_str()),
                ("redirect_uri", login::CLIENT_REDIRECT_URI),
                ("code_verifier", pkce.verifier.as_str()),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("the token request failed: {e}"))?;
        let r = login::reply(resp).await?;
        if r.status != 200 {
            errors.push(format!("token response status {}: {}", r.status, r.body));
        } else {
            for (name, want) in [("content-type", "application/json"), ("cache-control", "no-store")] {
                let got = r.header(name).unwrap_or_default().to_ascii_lowercase();
                if !got.contains(want) {
                    errors.push(format!("{name} {got:?}"));
                }
            }
            match r.json() {
                Ok(body) => {
                    for f in ["access_token", "token_type"] {
                        if !body[f].is_string() {
                            errors.push(format!("no {f} in the token response"));
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
    }
    w.ext.get_or_insert_default::<SuiteState>().grant_errors = Some(errors);
    Ok(())
}

#[then("the conformance check \"authorization-code-grant\" passes")]
async fn suite_code_grant_check(w: &mut ConformanceWorld) -> Result<(), String> {
    let errors = w.ext.get_or_insert_default::<SuiteState>().grant_errors.clone().ok_or("the grant has not run")?;
    verify(
        &mut w.checks,
        Check::must(
            "authorization-code-grant",
            "OAUTH-2.1-authorization-code-grant (draft-ietf-oauth-v2-1 §4.1); RFC 7636; RFC 6749 §5.1",
        ),
        errors.is_empty(),
        "redirect to the registered URI with one code and the state; token response 200, JSON, no-store, \
         access_token and token_type"
            .to_string(),
        if errors.is_empty() { "as expected".to_string() } else { errors.join("; ") },
    )
}

// ---------------------------------------------------------------------------------------------
// An Okta-like upstream whose token endpoint also exchanges tokens (RFC 8693)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct OktaState {
    exchange: Option<std::sync::Arc<mock_idps::TokenExchangeMock>>,
    issuer: String,
}

#[given(
    expr = "an Okta-like provider stands in for Google, its token endpoint also exchanging tokens for the client {string} with secret {string}"
)]
async fn okta_like(w: &mut ConformanceWorld, client_id: String, secret: String) {
    let oidc_client = w.google_client_id.clone();
    let okta =
        mock_idps::OktaMock::start((&oidc_client, super::deploy::GOOGLE_CLIENT_SECRET), (&client_id, &secret)).await;
    let issuer = okta.issuer();
    let exchange = std::sync::Arc::new(okta.exchange);
    w.google = Some(okta.oidc);
    super::gateway::use_exchange_mock(w, exchange.clone(), &client_id, &secret);
    *w.ext.get_or_insert_default::<OktaState>() = OktaState { exchange: Some(exchange), issuer };
}

#[then("the Okta-like issuer exchanged the access token it issued to the user at login")]
async fn okta_exchanged_own_token(w: &mut ConformanceWorld) -> Result<(), String> {
    let st = w.ext.get_or_insert_default::<OktaState>().clone();
    let exchange = st.exchange.ok_or("no Okta-like provider was started")?;
    let oidc = w.google.as_ref().ok_or("the Okta-like provider is not running")?;
    let user = w.user.login.clone();
    let issued = oidc.issued().into_iter().rfind(|t| t.user == user).ok_or("the Okta-like provider issued no token")?;
    let id_token_iss = issued
        .id_token
        .as_deref()
        .and_then(|t| login::claims(t).ok())
        .and_then(|c| c["iss"].as_str().map(String::from));
    let last = exchange.exchanges().into_iter().next_back().ok_or("the Okta-like token endpoint exchanged nothing")?;
    let subject = last.request.form_param("subject_token");
    let exchanged_iss =
        last.issued.as_deref().and_then(|t| login::claims(t).ok()).and_then(|c| c["iss"].as_str().map(String::from));
    verify(
        &mut w.checks,
        Check::must(
            "token-exchange.subject-token",
            "embedded-auth-server-vmcp.mdx#exchange-a-stored-upstream-token-token-exchange; RFC 8693 §2.1",
        ),
        subject.as_deref() == Some(issued.access_token.as_str())
            && id_token_iss.as_deref() == Some(st.issuer.as_str())
            && exchanged_iss.as_deref() == Some(st.issuer.as_str()),
        format!("subject_token = the login's access token; ID token and exchanged token both from {}", st.issuer),
        format!(
            "subject_token is the login's token: {}; ID token iss {id_token_iss:?}; exchanged token iss {exchanged_iss:?}",
            subject.as_deref() == Some(issued.access_token.as_str())
        ),
    )
}
