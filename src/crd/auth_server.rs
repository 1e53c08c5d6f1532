//! The embedded authorization server's configuration block: `VirtualMCPServer.spec.authServerConfig`
//! and `MCPExternalAuthConfig.spec.embeddedAuthServer` share this shape (identical in the upstream
//! CRDs).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{OpaqueList, SecretKeyRef, StringMap, opaque_object_list};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbeddedAuthServerConfig {
    /// `iss` of every issued JWT and the base of every advertised endpoint.
    pub issuer: String,
    /// Overrides only `authorization_endpoint` in discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint_base_url: Option<String>,
    /// Accept an `http://` issuer on a non-loopback host.
    #[serde(default, rename = "insecureAllowHTTP", skip_serializing_if = "Option::is_none")]
    pub insecure_allow_http: Option<bool>,
    /// PEM private keys: the first signs, the others only verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_secret_refs: Option<Vec<SecretKeyRef>>,
    /// HMAC secrets for codes and refresh tokens (each at least 32 bytes); the first is current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_secret_refs: Option<Vec<SecretKeyRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifespans: Option<TokenLifespans>,
    pub upstream_providers: Vec<UpstreamProviderSpec>,
    /// The upstream whose access-token claims authorization reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_upstream_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_client_scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cimd: Option<CimdConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<AuthServerStorage>,
    /// Strip the credential headers after JWT validation instead of forwarding upstream tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_upstream_token_injection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_confidential_client_registration: Option<bool>,
    #[serde(default, rename = "insecureAllowConfidentialOverLoopbackHTTP", skip_serializing_if = "Option::is_none")]
    pub insecure_allow_confidential_over_loopback_http: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_confidential_redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate_clients: Option<Vec<DelegateClient>>,
    /// RFC 7523 / RFC 8693 trusted external issuers (not modelled in detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "opaque_object_list")]
    pub trusted_issuers: Option<OpaqueList>,
}

/// Go duration strings (`1h`, `168h`, `10m`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenLifespans {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_code_lifespan: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamProviderSpec {
    /// DNS label; what `providerName` / `subjectProviderName` refer to.
    pub name: String,
    #[serde(rename = "type")]
    pub type_: UpstreamType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_config: Option<OidcUpstreamSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2_config: Option<OAuth2UpstreamSpec>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UpstreamType {
    Oidc,
    #[serde(rename = "oauth2")]
    OAuth2,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcUpstreamSpec {
    pub issuer_url: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Top-level ID-token claim keying the user (default `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_authorization_params: Option<StringMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info_override: Option<UserInfoSpec>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth2UpstreamSpec {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfoSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_response_mapping: Option<TokenResponseMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_from_token: Option<IdentityFromToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcr_config: Option<DcrConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_authorization_params: Option<StringMap>,
    #[serde(default, rename = "allowPrivateIPs", skip_serializing_if = "Option::is_none")]
    pub allow_private_ips: Option<bool>,
    #[serde(default, rename = "insecureAllowHTTP", skip_serializing_if = "Option::is_none")]
    pub insecure_allow_http: Option<bool>,
}

/// `userInfo` / `userInfoOverride`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserInfoSpec {
    pub endpoint_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<HttpMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_headers: Option<StringMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_mapping: Option<FieldMappingSpec>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum HttpMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldMappingSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_fields: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_fields: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_fields: Option<Vec<String>>,
}

/// Dot paths into a nested token response.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenResponseMapping {
    pub access_token_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_path: Option<String>,
}

/// gjson paths into the token response naming the user.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityFromToken {
    pub subject_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_path: Option<String>,
}

/// RFC 7591 registration of ToolHive with the upstream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DcrConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_access_token_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CimdConfig {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_max_size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_fallback_ttl: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DelegateClient {
    pub client_id: String,
    pub client_secret_ref: SecretKeyRef,
    pub audiences: Vec<String>,
    pub scopes: Vec<String>,
}

/// `storage`: where upstream tokens, codes and registered clients live.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthServerStorage {
    /// `memory` (default) or `redis`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<StorageType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisStorageSpec>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StorageType {
    Memory,
    Redis,
}

/// `storage.redis`: exactly one of Sentinel (`sentinelConfig`), standalone (`addr`) or cluster
/// (`addr` + `clusterMode`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisStorageSpec {
    pub acl_user_config: RedisAclUserConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_config: Option<SentinelConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RedisTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_tls: Option<RedisTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dial_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisAclUserConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_secret_ref: Option<SecretKeyRef>,
    pub password_secret_ref: SecretKeyRef,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SentinelConfig {
    pub master_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_addrs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_service: Option<SentinelService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SentinelService {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// `tls` / `sentinelTls` (presence enables TLS).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisTls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}
