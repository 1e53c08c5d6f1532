//! `vmcp-conformance bench gateway`: tool-call latency (p50/p99) and throughput through the
//! gateway, side by side with the same call made directly to the backend, for incoming
//! `anonymous` and for OIDC with `upstreamInject` and with `tokenExchange` (RFC 8693 against the
//! harness's mock; exchanged tokens are cached, so the figure is the steady state).
//!
//! Everything is real: the harness's rmcp mock backend on loopback, the gateway's axum router on
//! loopback, ES256 JWTs verified on every request, the official rmcp client.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use mock_idps::{MockBackend, TokenExchangeMock};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::config::{
    AggregationConfig, BackendConfig, BackendKind, IncomingAuthConfig, OidcIncoming, OutgoingAuthConfig,
    OutgoingStrategy, TokenExchangeConfig, VmcpConfig,
};
use super::embedded::{EmbeddedAuth, EmbeddedAuthError, UpstreamTokens, VerificationKey};
use super::{Gateway, exchange};
use crate::defects::Defects;

const SEQUENTIAL_CALLS: usize = 300;
const CONCURRENT_CLIENTS: usize = 8;
const CALLS_PER_CLIENT: usize = 100;

struct BenchEmbedded {
    key: VerificationKey,
}

#[async_trait]
impl EmbeddedAuth for BenchEmbedded {
    fn verification_keys(&self) -> Vec<VerificationKey> {
        vec![self.key.clone()]
    }
    async fn upstream_tokens(&self, _session_id: &str) -> Result<BTreeMap<String, UpstreamTokens>, EmbeddedAuthError> {
        Ok(BTreeMap::from([(
            "github".to_owned(),
            UpstreamTokens { access_token: "gho_bench_upstream_token".into(), id_token: None, expires_at: None },
        )]))
    }
}

/// Latency and throughput of one path.
struct Figures {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

async fn client(url: &str, token: Option<&str>) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, String> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(t) = token {
        config = config.auth_header(t.to_owned());
    }
    ().serve(StreamableHttpClientTransport::from_config(config)).await.map_err(|e| format!("initialize {url}: {e}"))
}

async fn one_call(c: &rmcp::service::RunningService<rmcp::RoleClient, ()>, tool: &str) -> Result<(), String> {
    let params = CallToolRequestParams::new(Cow::Owned(tool.to_owned())).with_arguments(serde_json::Map::new());
    let r = c.call_tool(params).await.map_err(|e| format!("tools/call {tool}: {e}"))?;
    if r.is_error == Some(true) {
        return Err(format!("tools/call {tool} returned isError: {:?}", r.content));
    }
    Ok(())
}

async fn measure(url: &str, token: Option<&str>, tool: &str) -> Result<Figures, String> {
    let c = client(url, token).await?;
    for _ in 0..20 {
        one_call(&c, tool).await?;
    }
    let mut samples = Vec::with_capacity(SEQUENTIAL_CALLS);
    for _ in 0..SEQUENTIAL_CALLS {
        let t = Instant::now();
        one_call(&c, tool).await?;
        samples.push(t.elapsed());
    }
    let _ = c.cancel().await;
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENT_CLIENTS {
        let (url, token, tool) = (url.to_owned(), token.map(str::to_owned), tool.to_owned());
        tasks.push(tokio::spawn(async move {
            let c = client(&url, token.as_deref()).await?;
            for _ in 0..CALLS_PER_CLIENT {
                one_call(&c, &tool).await?;
            }
            let _ = c.cancel().await;
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let per_sec = (CONCURRENT_CLIENTS * CALLS_PER_CLIENT) as f64 / start.elapsed().as_secs_f64();
    Ok(Figures { p50: pct(0.50), p99: pct(0.99), per_sec })
}

async fn serve(gateway: &Gateway, listener: tokio::net::TcpListener) {
    use axum::serve::ListenerExt as _;
    // As a production listener would: without TCP_NODELAY, Nagle's algorithm holds the second
    // small write of each streamed response until the client's delayed ACK (~40 ms on Linux).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let router = gateway.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the benchmark and prints the figures.
pub async fn run() -> Result<(), String> {
    let backend = MockBackend::start("bench", &["echo"]).await;
    let exchange_mock = TokenExchangeMock::start("bench-client", "bench-secret").await;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|e| e.to_string())?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).map_err(|e| e.to_string())?;
    let key = VerificationKey {
        kid: "bench-1".into(),
        algorithm: Algorithm::ES256,
        key: DecodingKey::from_ec_der(pair.public_key().as_ref()),
    };
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());

    let exchange_cfg = TokenExchangeConfig {
        name: "bench-exchange".into(),
        token_url: exchange_mock.token_url(),
        audience: "backend".into(),
        client_id: Some("bench-client".into()),
        client_secret: Some("bench-secret".into()),
        scopes: vec!["backend-api:read".into()],
        subject_provider_name: None,
        subject_token_type: exchange::ACCESS_TOKEN_TYPE.into(),
        external_token_header_name: None,
    };
    let modes: Vec<(&str, Option<OutgoingStrategy>)> = vec![
        ("anonymous", None),
        ("upstreamInject", Some(OutgoingStrategy::UpstreamInject { provider_name: "github".into() })),
        ("tokenExchange", Some(OutgoingStrategy::TokenExchange(exchange_cfg))),
    ];

    println!("gateway benchmark: {SEQUENTIAL_CALLS} sequential tools/call for p50/p99, then");
    println!(
        "{CONCURRENT_CLIENTS} concurrent clients x {CALLS_PER_CLIENT} calls for throughput (loopback, debug or release as built)"
    );
    let direct = measure(&backend.url(), None, "echo").await?;
    println!(
        "{:<16} p50 {:>7.3} ms  p99 {:>7.3} ms  {:>8.0} calls/s",
        "direct",
        ms(direct.p50),
        ms(direct.p99),
        direct.per_sec
    );
    for (name, strategy) in modes {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let (incoming, embedded, token) = match &strategy {
            None => (IncomingAuthConfig::Anonymous, None, None),
            Some(_) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let mut header = Header::new(Algorithm::ES256);
                header.kid = Some("bench-1".into());
                let claims = serde_json::json!({
                    "iss": base, "aud": [format!("{base}/mcp")], "sub": "bench-user",
                    "exp": now + 3600, "iat": now, "tsid": "bench-session",
                });
                let jwt = jsonwebtoken::encode(&header, &claims, &encoding).map_err(|e| e.to_string())?;
                let oidc = OidcIncoming {
                    issuer: base.clone(),
                    audience: format!("{base}/mcp"),
                    resource_url: format!("{base}/mcp"),
                    scopes: vec!["openid".into()],
                    jwks_url: None,
                    introspection: None,
                    required_subject: None,
                };
                let embedded: Arc<dyn EmbeddedAuth> = Arc::new(BenchEmbedded { key: key.clone() });
                (IncomingAuthConfig::Oidc(oidc), Some(embedded), Some(jwt))
            }
        };
        let config = VmcpConfig {
            name: "bench".into(),
            backends: vec![BackendConfig { name: "bench".into(), url: backend.url(), kind: BackendKind::McpServer }],
            incoming,
            outgoing: OutgoingAuthConfig { default: strategy, ..Default::default() },
            aggregation: AggregationConfig::default(),
            authz: None,
            timeouts: Default::default(),
        };
        let gateway =
            Gateway::new(config, embedded, reqwest::Client::new(), Defects::none()).map_err(|e| e.to_string())?;
        serve(&gateway, listener).await;
        let through = measure(&format!("{base}/mcp"), token.as_deref(), "bench_echo").await?;
        println!(
            "{:<16} p50 {:>7.3} ms  p99 {:>7.3} ms  {:>8.0} calls/s   ratio to direct: p50 x{:.2}, p99 x{:.2}, throughput x{:.2}",
            format!("via {name}"),
            ms(through.p50),
            ms(through.p99),
            through.per_sec,
            ms(through.p50) / ms(direct.p50),
            ms(through.p99) / ms(direct.p99),
            through.per_sec / direct.per_sec,
        );
        gateway.cancellation_token().cancel();
    }
    println!("tokenExchange requests received by the mock endpoint: {}", exchange_mock.exchanges().len());
    Ok(())
}
