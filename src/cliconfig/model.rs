//! The two files of ToolHive's non-Kubernetes vMCP configuration, field for field:
//! `vmcp.yaml` (camelCase, unknown keys rejected; toolhive `pkg/vmcp/config/config.go`) and the
//! sibling `authserver-config.yaml` (snake_case `RunConfig`; toolhive `pkg/authserver/config.go`).
//! Sections the reference does not implement are kept as raw values so that a file using them
//! decodes and the loader can say which ones it refuses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `vmcp.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmcpFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<StaticBackend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming_auth: Option<IncomingAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing_auth: Option<OutgoingAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<Aggregation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_headers: Vec<String>,
    // Known sections the reference does not implement (refused by `serve`, accepted by `validate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite_tools: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite_tool_refs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational: Option<Operational>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_mode: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_storage: Option<SessionStorageFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limiting: Option<Value>,
}

/// `operational`: backend timeouts (implemented) and failure handling (not).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operational {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_handling: Option<Value>,
}

/// `operational.timeouts` (Go durations).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_workload: BTreeMap<String, String>,
}

/// `sessionStorage` (MCP sessions shared across replicas); the password comes from the
/// environment variable `THV_SESSION_REDIS_PASSWORD`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStorageFile {
    #[serde(default)]
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
}

/// `backends[]`: a static backend (no ToolHive or Kubernetes discovery).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticBackend {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub transport: String,
    /// Empty (an MCP server) or `entry` (a remote MCPServerEntry).
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncomingAuth {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<IncomingOidc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authz: Option<Authz>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncomingOidc {
    #[serde(default)]
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub audience: String,
    /// The RFC 9728 resource (default: the audience).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_resource_allow_private_ip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_allow_private_ip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_allow_http: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authz {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_upstream_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_claim_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_claim_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_entity_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutgoingAuth {
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Strategy>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backends: BTreeMap<String, Strategy>,
}

/// One backend auth strategy; `type` is snake_case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Strategy {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_injection: Option<HeaderInjection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange: Option<TokenExchange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_inject: Option<UpstreamInject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_sts: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obo: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xaa: Option<Xaa>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderInjection {
    #[serde(default)]
    pub header_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_value_env: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenExchange {
    #[serde(default)]
    pub token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_provider_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamInject {
    #[serde(default)]
    pub provider_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Xaa {
    #[serde(default)]
    pub idp_token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_client_secret_env: Option<String>,
    #[serde(default)]
    pub target_token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_target_token_url: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_client_secret_env: Option<String>,
    #[serde(default)]
    pub target_audience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_resource: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_token_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Aggregation {
    #[serde(default)]
    pub conflict_resolution: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution_config: Option<ConflictResolutionConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_all_tools: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_tool_visibility: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConflictResolutionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_format: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_order: Vec<String>,
}

/// `authserver-config.yaml`: the authorization server's `RunConfig` (snake_case). ToolHive decodes
/// it leniently; so does the loader (unknown keys are ignored), but every key it knows is typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthServerFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    #[serde(default)]
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint_base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_config: Option<SigningKeyConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hmac_secret_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifespans: Option<TokenLifespansFile>,
    #[serde(default)]
    pub upstreams: Vec<UpstreamFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_client_scopes: Vec<String>,
    #[serde(default)]
    pub allowed_audiences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageFile>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_upstream_token_injection: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cimd: Option<CimdFile>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_allow_http: bool,
    // Keys the reference does not implement (refused when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_issuers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_confidential_client_registration: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_confidential_redirect_uris: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_allow_confidential_over_loopback_http: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate_clients: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_token_lifespan: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SigningKeyConfig {
    #[serde(default)]
    pub key_dir: String,
    #[serde(default)]
    pub signing_key_file: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_key_files: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenLifespansFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_code_lifespan: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamFile {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_config: Option<OidcUpstreamFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2_config: Option<OAuth2UpstreamFile>,
}

/// Where an upstream's client secret comes from (`*_file` wins over `*_env_var`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientSecretSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env_var: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OidcUpstreamFile {
    #[serde(default)]
    pub issuer_url: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(flatten)]
    pub secret: ClientSecretSource,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_override: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_authorization_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_claim: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_private_ips: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_allow_http: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuth2UpstreamFile {
    #[serde(default)]
    pub authorization_endpoint: String,
    #[serde(default)]
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    #[serde(flatten)]
    pub secret: ClientSecretSource,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<UserInfoFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_response_mapping: Option<TokenResponseMappingFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_from_token: Option<IdentityFromTokenFile>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_authorization_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcr_config: Option<DcrFile>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_private_ips: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_allow_http: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInfoFile {
    #[serde(default)]
    pub endpoint_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_mapping: Option<FieldMappingFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldMappingFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_fields: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenResponseMappingFile {
    #[serde(default)]
    pub access_token_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityFromTokenFile {
    #[serde(default)]
    pub subject_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DcrFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_access_token_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_access_token_env_var: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CimdFile {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_max_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_fallback_ttl: Option<String>,
}

/// `storage` (toolhive `pkg/authserver/storage/config.go`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageFile {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_config: Option<RedisFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_config: Option<SentinelFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cluster_mode: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl_user_config: Option<AclUserFile>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dial_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RedisTlsFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_tls: Option<RedisTlsFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SentinelFile {
    #[serde(default)]
    pub master_name: String,
    #[serde(default)]
    pub sentinel_addrs: Vec<String>,
    #[serde(default)]
    pub db: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AclUserFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_env_var: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env_var: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisTlsFile {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_file: Option<String>,
}
