//! `MCPGroup`: a named set of backends (MCPServer / MCPServerEntry point at it with `groupRef`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[kube(group = "toolhive.stacklok.dev", version = "v1beta1", kind = "MCPGroup", plural = "mcpgroups", namespaced)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MCPGroupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
