//! The wiring between the objects of one page ("How the references link by name"): for each
//! VirtualMCPServer on the page, a bundle of it and the page's other objects (the same file
//! title first, else the nearest block) runs through the bundle's reconcile rules, and every
//! failing status condition becomes a finding on the object it concerns.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::yaml::locate;
use super::{Finding, PageObject, Severity};
use crate::bundle::{Bundle, Environment};

/// Condition types that depend on what a page cannot show (Secrets kept elsewhere) or on what the
/// reference implements, not on the docs.
const SKIPPED_TYPES: &[&str] = &["SecretRefsValidated", "FeaturesSupported"];
/// Reasons that only say an object is defined elsewhere or is not implemented by the reference.
const NOTE_REASONS: &[&str] = &["StrategyNotImplemented", "FeatureNotImplemented", "BackendURLMissing"];

/// The kinds a bundle loads; other objects of the page take no part in the wiring.
const BUNDLE_KINDS: &[&str] = &[
    "VirtualMCPServer",
    "MCPExternalAuthConfig",
    "MCPOIDCConfig",
    "MCPServer",
    "MCPServerEntry",
    "MCPGroup",
    "Secret",
    "ConfigMap",
];

static FIELD_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bspec(\.[A-Za-z0-9_-]+|\[\d+\])+").expect("regex"));

/// Adds the wiring findings of one page.
pub fn check_page(rel: &str, objects: &[PageObject], findings: &mut Vec<Finding>) {
    for (vi, vmcp) in objects.iter().enumerate().filter(|(_, o)| o.kind == "VirtualMCPServer") {
        // One object per (kind, namespace, name): same title first, then the nearest block.
        let mut chosen: BTreeMap<(&str, &str, &str), (usize, usize)> = BTreeMap::new();
        for (oi, o) in objects.iter().enumerate() {
            if !BUNDLE_KINDS.contains(&o.kind.as_str()) || (o.kind == "VirtualMCPServer" && oi != vi) {
                continue;
            }
            let same_title = vmcp.title.is_some() && o.title == vmcp.title;
            let distance = o.block_line.abs_diff(vmcp.block_line) + if same_title { 0 } else { 1_000_000 };
            let key = (o.kind.as_str(), o.namespace.as_str(), o.name.as_str());
            if chosen.get(&key).is_none_or(|(d, _)| distance < *d) {
                chosen.insert(key, (distance, oi));
            }
        }
        let members: Vec<&PageObject> = chosen.values().map(|(_, oi)| &objects[*oi]).collect();
        let text = members
            .iter()
            .map(|o| serde_json::to_string(&o.value).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n");
        let bundle = match Bundle::from_yaml(&text) {
            Ok(b) => b,
            Err(_)
                if findings
                    .iter()
                    .any(|f| f.file == rel && f.block_line == vmcp.block_line && f.severity == Severity::Error) =>
            {
                // The schema findings of the block already say why it does not load.
                continue;
            }
            Err(e) => {
                findings.push(Finding {
                    file: rel.to_string(),
                    line: vmcp.block_line,
                    block_line: vmcp.block_line,
                    severity: Severity::Note,
                    rule: "wiring-skipped".into(),
                    path: String::new(),
                    message: format!(
                        "the wiring of VirtualMCPServer/{} was not checked: its page objects do not load as a \
                         bundle ({e})",
                        vmcp.name
                    ),
                });
                continue;
            }
        };
        let mut env = Environment::default();
        for o in members.iter().filter(|o| o.kind == "MCPServer") {
            env.backend_urls.insert(o.name.clone(), "http://127.0.0.1:9/mcp".into());
        }
        let reconciled = bundle.reconcile(&env);
        for c in reconciled.failures() {
            if SKIPPED_TYPES.contains(&c.type_.as_str()) {
                continue;
            }
            let target =
                members.iter().find(|o| format!("{}/{}", o.kind, o.name) == c.resource).copied().unwrap_or(vmcp);
            let group = vmcp.value.pointer("/spec/groupRef/name");
            let no_backends_here = !members.iter().any(|o| {
                (o.kind == "MCPServer" || o.kind == "MCPServerEntry") && o.value.pointer("/spec/groupRef/name") == group
            });
            let defined_elsewhere =
                c.reason.ends_with("NotFound") || (c.reason == "BackendNotInGroup" && no_backends_here);
            // A rule that fails on a placeholder value (`https://<VMCP_ENDPOINT>`) is the reader's
            // to fill in, not a mistake of the example.
            let on_placeholder = super::yaml::is_placeholder(&c.message);
            let severity = if defined_elsewhere || on_placeholder || NOTE_REASONS.contains(&c.reason.as_str()) {
                Severity::Note
            } else {
                Severity::Error
            };
            let path = FIELD_PATH.find(&c.message).map(|m| m.as_str().to_string()).unwrap_or_default();
            // The schema already reported this field: one finding is enough.
            let overlaps = |p: &str| !p.is_empty() && !path.is_empty() && (p.starts_with(&path) || path.starts_with(p));
            if findings.iter().any(|f| {
                f.file == rel && f.block_line == target.block_line && f.severity == Severity::Error && overlaps(&f.path)
            }) {
                continue;
            }
            let line =
                locate(&target.doc.text, &path).map(|l| target.doc.first_line + l - 1).unwrap_or(target.block_line);
            findings.push(Finding {
                file: rel.to_string(),
                line,
                block_line: target.block_line,
                severity,
                rule: format!("wiring-{}", c.type_.split('-').next().unwrap_or(&c.type_)),
                path,
                message: format!(
                    "{}: {} ({}){}",
                    c.resource,
                    c.message,
                    c.reason,
                    if defined_elsewhere { "; the object may be defined on another page" } else { "" }
                ),
            });
        }
    }
}
