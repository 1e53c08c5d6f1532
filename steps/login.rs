//! The harness as an MCP client's OAuth side: discovery (RFC 9728 -> RFC 8414), dynamic
//! registration (RFC 7591), the authorization code flow with PKCE through every upstream leg
//! without a browser, and the token request (RFC 8707 `resource`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cucumber::{then, when};
use rand::Rng as _;
use sha2::{Digest, Sha256};

use super::suite_prelude::*;
use super::world::{ConformanceWorld, HttpReply, Login};

/// Where the harness's client says it wants to be redirected (never served: the user agent
/// stops when a redirect points here).
pub const CLIENT_REDIRECT_URI: &str = "http://127.0.0.1:33418/callback";
const MAX_HOPS: usize = 12;

pub async fn get(w: &mut ConformanceWorld, url: &str) -> Result<HttpReply, String> {
    let resp = w.http.get(url).send().await.map_err(|e| format!("GET {url} failed: {e}"))?;
    reply(resp).await
}

pub async fn reply(resp: reqwest::Response) -> Result<HttpReply, String> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = resp.text().await.map_err(|e| format!("reading the response body failed: {e}"))?;
    Ok(HttpReply { status, headers, body })
}

#[when("a client reads the authorization server metadata")]
async fn read_metadata(w: &mut ConformanceWorld) -> Result<(), String> {
    let url = format!("{}/.well-known/oauth-authorization-server", w.base_url());
    let r = get(w, &url).await?;
    if r.status != 200 {
        return Err(format!("GET {url} answered {}: {}", r.status, r.body));
    }
    w.metadata = Some(r.json()?);
    w.reply = Some(r);
    Ok(())
}

fn expand(w: &ConformanceWorld, template: &str) -> String {
    template.replace("{issuer}", &w.base_url())
}

#[then(expr = "the metadata field {string} is {string}")]
async fn metadata_field_is(w: &mut ConformanceWorld, field: String, want: String) -> Result<(), String> {
    let want = expand(w, &want);
    let metadata = w.metadata.clone().ok_or("the metadata has not been read")?;
    let actual = metadata.get(&field).cloned().unwrap_or(serde_json::Value::Null);
    verify(
        &mut w.checks,
        Check::must("as-metadata.field", "RFC 8414 §2; embedded-auth-server-vmcp.mdx#complete-example"),
        actual.as_str() == Some(want.as_str()),
        format!("{field} = {want:?}"),
        format!("{field} = {actual}"),
    )
}

#[then(expr = "the metadata field {string} lists exactly {string}")]
async fn metadata_field_lists(w: &mut ConformanceWorld, field: String, items: String) -> Result<(), String> {
    let want: Vec<String> = items.split(',').map(|s| expand(w, s.trim())).collect();
    let metadata = w.metadata.clone().ok_or("the metadata has not been read")?;
    let actual = metadata.get(&field).cloned().unwrap_or(serde_json::Value::Null);
    let got: Option<Vec<String>> =
        actual.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect());
    verify(
        &mut w.checks,
        Check::must("as-metadata.list", "RFC 8414 §2; embedded-auth-server-vmcp.mdx#complete-example"),
        got.as_ref() == Some(&want),
        format!("{field} = {want:?}"),
        format!("{field} = {actual}"),
    )
}

#[then(expr = "the metadata field {string} includes {string}")]
async fn metadata_field_includes(w: &mut ConformanceWorld, field: String, item: String) -> Result<(), String> {
    let metadata = w.metadata.clone().ok_or("the metadata has not been read")?;
    let actual = metadata.get(&field).cloned().unwrap_or(serde_json::Value::Null);
    let found = actual.as_array().is_some_and(|a| a.iter().any(|v| v.as_str() == Some(item.as_str())));
    verify(
        &mut w.checks,
        Check::must("as-metadata.includes", "RFC 8414 §2"),
        found,
        format!("{field} includes {item:?}"),
        format!("{field} = {actual}"),
    )
}

/// The whole MCP-client login: 401 challenge -> protected resource metadata -> authorization
/// server metadata -> registration -> authorize -> every upstream leg -> token.
#[when(expr = "the user logs in through the vMCP with a dynamically registered client")]
async fn log_in(w: &mut ConformanceWorld) -> Result<(), String> {
    let login = run_login(w, "openid offline_access").await?;
    w.login = Some(login);
    Ok(())
}

pub async fn run_login(w: &mut ConformanceWorld, scope: &str) -> Result<Login, String> {
    let endpoints = discover(w).await?;
    let client_id = register(w, &endpoints.registration).await?;
    let pkce = Pkce::new();
    let params = AuthorizeParams::standard(&client_id, scope, &endpoints.resource, &pkce);
    let (hops, code) = authorize(w, &endpoints, &params).await?;
    let resp = redeem(w, &endpoints, &client_id, &code, &pkce.verifier).await?;
    if resp.status != 200 {
        return Err(format!("the token endpoint answered {}: {}", resp.status, resp.body));
    }
    let token_response = resp.json()?;
    let access_token = token_response["access_token"]
        .as_str()
        .ok_or_else(|| format!("no access_token in {token_response}"))?
        .to_string();
    Ok(Login { client_id, hops, access_token, token_response })
}

/// What an MCP client learns before it can log in.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub resource: String,
    pub registration: String,
    pub authorization: String,
    pub token: String,
}

/// The MCP client's discovery: the 401 challenge names the protected resource metadata
/// (RFC 9728), which names the authorization server, whose RFC 8414 metadata names the
/// endpoints.
pub async fn discover(w: &mut ConformanceWorld) -> Result<Endpoints, String> {
    let mcp_url = format!("{}/mcp", w.base_url());
    let challenge = w
        .http
        .post(&mcp_url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(super::mcp::INITIALIZE_BODY)
        .send()
        .await
        .map_err(|e| format!("POST {mcp_url} failed: {e}"))?;
    let challenge = reply(challenge).await?;
    if challenge.status != 401 {
        return Err(format!(
            "an MCP request without a token was answered {}, not 401: {}",
            challenge.status, challenge.body
        ));
    }
    let www = challenge.header("www-authenticate").unwrap_or_default().to_string();
    let prm_url = auth_param(&www, "resource_metadata")
        .ok_or_else(|| format!("the 401 challenge names no resource_metadata: {www:?}"))?;
    let prm = get(w, &prm_url).await?.json()?;
    let resource =
        prm["resource"].as_str().ok_or_else(|| format!("the resource metadata has no resource: {prm}"))?.to_string();
    let issuer = prm["authorization_servers"][0]
        .as_str()
        .ok_or_else(|| format!("the resource metadata names no authorization server: {prm}"))?
        .to_string();
    let metadata = get(w, &format!("{issuer}/.well-known/oauth-authorization-server")).await?.json()?;
    let field = |name: &str| {
        metadata[name]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("the authorization server metadata has no {name}: {metadata}"))
    };
    Ok(Endpoints {
        resource,
        registration: field("registration_endpoint")?,
        authorization: field("authorization_endpoint")?,
        token: field("token_endpoint")?,
    })
}

/// RFC 7591 registration of a public client; returns its `client_id`.
pub async fn register(w: &mut ConformanceWorld, registration: &str) -> Result<String, String> {
    let registered = w
        .http
        .post(registration)
        .json(&serde_json::json!({
            "client_name": "vmcp-conformance harness",
            "redirect_uris": [CLIENT_REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .map_err(|e| format!("POST {registration} failed: {e}"))?;
    let registered = reply(registered).await?;
    if registered.status != 201 {
        return Err(format!("registration answered {}, not 201: {}", registered.status, registered.body));
    }
    registered.json()?["client_id"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| "the registration response has no client_id".into())
}

/// A PKCE verifier and its S256 challenge (RFC 7636 §4).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = random_token(48);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

/// The query of an authorization request; a scenario may drop or change any of them.
pub struct AuthorizeParams(pub Vec<(&'static str, String)>);

impl AuthorizeParams {
    pub fn standard(client_id: &str, scope: &str, resource: &str, pkce: &Pkce) -> Self {
        Self(vec![
            ("response_type", "code".into()),
            ("client_id", client_id.into()),
            ("redirect_uri", CLIENT_REDIRECT_URI.into()),
            ("scope", scope.into()),
            ("state", random_token(16)),
            ("code_challenge", pkce.challenge.clone()),
            ("code_challenge_method", "S256".into()),
            ("resource", resource.into()),
        ])
    }
    pub fn state(&self) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == "state").map(|(_, v)| v.as_str())
    }
    pub fn without(mut self, name: &str) -> Self {
        self.0.retain(|(k, _)| *k != name);
        self
    }
}

/// Sends the authorization request and follows every redirect like a browser would, through
/// each upstream leg, until the authorization server sends the user back to the client.
/// Returns the hops and the code.
pub async fn authorize(
    w: &mut ConformanceWorld,
    endpoints: &Endpoints,
    params: &AuthorizeParams,
) -> Result<(Vec<String>, String), String> {
    let query = authorize_until_client(w, endpoints, params).await?;
    if let Some(error) = query.1.get("error") {
        return Err(format!("the login ended with error={error}: {:?}", query.1.get("error_description")));
    }
    if query.1.get("state").map(String::as_str) != params.state() {
        return Err(format!("the client's state came back as {:?}, sent {:?}", query.1.get("state"), params.state()));
    }
    let code = query.1.get("code").ok_or("the final redirect carries no code")?.clone();
    Ok((query.0, code))
}

/// Like [`authorize`], but returns the query the client finally received, whatever it holds.
pub async fn authorize_until_client(
    w: &mut ConformanceWorld,
    endpoints: &Endpoints,
    params: &AuthorizeParams,
) -> Result<(Vec<String>, std::collections::HashMap<String, String>), String> {
    let mut url = reqwest::Url::parse(&endpoints.authorization)
        .map_err(|e| format!("authorization_endpoint {:?}: {e}", endpoints.authorization))?;
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &params.0 {
            pairs.append_pair(k, v);
        }
    }
    let (hops, final_url) = follow_redirects(w, url.to_string()).await?;
    let final_url = reqwest::Url::parse(&final_url).map_err(|e| e.to_string())?;
    Ok((hops, final_url.query_pairs().into_owned().collect()))
}

/// The token request for an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 8707).
pub async fn redeem(
    w: &mut ConformanceWorld,
    endpoints: &Endpoints,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> Result<HttpReply, String> {
    let resp = w
        .http
        .post(&endpoints.token)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CLIENT_REDIRECT_URI),
            ("client_id", client_id),
            ("code_verifier", verifier),
            ("resource", &endpoints.resource),
        ])
        .send()
        .await
        .map_err(|e| format!("POST {} failed: {e}", endpoints.token))?;
    reply(resp).await
}

/// Follows redirects until one points at the client's redirect URI. Returns the origins visited
/// (each upstream's authorization endpoint and the vMCP callback) and that final URL.
pub async fn follow_redirects(w: &mut ConformanceWorld, start: String) -> Result<(Vec<String>, String), String> {
    let mut hops = Vec::new();
    let mut url = start;
    for _ in 0..MAX_HOPS {
        let resp = w.http.get(&url).send().await.map_err(|e| format!("GET {url} failed: {e}"))?;
        let status = resp.status();
        let r = reply(resp).await?;
        if !status.is_redirection() {
            return Err(format!("GET {url} answered {status} instead of a redirect: {}", r.body));
        }
        let location = r.header("location").ok_or_else(|| format!("{status} from {url} without Location"))?;
        let next = reqwest::Url::parse(&url).and_then(|base| base.join(location)).map_err(|e| e.to_string())?;
        if next.as_str().starts_with(CLIENT_REDIRECT_URI) {
            return Ok((hops, next.to_string()));
        }
        hops.push(next.origin().ascii_serialization() + next.path());
        url = next.to_string();
    }
    Err(format!("the login did not come back to the client after {MAX_HOPS} redirects: {hops:?}"))
}

/// Reads `name="value"` from a `WWW-Authenticate` challenge.
pub fn auth_param(header: &str, name: &str) -> Option<String> {
    let start = header.find(&format!("{name}=\""))? + name.len() + 2;
    let end = header[start..].find('"')?;
    Some(header[start..start + end].to_string())
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The claims of a JWT, decoded without verification (the target verifies; the harness reads).
pub fn claims(jwt: &str) -> Result<serde_json::Value, String> {
    let payload = jwt.split('.').nth(1).ok_or("the access token is not a JWT (no payload segment)")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("JWT payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("JWT payload is not JSON: {e}"))
}

#[then("the user agent visited GitHub and then Google before returning to the client")]
async fn visited_in_order(w: &mut ConformanceWorld) -> Result<(), String> {
    let github = w.github.as_ref().map(|g| g.base_url()).unwrap_or_default();
    let google = w.google.as_ref().map(|g| g.issuer()).unwrap_or_default();
    let hops = w.login()?.hops.clone();
    let upstreams: Vec<&str> = hops
        .iter()
        .filter_map(|h| {
            if h.starts_with(&github) {
                Some("github")
            } else if h.starts_with(&google) {
                Some("google")
            } else {
                None
            }
        })
        .collect();
    verify(
        &mut w.checks,
        Check::must("multi-upstream.chain-order", "embedded-auth-server-vmcp.mdx#how-it-works"),
        upstreams == ["github", "google"],
        "the GitHub leg, then the Google leg",
        format!("{upstreams:?} (hops: {hops:?})"),
    )
}

#[then("the client received one access token signed by the deployed issuer")]
async fn one_jwt(w: &mut ConformanceWorld) -> Result<(), String> {
    let claims = claims(&w.login()?.access_token)?;
    let issuer = w.base_url();
    verify(
        &mut w.checks,
        Check::must("jwt.issuer", "embedded-auth-server-k8s.mdx; embedded-auth-server-vmcp.mdx#how-it-works"),
        claims["iss"].as_str() == Some(issuer.as_str()),
        format!("iss = {issuer:?}"),
        format!("iss = {}", claims["iss"]),
    )
}

#[then(expr = "the access token's audience is the documented MCP URL {string}")]
async fn audience_is(w: &mut ConformanceWorld, documented: String) -> Result<(), String> {
    let want = documented.replace("https://mcp.example.com", &w.base_url());
    let claims = claims(&w.login()?.access_token)?;
    let aud = &claims["aud"];
    let ok = aud.as_str() == Some(want.as_str())
        || aud.as_array().is_some_and(|a| a.iter().any(|v| v.as_str() == Some(&want)));
    verify(
        &mut w.checks,
        Check::must("jwt.audience", "RFC 8707 §2; embedded-auth-server-vmcp.mdx#validate-the-issued-jwts"),
        ok,
        format!("aud contains {want:?}"),
        format!("aud = {aud}"),
    )
}

#[then(expr = "the access token lives for {int} seconds")]
async fn lifespan_is(w: &mut ConformanceWorld, seconds: i64) -> Result<(), String> {
    let claims = claims(&w.login()?.access_token)?;
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    let lifetime = exp.zip(iat).map(|(e, i)| e - i);
    let expires_in = w.login()?.token_response["expires_in"].as_i64();
    verify(
        &mut w.checks,
        Check::must("lifespan.access-token", "embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server"),
        lifetime == Some(seconds) && expires_in == Some(seconds),
        format!("exp - iat = {seconds} and expires_in = {seconds}"),
        format!("exp - iat = {lifetime:?} (iat {iat:?}, exp {exp:?}), expires_in = {expires_in:?}"),
    )
}

#[when("the access token has expired")]
async fn wait_for_expiry(w: &mut ConformanceWorld) -> Result<(), String> {
    let claims = claims(&w.login()?.access_token)?;
    let exp = claims["exp"].as_u64().ok_or("the access token has no exp")?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs();
    if exp > now + 300 {
        return Err(format!("the access token expires in {} s; this scenario only waits up to 5 minutes", exp - now));
    }
    // Zero leeway: one second past `exp` the token must be refused.
    tokio::time::sleep(std::time::Duration::from_secs(exp.saturating_sub(now) + 1)).await;
    Ok(())
}
