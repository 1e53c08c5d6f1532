//! The OAuth 2.0 machinery the GitHub and Google mocks share: one registered client, authorization
//! codes that are single-use and bound to client, redirect URI and PKCE challenge (RFC 6749 §4.1,
//! RFC 7636), client authentication by body or HTTP Basic (RFC 6749 §2.3.1), and RFC error bodies.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use wiremock::{Request, ResponseTemplate};

use crate::fault::Fault;
use crate::record::{IssuedToken, parse_form};
use crate::user::MockUser;

/// Authorization codes live as long as Google's and GitHub's (10 minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// A random URL-safe string with `bytes` bytes of entropy.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::Rng::fill(&mut rand::rng(), buf.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buf)
}

/// Request parameters (query or form) in wire order.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn query(req: &Request) -> Self {
        Self(req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub(crate) fn form(req: &Request) -> Self {
        Self(parse_form(&String::from_utf8_lossy(&req.body)))
    }

    /// The value of `name`, treating an empty value as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// RFC 6749 §3.1: parameters MUST NOT be included more than once.
    pub(crate) fn repeated(&self) -> Option<&str> {
        self.0
            .iter()
            .enumerate()
            .find(|(i, (k, _))| self.0[..*i].iter().any(|(seen, _)| seen == k))
            .map(|(_, (k, _))| k.as_str())
    }
}

/// An RFC 6749 §5.2 error answer.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// Set when the client tried HTTP Basic, so the 401 carries a challenge (RFC 6749 §5.2).
    pub basic_challenge: bool,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" { 401 } else { 400 };
        Self { status, error, description: description.into(), basic_challenge: false }
    }

    pub(crate) fn into_response(self) -> ResponseTemplate {
        let mut r = ResponseTemplate::new(self.status)
            .insert_header("cache-control", "no-store")
            .set_body_json(serde_json::json!({"error": self.error, "error_description": self.description}));
        if self.basic_challenge {
            r = r.insert_header("www-authenticate", "Basic realm=\"mock\"");
        }
        r
    }
}

/// The simple HTML error page providers show when they cannot safely redirect back.
pub(crate) fn error_page(status: u16, message: &str) -> ResponseTemplate {
    let body = format!("<!doctype html><title>Error {status}</title><h1>Error {status}</h1><p>{}</p>", escape(message));
    ResponseTemplate::new(status).set_body_raw(body, "text/html; charset=utf-8")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub user: MockUser,
    pub scope: String,
    /// (challenge, method) when the client used PKCE.
    pub pkce: Option<(String, String)>,
    pub nonce: Option<String>,
    /// Google's `access_type=offline` or an `offline_access` scope was requested.
    pub offline: bool,
    issued_at: Instant,
    used: bool,
}

/// What an access or refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct TokenGrant {
    pub user: MockUser,
    pub client_id: String,
    pub scope: String,
}

/// Provider-specific rules for the authorization endpoint.
pub(crate) struct AuthorizePolicy {
    /// Google insists on `response_type=code`; GitHub ignores the parameter.
    pub require_response_type: bool,
    /// Accepted `code_challenge_method`s; a challenge without a method means `plain` (RFC 7636 §4.3).
    pub pkce_methods: &'static [&'static str],
}

/// One provider's state: its registered client, who logs in next, and everything it issued.
#[derive(Debug)]
pub(crate) struct State {
    pub client_id: String,
    pub client_secret: String,
    pub user: MockUser,
    pub fault: Fault,
    pub codes: HashMap<String, CodeGrant>,
    pub access_tokens: HashMap<String, TokenGrant>,
    pub refresh_tokens: HashMap<String, TokenGrant>,
    pub issued: Vec<IssuedToken>,
}

impl State {
    pub(crate) fn new(client_id: &str, client_secret: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            user: MockUser::default(),
            fault: Fault::None,
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            issued: Vec::new(),
        }
    }

    /// The authorization endpoint with automatic consent: validate, mint a code, redirect back.
    pub(crate) fn authorize(&mut self, req: &Request, policy: &AuthorizePolicy) -> ResponseTemplate {
        let p = Params::query(req);
        if let Some(name) = p.repeated() {
            return error_page(400, &format!("parameter {name} was sent more than once"));
        }
        match p.get("client_id") {
            None => return error_page(400, "missing client_id"),
            Some(id) if id != self.client_id => return error_page(400, "unknown client_id"),
            Some(_) => {}
        }
        let Some(redirect_uri) = p.get("redirect_uri") else {
            return error_page(400, "missing redirect_uri");
        };
        let Ok(mut target) = url::Url::parse(redirect_uri) else {
            return error_page(400, "redirect_uri is not an absolute URL");
        };
        if target.fragment().is_some() {
            return error_page(400, "redirect_uri must not contain a fragment");
        }
        let Some(state) = p.get("state") else {
            return error_page(400, "missing state");
        };
        // From here on the redirect URI is trusted, so errors go back to the client (RFC 6749 §4.1.2.1).
        let back = |mut target: url::Url, error: &str, description: &str| {
            target
                .query_pairs_mut()
                .append_pair("error", error)
                .append_pair("error_description", description)
                .append_pair("state", state);
            ResponseTemplate::new(302).insert_header("location", target.as_str())
        };
        if policy.require_response_type {
            match p.get("response_type") {
                Some("code") => {}
                None => return back(target, "invalid_request", "missing response_type"),
                Some(_) => return back(target, "unsupported_response_type", "only response_type=code is supported"),
            }
        }
        let pkce = match (p.get("code_challenge"), p.get("code_challenge_method")) {
            (None, None) => None,
            (None, Some(_)) => return back(target, "invalid_request", "code_challenge_method without code_challenge"),
            (Some(challenge), method) => {
                let method = method.unwrap_or("plain");
                if !policy.pkce_methods.contains(&method) {
                    return back(target, "invalid_request", "unsupported code_challenge_method");
                }
                if !valid_pkce_string(challenge) {
                    return back(target, "invalid_request", "malformed code_challenge");
                }
                Some((challenge.to_owned(), method.to_owned()))
            }
        };
        let scope = p.get("scope").unwrap_or_default().to_owned();
        let offline = p.get("access_type") == Some("offline") || scope.split(' ').any(|s| s == "offline_access");
        let code = random_token(24);
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: self.client_id.clone(),
                redirect_uri: redirect_uri.to_owned(),
                user: self.user.clone(),
                scope,
                pkce,
                nonce: p.get("nonce").map(str::to_owned),
                offline,
                issued_at: Instant::now(),
                used: false,
            },
        );
        target.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
        ResponseTemplate::new(302).insert_header("location", target.as_str())
    }

    /// RFC 6749 §2.3.1: `client_id`/`client_secret` in the body or HTTP Basic, never both.
    pub(crate) fn authenticate_client(&self, req: &Request, p: &Params) -> Result<String, OAuthError> {
        let basic = basic_credentials(req)?;
        let used_basic = basic.is_some();
        let (id, secret) = match basic {
            Some((id, secret)) => {
                if p.get("client_secret").is_some() {
                    return Err(OAuthError::new("invalid_request", "more than one client authentication method"));
                }
                if p.get("client_id").is_some_and(|body_id| body_id != id) {
                    return Err(OAuthError::new("invalid_request", "client_id in body differs from HTTP Basic"));
                }
                (id, Some(secret))
            }
            None => match p.get("client_id") {
                Some(id) => (id.to_owned(), p.get("client_secret").map(str::to_owned)),
                None => return Err(OAuthError::new("invalid_client", "client authentication missing")),
            },
        };
        let ok = id == self.client_id && secret.as_deref() == Some(self.client_secret.as_str());
        if ok {
            Ok(id)
        } else {
            let mut e = OAuthError::new("invalid_client", "client authentication failed");
            e.basic_challenge = used_basic;
            Err(e)
        }
    }

    /// Redeems an authorization code for `client_id`: single use, unexpired, same redirect URI,
    /// PKCE verified. A second redemption also revokes what the first one issued (RFC 6749 §4.1.2).
    pub(crate) fn redeem_code(&mut self, client_id: &str, p: &Params) -> Result<CodeGrant, OAuthError> {
        let Some(code) = p.get("code") else {
            return Err(OAuthError::new("invalid_request", "missing code"));
        };
        let Some(grant) = self.codes.get_mut(code) else {
            return Err(OAuthError::new("invalid_grant", "unknown authorization code"));
        };
        if grant.used {
            let user = grant.user.login.clone();
            let client = grant.client_id.clone();
            self.access_tokens.retain(|_, t| !(t.user.login == user && t.client_id == client));
            self.refresh_tokens.retain(|_, t| !(t.user.login == user && t.client_id == client));
            return Err(OAuthError::new("invalid_grant", "authorization code already used"));
        }
        grant.used = true;
        let grant = grant.clone();
        if grant.issued_at.elapsed() > CODE_LIFETIME {
            return Err(OAuthError::new("invalid_grant", "authorization code expired"));
        }
        if grant.client_id != client_id {
            return Err(OAuthError::new("invalid_grant", "code was issued to another client"));
        }
        match p.get("redirect_uri") {
            None => return Err(OAuthError::new("invalid_request", "missing redirect_uri")),
            Some(uri) if uri != grant.redirect_uri => {
                return Err(OAuthError::new("invalid_grant", "redirect_uri does not match the authorization request"));
            }
            Some(_) => {}
        }
        match (&grant.pkce, p.get("code_verifier")) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(OAuthError::new("invalid_grant", "code_verifier sent but no code_challenge was"));
            }
            (Some(_), None) => return Err(OAuthError::new("invalid_grant", "missing code_verifier")),
            (Some((challenge, method)), Some(verifier)) => {
                if !pkce_matches(challenge, method, verifier) {
                    return Err(OAuthError::new("invalid_grant", "code_verifier does not match code_challenge"));
                }
            }
        }
        Ok(grant)
    }

    /// The grant behind `Authorization: Bearer <token>` (or GitHub's `token <token>`).
    pub(crate) fn bearer(&self, req: &Request, allow_token_scheme: bool) -> Option<(&str, &TokenGrant)> {
        let value = req.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        let scheme_ok =
            scheme.eq_ignore_ascii_case("bearer") || (allow_token_scheme && scheme.eq_ignore_ascii_case("token"));
        if !scheme_ok {
            return None;
        }
        self.access_tokens.get_key_value(token.trim()).map(|(k, v)| (k.as_str(), v))
    }
}

/// `Authorization: Basic` credentials, form-urlencoded inside per RFC 6749 §2.3.1.
fn basic_credentials(req: &Request) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        let mut e = OAuthError::new("invalid_client", "malformed HTTP Basic credentials");
        e.basic_challenge = true;
        e
    };
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::new("invalid_request", "unsupported Authorization scheme at the token endpoint"));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// RFC 7636 §4.1: 43-128 characters from the unreserved set.
fn valid_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// RFC 7636 §4.6.
pub(crate) fn pkce_matches(challenge: &str, method: &str, verifier: &str) -> bool {
    if !valid_pkce_string(verifier) {
        return false;
    }
    match method {
        "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge,
        "plain" => verifier == challenge,
        _ => false,
    }
}

/// The S256 challenge for `verifier`, for tests and harness steps.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Answer for [`Fault::ServerError`] at a token endpoint.
pub(crate) fn server_error() -> ResponseTemplate {
    ResponseTemplate::new(500)
        .set_body_json(serde_json::json!({"error": "server_error", "error_description": "injected fault"}))
}

/// Shared preamble of both token endpoints: method, duplicates, client authentication.
pub(crate) fn token_request(state: &State, req: &Request) -> Result<(Params, String), OAuthError> {
    let p = Params::form(req);
    if let Some(name) = p.repeated() {
        return Err(OAuthError::new("invalid_request", format!("parameter {name} was sent more than once")));
    }
    let client_id = state.authenticate_client(req, &p)?;
    Ok((p, client_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(pkce_challenge(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256", verifier));
        assert!(!pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256", "short"));
    }
}
