//! Core Kubernetes kinds (`v1`, `apps/v1`, `rbac.authorization.k8s.io/v1`, …), decoded strictly
//! with k8s-openapi: a type error names its path, and a key the type drops on a round trip is an
//! unknown field (what `kubectl apply --validate=strict` refuses).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::schema::SchemaProblem;
use super::yaml::join;

/// API groups of the core Kubernetes API (the empty group is `v1`).
const CORE_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "policy",
    "autoscaling",
    "storage.k8s.io",
    "coordination.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "certificates.k8s.io",
    "discovery.k8s.io",
    "scheduling.k8s.io",
    "node.k8s.io",
    "events.k8s.io",
];

/// Whether `apiVersion` belongs to the core Kubernetes API.
pub fn is_core_api_version(api_version: &str) -> bool {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    CORE_GROUPS.contains(&group)
}

/// Decodes a core kind strictly; `None` when the kind is not one we decode (reported as
/// recognised but unchecked by the caller).
pub fn check_core(api_version: &str, kind: &str, doc: &Value) -> Option<Vec<SchemaProblem>> {
    use k8s_openapi::api::{apps, batch, core, networking, rbac};
    macro_rules! strict {
        ($t:ty) => {
            Some(strict::<$t>(doc))
        };
    }
    match (api_version, kind) {
        ("v1", "Secret") => strict!(core::v1::Secret),
        ("v1", "ConfigMap") => strict!(core::v1::ConfigMap),
        ("v1", "Service") => strict!(core::v1::Service),
        ("v1", "ServiceAccount") => strict!(core::v1::ServiceAccount),
        ("v1", "Namespace") => strict!(core::v1::Namespace),
        ("v1", "Pod") => strict!(core::v1::Pod),
        ("v1", "PersistentVolumeClaim") => strict!(core::v1::PersistentVolumeClaim),
        ("apps/v1", "Deployment") => strict!(apps::v1::Deployment),
        ("apps/v1", "StatefulSet") => strict!(apps::v1::StatefulSet),
        ("apps/v1", "DaemonSet") => strict!(apps::v1::DaemonSet),
        ("batch/v1", "Job") => strict!(batch::v1::Job),
        ("batch/v1", "CronJob") => strict!(batch::v1::CronJob),
        ("networking.k8s.io/v1", "Ingress") => strict!(networking::v1::Ingress),
        ("networking.k8s.io/v1", "NetworkPolicy") => strict!(networking::v1::NetworkPolicy),
        ("rbac.authorization.k8s.io/v1", "Role") => strict!(rbac::v1::Role),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => strict!(rbac::v1::ClusterRole),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => strict!(rbac::v1::RoleBinding),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => strict!(rbac::v1::ClusterRoleBinding),
        _ => None,
    }
}

fn strict<T: DeserializeOwned + Serialize>(doc: &Value) -> Vec<SchemaProblem> {
    let decoded: T = match serde_path_to_error::deserialize(doc.clone()) {
        Ok(t) => t,
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            return vec![SchemaProblem { rule: "core-decode", path, message: e.into_inner().to_string() }];
        }
    };
    let back = serde_json::to_value(&decoded).unwrap_or(Value::Null);
    let mut out = Vec::new();
    dropped_keys(doc, &back, "", &mut out);
    out
}

/// Keys of `original` that the round trip `back` lost: fields the type does not have.
fn dropped_keys(original: &Value, back: &Value, path: &str, out: &mut Vec<SchemaProblem>) {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => dropped_keys(v, w, &join(path, k), out),
                    // A null or empty value may be dropped by the type's serializer legitimately.
                    None if v.is_null() || v.as_object().is_some_and(|m| m.is_empty()) => {}
                    None if v.as_array().is_some_and(|l| l.is_empty()) => {}
                    None => out.push(SchemaProblem {
                        rule: "schema-unknown-field",
                        path: join(path, k),
                        message: format!("unknown field `{k}` (not in the Kubernetes API type)"),
                    }),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                dropped_keys(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_and_mistyped_core_fields() {
        let ok = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
                        "stringData": {"k": "v"}});
        assert_eq!(check_core("v1", "Secret", &ok), Some(vec![]));
        let bad = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringdata": {"k": "v"}});
        let got = check_core("v1", "Secret", &bad).unwrap();
        assert_eq!(got[0].path, "stringdata");
        let bad = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                         "spec": {"ports": [{"port": "eighty"}]}});
        let got = check_core("v1", "Service", &bad).unwrap();
        assert_eq!(got[0].rule, "core-decode");
        assert_eq!(got[0].path, "spec.ports[0].port");
        assert!(is_core_api_version("rbac.authorization.k8s.io/v1"));
        assert!(!is_core_api_version("toolhive.stacklok.dev/v1beta1"));
    }
}
