//! Our CRD types against ToolHive's CRDs (v1beta1 openAPIV3Schema), read at run time from the
//! shared reference material: a modelled field missing upstream or shaped differently fails;
//! upstream fields not modelled yet are printed per kind.

use std::path::PathBuf;

use kube::CustomResourceExt;
use serde_json::{Value, json};
use vmcp_conformance::crd::schema_diff::{SchemaDiff, compare};
use vmcp_conformance::crd::{
    MCPAuthzConfig, MCPExternalAuthConfig, MCPGroup, MCPOIDCConfig, MCPServer, MCPServerEntry, VirtualMCPServer,
};

const SHARED_ENV: &str = "VMCP_CONFORMANCE_SHARED";

/// The shared reference directory: `$VMCP_CONFORMANCE_SHARED`, else `$CARGO_MANIFEST_DIR/../shared`.
fn shared_dir() -> PathBuf {
    let dir = std::env::var_os(SHARED_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("reference/crds").is_dir(),
        "the shared reference material is missing: {} has no reference/crds; set {SHARED_ENV} to the directory \
         holding reference/crds/toolhive.stacklok.dev_*.yaml",
        dir.display()
    );
    dir
}

/// ToolHive's CRD for `plural`, as JSON.
fn upstream_crd(plural: &str) -> Value {
    let path = shared_dir().join(format!("reference/crds/toolhive.stacklok.dev_{plural}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn v1beta1(crd: &Value) -> &Value {
    crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == "v1beta1"))
        .expect("upstream CRD serves v1beta1")
}

struct Kind {
    kind: &'static str,
    plural: &'static str,
    ours: Value,
}

fn kinds() -> Vec<Kind> {
    let to_json = |crd| serde_json::to_value(crd).expect("CRD serialises");
    vec![
        Kind { kind: "VirtualMCPServer", plural: "virtualmcpservers", ours: to_json(VirtualMCPServer::crd()) },
        Kind {
            kind: "MCPExternalAuthConfig",
            plural: "mcpexternalauthconfigs",
            ours: to_json(MCPExternalAuthConfig::crd()),
        },
        Kind { kind: "MCPOIDCConfig", plural: "mcpoidcconfigs", ours: to_json(MCPOIDCConfig::crd()) },
        Kind { kind: "MCPServer", plural: "mcpservers", ours: to_json(MCPServer::crd()) },
        Kind { kind: "MCPServerEntry", plural: "mcpserverentries", ours: to_json(MCPServerEntry::crd()) },
        Kind { kind: "MCPGroup", plural: "mcpgroups", ours: to_json(MCPGroup::crd()) },
        Kind { kind: "MCPAuthzConfig", plural: "mcpauthzconfigs", ours: to_json(MCPAuthzConfig::crd()) },
    ]
}

fn spec_diff(k: &Kind) -> SchemaDiff {
    let up = upstream_crd(k.plural);
    let ours = &k.ours["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let theirs = &v1beta1(&up)["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert!(ours.is_object(), "{}: our CRD has no spec schema", k.kind);
    assert!(theirs.is_object(), "{}: upstream v1beta1 has no spec schema", k.kind);
    compare(ours, theirs, "spec")
}

#[test]
fn names_group_version_and_scope_match_upstream() {
    for k in kinds() {
        let up = upstream_crd(k.plural);
        let ours = &k.ours;
        assert_eq!(ours["spec"]["group"], up["spec"]["group"], "{} group", k.kind);
        assert_eq!(ours["spec"]["names"]["kind"], up["spec"]["names"]["kind"], "{} kind", k.kind);
        assert_eq!(ours["spec"]["names"]["plural"], up["spec"]["names"]["plural"], "{} plural", k.kind);
        assert_eq!(ours["spec"]["scope"], up["spec"]["scope"], "{} scope", k.kind);
        assert_eq!(ours["spec"]["versions"][0]["name"], "v1beta1", "{} version", k.kind);
        v1beta1(&up);
    }
}

#[test]
fn modelled_fields_exist_upstream_with_the_same_shape() {
    let mut failures = Vec::new();
    for k in kinds() {
        let diff = spec_diff(&k);
        println!(
            "{}: {} modelled fields match upstream; {} upstream fields not modelled",
            k.kind,
            diff.checked,
            diff.unmodelled.len()
        );
        for p in &diff.unmodelled {
            println!("  {p}");
        }
        failures.extend(diff.mismatches.iter().map(|m| format!("{}: {m}", k.kind)));
    }
    assert!(failures.is_empty(), "our CRD types depart from ToolHive's v1beta1 schema:\n{}", failures.join("\n"));
}

#[test]
fn the_comparison_fails_on_a_deliberately_wrong_field() {
    let upstream = json!({"type": "object", "properties": {
        "issuer": {"type": "string"},
        "tokenLifespans": {"type": "object", "properties": {"accessTokenLifespan": {"type": "string"}}},
        "additionalAuthorizationParams": {"type": "object", "additionalProperties": {"type": "string"}}
    }});
    let wrong = json!({"type": "object", "properties": {
        "issuer": {"type": "boolean"},
        "tokenLifespans": {"type": "object", "properties": {"accessTokenLifespn": {"type": "string"}}},
        "additionalAuthorizationParams": {"type": "array", "items": {"type": "string"}}
    }});
    let diff = compare(&wrong, &upstream, "spec");
    let paths: Vec<&str> = diff.mismatches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["spec.additionalAuthorizationParams", "spec.issuer", "spec.tokenLifespans.accessTokenLifespn"],
        "{:?}",
        diff.mismatches
    );
    assert_eq!(diff.unmodelled, vec!["spec.tokenLifespans.accessTokenLifespan"]);
    assert!(compare(&upstream, &upstream, "spec").mismatches.is_empty());
}
