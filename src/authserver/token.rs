//! `POST /oauth/token`: the `authorization_code` and `refresh_token` grants (RFC 6749 §4.1.3,
//! §6), PKCE (RFC 7636 §4.6), resource indicators (RFC 8707 §2.2), errors per RFC 6749 §5.2.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::AuthServer;
use super::authorize::{Params, is_pkce_string};
use super::callback::CODE_PREFIX;
use super::error::TokenError;
use super::jwt::{self, AccessTokenClaims};
use super::keys::{ct_eq, s256};
use super::store::{ClientRecord, GrantRecord, RefreshTokenRecord, ResolvedUser, now_unix};
use crate::defects::Defect;

/// Prefix of issued refresh tokens.
pub const REFRESH_PREFIX: &str = "vmcp_rt_";

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponseBody {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

pub async fn token(State(s): State<Arc<AuthServer>>, headers: HeaderMap, body: Bytes) -> Response {
    match s.token_request(&headers, &body).await {
        Ok(body) => {
            let mut resp = axum::Json(body).into_response();
            let h = resp.headers_mut();
            if !s.defects.is_on(Defect::TokenResponseCacheable) {
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            }
            resp
        }
        Err(e) => {
            let mut resp = e.into_response();
            let h = resp.headers_mut();
            if s.defects.is_on(Defect::OAuthErrorsCacheable) {
                h.remove(header::CACHE_CONTROL);
                h.remove(header::PRAGMA);
            }
            if s.defects.is_on(Defect::InvalidClientWithoutChallenge) {
                h.remove(header::WWW_AUTHENTICATE);
            }
            resp
        }
    }
}

/// `Authorization: Basic` credentials, form-decoded (RFC 6749 §2.3.1). `Err` when malformed.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ())?;
    let Some((scheme, rest)) = value.split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    let form_decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn offline(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == "offline_access" || s == "offline")
}

impl AuthServer {
    pub async fn token_request(&self, headers: &HeaderMap, body: &[u8]) -> Result<TokenResponseBody, TokenError> {
        let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if body.is_empty() {
            return Err(TokenError::InvalidRequest("the request body is empty".into()));
        }
        if !ct.trim_start().starts_with("application/x-www-form-urlencoded") {
            return Err(TokenError::InvalidRequest("the body must be application/x-www-form-urlencoded".into()));
        }
        let p = Params::parse(body);
        if p.is_empty() {
            return Err(TokenError::InvalidRequest("the request has no parameters".into()));
        }
        let single = |name: &str| p.get(name).map_err(TokenError::InvalidRequest);
        let grant_type =
            single("grant_type")?.ok_or_else(|| TokenError::InvalidRequest("grant_type is required".into()))?;
        if !matches!(grant_type, "authorization_code" | "refresh_token") {
            if self.defects.is_on(Defect::UnknownGrantAsInvalidRequest) {
                return Err(TokenError::InvalidRequest(format!("grant_type `{grant_type}` is not supported")));
            }
            return Err(TokenError::UnsupportedGrantType(format!("grant_type `{grant_type}` is not supported")));
        }
        let client = self.authenticate_client(headers, &p).await?;
        if !client.grant_types.iter().any(|g| g == grant_type) {
            return Err(TokenError::UnauthorizedClient(format!("the client is not registered for `{grant_type}`")));
        }
        if grant_type == "authorization_code" {
            self.code_grant(&client, &p).await
        } else {
            self.refresh_grant(&client, &p).await
        }
    }

    /// Public clients: `client_id` in the body or as a Basic user name, no secret.
    async fn authenticate_client(&self, headers: &HeaderMap, p: &Params) -> Result<ClientRecord, TokenError> {
        let basic = basic_credentials(headers);
        let realm = matches!(basic, Ok(Some(_)) | Err(())).then(|| self.config.issuer.clone());
        let invalid_client =
            |d: &str| TokenError::InvalidClient { description: d.to_owned(), basic_realm: realm.clone() };
        let basic = basic.map_err(|_| invalid_client("malformed Basic credentials"))?;
        let body_id = p.get("client_id").map_err(TokenError::InvalidRequest)?;
        let body_secret = p.get("client_secret").map_err(TokenError::InvalidRequest)?;
        let client_id = match (&basic, body_id) {
            (Some((b, _)), Some(i)) if b != i => {
                return Err(TokenError::InvalidRequest("client_id differs from the Basic credentials".into()));
            }
            (Some((b, _)), _) => b.clone(),
            (None, Some(i)) => i.to_owned(),
            (None, None) => return Err(invalid_client("client authentication failed: no client_id")),
        };
        let client = match self.lookup_client(&client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(invalid_client("client authentication failed: unknown client")),
            Err(super::cimd::ClientLookupError::Invalid(d)) => return Err(invalid_client(&d)),
            Err(super::cimd::ClientLookupError::Storage(e)) => return Err(e.into()),
        };
        let basic_secret = basic.as_ref().is_some_and(|(_, s)| !s.is_empty());
        if basic_secret || body_secret.is_some() {
            return Err(invalid_client("client authentication failed: a public client must not present a secret"));
        }
        if self.defects.is_on(Defect::RefusePublicClients) {
            return Err(invalid_client("client authentication failed: a client secret is required"));
        }
        Ok(client)
    }

    /// RFC 8707 §2.2: the audience of the token being issued.
    fn audience(&self, p: &Params, authorized: Option<&str>) -> Result<String, TokenError> {
        match p.all("resource").as_slice() {
            [] => match authorized {
                Some(r) => Ok(r.to_owned()),
                None => match self.config.allowed_audiences.as_slice() {
                    [only] => Ok(only.clone()),
                    _ => Err(TokenError::InvalidTarget(
                        "resource is required: this server issues tokens for several audiences".into(),
                    )),
                },
            },
            [r] => {
                self.check_resource(r).map_err(TokenError::InvalidTarget)?;
                if authorized.is_some_and(|a| a != *r) {
                    return Err(TokenError::InvalidTarget(format!("resource `{r}` was not authorized")));
                }
                Ok((*r).to_owned())
            }
            _ => Err(TokenError::InvalidTarget("only one resource parameter is supported".into())),
        }
    }

    async fn code_grant(&self, client: &ClientRecord, p: &Params) -> Result<TokenResponseBody, TokenError> {
        let single = |name: &str| p.get(name).map_err(TokenError::InvalidRequest);
        let code = single("code")?.ok_or_else(|| TokenError::InvalidRequest("code is required".into()))?;
        let id = self
            .hmac
            .verify(CODE_PREFIX, code)
            .ok_or_else(|| TokenError::InvalidGrant("the authorization code is invalid".into()))?;
        let store = self.store();
        let grant_ttl = self.config.lifespans.refresh_token;
        let Some(rec) = store.take_code(&id).await? else {
            if let Some(grant_id) = store.code_used_by(&id).await? {
                // RFC 6749 §4.1.2: deny, and revoke what the first redemption issued.
                store.revoke_grant(&grant_id, grant_ttl).await?;
                return Err(TokenError::InvalidGrant("the authorization code has already been used".into()));
            }
            return Err(TokenError::InvalidGrant("the authorization code is unknown or expired".into()));
        };
        let grant_id = uuid::Uuid::new_v4().to_string();
        if self.defects.is_on(Defect::AllowCodeReuse) {
            store.put_code(&id, &rec, self.config.lifespans.auth_code).await?;
        } else {
            store.mark_code_used(&id, &grant_id, grant_ttl).await?;
        }
        if rec.expires_at < now_unix() && !self.defects.is_on(Defect::IgnoreAuthCodeLifespan) {
            return Err(TokenError::InvalidGrant("the authorization code expired".into()));
        }
        if rec.client.client_id != client.client_id {
            return Err(TokenError::InvalidGrant("the authorization code was issued to another client".into()));
        }
        match single("redirect_uri")? {
            Some(r) if r == rec.client.redirect_uri => {}
            Some(_) => {
                return Err(TokenError::InvalidGrant("redirect_uri does not match the authorization request".into()));
            }
            None if rec.client.redirect_uri_explicit => {
                return Err(TokenError::InvalidGrant(
                    "redirect_uri is required: it was sent in the authorization request".into(),
                ));
            }
            None => {}
        }
        if !self.defects.is_on(Defect::SkipPkceVerification) {
            let verifier = single("code_verifier")?
                .ok_or_else(|| TokenError::InvalidGrant("code_verifier is required (PKCE)".into()))?;
            if !is_pkce_string(verifier) {
                return Err(TokenError::InvalidGrant(
                    "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]".into(),
                ));
            }
            if !ct_eq(&s256(verifier), &rec.client.code_challenge) {
                return Err(TokenError::InvalidGrant("code_verifier does not match the code_challenge".into()));
            }
        }
        let audience = self.audience(p, rec.client.resource.as_deref())?;
        let scopes = rec.client.scopes.clone();
        let (access_token, jti, expires_in) =
            self.mint_access_token(&client.client_id, &rec.user, &rec.session_id, &scopes, &audience)?;
        let mut grant =
            GrantRecord { client_id: client.client_id.clone(), refresh_tokens: vec![], access_token_ids: vec![jti] };
        let refresh_token = if offline(&scopes) && client.grant_types.iter().any(|g| g == "refresh_token") {
            let record = RefreshTokenRecord {
                client_id: client.client_id.clone(),
                grant_id: grant_id.clone(),
                user: rec.user.clone(),
                session_id: rec.session_id.clone(),
                scopes: scopes.clone(),
                authorized_resource: rec.client.resource.clone(),
                audience,
                expires_at: now_unix().saturating_add(grant_ttl.as_secs()),
            };
            let (token, rid) = self.hmac.mint(REFRESH_PREFIX);
            store.put_refresh(&rid, &record, grant_ttl).await?;
            grant.refresh_tokens.push(rid);
            Some(token)
        } else {
            None
        };
        store.put_grant(&grant_id, &grant, grant_ttl).await?;
        Ok(TokenResponseBody {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            scope: scopes.join(" "),
            refresh_token,
        })
    }

    async fn refresh_grant(&self, client: &ClientRecord, p: &Params) -> Result<TokenResponseBody, TokenError> {
        let single = |name: &str| p.get(name).map_err(TokenError::InvalidRequest);
        let presented =
            single("refresh_token")?.ok_or_else(|| TokenError::InvalidRequest("refresh_token is required".into()))?;
        let id = self
            .hmac
            .verify(REFRESH_PREFIX, presented)
            .ok_or_else(|| TokenError::InvalidGrant("the refresh token is invalid".into()))?;
        let store = self.store();
        let ttl = self.config.lifespans.refresh_token;
        let Some(rec) = store.refresh(&id).await? else {
            if let Some(grant_id) = store.refresh_used_by(&id).await? {
                // RFC 9700 §4.14.2: a rotated-out token came back; revoke the whole grant.
                store.revoke_grant(&grant_id, ttl).await?;
                return Err(TokenError::InvalidGrant(
                    "the refresh token was already used; the grant is revoked".into(),
                ));
            }
            return Err(TokenError::InvalidGrant("the refresh token is unknown, expired or already used".into()));
        };
        if rec.client_id != client.client_id && !self.defects.is_on(Defect::AllowRefreshByOtherClient) {
            return Err(TokenError::InvalidGrant("the refresh token was issued to another client".into()));
        }
        if self.defects.is_on(Defect::NoRefreshRotation) {
            let audience = rec.audience.clone();
            let (access_token, _, expires_in) =
                self.mint_access_token(&client.client_id, &rec.user, &rec.session_id, &rec.scopes, &audience)?;
            return Ok(TokenResponseBody {
                access_token,
                token_type: "Bearer".into(),
                expires_in,
                scope: rec.scopes.join(" "),
                refresh_token: Some(presented.to_owned()),
            });
        }
        // Rotation: exactly one caller consumes it.
        let Some(rec) = store.take_refresh(&id).await? else {
            return Err(TokenError::InvalidGrant("the refresh token is unknown, expired or already used".into()));
        };
        if self.defects.is_on(Defect::AllowRefreshReplay) {
            store.put_refresh(&id, &rec, ttl).await?;
        } else {
            store.mark_refresh_used(&id, &rec.grant_id, ttl).await?;
        }
        if store.grant_revoked(&rec.grant_id).await? {
            return Err(TokenError::InvalidGrant("the grant was revoked".into()));
        }
        if rec.expires_at < now_unix() {
            return Err(TokenError::InvalidGrant("the refresh token expired".into()));
        }
        // RFC 6749 §6: a narrower scope may be requested; the refresh token keeps the original.
        let scopes = match single("scope")? {
            None => rec.scopes.clone(),
            Some(s) => {
                let requested: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
                if let Some(extra) = requested.iter().find(|r| !rec.scopes.contains(r)) {
                    return Err(TokenError::InvalidScope(format!("scope `{extra}` was not granted originally")));
                }
                requested
            }
        };
        let audience = match p.all("resource").as_slice() {
            [] => rec.audience.clone(),
            _ => self.audience(p, rec.authorized_resource.as_deref())?,
        };
        let (access_token, jti, expires_in) =
            self.mint_access_token(&client.client_id, &rec.user, &rec.session_id, &scopes, &audience)?;
        let (token, rid) = self.hmac.mint(REFRESH_PREFIX);
        let next = RefreshTokenRecord { audience, expires_at: now_unix().saturating_add(ttl.as_secs()), ..rec.clone() };
        store.put_refresh(&rid, &next, ttl).await?;
        let mut grant = store
            .grant(&rec.grant_id)
            .await?
            .unwrap_or_else(|| GrantRecord { client_id: client.client_id.clone(), ..Default::default() });
        grant.refresh_tokens.retain(|r| r != &id);
        grant.refresh_tokens.push(rid);
        grant.access_token_ids.push(jti);
        store.put_grant(&rec.grant_id, &grant, ttl).await?;
        Ok(TokenResponseBody {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            scope: scopes.join(" "),
            refresh_token: Some(token),
        })
    }

    /// Signs an access token; returns it with its `jti` and `expires_in`.
    fn mint_access_token(
        &self,
        client_id: &str,
        user: &ResolvedUser,
        session_id: &str,
        scopes: &[String],
        audience: &str,
    ) -> Result<(String, String, u64), TokenError> {
        let mut lifespan = self.config.lifespans.access_token.as_secs();
        if self.defects.is_on(Defect::DoubleAccessTokenLifespan) {
            lifespan = lifespan.saturating_mul(2);
        }
        let iat = now_unix();
        let iss = if self.defects.is_on(Defect::JwtIssuerTrailingSlash) {
            format!("{}/", self.config.issuer)
        } else {
            self.config.issuer.clone()
        };
        let audience = if self.defects.is_on(Defect::AudienceIgnoresResource) { &self.config.issuer } else { audience };
        let claims = AccessTokenClaims {
            iss,
            sub: user.user_id.clone(),
            aud: vec![audience.to_owned()],
            exp: iat.saturating_add(lifespan),
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            scp: scopes.to_vec(),
            client_id: client_id.to_owned(),
            tsid: session_id.to_owned(),
            name: user.name.clone().filter(|s| !s.is_empty() && !self.defects.is_on(Defect::DropNameClaim)),
            email: user.email.clone().filter(|s| !s.is_empty()),
        };
        let token = jwt::sign(self.keys.active(), &claims).map_err(|e| {
            tracing::error!(error = %e, "cannot sign an access token");
            TokenError::ServerError("cannot sign the access token".into())
        })?;
        Ok((token, claims.jti, lifespan))
    }
}
