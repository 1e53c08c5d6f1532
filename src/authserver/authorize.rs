//! `GET /oauth/authorize`: validate the client's request, then send the user to the first upstream.
//!
//! Before the redirect URI is verified, errors are JSON (never redirect to an unverified URI,
//! RFC 6749 §4.1.2.1); after, they are redirected to the client. PKCE (S256 only) and `state`
//! (at least 8 characters) are required here, before any upstream login (OAuth 2.1 §4.1.1,
//! RFC 9700 §2.1.1).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::AuthServer;
use super::error::{AuthorizeError, RedirectError, found};
use super::keys::{random_token, s256};
use super::store::{ClientRecord, ClientRequest, PendingAuthorization, ResolvedUser, now_unix};
use crate::defects::Defect;
use crate::storage::StorageError;

/// The minimum length of the client's `state`.
pub const MIN_STATE_LEN: usize = 8;

/// Form or query parameters, with RFC 6749 §3.1 semantics: empty values count as absent, and a
/// parameter must not be repeated.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(encoded: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(encoded).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The single non-empty value of `name`; `Err` when it is repeated.
    pub fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let mut it = self.all(name).into_iter();
        let first = it.next();
        if it.next().is_some() {
            return Err(format!("parameter `{name}` must not be repeated"));
        }
        Ok(first)
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str()).collect()
    }
}

pub async fn authorize(State(s): State<Arc<AuthServer>>, RawQuery(query): RawQuery) -> Response {
    match s.authorize_request(query.as_deref().unwrap_or("")).await {
        Ok(location) => found(&location),
        Err(e) => e.into_response(),
    }
}

/// RFC 7636 §4.1/§4.2: 43-128 characters of `[A-Za-z0-9-._~]`.
pub fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The registered redirect URI `requested` matches: exactly, or for a loopback `http` URI on
/// any port (RFC 8252 §7.3). Returns the URI to use (the requested one).
fn match_redirect_uri(client: &ClientRecord, requested: &str) -> Option<String> {
    if client.redirect_uris.iter().any(|r| r == requested) {
        return Some(requested.to_owned());
    }
    let req = url::Url::parse(requested).ok()?;
    if req.scheme() != "http" || !req.host_str().is_some_and(super::is_loopback_host) {
        return None;
    }
    if !req.username().is_empty() || req.password().is_some() || req.fragment().is_some() {
        return None;
    }
    client.redirect_uris.iter().find_map(|r| {
        let reg = url::Url::parse(r).ok()?;
        let same = reg.scheme() == "http"
            && reg.host_str() == req.host_str()
            && reg.path() == req.path()
            && reg.query() == req.query();
        same.then(|| requested.to_owned())
    })
}

impl AuthServer {
    /// Validates the request and returns where to send the user agent (the first upstream).
    pub async fn authorize_request(&self, query: &str) -> Result<String, AuthorizeError> {
        let p = Params::parse(query.as_bytes());
        let client_id = p
            .get("client_id")
            .map_err(AuthorizeError::InvalidRequest)?
            .ok_or_else(|| AuthorizeError::InvalidRequest("client_id is required".into()))?;
        let client = match self.lookup_client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(AuthorizeError::InvalidClient("the client is not registered".into())),
            Err(crate::authserver::cimd::ClientLookupError::Invalid(d)) => {
                return Err(AuthorizeError::InvalidClient(d));
            }
            Err(crate::authserver::cimd::ClientLookupError::Storage(e)) => {
                return Err(AuthorizeError::ServerError(e.to_string()));
            }
        };
        let explicit = p.get("redirect_uri").map_err(AuthorizeError::InvalidRequest)?;
        let redirect_uri = match explicit {
            Some(r)
                if self.defects.is_on(Defect::LooseRedirectUriMatch)
                    && client.redirect_uris.iter().any(|u| r.starts_with(u.as_str())) =>
            {
                r.to_owned()
            }
            Some(r) => match_redirect_uri(&client, r).ok_or_else(|| {
                let desc = "redirect_uri does not match any URI registered for the client";
                if self.defects.is_on(Defect::RedirectErrorsToUnverifiedUri) {
                    let state = p.get("state").ok().flatten();
                    return RedirectError::new(r, "invalid_request", desc, state).into();
                }
                AuthorizeError::InvalidRequest(desc.into())
            })?,
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => {
                return Err(AuthorizeError::InvalidRequest(
                    "redirect_uri is required: the client registered several".into(),
                ));
            }
        };

        // The redirect URI is trusted from here on: errors go back to the client.
        let state = p.get("state").ok().flatten();
        let fail = |error: &'static str, desc: &str| -> AuthorizeError {
            RedirectError::new(&redirect_uri, error, desc, state).into()
        };
        let single = |name: &str| p.get(name).map_err(|d| fail("invalid_request", &d));

        match single("response_type")? {
            None => return Err(fail("invalid_request", "response_type is required")),
            Some("code") => {}
            Some(_) => return Err(fail("unsupported_response_type", "only response_type=code is supported")),
        }
        let lax_state = self.defects.is_on(Defect::AcceptMissingState);
        let state = match single("state")? {
            None if lax_state => String::new(),
            None => return Err(fail("invalid_request", "state is required")),
            Some(s) if s.chars().count() < MIN_STATE_LEN && !lax_state => {
                return Err(fail("invalid_request", "state must be at least 8 characters"));
            }
            Some(s) => s.to_owned(),
        };
        let code_challenge = match single("code_challenge")? {
            None => return Err(fail("invalid_request", "code_challenge is required (PKCE with S256)")),
            Some(c) => c.to_owned(),
        };
        match single("code_challenge_method")? {
            Some("S256") => {}
            Some("plain") if self.defects.is_on(Defect::AcceptPlainPkce) => {}
            None => return Err(fail("invalid_request", "code_challenge_method is required and must be S256")),
            Some(m) => {
                return Err(fail(
                    "invalid_request",
                    &format!("code_challenge_method `{m}` is not supported; use S256"),
                ));
            }
        }
        if !is_pkce_string(&code_challenge) {
            return Err(fail("invalid_request", "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]"));
        }
        let mut scopes: Vec<String> = Vec::new();
        for s in single("scope")?.unwrap_or("").split_whitespace() {
            if !client.scopes.iter().any(|c| c == s) && !self.defects.is_on(Defect::AcceptUnregisteredScope) {
                return Err(fail("invalid_scope", &format!("scope `{s}` is not registered for this client")));
            }
            if !scopes.iter().any(|x| x == s) {
                scopes.push(s.to_owned());
            }
        }
        let resource = match p.all("resource").as_slice() {
            [] => None,
            [r] => {
                self.check_resource(r).map_err(|d| fail("invalid_target", &d))?;
                Some((*r).to_owned())
            }
            _ => return Err(fail("invalid_target", "only one resource parameter is supported")),
        };
        let request = ClientRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            redirect_uri_explicit: explicit.is_some(),
            state,
            code_challenge,
            scopes,
            resource,
        };
        let session_id = random_token(24);
        self.start_leg(self.chain_order()[0], request, session_id, None).await.map_err(|e| {
            tracing::error!(error = %e, "authorize: storage failure");
            fail("server_error", "the authorization server's storage is unavailable")
        })
    }

    /// RFC 8707 §2: an absolute URI without fragment that is one of the allowed audiences.
    pub(crate) fn check_resource(&self, r: &str) -> Result<(), String> {
        let u = url::Url::parse(r).map_err(|_| format!("resource `{r}` is not an absolute URI"))?;
        if u.fragment().is_some() {
            return Err(format!("resource `{r}` must not contain a fragment"));
        }
        if !self.config.allowed_audiences.iter().any(|a| a == r)
            && !self.defects.is_on(crate::defects::Defect::AcceptAnyResource)
        {
            return Err(format!("resource `{r}` is not an audience this server issues tokens for"));
        }
        Ok(())
    }

    /// Upstream indexes in the order a login visits them: the order of `upstreamProviders`
    /// (embedded-auth-server-vmcp.mdx#how-it-works). Never empty: start-up requires an upstream.
    pub(crate) fn chain_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.upstreams.len()).collect();
        if self.defects.is_on(crate::defects::Defect::ReverseUpstreamChain) {
            order.reverse();
        }
        order
    }

    /// Stores a pending authorization for upstream `index` and returns its authorization URL.
    pub(crate) async fn start_leg(
        &self,
        index: usize,
        client: ClientRequest,
        session_id: String,
        user: Option<ResolvedUser>,
    ) -> Result<String, StorageError> {
        let upstream = &self.upstreams[index];
        let internal_state = random_token(24);
        let verifier = random_token(32);
        let nonce = random_token(16);
        let mut url = upstream.authorization_url(&internal_state, &s256(&verifier), &nonce);
        if self.defects.is_on(Defect::LeakClientIdUpstream)
            && let Ok(mut u) = url::Url::parse(&url)
        {
            u.query_pairs_mut().append_pair("mcp_client_id", &client.client_id);
            url = u.to_string();
        }
        let pending = PendingAuthorization {
            client,
            provider: upstream.name.clone(),
            upstream_code_verifier: verifier,
            upstream_nonce: nonce,
            session_id,
            user,
            created_at: now_unix(),
        };
        self.store().put_pending(&internal_state, &pending).await?;
        Ok(url)
    }
}
