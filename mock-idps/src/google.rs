//! A Google-like OpenID Connect provider: discovery, authorize, token (code and refresh grants),
//! RS256 ID tokens verifiable against its JWKS, and userinfo, at Google's own paths.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::fault::Fault;
use crate::keys::SigningKey;
use crate::oauth::{AuthorizePolicy, OAuthError, State, TokenGrant, random_token, server_error, token_request};
use crate::record::{IssuedToken, RecordedRequest, lock};
use crate::user::MockUser;

/// Google accepts both PKCE methods and requires `response_type`.
const POLICY: AuthorizePolicy = AuthorizePolicy { require_response_type: true, pkce_methods: &["S256", "plain"] };

/// Lifetime Google gives access tokens (one second short of an hour).
const ACCESS_TOKEN_SECONDS: u64 = 3599;
/// ID tokens expire an hour after issue.
const ID_TOKEN_SECONDS: u64 = 3600;

/// A Google-like OpenID Connect provider with one registered client.
/// Clones share the server; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct GoogleMock {
    server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
    key: Arc<SigningKey>,
    entra: Arc<std::sync::atomic::AtomicBool>,
    access_token_seconds: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for GoogleMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleMock").field("issuer", &self.issuer()).finish_non_exhaustive()
    }
}

impl GoogleMock {
    /// Starts the mock on a loopback port with one registered client and a fresh RSA key.
    ///
    /// # Panics
    /// If aws-lc-rs cannot generate an RSA key (a broken build, not bad input).
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        Self::start_on(None, client_id, client_secret).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(listener: Option<std::net::TcpListener>, client_id: &str, client_secret: &str) -> Self {
        let server = Arc::new(crate::standalone::server(listener).await);
        Self::serve_on(server, client_id, client_secret).await
    }

    /// The OIDC provider on `server` (its issuer is the server's URI), which another mock may share.
    pub async fn serve_on(server: Arc<MockServer>, client_id: &str, client_secret: &str) -> Self {
        let kid = format!("mock-{}", random_token(6));
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(&kid))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let key = Arc::new(key.unwrap_or_else(|e| panic!("GoogleMock: cannot generate an RSA signing key: {e}")));
        let state = Arc::new(Mutex::new(State::new(client_id, client_secret)));
        let issuer = server.uri();
        let entra = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let access_token_seconds = Arc::new(std::sync::atomic::AtomicU64::new(ACCESS_TOKEN_SECONDS));
        let responder = Responder {
            state: state.clone(),
            key: key.clone(),
            issuer,
            entra: entra.clone(),
            access_token_seconds: access_token_seconds.clone(),
        };
        Mock::given(any()).respond_with(responder).mount(&server).await;
        Self { server, state, key, entra, access_token_seconds }
    }

    /// `expires_in` of the access tokens issued from now on (default 3599).
    pub fn set_access_token_lifetime(&self, seconds: u64) {
        self.access_token_seconds.store(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    /// Revokes every refresh token issued so far: the refresh grant answers `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.state).refresh_tokens.clear();
    }

    /// Entra-like ID tokens from now on: `sub` is pairwise (derived from the user and the client
    /// ID, so it differs per application) and `oid` is the user's stable object id.
    pub fn set_entra_claims(&self, on: bool) {
        self.entra.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: the `iss` of its ID tokens and the discovery `issuer`.
    pub fn issuer(&self) -> String {
        self.server.uri()
    }

    /// The `kid` its ID tokens carry.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The JWK Set served at `/oauth2/v3/certs`.
    pub fn jwks(&self) -> serde_json::Value {
        self.key.jwks()
    }

    /// Who logs in at the next authorize (automatic consent).
    pub fn set_user(&self, user: MockUser) {
        lock(&self.state).user = user;
    }

    /// How the mock misbehaves from now on.
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.state).fault = fault;
    }

    /// Every token set issued so far (code and refresh grants), oldest first.
    pub fn issued(&self) -> Vec<IssuedToken> {
        lock(&self.state).issued.clone()
    }

    /// Every HTTP request received so far, oldest first.
    pub async fn received(&self) -> Vec<RecordedRequest> {
        self.server.received_requests().await.unwrap_or_default().iter().map(RecordedRequest::from).collect()
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
    key: Arc<SigningKey>,
    issuer: String,
    entra: Arc<std::sync::atomic::AtomicBool>,
    access_token_seconds: Arc<std::sync::atomic::AtomicU64>,
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/.well-known/openid-configuration") => {
                ResponseTemplate::new(200).set_body_json(discovery(&self.issuer))
            }
            ("GET", "/o/oauth2/v2/auth" | "/o/oauth2/auth") => state.authorize(req, &POLICY),
            ("POST", "/token" | "/o/oauth2/token") => self.token(&mut state, req),
            ("GET", "/oauth2/v3/certs") => ResponseTemplate::new(200).set_body_json(self.key.jwks()),
            ("GET" | "POST", "/v1/userinfo" | "/oauth2/v3/userinfo") => userinfo(&state, req),
            _ => ResponseTemplate::new(404)
                .set_body_json(serde_json::json!({"error": {"code": 404, "message": "Not Found"}})),
        }
    }
}

/// The discovery document, shaped like accounts.google.com's.
fn discovery(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/v1/userinfo"),
        "jwks_uri": format!("{issuer}/oauth2/v3/certs"),
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token",
                                     "code token id_token", "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss",
                             "name", "picture", "sub"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    })
}

impl Responder {
    /// `POST /token`: the code and refresh grants, always JSON.
    fn token(&self, state: &mut State, req: &Request) -> ResponseTemplate {
        if state.fault == Fault::ServerError {
            return server_error();
        }
        let delay = match state.fault {
            Fault::SlowToken(d) => d,
            _ => std::time::Duration::ZERO,
        };
        match self.exchange(state, req) {
            Ok(body) => ResponseTemplate::new(200)
                .insert_header("cache-control", "no-cache, no-store, max-age=0, must-revalidate")
                .set_body_json(body)
                .set_delay(delay),
            Err(e) => e.into_response(),
        }
    }

    fn exchange(&self, state: &mut State, req: &Request) -> Result<serde_json::Value, OAuthError> {
        let (p, client_id) = token_request(state, req)?;
        let (grant, nonce, refresh_token) = match p.get("grant_type") {
            Some("authorization_code") => {
                let code = state.redeem_code(&client_id, &p)?;
                let grant = TokenGrant { user: code.user.clone(), client_id: client_id.clone(), scope: code.scope };
                let refresh = code.offline.then(|| {
                    let token = format!("1//{}", random_token(48));
                    state.refresh_tokens.insert(token.clone(), grant.clone());
                    token
                });
                (grant, code.nonce, refresh)
            }
            Some("refresh_token") => {
                let Some(token) = p.get("refresh_token") else {
                    return Err(OAuthError::new("invalid_request", "missing refresh_token"));
                };
                let grant = match state.refresh_tokens.get(token) {
                    Some(g) if g.client_id == client_id => g.clone(),
                    _ => return Err(OAuthError::new("invalid_grant", "Token has been expired or revoked.")),
                };
                // Google keeps the refresh token and does not send it again.
                (grant, None, None)
            }
            Some(_) => return Err(OAuthError::new("unsupported_grant_type", "Invalid grant_type")),
            None => return Err(OAuthError::new("invalid_request", "Required parameter is missing: grant_type")),
        };
        let access_token = match grant.user.jwt_access_claims.get("google") {
            Some(claims) => crate::user::jwt_access_token(&grant.user.google_sub, &self.issuer, claims),
            None => format!("ya29.{}", random_token(48)),
        };
        let id_token = if grant.scope.split(' ').any(|s| s == "openid") {
            Some(self.id_token(&grant, &client_id, nonce.as_deref(), &state.fault).map_err(|e| OAuthError {
                status: 500,
                error: "server_error",
                description: e.to_string(),
                basic_challenge: false,
            })?)
        } else {
            None
        };
        state.access_tokens.insert(access_token.clone(), grant.clone());
        state.issued.push(IssuedToken {
            user: grant.user.login.clone(),
            access_token: access_token.clone(),
            refresh_token: refresh_token.clone(),
            id_token: id_token.clone(),
            client_id,
        });
        let mut body = serde_json::json!({
            "access_token": access_token, "token_type": "Bearer",
            "expires_in": self.access_token_seconds.load(std::sync::atomic::Ordering::SeqCst),
            "scope": grant.scope,
        });
        if let Some(id_token) = id_token {
            body["id_token"] = id_token.into();
        }
        if let Some(refresh_token) = refresh_token {
            body["refresh_token"] = refresh_token.into();
        }
        Ok(body)
    }

    fn id_token(
        &self,
        grant: &TokenGrant,
        client_id: &str,
        nonce: Option<&str>,
        fault: &Fault,
    ) -> Result<String, crate::keys::KeyError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let u = &grant.user;
        let (iat, issuer) = match fault {
            Fault::ExpiredIdToken => (now.saturating_sub(ID_TOKEN_SECONDS + 600), self.issuer.clone()),
            Fault::WrongIssuer => (now, "https://login.attacker.example.com".to_owned()),
            _ => (now, self.issuer.clone()),
        };
        let mut claims = serde_json::json!({
            "iss": issuer, "azp": client_id, "aud": client_id, "sub": u.google_sub,
            "email": u.email, "email_verified": true, "name": u.name,
            "iat": iat, "exp": iat + ID_TOKEN_SECONDS,
        });
        if self.entra.load(std::sync::atomic::Ordering::SeqCst) {
            claims["sub"] = entra_pairwise_sub(&u.login, client_id).into();
            claims["oid"] = entra_oid(&u.login).into();
            claims["tid"] = "9188040d-6c67-4c5b-b112-36a304b66dad".into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        self.key.sign(&claims)
    }
}

/// Entra's `sub` is pairwise: unique to the user and the application (client ID).
pub fn entra_pairwise_sub(login: &str, client_id: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{client_id}\n{login}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..32])
}

/// Entra's `oid`: the user's object id, the same in every application of the tenant.
pub fn entra_oid(login: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(format!("oid\n{login}").as_bytes());
    let h: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `GET /v1/userinfo`: the OIDC userinfo answer for a Google access token.
fn userinfo(state: &State, req: &Request) -> ResponseTemplate {
    let Some((_, grant)) = state.bearer(req, false) else {
        return ResponseTemplate::new(401)
            .insert_header("www-authenticate", "Bearer realm=\"mock-google\", error=\"invalid_token\"")
            .set_body_json(serde_json::json!({"error": "invalid_token", "error_description": "Invalid Credentials"}));
    };
    let u = &grant.user;
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "sub": u.google_sub, "email": u.email, "email_verified": true, "name": u.name,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn client() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default()
    }

    async fn authorize_code(
        http: &reqwest::Client,
        auth_endpoint: &str,
        extra: &[(&str, &str)],
    ) -> Result<String, Box<dyn std::error::Error>> {
        let challenge = crate::pkce_challenge(VERIFIER);
        let mut query = vec![
            ("client_id", "gcid"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "s1"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        query.extend_from_slice(extra);
        let resp = http.get(auth_endpoint).query(&query).send().await?;
        assert_eq!(resp.status(), 302);
        let location = url::Url::parse(resp.headers().get("location").ok_or("no location")?.to_str()?)?;
        let code = location.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
        Ok(code.ok_or_else(|| format!("no code in {location}"))?)
    }

    #[tokio::test]
    async fn discovery_and_id_token_verify_against_jwks() -> TestResult {
        let mock = GoogleMock::start("gcid", "gsecret").await;
        mock.set_user(MockUser::named("carol"));
        let http = client();
        let issuer = mock.issuer();
        assert!(!issuer.ends_with('/'));
        let disco: serde_json::Value =
            http.get(format!("{issuer}/.well-known/openid-configuration")).send().await?.json().await?;
        assert_eq!(disco["issuer"], issuer.as_str());
        assert_eq!(disco["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
        let auth = disco["authorization_endpoint"].as_str().ok_or("no authorization_endpoint")?;
        let token_endpoint = disco["token_endpoint"].as_str().ok_or("no token_endpoint")?;
        let jwks_uri = disco["jwks_uri"].as_str().ok_or("no jwks_uri")?;

        let code =
            authorize_code(&http, auth, &[("scope", "openid email profile"), ("access_type", "offline")]).await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let resp = http.post(token_endpoint).basic_auth("gcid", Some("gsecret")).form(&form).send().await?;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await?;
        assert!(body["access_token"].as_str().is_some_and(|t| t.starts_with("ya29.")));
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        let refresh = body["refresh_token"].as_str().ok_or("no refresh_token despite access_type=offline")?;
        let id_token = body["id_token"].as_str().ok_or("no id_token")?;

        let jwks: JwkSet = http.get(jwks_uri).send().await?.json().await?;
        let header = jsonwebtoken::decode_header(id_token)?;
        assert_eq!(header.alg, Algorithm::RS256);
        let kid = header.kid.ok_or("no kid")?;
        assert_eq!(kid, mock.kid());
        let jwk = jwks.find(&kid).ok_or("kid not in JWKS")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["gcid"]);
        validation.set_issuer(&[issuer.as_str()]);
        let claims =
            jsonwebtoken::decode::<serde_json::Value>(id_token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
        let carol = MockUser::named("carol");
        assert_eq!(claims["sub"], carol.google_sub.as_str());
        assert_eq!(claims["email"], "carol@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
        let (iat, exp) = (claims["iat"].as_u64().ok_or("iat")?, claims["exp"].as_u64().ok_or("exp")?);
        assert_eq!(exp - iat, 3600);

        let issued = mock.issued();
        assert_eq!(issued.len(), 1);
        assert_eq!(issued[0].id_token.as_deref(), Some(id_token));
        assert_eq!(issued[0].refresh_token.as_deref(), Some(refresh));
        assert_eq!(issued[0].user, "carol");

        // userinfo accepts the access token; the refresh grant mints a new one without a nonce.
        let access = body["access_token"].as_str().ok_or("no access_token")?;
        let info: serde_json::Value =
            http.get(format!("{issuer}/v1/userinfo")).bearer_auth(access).send().await?.json().await?;
        assert_eq!(info["sub"], carol.google_sub.as_str());
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "gcid"),
            ("client_secret", "gsecret"),
        ];
        let refreshed: serde_json::Value = http.post(token_endpoint).form(&form).send().await?.json().await?;
        assert!(refreshed["access_token"].as_str().is_some_and(|t| t != access));
        assert!(refreshed.get("refresh_token").is_none());
        assert_eq!(mock.issued().len(), 2);
        Ok(())
    }

    #[tokio::test]
    async fn token_errors_follow_rfc_6749() -> TestResult {
        let mock = GoogleMock::start("gcid", "gsecret").await;
        let http = client();
        let auth = format!("{}/o/oauth2/v2/auth", mock.issuer());
        let token_endpoint = format!("{}/token", mock.issuer());
        let code = authorize_code(&http, &auth, &[("scope", "openid")]).await?;
        let post = |form: Vec<(&'static str, String)>| http.post(&token_endpoint).form(&form).send();
        let base = |code: &str, verifier: &str| {
            vec![
                ("grant_type", "authorization_code".to_owned()),
                ("client_id", "gcid".to_owned()),
                ("client_secret", "gsecret".to_owned()),
                ("code", code.to_owned()),
                ("redirect_uri", REDIRECT.to_owned()),
                ("code_verifier", verifier.to_owned()),
            ]
        };
        let mut bad_secret = base(&code, VERIFIER);
        bad_secret[2].1 = "wrong".into();
        let resp = post(bad_secret).await?;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.json::<serde_json::Value>().await?["error"], "invalid_client");

        let resp = post(base(&code, &"y".repeat(43))).await?;
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.json::<serde_json::Value>().await?["error"], "invalid_grant");
        // The failed attempt consumed the code: the right verifier no longer helps.
        let resp = post(base(&code, VERIFIER)).await?;
        assert_eq!(resp.json::<serde_json::Value>().await?["error"], "invalid_grant");

        let mut bad_grant = base("x", VERIFIER);
        bad_grant[0].1 = "password".into();
        let resp = post(bad_grant).await?;
        assert_eq!(resp.json::<serde_json::Value>().await?["error"], "unsupported_grant_type");

        // No refresh token without offline access; scope without openid has no id_token.
        let code = authorize_code(&http, &auth, &[("scope", "email")]).await?;
        let body: serde_json::Value = post(base(&code, VERIFIER)).await?.json().await?;
        assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none(), "{body}");

        mock.set_fault(Fault::ServerError);
        assert_eq!(post(base("x", VERIFIER)).await?.status(), 500);
        Ok(())
    }

    /// The ID token the mock issues for `carol` under its current fault and flavour.
    async fn id_token_claims(mock: &GoogleMock) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let http = client();
        let auth = format!("{}/o/oauth2/v2/auth", mock.issuer());
        let code = authorize_code(&http, &auth, &[("scope", "openid")]).await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let token_url = format!("{}/token", mock.issuer());
        let body: serde_json::Value =
            http.post(&token_url).basic_auth("gcid", Some("gsecret")).form(&form).send().await?.json().await?;
        let id_token = body["id_token"].as_str().ok_or("no id_token")?;
        Ok(jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(id_token)?.claims)
    }

    #[tokio::test]
    async fn entra_claims_and_id_token_faults() -> TestResult {
        let mock = GoogleMock::start("gcid", "gsecret").await;
        mock.set_user(MockUser::named("carol"));
        mock.set_entra_claims(true);
        let claims = id_token_claims(&mock).await?;
        assert_eq!(claims["oid"], entra_oid("carol").as_str());
        assert_eq!(claims["sub"], entra_pairwise_sub("carol", "gcid").as_str());
        assert_ne!(entra_pairwise_sub("carol", "gcid"), entra_pairwise_sub("carol", "other-app"));

        mock.set_fault(Fault::WrongIssuer);
        assert_ne!(id_token_claims(&mock).await?["iss"], mock.issuer().as_str());
        mock.set_fault(Fault::ExpiredIdToken);
        let exp = id_token_claims(&mock).await?["exp"].as_u64().ok_or("no exp")?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        assert!(exp + 60 < now, "exp {exp} is not in the past (now {now})");

        mock.set_fault(Fault::None);
        mock.set_access_token_lifetime(2);
        let http = client();
        let code =
            authorize_code(&http, &format!("{}/o/oauth2/v2/auth", mock.issuer()), &[("scope", "openid")]).await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let body: serde_json::Value = http
            .post(format!("{}/token", mock.issuer()))
            .basic_auth("gcid", Some("gsecret"))
            .form(&form)
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(body["expires_in"], 2);
        Ok(())
    }

    #[tokio::test]
    async fn authorize_requires_response_type_code() -> TestResult {
        let mock = GoogleMock::start("gcid", "gsecret").await;
        let query = [("client_id", "gcid"), ("redirect_uri", REDIRECT), ("state", "s"), ("response_type", "token")];
        let resp = client().get(format!("{}/o/oauth2/v2/auth", mock.issuer())).query(&query).send().await?;
        assert_eq!(resp.status(), 302);
        let location = resp.headers().get("location").ok_or("no location")?.to_str()?;
        assert!(location.contains("error=unsupported_response_type") && location.contains("state=s"), "{location}");
        Ok(())
    }
}
