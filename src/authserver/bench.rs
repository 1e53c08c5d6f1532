//! `vmcp-conformance bench authserver`: complete logins per second through one and through two
//! upstreams, token-endpoint latency (p50/p99) and memory per 10,000 stored sessions, on
//! loopback with in-memory storage. Everything is real HTTP: the authorization server on its
//! own port, the GitHub-like and Google-like mocks on theirs, a reqwest client as the browser.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_idps::{GithubMock, GoogleMock, MockUser};
use tokio::net::TcpListener;

use super::AuthServer;
use super::config::{
    AuthServerConfig, FieldMapping, OAuth2Upstream, OidcUpstream, TokenLifespans, UpstreamKind, UpstreamProvider,
    UserInfoConfig,
};
use super::keys::{random_token, s256};
use crate::defects::Defects;
use crate::storage::MemoryStorage;

const CLIENT_REDIRECT: &str = "http://127.0.0.1:1/callback";
const GITHUB_ID: &str = "bench-github";
const GOOGLE_ID: &str = "bench-google";
const SECRET: &str = "bench-secret";

struct Rig {
    issuer: String,
    client: reqwest::Client,
    _github: GithubMock,
    _google: GoogleMock,
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start_rig(upstreams: usize) -> Result<Rig, String> {
    start_rig_with(upstreams, Arc::new(MemoryStorage::new())).await
}

async fn start_rig_with(upstreams: usize, storage: Arc<dyn crate::storage::Storage>) -> Result<Rig, String> {
    let github = GithubMock::start(GITHUB_ID, SECRET).await;
    let google = GoogleMock::start(GOOGLE_ID, SECRET).await;
    github.set_user(MockUser::named("bench"));
    google.set_user(MockUser::named("bench"));
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let issuer = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let gh = UpstreamProvider {
        name: "github".into(),
        kind: UpstreamKind::OAuth2(OAuth2Upstream {
            authorization_endpoint: github.authorize_url(),
            token_endpoint: github.token_url(),
            client_id: GITHUB_ID.into(),
            client_secret: Some(SECRET.into()),
            redirect_uri: format!("{issuer}/oauth/callback"),
            scopes: vec!["read:user".into()],
            userinfo: Some(UserInfoConfig {
                endpoint_url: github.user_url(),
                http_method: "GET".into(),
                additional_headers: Default::default(),
                field_mapping: FieldMapping {
                    subject_fields: vec!["id".into(), "login".into()],
                    name_fields: vec!["name".into(), "login".into()],
                    email_fields: vec!["email".into()],
                },
            }),
            additional_authorization_params: Default::default(),
            dcr: None,
            token_response_mapping: None,
            identity_from_token: None,
        }),
    };
    let go = UpstreamProvider {
        name: "google".into(),
        kind: UpstreamKind::Oidc(OidcUpstream {
            issuer_url: google.issuer(),
            client_id: GOOGLE_ID.into(),
            client_secret: Some(SECRET.into()),
            redirect_uri: format!("{issuer}/oauth/callback"),
            scopes: vec!["openid".into(), "email".into()],
            subject_claim: None,
            additional_authorization_params: Default::default(),
        }),
    };
    let config = AuthServerConfig {
        issuer: issuer.clone(),
        authorization_endpoint_base_url: None,
        signing_keys_pem: Vec::new(),
        hmac_secrets: Vec::new(),
        lifespans: TokenLifespans::default(),
        upstreams: if upstreams == 1 { vec![gh] } else { vec![gh, go] },
        scopes_supported: Vec::new(),
        allowed_audiences: vec![format!("{issuer}/mcp")],
        baseline_client_scopes: Vec::new(),
        insecure_allow_http: false,
        primary_upstream_provider: None,
        cimd: None,
    };
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().map_err(|e| e.to_string())?;
    let server = AuthServer::start(config, storage, http.clone(), Defects::none()).await.map_err(|e| e.to_string())?;
    let router = server.router();
    let stop = tokio_util::sync::CancellationToken::new();
    let shutdown = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
    });
    Ok(Rig { issuer, client: http, _github: github, _google: google, stop })
}

/// One complete login: registration, authorize, every upstream leg, token. Returns the token
/// response and how long the code redemption took.
async fn login(rig: &Rig) -> Result<(serde_json::Value, Duration, String), String> {
    let c = &rig.client;
    let reg: serde_json::Value = c
        .post(format!("{}/oauth/register", rig.issuer))
        .json(&serde_json::json!({
            "redirect_uris": [CLIENT_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let client_id = reg["client_id"].as_str().ok_or_else(|| format!("registration: {reg}"))?.to_string();
    let verifier = random_token(32);
    let mut url = reqwest::Url::parse(&format!("{}/oauth/authorize", rig.issuer)).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", CLIENT_REDIRECT)
        .append_pair("scope", "openid offline_access")
        .append_pair("state", &random_token(12))
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", &format!("{}/mcp", rig.issuer));
    let mut next = url;
    let code = loop {
        let resp = c.get(next.as_str()).send().await.map_err(|e| e.to_string())?;
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("{} from {next} without Location", resp.status()))?
            .to_string();
        next = next.join(&location).map_err(|e| e.to_string())?;
        if next.as_str().starts_with(CLIENT_REDIRECT) {
            let q: std::collections::HashMap<String, String> = next.query_pairs().into_owned().collect();
            break q.get("code").cloned().ok_or_else(|| format!("login failed: {q:?}"))?;
        }
    };
    let started = Instant::now();
    let token: serde_json::Value = c
        .post(format!("{}/oauth/token", rig.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CLIENT_REDIRECT),
            ("client_id", client_id.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let took = started.elapsed();
    if token["access_token"].as_str().is_none() {
        return Err(format!("token: {token}"));
    }
    Ok((token, took, client_id))
}

/// Complete HTTP logins through one upstream against an authorization server on `storage`, for
/// `bench storage`: logins/s sequentially and with `concurrency` in flight.
pub(crate) async fn http_logins_per_second(
    storage: Arc<dyn crate::storage::Storage>,
    total: usize,
    concurrency: usize,
) -> Result<(f64, f64), String> {
    let rig = Arc::new(start_rig_with(1, storage).await?);
    let (sequential, _) = logins(Arc::clone(&rig), total, 1).await?;
    let (concurrent, _) = logins(rig, total, concurrency).await?;
    Ok((sequential, concurrent))
}

/// A login rig on `storage` that can be asked for one complete login at a time (the failover
/// figure of `bench storage`).
pub(crate) struct LoginRig(Rig);

impl LoginRig {
    pub(crate) async fn start(storage: Arc<dyn crate::storage::Storage>) -> Result<Self, String> {
        Ok(Self(start_rig_with(1, storage).await?))
    }
    pub(crate) async fn login(&self) -> Result<(), String> {
        login(&self.0).await.map(|_| ())
    }
}

/// Runs `total` logins with `concurrency` in flight; returns logins/s and the code-redemption
/// latencies.
async fn logins(rig: Arc<Rig>, total: usize, concurrency: usize) -> Result<(f64, Vec<Duration>), String> {
    let started = Instant::now();
    let per_task = total.div_ceil(concurrency);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let rig = Arc::clone(&rig);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                lat.push(login(&rig).await?.1);
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok((all.len() as f64 / started.elapsed().as_secs_f64(), all))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

pub async fn run() -> Result<(), String> {
    const CONCURRENCY: usize = 8;
    println!(
        "bench authserver: loopback, in-memory storage, {CONCURRENCY} concurrent browsers, debug or release as built"
    );

    for upstreams in [1usize, 2] {
        let rig = Arc::new(start_rig(upstreams).await?);
        logins(Arc::clone(&rig), 40, CONCURRENCY).await?; // warm-up
        let (rate, _) = logins(Arc::clone(&rig), 800, CONCURRENCY).await?;
        println!("  complete logins through {upstreams} upstream(s): {rate:.0} logins/s (800 logins)");
    }

    // Token endpoint: the refresh_token grant, sequential, 2,000 requests.
    let rig = Arc::new(start_rig(1).await?);
    let (first, _, client_id) = login(&rig).await?;
    let mut refresh = first["refresh_token"].as_str().ok_or("no refresh token")?.to_string();
    let mut lat = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let started = Instant::now();
        let t: serde_json::Value = rig
            .client
            .post(format!("{}/oauth/token", rig.issuer))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &client_id)])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        lat.push(started.elapsed());
        refresh = t["refresh_token"].as_str().ok_or_else(|| format!("refresh: {t}"))?.to_string();
    }
    lat.sort();
    println!(
        "  token endpoint (refresh_token grant, sequential, 2000 requests): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    let (_, mut code_lat) = logins(Arc::clone(&rig), 400, CONCURRENCY).await?;
    code_lat.sort();
    println!(
        "  token endpoint (authorization_code grant, {CONCURRENCY} concurrent, 400 requests): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&code_lat, 0.50).as_secs_f64() * 1e3,
        percentile(&code_lat, 0.99).as_secs_f64() * 1e3
    );

    // Memory: process RSS growth over 10,000 complete one-upstream logins (each leaves a client,
    // a grant, a refresh token and the session's upstream tokens in memory storage; the in-process
    // mocks' request records are included, so this is an upper bound).
    let rig = Arc::new(start_rig(1).await?);
    logins(Arc::clone(&rig), 200, CONCURRENCY).await?;
    let before = rss_bytes().ok_or("cannot read /proc/self/statm")?;
    let started = Instant::now();
    logins(Arc::clone(&rig), 10_000, CONCURRENCY).await?;
    let after = rss_bytes().ok_or("cannot read /proc/self/statm")?;
    println!(
        "  memory per 10,000 stored sessions: {:.1} MiB RSS growth ({:.0} bytes/session, upper bound incl. mock records; {:.1} s)",
        after.saturating_sub(before) as f64 / 1_048_576.0,
        after.saturating_sub(before) as f64 / 10_000.0,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
