//! Types shared by several ToolHive kinds: references, session storage, authorization config, and
//! the helpers that mark a subtree as opaque (`x-kubernetes-preserve-unknown-fields`).

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// `{name, key}`: a key of a Secret in the referencing resource's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

/// `{name}`: a reference to another resource of a known kind in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameRef {
    pub name: String,
}

/// `oidcConfigRef`: an MCPOIDCConfig plus the per-workload overrides.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConfigRef {
    pub name: String,
    /// The expected `aud` of incoming tokens.
    pub audience: String,
    /// The RFC 9728 `resource` advertised in protected resource metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_url: Option<String>,
    /// Scopes advertised in protected resource metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// `telemetryConfigRef`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelemetryConfigRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

/// `caBundleRef`: a CA bundle in a ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaBundleRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,
}

/// A key of a ConfigMap (`core/v1 ConfigMapKeySelector`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapKeyRef {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// `sessionStorage` (horizontal scaling of MCP sessions; not the auth server's storage).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStorage {
    pub provider: SessionStorageProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_ref: Option<SecretKeyRef>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SessionStorageProvider {
    Memory,
    Redis,
}

/// `authzConfig` (Cedar policies inline or from a ConfigMap).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzConfig {
    /// `configMap` (default) or `inline`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<AuthzConfigType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<AuthzConfigMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<InlineAuthz>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_claim_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_entity_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_claim_name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuthzConfigType {
    ConfigMap,
    Inline,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzConfigMap {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InlineAuthz {
    pub policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities_json: Option<String>,
    /// Deprecated location of `authServerConfig.primaryUpstreamProvider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_upstream_provider: Option<String>,
}

/// `{name, value}` environment variable.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// A free-form object kept as JSON (its fields are not modelled; the schema marks it
/// `x-kubernetes-preserve-unknown-fields`). Use with `#[schemars(schema_with = "opaque_object")]`.
pub type Opaque = serde_json::Map<String, serde_json::Value>;

/// A list of free-form objects. Use with `#[schemars(schema_with = "opaque_object_list")]`.
pub type OpaqueList = Vec<Opaque>;

/// Schema for an optional opaque object.
pub fn opaque_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema for an optional list of opaque objects.
pub fn opaque_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// A string-to-string map (`additionalProperties: {type: string}`).
pub type StringMap = BTreeMap<String, String>;
