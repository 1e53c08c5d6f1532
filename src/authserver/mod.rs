//! The embedded OAuth authorization server.
//!
//! One [`AuthServer`] per vMCP: [`AuthServer::start`] validates the configuration, loads keys and
//! discovers OIDC upstreams; [`AuthServer::router`] serves the routes at the root of the vMCP
//! listener whatever the issuer's path (docs KE:201-205):
//!
//! | route | module |
//! |---|---|
//! | `GET /.well-known/oauth-authorization-server[/…]`, `GET /.well-known/openid-configuration[/…]`, `GET /.well-known/jwks.json` | [`discovery`] |
//! | `POST /oauth/register` | [`register`] |
//! | `GET /oauth/authorize` | [`authorize`] |
//! | `GET /oauth/callback` | [`callback`] |
//! | `POST /oauth/token` | [`token`] |

pub mod authorize;
pub mod bench;
pub mod callback;
pub mod cimd;
pub mod config;
pub mod discovery;
pub mod error;
pub mod jwt;
pub mod keys;
pub mod register;
pub mod store;
pub mod token;
pub mod upstream;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;

use self::config::{AuthServerConfig, DEFAULT_SCOPES_SUPPORTED};
pub use self::error::AuthServerError;
use self::keys::{HmacSecrets, KeySet};
use self::store::{Store, StoredUpstreamTokens, now_unix};
use self::upstream::Upstream;
use crate::defects::Defects;
use crate::storage::Storage;
use crate::vmcp::embedded::{EmbeddedAuth, EmbeddedAuthError, UpstreamTokens, VerificationKey};

/// The request-body limit of every route (413 beyond it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A running authorization server.
pub struct AuthServer {
    config: AuthServerConfig,
    scopes_supported: Vec<String>,
    storage: Arc<dyn Storage>,
    http: reqwest::Client,
    defects: Defects,
    keys: KeySet,
    hmac: HmacSecrets,
    upstreams: Vec<Upstream>,
    cimd_cache: cimd::CimdCache,
}

impl std::fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthServer")
            .field("issuer", &self.config.issuer)
            .field("storage", &self.storage.describe())
            .field("keys", &self.keys)
            .field("upstreams", &self.upstreams.iter().map(|u| &u.name).collect::<Vec<_>>())
            .finish()
    }
}

impl AuthServer {
    /// Loads keys (PEM RSA or EC from config, else an ephemeral ES256 key), HMAC secrets
    /// (>= 32 bytes, else error; empty => ephemeral), runs OIDC discovery of OIDC upstreams (via
    /// the given reqwest client), validates the config (issuer rules: https, http only for
    /// localhost/127.0.0.0/8/::1 unless insecure_allow_http; no query/fragment/trailing slash).
    pub async fn start(
        config: AuthServerConfig,
        storage: Arc<dyn Storage>,
        http: reqwest::Client,
        defects: Defects,
    ) -> Result<Arc<AuthServer>, AuthServerError> {
        let allow_http = config.insecure_allow_http || defects.is_on(crate::defects::Defect::AllowHttpIssuer);
        validate_issuer_like(&config.issuer, allow_http, "issuer")?;
        if let Some(base) = &config.authorization_endpoint_base_url {
            validate_issuer_like(base, config.insecure_allow_http, "authorizationEndpointBaseUrl")?;
        }
        let scopes_supported: Vec<String> = if config.scopes_supported.is_empty() {
            DEFAULT_SCOPES_SUPPORTED.iter().map(|s| s.to_string()).collect()
        } else {
            dedup(&config.scopes_supported)
        };
        // Docs VE:322-324: every baseline scope must be supported.
        if let Some(s) = config.baseline_client_scopes.iter().find(|s| !scopes_supported.contains(s))
            && !defects.is_on(crate::defects::Defect::AcceptUnsupportedBaselineScopes)
        {
            return Err(AuthServerError::config(
                "baselineClientScopes",
                format!("`{s}` is not in scopes_supported ({})", scopes_supported.join(" ")),
            ));
        }
        if config.allowed_audiences.is_empty() {
            return Err(AuthServerError::config("allowedAudiences", "at least one audience is required"));
        }
        if config.upstreams.is_empty() {
            return Err(AuthServerError::config("upstreamProviders", "at least one upstream provider is required"));
        }
        let mut names = BTreeSet::new();
        for (i, u) in config.upstreams.iter().enumerate() {
            if !names.insert(u.name.as_str()) {
                return Err(AuthServerError::config(format!("upstreamProviders[{i}].name"), "duplicate name"));
            }
        }
        if let Some(p) = &config.primary_upstream_provider
            && !names.contains(p.as_str())
            && !defects.is_on(crate::defects::Defect::SkipFieldAdmissionRules)
        {
            return Err(AuthServerError::config("primaryUpstreamProvider", format!("no upstream is named `{p}`")));
        }
        let l = &config.lifespans;
        for (field, d) in [
            ("tokenLifespans.accessTokenLifespan", l.access_token),
            ("tokenLifespans.refreshTokenLifespan", l.refresh_token),
            ("tokenLifespans.authCodeLifespan", l.auth_code),
        ] {
            if d.as_secs() == 0 {
                return Err(AuthServerError::config(field, "must be at least one second"));
            }
        }
        let signing_keys: &[String] = if defects.is_on(crate::defects::Defect::IgnoreSigningKeyRefs) {
            &[]
        } else if defects.is_on(crate::defects::Defect::DropFallbackSigningKeys) {
            &config.signing_keys_pem[..config.signing_keys_pem.len().min(1)]
        } else {
            &config.signing_keys_pem
        };
        let keys = if signing_keys.is_empty() && defects.is_on(crate::defects::Defect::ReuseEphemeralSigningKey) {
            KeySet::process_wide_ephemeral()?
        } else if defects.is_on(crate::defects::Defect::SkipFieldAdmissionRules) {
            // Test-only: a key that does not parse is silently replaced by an ephemeral one.
            KeySet::load(signing_keys).or_else(|_| KeySet::load(&[]))?
        } else {
            KeySet::load(signing_keys)?
        };
        let hmac = if config.hmac_secrets.is_empty() && defects.is_on(crate::defects::Defect::ReuseEphemeralHmacSecret)
        {
            HmacSecrets::process_wide_ephemeral()
        } else if defects.is_on(crate::defects::Defect::AcceptShortHmacSecret) {
            HmacSecrets::load_unchecked(&config.hmac_secrets)?
        } else {
            HmacSecrets::load(&config.hmac_secrets)?
        };
        let mut upstreams = Vec::with_capacity(config.upstreams.len());
        for (i, u) in config.upstreams.iter().enumerate() {
            let mut u = u.clone();
            if defects.is_on(crate::defects::Defect::DropAdditionalAuthorizationParams) {
                match &mut u.kind {
                    config::UpstreamKind::Oidc(c) => c.additional_authorization_params.clear(),
                    config::UpstreamKind::OAuth2(c) => c.additional_authorization_params.clear(),
                }
            }
            if let config::UpstreamKind::OAuth2(c) = &mut u.kind {
                use crate::defects::Defect;
                if defects.is_on(Defect::IgnoreTokenResponseMapping) {
                    c.token_response_mapping = None;
                }
                if defects.is_on(Defect::UserinfoWinsOverIdentityFromToken) && c.userinfo.is_some() {
                    c.identity_from_token = None;
                }
                if defects.is_on(Defect::NoUpstreamJwtModifier)
                    && let Some(ift) = &mut c.identity_from_token
                {
                    ift.subject_path = ift.subject_path.replace("|@upstreamjwt", "");
                }
            }
            if defects.is_on(crate::defects::Defect::DropUserInfoHeaders)
                && let config::UpstreamKind::OAuth2(c) = &mut u.kind
                && let Some(ui) = &mut c.userinfo
            {
                ui.additional_headers.clear();
            }
            if let config::UpstreamKind::OAuth2(c) = &mut u.kind {
                upstream::dcr::ensure_registered(i, &u.name, c, storage.as_ref(), &http, &defects).await?;
            }
            let mut runtime = Upstream::from_config(i, &u, &http).await?;
            runtime.fallback_to_userinfo = defects.is_on(crate::defects::Defect::IdentityFromTokenFallsBack);
            runtime.keep_top_level_token = defects.is_on(crate::defects::Defect::ForwardUnmappedUpstreamToken);
            runtime.name_synthesized_identity = defects.is_on(crate::defects::Defect::SynthesizedIdentityHasName);
            if let upstream::UpstreamKindRuntime::Oidc(p) = &mut runtime.kind {
                p.apply_defects(&defects);
            }
            upstreams.push(runtime);
        }
        let cimd_cache = cimd::CimdCache::default();
        Ok(Arc::new(AuthServer { config, scopes_supported, storage, http, defects, keys, hmac, upstreams, cimd_cache }))
    }

    /// All AS routes, to be merged at the root of the vMCP listener.
    pub fn router(self: &Arc<Self>) -> Router {
        let limit = if self.defects.is_on(crate::defects::Defect::NoBodyLimit) { usize::MAX } else { MAX_BODY_BYTES };
        Router::new()
            .route("/.well-known/oauth-authorization-server", get(discovery::oauth_metadata))
            .route("/.well-known/oauth-authorization-server/", get(discovery::oauth_metadata))
            .route("/.well-known/oauth-authorization-server/{*rest}", get(discovery::oauth_metadata))
            .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
            .route("/.well-known/openid-configuration/", get(discovery::openid_configuration))
            .route("/.well-known/openid-configuration/{*rest}", get(discovery::openid_configuration))
            .route("/.well-known/jwks.json", get(discovery::jwks))
            .merge(self.oauth_routes())
            .layer(RequestBodyLimitLayer::new(limit))
            .with_state(Arc::clone(self))
    }

    /// The OAuth endpoints, always at the host root (docs KE:201-205), whatever path `issuer` has.
    fn oauth_routes(&self) -> Router<Arc<Self>> {
        let routes = Router::new()
            .route("/oauth/register", post(register::register))
            .route("/oauth/authorize", get(authorize::authorize))
            .route("/oauth/callback", get(callback::callback))
            .route("/oauth/token", post(token::token));
        let path = url::Url::parse(&self.config.issuer).map(|u| u.path().trim_end_matches('/').to_owned());
        match path {
            Ok(p) if !p.is_empty() && self.defects.is_on(crate::defects::Defect::EndpointsUnderIssuerPath) => {
                Router::new().nest(&p, routes)
            }
            _ => routes,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn config(&self) -> &AuthServerConfig {
        &self.config
    }

    pub fn scopes_supported(&self) -> &[String] {
        &self.scopes_supported
    }

    fn store(&self) -> Store<'_> {
        Store::new(self.storage.as_ref())
    }

    fn upstream(&self, name: &str) -> Option<(usize, &Upstream)> {
        self.upstreams.iter().enumerate().find(|(_, u)| u.name == name)
    }

    /// Refreshes one expired upstream row; `None` when it cannot be refreshed.
    async fn refresh_upstream(&self, session_id: &str, row: &StoredUpstreamTokens) -> Option<StoredUpstreamTokens> {
        let refresh_token = row.refresh_token.as_deref()?;
        let (_, upstream) = self.upstream(&row.provider)?;
        let fresh = match upstream.refresh(&self.http, refresh_token).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(provider = %row.provider, error = %e, "upstream token refresh failed");
                return None;
            }
        };
        let updated = StoredUpstreamTokens {
            access_token: fresh.access_token.clone(),
            refresh_token: fresh.refresh_token.clone().or_else(|| row.refresh_token.clone()),
            id_token: fresh.id_token.clone().or_else(|| row.id_token.clone()),
            expires_at: fresh.expires_at(),
            ..row.clone()
        };
        if let Err(e) =
            self.store().put_upstream_tokens(session_id, &updated, self.config.lifespans.refresh_token).await
        {
            tracing::error!(error = %e, "cannot persist refreshed upstream tokens");
            return None;
        }
        Some(updated)
    }
}

#[async_trait]
impl EmbeddedAuth for AuthServer {
    fn verification_keys(&self) -> Vec<VerificationKey> {
        self.keys
            .all()
            .iter()
            .map(|k| VerificationKey { kid: k.kid.clone(), algorithm: k.algorithm, key: k.decoding.clone() })
            .collect()
    }

    fn published_jwk(&self, kid: &str) -> Option<serde_json::Value> {
        self.keys.all().iter().find(|k| k.kid == kid).and_then(|k| serde_json::to_value(&k.jwk).ok())
    }

    async fn upstream_tokens(&self, session_id: &str) -> Result<BTreeMap<String, UpstreamTokens>, EmbeddedAuthError> {
        let rows = self
            .store()
            .upstream_tokens(session_id)
            .await
            .map_err(|e| EmbeddedAuthError::Unavailable(e.to_string()))?;
        let now = now_unix();
        let mut out = BTreeMap::new();
        for (provider, row) in rows {
            let refresh = !self.defects.is_on(crate::defects::Defect::SkipUpstreamRefresh);
            let row = match row.expires_at {
                Some(exp) if exp <= now && refresh => self
                    .refresh_upstream(session_id, &row)
                    .await
                    .ok_or_else(|| EmbeddedAuthError::Expired(format!("the `{provider}` token expired")))?,
                _ => row,
            };
            out.insert(
                provider,
                UpstreamTokens { access_token: row.access_token, id_token: row.id_token, expires_at: row.expires_at },
            );
        }
        Ok(out)
    }
}

/// The issuer rules (docs VE:157-158, KE:215; RFC 8414 §2): https, or http on a loopback host
/// (or anywhere with `insecureAllowHTTP`); a host; no query, fragment, userinfo or trailing slash.
fn validate_issuer_like(value: &str, insecure_allow_http: bool, field: &str) -> Result<(), AuthServerError> {
    let err = |reason: &str| AuthServerError::config(field, format!("`{value}`: {reason}"));
    let url = url::Url::parse(value).map_err(|e| err(&format!("not an absolute URL ({e})")))?;
    if value.contains('?') || value.contains('#') {
        return Err(err("must not have a query or fragment"));
    }
    if value.ends_with('/') {
        return Err(err("must not end with a slash"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("must not carry credentials"));
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| err("has no host"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if insecure_allow_http || is_loopback_host(host) => Ok(()),
        "http" => Err(err("http is only allowed for localhost unless insecureAllowHTTP is set")),
        other => Err(err(&format!("scheme `{other}` is not http(s)"))),
    }
}

/// `localhost`, `*.localhost`, any 127.0.0.0/8 address or `::1` (bracketed or not).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    v.iter().filter(|s| seen.insert(s.as_str())).cloned().collect()
}

#[cfg(test)]
pub(crate) mod tests;
