//! `MCPAuthzConfig`: a shared authorization policy referenced by `authzConfigRef`
//! (guides-k8s/authorization-k8s.mdx#share-policies-across-resources-with-mcpauthzconfig).
//! `spec.config` is free-form; its shape depends on `spec.type`. The vMCP runs Cedar only, so
//! only the `cedarv1` shape is read ([`MCPAuthzConfigSpec::cedar`]).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{Opaque, opaque_object};

/// The one authorizer type a VirtualMCPServer accepts (authentication.mdx#authorize-requests).
pub const CEDAR_V1: &str = "cedarv1";

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPAuthzConfig",
    plural = "mcpauthzconfigs",
    namespaced
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MCPAuthzConfigSpec {
    /// The authorizer backend (`cedarv1`, `httpv1`, ...).
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub type_: String,
    /// Backend-specific settings (for `cedarv1`: `policies`, `entities_json`,
    /// `primary_upstream_provider`, `group_claim_name`).
    #[schemars(schema_with = "opaque_object")]
    pub config: Opaque,
}

/// `spec.config` of a `cedarv1` MCPAuthzConfig (snake_case keys, as the CRD describes them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CedarV1Config {
    pub policies: Vec<String>,
    pub entities_json: Option<String>,
    pub primary_upstream_provider: Option<String>,
    pub group_claim_name: Option<String>,
}

impl MCPAuthzConfigSpec {
    /// The Cedar settings, or what is wrong with them (naming the `spec.config` field). Only for
    /// `type: cedarv1`; the caller reports any other type.
    pub fn cedar(&self) -> Result<CedarV1Config, String> {
        let text = |key: &str| -> Result<Option<String>, String> {
            match self.config.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!("spec.config.{key} must be a string, found {other}")),
            }
        };
        let policies = match self.config.get("policies") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    p.as_str().map(str::to_owned).ok_or_else(|| format!("spec.config.policies[{i}] is not a string"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(format!("spec.config.policies must be a list of Cedar policies, found {other}")),
            None => return Err("spec.config.policies is missing: a cedarv1 config needs at least one policy".into()),
        };
        Ok(CedarV1Config {
            policies,
            entities_json: text("entities_json")?,
            primary_upstream_provider: text("primary_upstream_provider")?,
            group_claim_name: text("group_claim_name")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(v: Value) -> MCPAuthzConfigSpec {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn cedar_config_is_read_and_bad_fields_are_named() {
        let s = spec(
            json!({"type": "cedarv1", "config": {"policies": ["permit(principal, action, resource);"], "entities_json": "[]"}}),
        );
        let c = s.cedar().unwrap_or_default();
        assert_eq!(c.policies.len(), 1);
        assert_eq!(c.entities_json.as_deref(), Some("[]"));
        let bad = spec(json!({"type": "cedarv1", "config": {"policies": "permit"}}));
        assert!(bad.cedar().unwrap_err().contains("spec.config.policies"));
        let none = spec(json!({"type": "cedarv1", "config": {}}));
        assert!(none.cedar().unwrap_err().contains("missing"));
        assert!(serde_json::from_value::<MCPAuthzConfigSpec>(json!({"type": "cedarv1"})).is_err());
    }
}
