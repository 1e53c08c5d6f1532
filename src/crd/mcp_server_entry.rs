//! `MCPServerEntry`: a remote MCP endpoint joined to a group without a proxy.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CaBundleRef, NameRef, SecretKeyRef, StringMap};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPServerEntry",
    plural = "mcpserverentries",
    namespaced
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MCPServerEntrySpec {
    pub group_ref: NameRef,
    /// The remote endpoint vMCP connects to directly.
    pub remote_url: String,
    pub transport: RemoteTransport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_auth_config_ref: Option<NameRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_private_endpoint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<CaBundleRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_forward: Option<HeaderForward>,
}

/// Transports a remote endpoint can speak.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RemoteTransport {
    #[serde(rename = "sse")]
    Sse,
    #[serde(rename = "streamable-http")]
    StreamableHttp,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderForward {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_headers_from_secret: Option<Vec<HeaderFromSecret>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_plaintext_headers: Option<StringMap>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderFromSecret {
    pub header_name: String,
    pub value_secret_ref: SecretKeyRef,
}
