//! The embedded authorization server's runtime configuration.
//!
//! Built by `bundle` from a VirtualMCPServer's `authServerConfig` (Secrets resolved, defaults
//! applied, the harness's host mapping already substituted), and later from ToolHive's
//! `authserver-config.yaml`. Field names follow the CRD so a reader can map them back.

use std::collections::BTreeMap;
use std::time::Duration;

/// Everything the authorization server needs to start.
#[derive(Debug, Clone)]
pub struct AuthServerConfig {
    /// `authServerConfig.issuer`: the `iss` of every JWT and the base of every advertised endpoint.
    pub issuer: String,
    /// `authServerConfig.authorizationEndpointBaseUrl`: overrides only `authorization_endpoint`.
    pub authorization_endpoint_base_url: Option<String>,
    /// PEM private keys from `signingKeySecretRefs`, in order: the first signs, the others only
    /// verify. Empty means an ephemeral ES256 key generated at start-up.
    pub signing_keys_pem: Vec<String>,
    /// Raw bytes from `hmacSecretRefs` (each at least 32 bytes); the first is current. Empty means
    /// an ephemeral random secret.
    pub hmac_secrets: Vec<Vec<u8>>,
    pub lifespans: TokenLifespans,
    /// `upstreamProviders`, in order: the login chain visits them in this order.
    pub upstreams: Vec<UpstreamProvider>,
    /// Scopes advertised in `scopes_supported` (from `oidcConfigRef.scopes`; default
    /// `openid profile email offline_access`).
    pub scopes_supported: Vec<String>,
    /// Values a token request's RFC 8707 `resource` may take; the sole entry is the default `aud`.
    pub allowed_audiences: Vec<String>,
    /// `baselineClientScopes`: merged into every registered client's scopes.
    pub baseline_client_scopes: Vec<String>,
    /// `insecureAllowHTTP`: accept an `http://` issuer on a non-loopback host.
    pub insecure_allow_http: bool,
    /// `primaryUpstreamProvider`: whose claims authorization reads (default: the first upstream).
    pub primary_upstream_provider: Option<String>,
    /// `cimd` when `enabled: true`: URL client IDs resolved from their metadata documents.
    pub cimd: Option<super::cimd::CimdSettings>,
}

/// `tokenLifespans` (defaults 1h / 168h / 10m, as documented).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifespans {
    pub access_token: Duration,
    pub refresh_token: Duration,
    pub auth_code: Duration,
}

impl Default for TokenLifespans {
    fn default() -> Self {
        Self {
            access_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(168 * 3600),
            auth_code: Duration::from_secs(600),
        }
    }
}

/// The documented default `scopes_supported`.
pub const DEFAULT_SCOPES_SUPPORTED: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// One entry of `upstreamProviders`.
#[derive(Debug, Clone)]
pub struct UpstreamProvider {
    /// DNS-label name; what `providerName` / `subjectProviderName` refer to.
    pub name: String,
    pub kind: UpstreamKind,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // configuration, built once per start
pub enum UpstreamKind {
    Oidc(OidcUpstream),
    OAuth2(OAuth2Upstream),
}

/// `type: oidc` with `oidcConfig`: endpoints come from discovery at `issuer_url`.
#[derive(Debug, Clone)]
pub struct OidcUpstream {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Where the upstream redirects back to: `<issuer>/oauth/callback` unless configured.
    pub redirect_uri: String,
    /// Default `openid offline_access` when the config lists none.
    pub scopes: Vec<String>,
    /// `subjectClaim`: top-level ID-token claim keying the user (default `sub`).
    pub subject_claim: Option<String>,
    pub additional_authorization_params: BTreeMap<String, String>,
}

/// `type: oauth2` with `oauth2Config`: explicit endpoints.
#[derive(Debug, Clone)]
pub struct OAuth2Upstream {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub userinfo: Option<UserInfoConfig>,
    pub additional_authorization_params: BTreeMap<String, String>,
    /// `dcrConfig`: register at start-up (RFC 7591) instead of using `client_id`/`client_secret`.
    pub dcr: Option<DcrSettings>,
    /// `tokenResponseMapping`: dot paths to the tokens in a nested token response.
    pub token_response_mapping: Option<crate::crd::TokenResponseMapping>,
    /// `identityFromToken`: gjson paths to the user in the token response (wins over userInfo).
    pub identity_from_token: Option<crate::crd::IdentityFromToken>,
}

/// `oauth2Config.dcrConfig` with its Secret resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcrSettings {
    /// RFC 8414 / OIDC discovery document naming `registration_endpoint` (exactly one of the two).
    pub discovery_url: Option<String>,
    pub registration_endpoint: Option<String>,
    /// `initialAccessTokenRef`: sent as `Authorization: Bearer` on the registration request.
    pub initial_access_token: Option<String>,
    pub software_id: Option<String>,
    pub software_statement: Option<String>,
}

/// `oauth2Config.userInfo`.
#[derive(Debug, Clone)]
pub struct UserInfoConfig {
    pub endpoint_url: String,
    /// `GET` (default) or `POST`.
    pub http_method: String,
    pub additional_headers: BTreeMap<String, String>,
    pub field_mapping: FieldMapping,
}

/// `userInfo.fieldMapping`: each list is tried in order; the first non-empty value wins.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    pub subject_fields: Vec<String>,
    pub name_fields: Vec<String>,
    pub email_fields: Vec<String>,
}

impl Default for FieldMapping {
    fn default() -> Self {
        Self {
            subject_fields: vec!["sub".into()],
            name_fields: vec!["name".into()],
            email_fields: vec!["email".into()],
        }
    }
}
