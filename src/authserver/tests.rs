//! Router-level tests of the authorization server (`Router::oneshot`), with wiremock upstreams
//! for the login legs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{body_string_contains, header as header_is, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::AuthServer;
use super::config::{
    AuthServerConfig, FieldMapping, OAuth2Upstream, OidcUpstream, TokenLifespans, UpstreamKind, UpstreamProvider,
    UserInfoConfig,
};
use super::keys::tests::{EC_SEC1_PEM, RSA_PKCS8_PEM};
use super::keys::{SigningKey, s256};
use crate::defects::{Defect, Defects};
use crate::storage::MemoryStorage;
use crate::vmcp::embedded::EmbeddedAuth;

const ISSUER: &str = "http://127.0.0.1:4483";
const AUDIENCE: &str = "http://127.0.0.1:4483/mcp";
const CLIENT_REDIRECT: &str = "http://127.0.0.1:9000/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const STATE: &str = "client-state-1234";

fn oauth2_upstream(name: &str, base: &str, userinfo: bool) -> UpstreamProvider {
    UpstreamProvider {
        name: name.into(),
        kind: UpstreamKind::OAuth2(OAuth2Upstream {
            authorization_endpoint: format!("{base}/{name}/authorize"),
            token_endpoint: format!("{base}/{name}/token"),
            client_id: format!("{name}-client"),
            client_secret: Some(format!("{name}-secret")),
            redirect_uri: format!("{ISSUER}/oauth/callback"),
            scopes: vec!["read:user".into(), "user:email".into()],
            userinfo: userinfo.then(|| UserInfoConfig {
                endpoint_url: format!("{base}/{name}/user"),
                http_method: "GET".into(),
                additional_headers: BTreeMap::from([("X-Api-Version".into(), "2022-11-28".into())]),
                field_mapping: FieldMapping {
                    subject_fields: vec!["id".into(), "login".into()],
                    name_fields: vec!["name".into(), "login".into()],
                    email_fields: vec!["email".into()],
                },
            }),
            additional_authorization_params: BTreeMap::from([("prompt".into(), "consent".into())]),
            dcr: None,
            token_response_mapping: None,
            identity_from_token: None,
        }),
    }
}

fn config(upstreams: Vec<UpstreamProvider>) -> AuthServerConfig {
    AuthServerConfig {
        issuer: ISSUER.into(),
        authorization_endpoint_base_url: None,
        signing_keys_pem: vec![],
        hmac_secrets: vec![],
        lifespans: TokenLifespans::default(),
        upstreams,
        scopes_supported: vec![],
        allowed_audiences: vec![AUDIENCE.into()],
        baseline_client_scopes: vec![],
        insecure_allow_http: false,
        primary_upstream_provider: None,
        cimd: None,
    }
}

async fn start(cfg: AuthServerConfig, defects: Defects) -> Arc<AuthServer> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    AuthServer::start(cfg, Arc::new(MemoryStorage::new()), http, defects).await.unwrap()
}

async fn simple_server() -> (Arc<AuthServer>, Router) {
    let s = start(config(vec![oauth2_upstream("github", "http://127.0.0.1:1", false)]), Defects::none()).await;
    let r = s.router();
    (s, r)
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn location(&self) -> url::Url {
        let l = self.headers.get(header::LOCATION).unwrap_or_else(|| panic!("no Location; body {}", self.body));
        url::Url::parse(l.to_str().unwrap()).unwrap()
    }
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn query(u: &url::Url) -> HashMap<String, String> {
    u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

async fn send(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

async fn get(router: &Router, uri: &str) -> Resp {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(router: &Router, uri: &str, content_type: &str, body: impl Into<String>) -> Resp {
    let req = Request::post(uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body.into())).unwrap();
    send(router, req).await
}

async fn post_form(router: &Router, uri: &str, pairs: &[(&str, &str)]) -> Resp {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    post(router, uri, "application/x-www-form-urlencoded", body).await
}

async fn register(router: &Router, body: Value) -> Resp {
    post(router, "/oauth/register", "application/json", body.to_string()).await
}

async fn registered_client(router: &Router) -> String {
    let r = register(router, json!({"redirect_uris": [CLIENT_REDIRECT], "client_name": "test"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["client_id"].as_str().unwrap().to_owned()
}

fn authorize_uri(client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = s256(VERIFIER);
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CLIENT_REDIRECT),
        ("state", STATE),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "openid profile offline_access"),
    ];
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("/oauth/authorize?{q}")
}

// ---------------------------------------------------------------------------------------------
// Start-up

#[tokio::test]
async fn issuer_rules_are_enforced_at_start() {
    let http = reqwest::Client::new();
    let up = || vec![oauth2_upstream("github", "http://127.0.0.1:1", false)];
    for bad in ["http://vmcp.example.com", "https://vmcp.example.com/", "https://x.example.com?a=b", "ftp://x", "nope"]
    {
        let mut c = config(up());
        c.issuer = bad.into();
        let err =
            AuthServer::start(c, Arc::new(MemoryStorage::new()), http.clone(), Defects::none()).await.unwrap_err();
        assert!(err.to_string().contains("issuer"), "{bad}: {err}");
    }
    let mut c = config(up());
    c.issuer = "http://vmcp.toolhive-system.svc.cluster.local:4483".into();
    c.insecure_allow_http = true;
    assert!(AuthServer::start(c, Arc::new(MemoryStorage::new()), http.clone(), Defects::none()).await.is_ok());
    for ok in ["http://localhost:8080", "http://[::1]:8080", "http://127.1.2.3", "https://auth.example.com/tenant"] {
        let mut c = config(up());
        c.issuer = ok.into();
        assert!(
            AuthServer::start(c, Arc::new(MemoryStorage::new()), http.clone(), Defects::none()).await.is_ok(),
            "{ok}"
        );
    }
}

#[tokio::test]
async fn short_hmac_secret_and_unknown_baseline_scope_are_refused() {
    let http = reqwest::Client::new();
    let mut c = config(vec![oauth2_upstream("github", "http://127.0.0.1:1", false)]);
    c.hmac_secrets = vec![b"too-short".to_vec()];
    let err = AuthServer::start(c, Arc::new(MemoryStorage::new()), http.clone(), Defects::none()).await.unwrap_err();
    assert!(err.to_string().contains("hmacSecretRefs[0]"), "{err}");
    let mut c = config(vec![oauth2_upstream("github", "http://127.0.0.1:1", false)]);
    c.baseline_client_scopes = vec!["admin".into()];
    let err = AuthServer::start(c, Arc::new(MemoryStorage::new()), http, Defects::none()).await.unwrap_err();
    assert!(err.to_string().contains("baselineClientScopes"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Discovery and JWKS

#[tokio::test]
async fn discovery_documents_carry_the_documented_fields() {
    let (_, r) = simple_server().await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/anything/else"] {
        let resp = get(&r, path).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.header(header::CACHE_CONTROL), Some("public, max-age=3600"));
        let d = resp.json();
        assert_eq!(d["issuer"], ISSUER);
        assert_eq!(d["authorization_endpoint"], format!("{ISSUER}/oauth/authorize"));
        assert_eq!(d["token_endpoint"], format!("{ISSUER}/oauth/token"));
        assert_eq!(d["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
        assert_eq!(d["registration_endpoint"], format!("{ISSUER}/oauth/register"));
        assert_eq!(d["response_types_supported"], json!(["code"]));
        assert_eq!(d["scopes_supported"], json!(["openid", "profile", "email", "offline_access"]));
        assert_eq!(d["grant_types_supported"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(d["token_endpoint_auth_methods_supported"], json!(["none"]));
        assert!(d.get("subject_types_supported").is_none());
    }
    let oidc = get(&r, "/.well-known/openid-configuration").await.json();
    assert_eq!(oidc["subject_types_supported"], json!(["public"]));
    assert_eq!(oidc["id_token_signing_alg_values_supported"], json!(["ES256"]));
    let wrong_method = post(&r, "/.well-known/oauth-authorization-server", "application/json", "{}").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn authorization_endpoint_base_url_overrides_only_that_field() {
    let mut c = config(vec![oauth2_upstream("github", "http://127.0.0.1:1", false)]);
    c.authorization_endpoint_base_url = Some("https://login.example.com".into());
    let s = start(c, Defects::none()).await;
    let d = get(&s.router(), "/.well-known/oauth-authorization-server").await.json();
    assert_eq!(d["authorization_endpoint"], "https://login.example.com/oauth/authorize");
    assert_eq!(d["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(d["registration_endpoint"], format!("{ISSUER}/oauth/register"));
    assert_eq!(d["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
}

#[tokio::test]
async fn omit_registration_endpoint_defect_drops_the_field() {
    let c = config(vec![oauth2_upstream("github", "http://127.0.0.1:1", false)]);
    let s = start(c, Defects::none().with(Defect::OmitRegistrationEndpoint)).await;
    let d = get(&s.router(), "/.well-known/oauth-authorization-server").await.json();
    assert!(d.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn jwks_publishes_active_and_fallback_keys_with_thumbprint_kids() {
    let mut c = config(vec![oauth2_upstream("github", "http://127.0.0.1:1", false)]);
    c.signing_keys_pem = vec![RSA_PKCS8_PEM.into(), EC_SEC1_PEM.into()];
    let s = start(c, Defects::none()).await;
    let resp = get(&s.router(), "/.well-known/jwks.json").await;
    assert_eq!(resp.header(header::CACHE_CONTROL), Some("public, max-age=3600"));
    let keys = resp.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    let rsa = SigningKey::from_pem(RSA_PKCS8_PEM).unwrap();
    let ec = SigningKey::from_pem(EC_SEC1_PEM).unwrap();
    assert_eq!(keys[0]["kid"], rsa.kid);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[1]["kid"], ec.kid);
    assert_eq!(keys[1]["alg"], "ES256");
    assert_eq!(keys[1]["crv"], "P-256");
    for k in &keys {
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none(), "private part leaked: {k}");
    }
    // The kid is the RFC 7638 thumbprint: recompute it from the published members.
    let members = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        keys[1]["x"].as_str().unwrap(),
        keys[1]["y"].as_str().unwrap()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, members.as_bytes());
    use base64::Engine as _;
    assert_eq!(keys[1]["kid"], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest));
    let vk = s.verification_keys();
    assert_eq!(vk.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), vec![rsa.kid.as_str(), ec.kid.as_str()]);
}

// ---------------------------------------------------------------------------------------------
// Registration

#[tokio::test]
async fn register_happy_path_defaults_and_baseline() {
    let mut c = config(vec![oauth2_upstream("github", "http://127.0.0.1:1", false)]);
    c.baseline_client_scopes = vec!["offline_access".into()];
    let s = start(c, Defects::none()).await;
    let r = s.router();
    let resp = register(
        &r,
        json!({"redirect_uris": ["cursor://anysphere.cursor-retrieval/oauth/callback"], "scope": "openid"}),
    )
    .await;
    assert_eq!(resp.status, StatusCode::CREATED, "{}", resp.body);
    assert_eq!(resp.header(header::CACHE_CONTROL), Some("no-store"));
    let b = resp.json();
    let id = uuid::Uuid::parse_str(b["client_id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 4);
    assert!(b["client_id_issued_at"].as_u64().unwrap() > 0);
    assert_eq!(b["token_endpoint_auth_method"], "none");
    assert_eq!(b["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(b["response_types"], json!(["code"]));
    assert_eq!(b["scope"], "openid offline_access");
    let defaults = register(&r, json!({"redirect_uris": [CLIENT_REDIRECT], "client_name": "n"})).await.json();
    assert_eq!(defaults["scope"], "openid profile email offline_access");
    assert_eq!(defaults["client_name"], "n");
    let array = register(&r, json!({"redirect_uris": [CLIENT_REDIRECT], "scope": ["email", "email"]})).await.json();
    assert_eq!(array["scope"], "email offline_access");
}

#[tokio::test]
async fn register_rejects_bad_metadata() {
    let (_, r) = simple_server().await;
    let cases: Vec<(Resp, &str)> = vec![
        (post(&r, "/oauth/register", "application/json", "{not json").await, "invalid_client_metadata"),
        (
            post(&r, "/oauth/register", "text/plain", json!({"redirect_uris": [CLIENT_REDIRECT]}).to_string()).await,
            "invalid_client_metadata",
        ),
        (post(&r, "/oauth/register", "application/json", "[1]").await, "invalid_client_metadata"),
        (register(&r, json!({})).await, "invalid_redirect_uri"),
        (register(&r, json!({"redirect_uris": []})).await, "invalid_redirect_uri"),
        (register(&r, json!({"redirect_uris": ["http://evil.example.com/cb"]})).await, "invalid_redirect_uri"),
        (register(&r, json!({"redirect_uris": ["https://ok.example.com/cb#frag"]})).await, "invalid_redirect_uri"),
        (register(&r, json!({"redirect_uris": ["javascript:alert(1)"]})).await, "invalid_redirect_uri"),
        (
            register(
                &r,
                json!({"redirect_uris": (0..11).map(|i| format!("https://a.example.com/{i}")).collect::<Vec<_>>()}),
            )
            .await,
            "invalid_redirect_uri",
        ),
        (
            register(&r, json!({"redirect_uris": [CLIENT_REDIRECT], "scope": "openid admin"})).await,
            "invalid_client_metadata",
        ),
        (
            register(
                &r,
                json!({"redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
            )
            .await,
            "invalid_client_metadata",
        ),
        (
            register(&r, json!({"redirect_uris": [CLIENT_REDIRECT], "grant_types": ["refresh_token"]})).await,
            "invalid_client_metadata",
        ),
        (
            register(
                &r,
                json!({"redirect_uris": [CLIENT_REDIRECT], "grant_types": ["authorization_code", "implicit"]}),
            )
            .await,
            "invalid_client_metadata",
        ),
        (
            register(&r, json!({"redirect_uris": [CLIENT_REDIRECT], "response_types": ["token"]})).await,
            "invalid_client_metadata",
        ),
    ];
    for (i, (resp, code)) in cases.iter().enumerate() {
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "case {i}: {}", resp.body);
        assert_eq!(resp.json()["error"], *code, "case {i}: {}", resp.body);
    }
    let big = format!(r#"{{"redirect_uris":["{CLIENT_REDIRECT}"],"client_name":"{}"}}"#, "x".repeat(70 * 1024));
    assert_eq!(post(&r, "/oauth/register", "application/json", big).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(get(&r, "/oauth/register").await.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint

#[tokio::test]
async fn authorize_never_redirects_to_an_unverified_uri() {
    let (_, r) = simple_server().await;
    let unknown = get(&r, &authorize_uri("no-such-client", &[])).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.json()["error"], "invalid_client");
    assert!(unknown.headers.get(header::LOCATION).is_none());
    let client = registered_client(&r).await;
    let other = get(&r, &authorize_uri(&client, &[("redirect_uri", "https://evil.example.com/cb")])).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.json()["error"], "invalid_request");
    assert!(other.headers.get(header::LOCATION).is_none());
    let missing_client = get(&r, "/oauth/authorize?response_type=code").await;
    assert_eq!(missing_client.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorize_errors_are_redirected_to_the_client() {
    let (_, r) = simple_server().await;
    let client = registered_client(&r).await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("code_challenge", ""), ("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (vec![("state", "short")], "invalid_request"),
        (vec![("state", "")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("resource", "https://elsewhere.example.com/mcp")], "invalid_target"),
    ];
    for (extra, code) in cases {
        let resp = get(&r, &authorize_uri(&client, &extra)).await;
        assert_eq!(resp.status, StatusCode::FOUND, "{extra:?}: {}", resp.body);
        let loc = resp.location();
        assert!(loc.as_str().starts_with(CLIENT_REDIRECT), "{extra:?}: {loc}");
        let q = query(&loc);
        assert_eq!(q.get("error").map(String::as_str), Some(code), "{extra:?}: {loc}");
        assert!(q.contains_key("error_description"));
        let expected_state = extra.iter().find(|(k, _)| *k == "state").map(|(_, v)| *v).unwrap_or(STATE);
        assert_eq!(q.get("state").map(String::as_str), (!expected_state.is_empty()).then_some(expected_state));
    }
}

#[tokio::test]
async fn authorize_sends_the_user_to_the_first_upstream() {
    let (_, r) = simple_server().await;
    let client = registered_client(&r).await;
    // Any loopback port is accepted for a registered loopback redirect URI (RFC 8252 §7.3).
    let resp = get(&r, &authorize_uri(&client, &[("redirect_uri", "http://127.0.0.1:51234/callback")])).await;
    assert_eq!(resp.status, StatusCode::FOUND, "{}", resp.body);
    let loc = resp.location();
    assert_eq!(loc.path(), "/github/authorize");
    let q = query(&loc);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "github-client");
    assert_eq!(q["redirect_uri"], format!("{ISSUER}/oauth/callback"));
    assert_eq!(q["scope"], "read:user user:email");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["prompt"], "consent");
    assert!(q["state"].len() >= 32);
    assert_ne!(q["state"], STATE);
    assert!(!q.contains_key("nonce"), "nonce is for OIDC upstreams");
    assert_eq!(get(&r, "/oauth/authorize").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(post_form(&r, "/oauth/authorize", &[("a", "b")]).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------------------------------------
// Token endpoint: request-level errors

#[tokio::test]
async fn token_endpoint_rejects_malformed_requests() {
    let (_, r) = simple_server().await;
    let client = registered_client(&r).await;
    let check = |resp: &Resp, status: StatusCode, code: &str| {
        assert_eq!(resp.status, status, "{}", resp.body);
        assert_eq!(resp.json()["error"], code, "{}", resp.body);
        assert_eq!(resp.header(header::CACHE_CONTROL), Some("no-store"));
        assert_eq!(resp.header(header::PRAGMA), Some("no-cache"));
    };
    let json_body =
        post(&r, "/oauth/token", "application/json", json!({"grant_type": "authorization_code"}).to_string()).await;
    check(&json_body, StatusCode::BAD_REQUEST, "invalid_request");
    check(
        &post(&r, "/oauth/token", "application/x-www-form-urlencoded", "").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    check(&post_form(&r, "/oauth/token", &[("client_id", &client)]).await, StatusCode::BAD_REQUEST, "invalid_request");
    let unknown_grant = post_form(&r, "/oauth/token", &[("grant_type", "password"), ("client_id", &client)]).await;
    check(&unknown_grant, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let dup =
        post_form(&r, "/oauth/token", &[("grant_type", "authorization_code"), ("grant_type", "refresh_token")]).await;
    check(&dup, StatusCode::BAD_REQUEST, "invalid_request");
    let unknown_client =
        post_form(&r, "/oauth/token", &[("grant_type", "authorization_code"), ("client_id", "nope"), ("code", "x")])
            .await;
    check(&unknown_client, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(unknown_client.headers.get(header::WWW_AUTHENTICATE).is_none());
    let basic = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, "Basic bm9wZTo=") // "nope:"
        .body(Body::from("grant_type=authorization_code&code=x"))
        .unwrap();
    let basic = send(&r, basic).await;
    check(&basic, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(basic.header(header::WWW_AUTHENTICATE).unwrap().starts_with("Basic realm="));
    let secret = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "authorization_code"), ("client_id", &client), ("client_secret", "s"), ("code", "x")],
    )
    .await;
    check(&secret, StatusCode::UNAUTHORIZED, "invalid_client");
    let bad_code = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "authorization_code"), ("client_id", &client), ("code", "forged")],
    )
    .await;
    check(&bad_code, StatusCode::BAD_REQUEST, "invalid_grant");
    let bad_refresh = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", "x")],
    )
    .await;
    check(&bad_refresh, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(get(&r, "/oauth/token").await.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------------------------------------
// Full logins through wiremock upstreams

async fn mount_oauth2_upstream(mock: &MockServer, name: &str, access_token: &str, user: Value) {
    Mock::given(method("POST"))
        .and(path(format!("/{name}/token")))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains(format!("client_secret={name}-secret")))
        .and(body_string_contains("code_verifier="))
        .and(header_is("accept", "application/json"))
        .respond_with(
            // GitHub-style form answer.
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-www-form-urlencoded")
                .set_body_string(format!("access_token={access_token}&scope=read%3Auser&token_type=bearer&refresh_token={name}-rt&expires_in=3600")),
        )
        .mount(mock)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/{name}/user")))
        .and(header_is("authorization", format!("Bearer {access_token}").as_str()))
        .and(header_is("x-api-version", "2022-11-28"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user))
        .mount(mock)
        .await;
}

/// Registers a client and walks every upstream leg; returns (client_id, final client redirect).
async fn login(r: &Router, scope: &str) -> (String, url::Url) {
    let client = registered_client(r).await;
    let mut resp = get(r, &authorize_uri(&client, &[("scope", scope)])).await;
    for _ in 0..5 {
        assert_eq!(resp.status, StatusCode::FOUND, "{}", resp.body);
        let loc = resp.location();
        if loc.as_str().starts_with(CLIENT_REDIRECT) {
            return (client, loc);
        }
        let state = query(&loc)["state"].clone();
        let cb = format!("/oauth/callback?code=upstream-code&state={state}");
        resp = get(r, &cb).await;
    }
    panic!("the login did not come back to the client");
}

async fn exchange(r: &Router, client: &str, code: &str, verifier: &str) -> Resp {
    post_form(
        r,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

fn claims(s: &AuthServer, token: &str) -> Value {
    let keys = s.verification_keys();
    let mut v = jsonwebtoken::Validation::new(keys[0].algorithm);
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[ISSUER]);
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(keys[0].kid.as_str()));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    jsonwebtoken::decode::<Value>(token, &keys[0].key, &v).unwrap().claims
}

#[tokio::test]
async fn two_upstream_login_issues_a_code_then_tokens() {
    let mock = MockServer::start().await;
    mount_oauth2_upstream(
        &mock,
        "github",
        "gho_1",
        json!({"id": 583231, "login": "octocat", "name": "The Octocat", "email": "o@example.com"}),
    )
    .await;
    mount_oauth2_upstream(&mock, "atlassian", "atl_1", json!({"id": "acc-9", "login": "x"})).await;
    let cfg =
        config(vec![oauth2_upstream("github", &mock.uri(), true), oauth2_upstream("atlassian", &mock.uri(), true)]);
    let s = start(cfg, Defects::none()).await;
    let r = s.router();
    let (client, back) = login(&r, "openid profile offline_access").await;
    let q = query(&back);
    assert_eq!(q["state"], STATE);
    let code = q["code"].clone();

    // Wrong verifier: invalid_grant (and the code is burned).
    let wrong = exchange(&r, &client, &code, &"a".repeat(43)).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["error"], "invalid_grant");

    let (client, back) = login(&r, "openid profile offline_access").await;
    let code = query(&back)["code"].clone();
    let ok = exchange(&r, &client, &code, VERIFIER).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.header(header::CACHE_CONTROL), Some("no-store"));
    let body = ok.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile offline_access");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let c = claims(&s, body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], json!([AUDIENCE]));
    assert_eq!(c["scp"], json!(["openid", "profile", "offline_access"]));
    assert_eq!(c["client_id"], client);
    assert_eq!(c["name"], "The Octocat");
    assert_eq!(c["email"], "o@example.com");
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 3600);
    assert!(uuid::Uuid::parse_str(c["sub"].as_str().unwrap()).is_ok());
    let tsid = c["tsid"].as_str().unwrap();
    let upstream = s.upstream_tokens(tsid).await.unwrap();
    assert_eq!(upstream["github"].access_token, "gho_1");
    assert_eq!(upstream["atlassian"].access_token, "atl_1");
    assert!(upstream["github"].expires_at.is_some());

    // The same upstream user gets the same internal id on the next login.
    let (client2, back2) = login(&r, "openid").await;
    let second = exchange(&r, &client2, &query(&back2)["code"], VERIFIER).await.json();
    assert!(second.get("refresh_token").is_none(), "no offline_access, no refresh token");
    assert_eq!(claims(&s, second["access_token"].as_str().unwrap())["sub"], c["sub"]);

    // Refresh rotates; the old refresh token is then refused and revokes the grant.
    let rotated = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let rotated = rotated.json();
    let new_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);
    assert_eq!(claims(&s, rotated["access_token"].as_str().unwrap())["tsid"], tsid);
    let other_client = registered_client(&r).await;
    let stolen = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &other_client), ("refresh_token", &new_refresh)],
    )
    .await;
    assert_eq!(stolen.json()["error"], "invalid_grant");
    let replay = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    let after = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &new_refresh)],
    )
    .await;
    assert_eq!(after.json()["error"], "invalid_grant", "the family is revoked after a replay");
}

#[tokio::test]
async fn code_reuse_is_refused_and_revokes_the_refresh_token() {
    let mock = MockServer::start().await;
    mount_oauth2_upstream(&mock, "github", "gho_2", json!({"id": 1})).await;
    let s = start(config(vec![oauth2_upstream("github", &mock.uri(), true)]), Defects::none()).await;
    let r = s.router();
    let (client, back) = login(&r, "openid offline_access").await;
    let code = query(&back)["code"].clone();
    let first = exchange(&r, &client, &code, VERIFIER).await.json();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let again = exchange(&r, &client, &code, VERIFIER).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_grant");
    let r2 = post_form(
        &r,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(r2.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn defects_skip_pkce_and_double_lifespan() {
    let mock = MockServer::start().await;
    mount_oauth2_upstream(&mock, "github", "gho_3", json!({"id": 1})).await;
    let defects = Defects::none().with(Defect::SkipPkceVerification).with(Defect::DoubleAccessTokenLifespan);
    let s = start(config(vec![oauth2_upstream("github", &mock.uri(), true)]), defects).await;
    let r = s.router();
    let (client, back) = login(&r, "openid").await;
    let ok = exchange(&r, &client, &query(&back)["code"], &"b".repeat(43)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let c = claims(&s, ok.json()["access_token"].as_str().unwrap());
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 7200);
}

#[tokio::test]
async fn synthesized_identity_and_resource_indicator() {
    let mock = MockServer::start().await;
    mount_oauth2_upstream(&mock, "github", "gho_4", json!({})).await;
    let mut cfg = config(vec![oauth2_upstream("github", &mock.uri(), false)]);
    cfg.allowed_audiences = vec![AUDIENCE.into(), "http://127.0.0.1:4483/other".into()];
    let s = start(cfg, Defects::none()).await;
    let r = s.router();
    let (client, back) = login(&r, "openid").await;
    let code = query(&back)["code"].clone();
    // Several audiences and no resource: the target is ambiguous.
    let no_resource = exchange(&r, &client, &code, VERIFIER).await;
    assert_eq!(no_resource.json()["error"], "invalid_target");
    let (client, back) = login(&r, "openid").await;
    let resp = post_form(
        &r,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &query(&back)["code"]),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", VERIFIER),
            ("resource", AUDIENCE),
        ],
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
    let c = claims(&s, resp.json()["access_token"].as_str().unwrap());
    assert!(c.get("name").is_none());
    let (client, back) = login(&r, "openid").await;
    let bad = post_form(
        &r,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &query(&back)["code"]),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", VERIFIER),
            ("resource", "https://elsewhere.example.com/mcp"),
        ],
    )
    .await;
    assert_eq!(bad.json()["error"], "invalid_target");
}

#[tokio::test]
async fn callback_errors() {
    let mock = MockServer::start().await;
    let s = start(config(vec![oauth2_upstream("github", &mock.uri(), true)]), Defects::none()).await;
    let r = s.router();
    assert_eq!(get(&r, "/oauth/callback?code=x").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&r, "/oauth/callback?code=x&state=unknown").await.status, StatusCode::BAD_REQUEST);
    let client = registered_client(&r).await;
    let to_upstream = get(&r, &authorize_uri(&client, &[])).await.location();
    let state = query(&to_upstream)["state"].clone();
    let denied = get(&r, &format!("/oauth/callback?error=access_denied&state={state}")).await;
    let q = query(&denied.location());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], STATE);
    // Single use.
    assert_eq!(get(&r, &format!("/oauth/callback?code=x&state={state}")).await.status, StatusCode::BAD_REQUEST);
    // The upstream token endpoint fails (nothing mounted): server_error to the client.
    let state = query(&get(&r, &authorize_uri(&client, &[])).await.location())["state"].clone();
    let failed = get(&r, &format!("/oauth/callback?code=x&state={state}")).await;
    assert_eq!(query(&failed.location())["error"], "server_error");
}

#[tokio::test]
async fn oidc_upstream_login_verifies_the_id_token() {
    let mock = MockServer::start().await;
    let idp_key = SigningKey::from_pem(EC_SEC1_PEM).unwrap();
    let issuer = mock.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
        })))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [idp_key.jwk]})))
        .mount(&mock)
        .await;
    let upstream = UpstreamProvider {
        name: "google".into(),
        kind: UpstreamKind::Oidc(OidcUpstream {
            issuer_url: issuer.clone(),
            client_id: "google-client".into(),
            client_secret: Some("google-secret".into()),
            redirect_uri: format!("{ISSUER}/oauth/callback"),
            scopes: vec![],
            subject_claim: Some("oid".into()),
            additional_authorization_params: BTreeMap::new(),
        }),
    };
    let s = start(config(vec![upstream]), Defects::none()).await;
    let r = s.router();
    let client = registered_client(&r).await;
    let to_idp = get(&r, &authorize_uri(&client, &[])).await.location();
    let q = query(&to_idp);
    assert_eq!(to_idp.path(), "/authorize");
    assert_eq!(q["scope"], "openid offline_access");
    let nonce = q["nonce"].clone();
    let now = super::store::now_unix();
    let sign = |nonce: &str| {
        let mut h = jsonwebtoken::Header::new(idp_key.algorithm);
        h.kid = Some(idp_key.kid.clone());
        let claims = json!({"iss": issuer, "aud": "google-client", "sub": "g-1", "oid": "entra-oid-7", "exp": now + 300,
            "iat": now, "nonce": nonce, "name": "Ada", "email": "ada@example.com"});
        jsonwebtoken::encode(&h, &claims, &idp_key.encoding).unwrap()
    };
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.x", "token_type": "Bearer", "expires_in": 3599, "id_token": sign(&nonce)
        })))
        .up_to_n_times(1)
        .mount(&mock)
        .await;
    let back = get(&r, &format!("/oauth/callback?code=c&state={}", q["state"])).await.location();
    let code = query(&back)["code"].clone();
    let tokens = exchange(&r, &client, &code, VERIFIER).await.json();
    let c = claims(&s, tokens["access_token"].as_str().unwrap());
    assert_eq!(c["name"], "Ada");
    let stored = s.upstream_tokens(c["tsid"].as_str().unwrap()).await.unwrap();
    assert_eq!(stored["google"].access_token, "ya29.x");
    assert!(stored["google"].id_token.is_some());

    // A token with the wrong nonce is refused: server_error to the client.
    let q = query(&get(&r, &authorize_uri(&client, &[])).await.location());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.y", "token_type": "Bearer", "id_token": sign("another-nonce")
        })))
        .mount(&mock)
        .await;
    let failed = get(&r, &format!("/oauth/callback?code=c&state={}", q["state"])).await.location();
    assert_eq!(query(&failed)["error"], "server_error");
}

#[tokio::test]
async fn expired_upstream_tokens_are_refreshed_or_reported_expired() {
    use super::store::{Store, StoredUpstreamTokens, now_unix};
    use crate::vmcp::embedded::EmbeddedAuthError;
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/github/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "fresh", "token_type": "bearer", "expires_in": 60
        })))
        .mount(&mock)
        .await;
    let storage = Arc::new(MemoryStorage::new());
    let cfg = config(vec![oauth2_upstream("github", &mock.uri(), false), oauth2_upstream("slack", &mock.uri(), false)]);
    let s = AuthServer::start(cfg, storage.clone(), reqwest::Client::new(), Defects::none()).await.unwrap();
    let store = Store::new(storage.as_ref());
    let row = |provider: &str, access: &str, refresh: Option<&str>| StoredUpstreamTokens {
        provider: provider.into(),
        access_token: access.into(),
        refresh_token: refresh.map(str::to_owned),
        id_token: None,
        expires_at: Some(now_unix() - 10),
        upstream_subject: "u".into(),
        user_id: "user".into(),
        client_id: "c".into(),
    };
    let ttl = std::time::Duration::from_secs(60);
    store.put_upstream_tokens("sess", &row("github", "stale", Some("rt-1")), ttl).await.unwrap();
    let tokens = s.upstream_tokens("sess").await.unwrap();
    assert_eq!(tokens["github"].access_token, "fresh");
    assert!(tokens["github"].expires_at.unwrap() > now_unix());
    // The refreshed row was persisted, with the old refresh token carried forward.
    let stored = store.upstream_tokens("sess").await.unwrap();
    assert_eq!(stored["github"].refresh_token.as_deref(), Some("rt-1"));
    store.put_upstream_tokens("sess", &row("slack", "old", None), ttl).await.unwrap();
    assert!(matches!(s.upstream_tokens("sess").await, Err(EmbeddedAuthError::Expired(_))));
    assert!(s.upstream_tokens("no-such-session").await.unwrap().is_empty());
}
