//! kube `CustomResource` types for the ToolHive v1beta1 kinds the vMCP auth docs use.
//!
//! Every spec struct denies unknown fields, so decoding is as strict as `kubectl apply` against
//! the real CRDs; [`decode_strict`] and [`decode_resource`] report the offending field path
//! (`spec.authServerConfig.upstreamProviders[0].oauth2Config.clientIdd: unknown field ...`).
//! Field names and types are checked against ToolHive's CRDs by `tests/crd_schema.rs` (with
//! [`schema_diff`]).

pub mod auth_server;
pub mod common;
pub mod mcp_authz_config;
pub mod mcp_external_auth_config;
pub mod mcp_group;
pub mod mcp_oidc_config;
pub mod mcp_server;
pub mod mcp_server_entry;
pub mod schema_diff;
pub mod virtual_mcp_server;

pub use auth_server::*;
pub use common::*;
pub use mcp_authz_config::*;
pub use mcp_external_auth_config::*;
pub use mcp_group::*;
pub use mcp_oidc_config::*;
pub use mcp_server::*;
pub use mcp_server_entry::*;
pub use virtual_mcp_server::*;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The API group of every ToolHive kind.
pub const GROUP: &str = "toolhive.stacklok.dev";
/// The version the docs use (`apiVersion: toolhive.stacklok.dev/v1beta1`).
pub const VERSION: &str = "v1beta1";
/// `GROUP/VERSION`.
pub const API_VERSION: &str = "toolhive.stacklok.dev/v1beta1";

/// A strict decoding failure at a field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StrictDecodeError {
    /// Dotted path with `[i]` for list items (`spec.upstreamProviders[0].name`); `.` is the root.
    pub path: String,
    /// What is wrong there (serde's wording: `unknown field ...`, `missing field ...`, ...).
    pub message: String,
}

/// Decodes `doc` into `T`, naming the field path on failure. With the `deny_unknown_fields` types
/// of this module, an unknown key is an error, like `kubectl apply` against the CRD schema.
pub fn decode_strict<T: DeserializeOwned>(doc: Value) -> Result<T, StrictDecodeError> {
    serde_path_to_error::deserialize(doc)
        .map_err(|e| StrictDecodeError { path: e.path().to_string(), message: e.into_inner().to_string() })
}

/// Fields of `metadata` (`ObjectMeta`) a manifest may carry.
const OBJECT_META_FIELDS: [&str; 15] = [
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// Fails on the first key of the object at `path` in `doc` that is not in `allowed`.
pub fn check_keys(doc: &Value, path: &str, allowed: &[&str]) -> Result<(), StrictDecodeError> {
    let Some(map) = doc.as_object() else {
        return Err(StrictDecodeError { path: path.to_string(), message: "expected an object".into() });
    };
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let at = if path == "." { key.clone() } else { format!("{path}.{key}") };
            return Err(StrictDecodeError {
                path: at,
                message: format!("unknown field `{key}`, expected one of {}", allowed.join(", ")),
            });
        }
    }
    Ok(())
}

/// Checks the keys of a whole manifest (root and `metadata`) against `root_fields`.
pub fn check_manifest_keys(doc: &Value, root_fields: &[&str]) -> Result<(), StrictDecodeError> {
    check_keys(doc, ".", root_fields)?;
    if let Some(meta) = doc.get("metadata") {
        check_keys(meta, "metadata", &OBJECT_META_FIELDS)?;
    }
    Ok(())
}

/// Decodes a whole custom resource manifest strictly: `apiVersion` and `kind` must be `K`'s, the
/// root may hold only `apiVersion`, `kind`, `metadata`, `spec` and `status` (ignored, as
/// `kubectl apply` ignores it for a status subresource), `metadata` only `ObjectMeta` fields, and
/// `spec` is decoded with unknown fields denied. A missing `spec` is decoded as `{}` (the CRDs do
/// not require it; `MCPGroup` is often written without one).
pub fn decode_resource<K>(mut doc: Value) -> Result<K, StrictDecodeError>
where
    K: kube::Resource<DynamicType = ()> + DeserializeOwned,
{
    check_manifest_keys(&doc, &["apiVersion", "kind", "metadata", "spec", "status"])?;
    let want_api = K::api_version(&());
    let want_kind = K::kind(&());
    match doc.get("apiVersion").and_then(Value::as_str) {
        Some(a) if a == want_api => {}
        other => {
            return Err(StrictDecodeError {
                path: "apiVersion".into(),
                message: format!("expected `{want_api}`, found {}", describe(other)),
            });
        }
    }
    match doc.get("kind").and_then(Value::as_str) {
        Some(k) if k == want_kind => {}
        other => {
            return Err(StrictDecodeError {
                path: "kind".into(),
                message: format!("expected `{want_kind}`, found {}", describe(other)),
            });
        }
    }
    if let Some(map) = doc.as_object_mut() {
        map.remove("status");
        if !map.contains_key("spec") || map.get("spec").is_some_and(Value::is_null) {
            map.insert("spec".into(), Value::Object(Default::default()));
        }
        if !map.contains_key("metadata") {
            map.insert("metadata".into(), Value::Object(Default::default()));
        }
    }
    decode_strict(doc)
}

fn describe(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("`{s}`"),
        None => "nothing".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vmcp_doc(upstream: Value) -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": "VirtualMCPServer",
            "metadata": {"name": "v", "namespace": "ns"},
            "spec": {
                "groupRef": {"name": "g"},
                "incomingAuth": {"type": "oidc", "oidcConfigRef": {"name": "o", "audience": "a"}},
                "authServerConfig": {
                    "issuer": "https://auth.test",
                    "upstreamProviders": [upstream]
                }
            }
        })
    }

    #[test]
    fn decodes_a_virtual_mcp_server() {
        let v: VirtualMCPServer = decode_resource(vmcp_doc(json!({
            "name": "gh", "type": "oauth2",
            "oauth2Config": {"authorizationEndpoint": "https://gh.test/a", "tokenEndpoint": "https://gh.test/t",
                             "clientId": "c", "userInfo": {"endpointUrl": "https://gh.test/u", "httpMethod": "GET"}}
        })))
        .unwrap();
        let asc = v.spec.auth_server_config.unwrap();
        assert_eq!(asc.upstream_providers[0].type_, UpstreamType::OAuth2);
        assert_eq!(
            asc.upstream_providers[0].oauth2_config.as_ref().unwrap().user_info.as_ref().unwrap().http_method,
            Some(HttpMethod::Get)
        );
        assert_eq!(v.metadata.namespace.as_deref(), Some("ns"));
    }

    #[test]
    fn unknown_field_names_its_path() {
        let err = decode_resource::<VirtualMCPServer>(vmcp_doc(json!({
            "name": "gh", "type": "oauth2",
            "oauth2Config": {"authorizationEndpoint": "https://gh.test/a", "tokenEndpoint": "https://gh.test/t",
                             "clientIdd": "c"}
        })))
        .unwrap_err();
        assert_eq!(err.path, "spec.authServerConfig.upstreamProviders[0].oauth2Config.clientIdd");
        assert!(err.message.starts_with("unknown field `clientIdd`"), "{err}");
    }

    #[test]
    fn wrong_enum_value_and_missing_field_name_their_paths() {
        let err = decode_resource::<VirtualMCPServer>(vmcp_doc(json!({"name": "gh", "type": "saml"}))).unwrap_err();
        assert_eq!(err.path, "spec.authServerConfig.upstreamProviders[0].type");
        assert!(err.message.contains("unknown variant `saml`"), "{err}");
        let err = decode_resource::<MCPOIDCConfig>(json!({
            "apiVersion": API_VERSION, "kind": "MCPOIDCConfig", "metadata": {"name": "o"},
            "spec": {"type": "inline", "inline": {"jwksUrl": "https://x.test/jwks"}}
        }))
        .unwrap_err();
        assert_eq!(err.path, "spec.inline");
        assert!(err.message.contains("missing field `issuer`"), "{err}");
    }

    #[test]
    fn root_and_metadata_keys_are_checked() {
        let mut doc = vmcp_doc(json!({"name": "gh", "type": "oidc",
            "oidcConfig": {"issuerUrl": "https://idp.test", "clientId": "c"}}));
        doc["spec"]["insecureAllowHTTP"] = json!(true);
        let err = decode_resource::<VirtualMCPServer>(doc.clone()).unwrap_err();
        assert_eq!(err.path, "spec.insecureAllowHTTP");
        doc["spec"].as_object_mut().unwrap().remove("insecureAllowHTTP");
        doc["metadata"]["nmae"] = json!("x");
        let err = decode_resource::<VirtualMCPServer>(doc.clone()).unwrap_err();
        assert_eq!(err.path, "metadata.nmae");
        doc["metadata"].as_object_mut().unwrap().remove("nmae");
        doc["sepc"] = json!({});
        assert_eq!(decode_resource::<VirtualMCPServer>(doc.clone()).unwrap_err().path, "sepc");
        doc.as_object_mut().unwrap().remove("sepc");
        doc["kind"] = json!("MCPServer");
        assert_eq!(decode_resource::<VirtualMCPServer>(doc).unwrap_err().path, "kind");
    }

    #[test]
    fn group_without_spec_decodes() {
        let g: MCPGroup = decode_resource(json!({
            "apiVersion": API_VERSION, "kind": "MCPGroup", "metadata": {"name": "g"}
        }))
        .unwrap();
        assert_eq!(g.spec, MCPGroupSpec::default());
    }

    #[test]
    fn external_auth_config_names_its_provider_reference() {
        let e: MCPExternalAuthConfig = decode_resource(json!({
            "apiVersion": API_VERSION, "kind": "MCPExternalAuthConfig", "metadata": {"name": "x"},
            "spec": {"type": "tokenExchange", "tokenExchange": {"tokenUrl": "https://t.test", "audience": "b",
                     "subjectProviderName": "okta"}}
        }))
        .unwrap();
        assert_eq!(e.spec.referenced_provider(), Some(("tokenExchange.subjectProviderName", "okta")));
    }
}
