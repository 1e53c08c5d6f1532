//! `MCPOIDCConfig`: shared incoming-token validation settings referenced by `oidcConfigRef`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CaBundleRef, SecretKeyRef};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPOIDCConfig",
    plural = "mcpoidcconfigs",
    namespaced
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MCPOIDCConfigSpec {
    #[serde(rename = "type")]
    pub type_: OidcConfigType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<InlineOidcConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_service_account: Option<KubernetesServiceAccountOidc>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OidcConfigType {
    KubernetesServiceAccount,
    Inline,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InlineOidcConfig {
    pub issuer: String,
    /// Empty means OIDC discovery of `issuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Enables introspection of opaque tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<CaBundleRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_auth_token_path: Option<String>,
    #[serde(default, rename = "jwksAllowPrivateIP", skip_serializing_if = "Option::is_none")]
    pub jwks_allow_private_ip: Option<bool>,
    #[serde(default, rename = "protectedResourceAllowPrivateIP", skip_serializing_if = "Option::is_none")]
    pub protected_resource_allow_private_ip: Option<bool>,
    #[serde(default, rename = "insecureAllowHTTP", skip_serializing_if = "Option::is_none")]
    pub insecure_allow_http: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesServiceAccountOidc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Default `https://kubernetes.default.svc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_cluster_auth: Option<bool>,
}

/// The documented default issuer of `kubernetesServiceAccount`.
pub const DEFAULT_KUBERNETES_ISSUER: &str = "https://kubernetes.default.svc";
