//! `MCPExternalAuthConfig`: an outgoing-auth strategy (or, with `embeddedAuthServer`, an MCPServer's
//! embedded authorization server). `spec.type` selects which block applies.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth_server::EmbeddedAuthServerConfig;
use super::common::SecretKeyRef;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPExternalAuthConfig",
    plural = "mcpexternalauthconfigs",
    namespaced
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MCPExternalAuthConfigSpec {
    #[serde(rename = "type")]
    pub type_: ExternalAuthType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange: Option<TokenExchangeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_injection: Option<HeaderInjectionSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<BearerTokenSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded_auth_server: Option<EmbeddedAuthServerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_sts: Option<AwsStsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_inject: Option<UpstreamInjectSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obo: Option<OboSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xaa: Option<XaaSpec>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExternalAuthType {
    TokenExchange,
    HeaderInjection,
    BearerToken,
    Unauthenticated,
    EmbeddedAuthServer,
    AwsSts,
    UpstreamInject,
    Obo,
    Xaa,
}

impl ExternalAuthType {
    /// The value as written in `spec.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalAuthType::TokenExchange => "tokenExchange",
            ExternalAuthType::HeaderInjection => "headerInjection",
            ExternalAuthType::BearerToken => "bearerToken",
            ExternalAuthType::Unauthenticated => "unauthenticated",
            ExternalAuthType::EmbeddedAuthServer => "embeddedAuthServer",
            ExternalAuthType::AwsSts => "awsSts",
            ExternalAuthType::UpstreamInject => "upstreamInject",
            ExternalAuthType::Obo => "obo",
            ExternalAuthType::Xaa => "xaa",
        }
    }
}

impl std::fmt::Display for ExternalAuthType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 8693 token exchange.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenExchangeSpec {
    pub token_url: String,
    pub audience: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The embedded auth server upstream whose stored token is the subject token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_token_header_name: Option<String>,
}

/// A fixed header whose value comes from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderInjectionSpec {
    pub header_name: String,
    pub value_secret_ref: SecretKeyRef,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BearerTokenSpec {
    pub token_secret_ref: SecretKeyRef,
}

/// Forward the stored upstream access token of `providerName`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamInjectSpec {
    pub provider_name: String,
}

/// STS `AssumeRoleWithWebIdentity` + SigV4.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsStsSpec {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_mappings: Option<Vec<RoleMapping>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_provider_name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleMapping {
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
}

/// Entra on-behalf-of (Enterprise only).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OboSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_skew: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_token_provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// Cross-application access (ID-JAG, two steps).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct XaaSpec {
    pub idp_token_url: String,
    pub target_audience: String,
    pub target_token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_client_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_target_token_url: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_client_secret_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_resource: Option<String>,
}

impl MCPExternalAuthConfigSpec {
    /// The embedded-auth-server upstream this strategy reads a stored token from, with the field
    /// path (relative to `spec`) that names it.
    pub fn referenced_provider(&self) -> Option<(&'static str, &str)> {
        match self.type_ {
            ExternalAuthType::UpstreamInject => {
                self.upstream_inject.as_ref().map(|u| ("upstreamInject.providerName", u.provider_name.as_str()))
            }
            ExternalAuthType::TokenExchange => self
                .token_exchange
                .as_ref()
                .and_then(|t| t.subject_provider_name.as_deref())
                .map(|n| ("tokenExchange.subjectProviderName", n)),
            ExternalAuthType::Xaa => self
                .xaa
                .as_ref()
                .and_then(|x| x.subject_provider_name.as_deref())
                .map(|n| ("xaa.subjectProviderName", n)),
            ExternalAuthType::AwsSts => self
                .aws_sts
                .as_ref()
                .and_then(|a| a.subject_provider_name.as_deref())
                .map(|n| ("awsSts.subjectProviderName", n)),
            ExternalAuthType::Obo => self
                .obo
                .as_ref()
                .and_then(|o| o.subject_token_provider_name.as_deref())
                .map(|n| ("obo.subjectTokenProviderName", n)),
            _ => None,
        }
    }
}
