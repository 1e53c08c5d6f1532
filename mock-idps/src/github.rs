//! A GitHub-like plain OAuth 2.0 provider (no OIDC): `github.com/login/oauth/*` for the flow and
//! `api.github.com/user` for identity, served from one loopback origin so a scenario needs one URL.

use std::sync::{Arc, Mutex};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::fault::Fault;
use crate::oauth::{AuthorizePolicy, OAuthError, State, server_error, token_request};
use crate::record::{IssuedToken, RecordedRequest, lock};
use crate::user::MockUser;

/// GitHub supports only S256 for PKCE.
const POLICY: AuthorizePolicy = AuthorizePolicy { require_response_type: false, pkce_methods: &["S256"] };

/// A GitHub-like plain OAuth 2.0 provider with one registered OAuth app. Clones share the server
/// (the url target keeps one for the whole run); it stops when the last clone is dropped.
#[derive(Clone)]
pub struct GithubMock {
    server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for GithubMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubMock").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

impl GithubMock {
    /// Starts the mock on a loopback port with one registered client.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        Self::start_on(None, client_id, client_secret).await
    }

    /// Like `start`, on `listener` when given (a fixed port: `mock-idps --listen`, the url target).
    pub async fn start_on(listener: Option<std::net::TcpListener>, client_id: &str, client_secret: &str) -> Self {
        let state = Arc::new(Mutex::new(State::new(client_id, client_secret)));
        let server = crate::standalone::server(listener).await;
        Mock::given(any()).respond_with(Responder { state: state.clone() }).mount(&server).await;
        Self { server: Arc::new(server), state }
    }

    /// `http://127.0.0.1:PORT`; serves both the github.com and the api.github.com paths.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// `{base_url}/login/oauth/authorize`.
    pub fn authorize_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.base_url())
    }

    /// `{base_url}/login/oauth/access_token`.
    pub fn token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.base_url())
    }

    /// `{base_url}/user`.
    pub fn user_url(&self) -> String {
        format!("{}/user", self.base_url())
    }

    /// Who logs in at the next authorize (automatic consent).
    pub fn set_user(&self, user: MockUser) {
        lock(&self.state).user = user;
    }

    /// How the mock misbehaves from now on.
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.state).fault = fault;
    }

    /// Every access token issued so far, oldest first.
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
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/login/oauth/authorize") => state.authorize(req, &POLICY),
            ("POST", "/login/oauth/access_token") => access_token(&mut state, req),
            ("GET", "/user" | "/api/v3/user") => user(&state, req),
            ("GET", "/user/emails" | "/api/v3/user/emails") => emails(&state, req),
            _ => ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
        }
    }
}

/// `POST /login/oauth/access_token`: GitHub answers form-encoded unless the client asks for JSON.
fn access_token(state: &mut State, req: &Request) -> ResponseTemplate {
    if state.fault == Fault::ServerError {
        return server_error();
    }
    match exchange(state, req) {
        Ok(body) => {
            let wants_json = req
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/json"));
            if wants_json {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "access_token": body.access_token, "token_type": "bearer", "scope": body.scope,
                }))
            } else {
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("access_token", &body.access_token)
                    .append_pair("scope", &body.scope)
                    .append_pair("token_type", "bearer")
                    .finish();
                ResponseTemplate::new(200).set_body_raw(form, "application/x-www-form-urlencoded; charset=utf-8")
            }
        }
        Err(e) => e.into_response(),
    }
}

struct Issued {
    access_token: String,
    scope: String,
}

fn exchange(state: &mut State, req: &Request) -> Result<Issued, OAuthError> {
    let (p, client_id) = token_request(state, req)?;
    // GitHub does not require grant_type; when sent, it must be the code grant (OAuth apps have no refresh).
    if let Some(grant_type) = p.get("grant_type")
        && grant_type != "authorization_code"
    {
        return Err(OAuthError::new("unsupported_grant_type", "only authorization_code is supported"));
    }
    let grant = state.redeem_code(&client_id, &p)?;
    let access_token = match grant.user.jwt_access_claims.get("github") {
        Some(claims) => crate::user::jwt_access_token(&grant.user.login, "github", claims),
        None => format!("gho_{}", alphanumeric(36)),
    };
    // GitHub reports granted scopes comma-separated.
    let scope = grant.scope.split([' ', ',']).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(",");
    state.access_tokens.insert(
        access_token.clone(),
        crate::oauth::TokenGrant { user: grant.user.clone(), client_id: client_id.clone(), scope: scope.clone() },
    );
    state.issued.push(IssuedToken {
        user: grant.user.login,
        access_token: access_token.clone(),
        refresh_token: None,
        id_token: None,
        client_id,
    });
    Ok(Issued { access_token, scope })
}

fn bad_credentials() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(serde_json::json!({
        "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401",
    }))
}

/// `GET /user`: the authenticated user, as api.github.com describes them.
fn user(state: &State, req: &Request) -> ResponseTemplate {
    let Some((_, grant)) = state.bearer(req, true) else {
        return bad_credentials();
    };
    let u = &grant.user;
    ResponseTemplate::new(200).insert_header("x-oauth-scopes", grant.scope.replace(',', ", ").as_str()).set_body_json(
        serde_json::json!({
            "login": u.login, "id": u.github_id, "node_id": format!("U_{}", u.github_id),
            "type": "User", "name": u.name, "email": u.email,
            "avatar_url": format!("https://avatars.example.com/u/{}", u.github_id),
        }),
    )
}

/// `GET /user/emails`: the one primary, verified address.
fn emails(state: &State, req: &Request) -> ResponseTemplate {
    let Some((_, grant)) = state.bearer(req, true) else {
        return bad_credentials();
    };
    ResponseTemplate::new(200).set_body_json(serde_json::json!([
        {"email": grant.user.email, "primary": true, "verified": true, "visibility": "public"}
    ]))
}

/// `n` random characters from `[A-Za-z0-9]`, the alphabet of GitHub's token bodies.
fn alphanumeric(n: usize) -> String {
    use rand::Rng as _;
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(n).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce_challenge;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const REDIRECT: &str = "http://127.0.0.1:9/callback";

    fn client() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default()
    }

    /// Runs the authorize leg and returns the code from the redirect.
    async fn authorize(mock: &GithubMock, pkce: bool) -> Result<String, Box<dyn std::error::Error>> {
        let challenge = pkce_challenge(VERIFIER);
        let mut query = vec![
            ("client_id", "cid"),
            ("redirect_uri", REDIRECT),
            ("state", "st-1"),
            ("scope", "read:user user:email"),
        ];
        if pkce {
            query.extend([("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")]);
        }
        let resp = client().get(mock.authorize_url()).query(&query).send().await?;
        assert_eq!(resp.status(), 302);
        let location = resp.headers().get("location").ok_or("no location")?.to_str()?;
        let location = url::Url::parse(location)?;
        assert!(location.as_str().starts_with(REDIRECT));
        let get = |k: &str| location.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
        assert_eq!(get("state").as_deref(), Some("st-1"));
        Ok(get("code").ok_or("no code")?)
    }

    async fn token(
        mock: &GithubMock,
        form: &[(&str, &str)],
        json: bool,
    ) -> Result<reqwest::Response, Box<dyn std::error::Error>> {
        let mut req = client().post(mock.token_url()).form(form);
        if json {
            req = req.header("accept", "application/json");
        }
        Ok(req.send().await?)
    }

    #[tokio::test]
    async fn round_trip_with_json_answer() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        mock.set_user(MockUser::named("bob"));
        let code = authorize(&mock, true).await?;
        let form = [
            ("client_id", "cid"),
            ("client_secret", "secret"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let resp = token(&mock, &form, true).await?;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await?;
        let access = body["access_token"].as_str().ok_or("no access_token")?.to_owned();
        assert!(access.starts_with("gho_"));
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["scope"], "read:user,user:email");

        let user: serde_json::Value =
            client().get(mock.user_url()).bearer_auth(&access).send().await?.error_for_status()?.json().await?;
        let bob = MockUser::named("bob");
        assert_eq!(user["id"], bob.github_id);
        assert_eq!(user["login"], "bob");
        assert_eq!(user["email"], "bob@example.com");

        let issued = mock.issued();
        assert_eq!(issued.len(), 1);
        assert_eq!(issued[0].access_token, access);
        assert_eq!(issued[0].user, "bob");
        assert_eq!(issued[0].client_id, "cid");

        let received = mock.received().await;
        assert_eq!(received.len(), 3);
        assert_eq!(received[1].form_param("code_verifier").as_deref(), Some(VERIFIER));
        assert_eq!(received[2].header("authorization"), Some(format!("Bearer {access}").as_str()));
        Ok(())
    }

    #[tokio::test]
    async fn round_trip_with_form_answer_and_basic_auth() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        let code = authorize(&mock, false).await?;
        let form = [("code", code.as_str()), ("redirect_uri", REDIRECT)];
        let resp = client().post(mock.token_url()).basic_auth("cid", Some("secret")).form(&form).send().await?;
        assert_eq!(resp.status(), 200);
        let ct = resp.headers().get("content-type").ok_or("no content-type")?.to_str()?.to_owned();
        assert!(ct.starts_with("application/x-www-form-urlencoded"), "{ct}");
        let pairs = crate::record::parse_form(&resp.text().await?);
        let access = pairs.iter().find(|(k, _)| k == "access_token").map(|(_, v)| v.clone()).ok_or("no token")?;
        assert!(pairs.contains(&("token_type".into(), "bearer".into())));

        let resp = client().get(mock.user_url()).header("authorization", format!("token {access}")).send().await?;
        assert_eq!(resp.status(), 200);
        let user: serde_json::Value = resp.json().await?;
        assert_eq!(user["login"], "alice");
        Ok(())
    }

    #[tokio::test]
    async fn bad_client_secret_is_invalid_client() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        let code = authorize(&mock, false).await?;
        let form =
            [("client_id", "cid"), ("client_secret", "wrong"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        let resp = token(&mock, &form, true).await?;
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = resp.json().await?;
        assert_eq!(body["error"], "invalid_client");

        let resp = client()
            .post(mock.token_url())
            .basic_auth("cid", Some("nope"))
            .form(&[("code", code.as_str()), ("redirect_uri", REDIRECT)])
            .send()
            .await?;
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("www-authenticate"));
        assert!(mock.issued().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn code_reuse_is_invalid_grant() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        let code = authorize(&mock, false).await?;
        let form =
            [("client_id", "cid"), ("client_secret", "secret"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        let first = token(&mock, &form, true).await?;
        assert_eq!(first.status(), 200);
        let first: serde_json::Value = first.json().await?;
        let second = token(&mock, &form, true).await?;
        assert_eq!(second.status(), 400);
        let body: serde_json::Value = second.json().await?;
        assert_eq!(body["error"], "invalid_grant");
        // The replay revoked the token the first redemption issued (RFC 6749 §4.1.2).
        let access = first["access_token"].as_str().ok_or("no token")?;
        let resp = client().get(mock.user_url()).bearer_auth(access).send().await?;
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = resp.json().await?;
        assert_eq!(body["message"], "Bad credentials");
        Ok(())
    }

    #[tokio::test]
    async fn wrong_pkce_verifier_is_invalid_grant() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        let code = authorize(&mock, true).await?;
        let wrong = "x".repeat(43);
        let form = [
            ("client_id", "cid"),
            ("client_secret", "secret"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", wrong.as_str()),
        ];
        let resp = token(&mock, &form, true).await?;
        assert_eq!(resp.status(), 400);
        let body: serde_json::Value = resp.json().await?;
        assert_eq!(body["error"], "invalid_grant");

        // A missing verifier is refused too.
        let code = authorize(&mock, true).await?;
        let form =
            [("client_id", "cid"), ("client_secret", "secret"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        let body: serde_json::Value = token(&mock, &form, true).await?.json().await?;
        assert_eq!(body["error"], "invalid_grant");
        Ok(())
    }

    #[tokio::test]
    async fn bad_authorize_requests_get_an_error_page() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        let c = client();
        let unknown = [("client_id", "other"), ("redirect_uri", REDIRECT), ("state", "s")];
        assert_eq!(c.get(mock.authorize_url()).query(&unknown).send().await?.status(), 400);
        let no_state = [("client_id", "cid"), ("redirect_uri", REDIRECT)];
        assert_eq!(c.get(mock.authorize_url()).query(&no_state).send().await?.status(), 400);
        let no_redirect = [("client_id", "cid"), ("state", "s")];
        assert_eq!(c.get(mock.authorize_url()).query(&no_redirect).send().await?.status(), 400);
        // plain PKCE is not something GitHub accepts: the error goes back to the client.
        let plain = [
            ("client_id", "cid"),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ];
        let resp = c.get(mock.authorize_url()).query(&plain).send().await?;
        assert_eq!(resp.status(), 302);
        let location = resp.headers().get("location").ok_or("no location")?.to_str()?;
        assert!(location.contains("error=invalid_request"), "{location}");
        assert!(mock.issued().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn garbage_gets_rfc_errors_not_panics() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        let c = client();
        let resp = c.post(mock.token_url()).header("authorization", "Basic %%%not-base64").body("x").send().await?;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.json::<serde_json::Value>().await?["error"], "invalid_client");
        let resp = c.post(mock.token_url()).body(vec![0xff, 0xfe, 0x00]).send().await?;
        assert_eq!(resp.status(), 401);
        let form = [("client_id", "cid"), ("client_id", "cid"), ("client_secret", "secret")];
        let resp = c.post(mock.token_url()).form(&form).send().await?;
        assert_eq!(resp.json::<serde_json::Value>().await?["error"], "invalid_request");
        let form = [("client_id", "cid"), ("client_secret", "secret"), ("code", "nope"), ("redirect_uri", REDIRECT)];
        let resp = c.post(mock.token_url()).form(&form).send().await?;
        assert_eq!(resp.json::<serde_json::Value>().await?["error"], "invalid_grant");
        let resp = c.get(mock.user_url()).header("authorization", "Bearer").send().await?;
        assert_eq!(resp.status(), 401);
        let resp = c.get(format!("{}/login/oauth/authorize?%zz=%", mock.base_url())).send().await?;
        assert_eq!(resp.status(), 400);
        Ok(())
    }

    #[tokio::test]
    async fn server_error_fault_breaks_the_token_endpoint() -> TestResult {
        let mock = GithubMock::start("cid", "secret").await;
        let code = authorize(&mock, false).await?;
        mock.set_fault(Fault::ServerError);
        let form =
            [("client_id", "cid"), ("client_secret", "secret"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        assert_eq!(token(&mock, &form, true).await?.status(), 500);
        mock.set_fault(Fault::None);
        assert_eq!(token(&mock, &form, true).await?.status(), 200);
        Ok(())
    }
}
