//! `vmcp-conformance verify-docs`: every YAML example of a docs tree checked against the CRD
//! schemas, their CEL rules and the wiring between the resources of one page.
//!
//! Pipeline per page: fenced blocks (markdown-rs, line reader as fallback) -> YAML documents
//! ([`yaml`]) -> classification (complete object, fragment wrapped into its kind, core kind, vMCP
//! config, not ToolHive) -> schema + CEL ([`schema`]) or strict core decoding ([`core`]) ->
//! wiring across the page's objects ([`wiring`]). Findings go to a [`Report`], rendered by
//! [`report`] and compared with a [`baseline`].

pub mod baseline;
pub mod bench;
pub mod cli;
pub mod core;
pub mod report;
pub mod schema;
pub mod wiring;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use self::schema::{SchemaProblem, SchemaSet};
use self::yaml::{YamlDoc, locate, placeholder_paths, split_documents};
use super::mdx::page_blocks;

/// How bad a finding is. Only errors fail the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One finding, at a page line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Relative to DOCS_DIR, `/`-separated.
    pub file: String,
    /// The line of the offending key where known, else the fence.
    pub line: usize,
    /// The line of the opening fence (0 for page-level findings such as a parse error).
    pub block_line: usize,
    pub severity: Severity,
    /// A stable id (`schema-required`, `cel`, `wiring-OutgoingAuthValidated`, …).
    pub rule: String,
    /// The field path within the document (`spec.outgoingAuth.backends.github.type`).
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// What a YAML document was recognised as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "kebab-case")]
pub enum DocClass {
    /// A whole ToolHive object with apiVersion and kind.
    Complete { kind: String },
    /// A part of a ToolHive object, wrapped into `kind` at `path`.
    Fragment { kind: String, path: String },
    /// A core Kubernetes kind.
    Core { kind: String, checked: bool },
    /// The vMCP configuration file format (`VirtualMCPServer` `spec.config`).
    VmcpConfig,
    /// YAML that is not a ToolHive resource (Helm values, other APIs, CI workflows, …).
    NotToolhive { reason: String },
    /// Not parseable YAML.
    Unparsable,
}

impl DocClass {
    /// The class name used in counts.
    pub fn name(&self) -> &'static str {
        match self {
            DocClass::Complete { .. } => "complete",
            DocClass::Fragment { .. } => "fragment",
            DocClass::Core { .. } => "core",
            DocClass::VmcpConfig => "vmcp-config",
            DocClass::NotToolhive { .. } => "not-toolhive",
            DocClass::Unparsable => "unparsable",
        }
    }
}

/// One YAML block and what its documents were.
#[derive(Debug, Clone, Serialize)]
pub struct BlockRecord {
    pub file: String,
    pub line: usize,
    pub title: Option<String>,
    pub documents: Vec<DocClass>,
}

/// Everything one run found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub pages: usize,
    pub blocks: Vec<BlockRecord>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Documents per class.
    pub fn class_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for b in &self.blocks {
            for d in &b.documents {
                *out.entry(d.name()).or_default() += 1;
            }
        }
        out
    }

    /// Findings per rule.
    pub fn rule_counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for f in &self.findings {
            *out.entry(f.rule.clone()).or_default() += 1;
        }
        out
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }
}

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these pages (relative to DOCS_DIR); all when empty.
    pub changed: Vec<String>,
}

/// The `.md`/`.mdx` pages under `dir`, relative and sorted.
pub fn pages(dir: &Path) -> Result<Vec<String>, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                if entry.file_name().to_string_lossy().starts_with('.') || entry.file_name() == "node_modules" {
                    continue;
                }
                walk(root, &path, out)?;
            } else if path.extension().is_some_and(|e| e == "md" || e == "mdx")
                && let Ok(rel) = path.strip_prefix(root)
            {
                out.push(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out).map_err(|e| format!("cannot read the docs folder {}: {e}", dir.display()))?;
    out.sort();
    Ok(out)
}

/// Verifies every page of `dir` (or the `changed` ones) against `schemas`.
pub fn verify_dir(dir: &Path, schemas: &mut SchemaSet, options: &Options) -> Result<Report, String> {
    let all = pages(dir)?;
    let selected: Vec<String> = if options.changed.is_empty() {
        all
    } else {
        let wanted: BTreeSet<&str> = options.changed.iter().map(String::as_str).collect();
        all.into_iter().filter(|p| wanted.contains(p.as_str())).collect()
    };
    let mut report = Report::default();
    for rel in selected {
        let path: PathBuf = dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        verify_page(&rel, &text, schemas, &mut report);
    }
    report.findings.sort();
    report.findings.dedup();
    Ok(report)
}

/// A ToolHive object of a page, for the wiring checks.
#[derive(Debug, Clone)]
pub struct PageObject {
    pub value: Value,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub block_line: usize,
    pub title: Option<String>,
    pub doc: YamlDoc,
}

/// Verifies one page (`rel` is its path relative to DOCS_DIR), adding to `report`.
pub fn verify_page(rel: &str, text: &str, schemas: &mut SchemaSet, report: &mut Report) {
    report.pages += 1;
    let parsed = page_blocks(text, rel.ends_with(".mdx"));
    if let Some(e) = &parsed.parse_error {
        report.findings.push(Finding {
            file: rel.to_string(),
            line: e.line,
            block_line: 0,
            severity: Severity::Error,
            rule: "mdx-parse".into(),
            path: String::new(),
            message: format!(
                "the page does not parse as {} (column {}): {}; its code blocks were read line by line instead",
                if rel.ends_with(".mdx") { "MDX" } else { "Markdown" },
                e.column,
                e.reason
            ),
        });
    }
    let yaml_blocks: Vec<_> = parsed.blocks.iter().filter(|b| b.lang == "yaml" || b.lang == "yml").collect();
    // First pass: parse every document, note the kinds of the page's complete objects.
    let mut parsed_docs = Vec::new();
    let mut page_kinds = BTreeSet::new();
    for b in &yaml_blocks {
        for doc in split_documents(&b.content, b.line) {
            let value = serde_saphyr::from_str::<Value>(&doc.text);
            if let Ok(v) = &value
                && let Some(k) = v.get("kind").and_then(Value::as_str)
            {
                page_kinds.insert(k.to_string());
            }
            parsed_docs.push((b.line, doc, value));
        }
    }
    let mut objects = Vec::new();
    let mut records: BTreeMap<usize, BlockRecord> = BTreeMap::new();
    for b in &yaml_blocks {
        records.insert(
            b.line,
            BlockRecord { file: rel.to_string(), line: b.line, title: b.title.clone(), documents: Vec::new() },
        );
    }
    for (block_line, doc, value) in parsed_docs {
        let block = yaml_blocks.iter().find(|b| b.line == block_line).expect("block of its document");
        let hints = format!("{} {}", block.title.as_deref().unwrap_or(""), block.heading_anchor).to_ascii_lowercase();
        let ctx = DocCtx {
            rel,
            block_line,
            doc: &doc,
            hints: &hints,
            title: block.title.as_deref(),
            page_kinds: &page_kinds,
        };
        let class = match value {
            Err(e) => {
                let (line, msg) = yaml_error_line(&e.to_string());
                report.findings.push(Finding {
                    file: rel.to_string(),
                    line: line.map(|l| doc.first_line + l - 1).unwrap_or(block_line),
                    block_line,
                    severity: Severity::Error,
                    rule: if msg.contains("duplicate mapping key") { "yaml-duplicate-key" } else { "yaml-parse" }
                        .into(),
                    path: String::new(),
                    message: format!("document {} is not valid YAML: {msg}", doc.index),
                });
                DocClass::Unparsable
            }
            Ok(v) => classify_and_check(&ctx, &v, schemas, &mut report.findings, &mut objects),
        };
        if let Some(r) = records.get_mut(&block_line) {
            r.documents.push(class);
        }
    }
    wiring::check_page(rel, &objects, &mut report.findings);
    report.blocks.extend(records.into_values());
}

struct DocCtx<'a> {
    rel: &'a str,
    block_line: usize,
    doc: &'a YamlDoc,
    hints: &'a str,
    title: Option<&'a str>,
    page_kinds: &'a BTreeSet<String>,
}

impl DocCtx<'_> {
    fn finding(&self, severity: Severity, rule: &str, path: &str, message: String) -> Finding {
        let line = locate(&self.doc.text, path).map(|l| self.doc.first_line + l - 1).unwrap_or(self.block_line);
        Finding {
            file: self.rel.to_string(),
            line,
            block_line: self.block_line,
            severity,
            rule: rule.to_string(),
            path: path.to_string(),
            message,
        }
    }
}

static YAML_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"line (\d+)").expect("regex"));

fn yaml_error_line(message: &str) -> (Option<usize>, String) {
    let line = YAML_LINE.captures(message).and_then(|c| c[1].parse().ok()).filter(|l: &usize| *l >= 1);
    (line, message.lines().next().unwrap_or(message).to_string())
}

fn classify_and_check(
    ctx: &DocCtx<'_>,
    value: &Value,
    schemas: &mut SchemaSet,
    findings: &mut Vec<Finding>,
    objects: &mut Vec<PageObject>,
) -> DocClass {
    if value.is_null() {
        return DocClass::NotToolhive { reason: "empty document".into() };
    }
    let api_version = value.get("apiVersion").and_then(Value::as_str);
    let kind = value.get("kind").and_then(Value::as_str);
    let mut problems: Vec<SchemaProblem> = Vec::new();
    let mut where_ = String::new();
    // For a fragment: the schema and node it was wrapped at.
    let mut fragment_at: Option<(usize, String)> = None;
    let class = match (api_version, kind) {
        (Some(av), Some(k)) if av.starts_with(&format!("{}/", crate::crd::GROUP)) => {
            let Some(index) = schemas.find(av, k) else {
                let versions = schemas.versions(crate::crd::GROUP, k);
                let (rule, path, msg) = if versions.is_empty() {
                    (
                        "unknown-kind",
                        "kind",
                        format!("`{k}` is not a ToolHive kind known to the CRDs ({})", schemas.source),
                    )
                } else {
                    (
                        "api-version",
                        "apiVersion",
                        format!(
                            "`{av}` is not served for {k}; use {}",
                            versions
                                .iter()
                                .map(|v| format!("{}/{v}", crate::crd::GROUP))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                    )
                };
                findings.push(ctx.finding(Severity::Error, rule, path, msg));
                return DocClass::Complete { kind: k.to_string() };
            };
            problems.extend(schemas.validate(index, "", value));
            if let Err(e) =
                crate::crd::check_manifest_keys(value, &["apiVersion", "kind", "metadata", "spec", "status"])
                && e.path.starts_with("metadata.")
            {
                problems.push(SchemaProblem { rule: "schema-unknown-field", path: e.path, message: e.message });
            }
            let name = value.pointer("/metadata/name").and_then(Value::as_str);
            if name.is_none() && value.pointer("/metadata/generateName").is_none() {
                problems.push(SchemaProblem {
                    rule: "schema-required",
                    path: "metadata.name".into(),
                    message: "missing required field `metadata.name`".into(),
                });
            }
            // Elided examples are sketches: they take no part in the wiring.
            if let Some(name) = name.filter(|_| ctx.doc.elisions.is_empty()) {
                objects.push(PageObject {
                    value: value.clone(),
                    kind: k.to_string(),
                    name: name.to_string(),
                    namespace: value.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").into(),
                    block_line: ctx.block_line,
                    title: ctx.title.map(str::to_string),
                    doc: ctx.doc.clone(),
                });
            }
            DocClass::Complete { kind: k.to_string() }
        }
        (Some(av), Some(k)) if core::is_core_api_version(av) => match core::check_core(av, k, value) {
            Some(p) => {
                problems.extend(p);
                if (k == "Secret" || k == "ConfigMap")
                    && let Some(name) = value.pointer("/metadata/name").and_then(Value::as_str)
                {
                    {
                        objects.push(PageObject {
                            value: value.clone(),
                            kind: k.to_string(),
                            name: name.to_string(),
                            namespace: value
                                .pointer("/metadata/namespace")
                                .and_then(Value::as_str)
                                .unwrap_or("default")
                                .into(),
                            block_line: ctx.block_line,
                            title: ctx.title.map(str::to_string),
                            doc: ctx.doc.clone(),
                        });
                    }
                }
                DocClass::Core { kind: k.to_string(), checked: true }
            }
            None => DocClass::Core { kind: k.to_string(), checked: false },
        },
        (Some(av), _) if av.contains('/') && !core::is_core_api_version(av) => {
            DocClass::NotToolhive { reason: format!("apiVersion {av}") }
        }
        (None, Some(k)) if schemas.by_kind(k).is_some() => {
            findings.push(ctx.finding(
                Severity::Error,
                "schema-required",
                "apiVersion",
                format!("missing required field `apiVersion` (for {k}: {}/…)", crate::crd::GROUP),
            ));
            DocClass::Complete { kind: k.to_string() }
        }
        _ => match choose_fragment(ctx, value, schemas) {
            Some((index, node, found)) => {
                let k = schemas.kinds()[index].kind.clone();
                problems.extend(found);
                fragment_at = Some((index, node.pointer.clone()));
                where_ = format!(
                    " (checked as {k} {})",
                    if node.path.is_empty() { "root".into() } else { node.path.clone() }
                );
                if k == "VirtualMCPServer" && node.path == "spec.config" {
                    DocClass::VmcpConfig
                } else {
                    DocClass::Fragment { kind: k, path: node.path }
                }
            }
            None => DocClass::NotToolhive {
                reason: match value.as_object() {
                    Some(m) => {
                        format!("no CRD object holds the keys {}", m.keys().cloned().collect::<Vec<_>>().join(", "))
                    }
                    None => "not a mapping".into(),
                },
            },
        },
    };
    // The gateway refuses to start with a restricted `passthroughHeaders` entry (configuration.mdx
    // #forward-client-headers-to-backends); the same rule the reference applies.
    let vmcp_doc = match &class {
        DocClass::Complete { kind } | DocClass::Fragment { kind, .. } => kind == "VirtualMCPServer",
        DocClass::VmcpConfig => true,
        _ => false,
    };
    if vmcp_doc {
        let mut lists = Vec::new();
        passthrough_lists(value, "", &mut lists);
        for (path, headers) in lists {
            for (i, h) in headers.iter().enumerate() {
                let Some(h) = h.as_str() else { continue };
                if let Err(e) = crate::vmcp::outgoing::validate_passthrough(&[h.to_string()]) {
                    problems.push(SchemaProblem {
                        rule: "passthrough-restricted",
                        path: format!("{path}[{i}]"),
                        message: format!("{e}; remove it from the list"),
                    });
                }
            }
        }
    }
    // Placeholders and elisions are their own class: the errors they cause are not schema errors.
    let mut placeholders = Vec::new();
    placeholder_paths(value, "", &mut placeholders);
    let elided = !ctx.doc.elisions.is_empty();
    let mut hidden = 0usize;
    for p in problems {
        let at_placeholder = placeholders.iter().any(|ph| p.path == *ph || p.path.starts_with(&format!("{ph}.")));
        let from_elision = elided && matches!(p.rule, "schema-required" | "cel" | "schema-bounds");
        // A fragment shows part of the object it names: fields missing right under its top-level
        // keys are left out on purpose; deeper objects it shows must be whole.
        let partial = p.rule == "schema-required"
            && fragment_at.as_ref().is_some_and(|(i, pointer)| {
                let parent = p.path.rsplit_once('.').map(|(a, _)| a).unwrap_or("");
                !schemas.through_entry(*i, pointer, parent)
            });
        if partial {
            continue;
        }
        if at_placeholder || from_elision {
            hidden += 1;
            continue;
        }
        let severity = match p.rule {
            "cel-unsupported" => Severity::Warning,
            _ => Severity::Error,
        };
        findings.push(ctx.finding(severity, p.rule, &p.path, format!("{}{where_}", p.message)));
    }
    if elided {
        let line = ctx.doc.elisions[0];
        findings.push(Finding {
            file: ctx.rel.to_string(),
            line,
            block_line: ctx.block_line,
            severity: Severity::Note,
            rule: "elision".into(),
            path: String::new(),
            message: format!(
                "document {} elides content (`...`) on line(s) {}; required-field and CEL checks that may depend on the \
                 elided part were not reported{}",
                ctx.doc.index,
                ctx.doc.elisions.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
                if hidden > 0 { format!(" ({hidden} suppressed)") } else { String::new() }
            ),
        });
    }
    if !placeholders.is_empty() && !matches!(class, DocClass::NotToolhive { .. }) {
        let first = &placeholders[0];
        findings.push(ctx.finding(
            Severity::Note,
            "placeholder",
            first,
            format!(
                "placeholder value(s) the reader must replace at {}; format, pattern and enum checks skip them",
                placeholders.join(", ")
            ),
        ));
    }
    class
}

/// Every `passthroughHeaders` list in `value`, with its path.
fn passthrough_lists<'a>(value: &'a Value, path: &str, out: &mut Vec<(String, &'a Vec<Value>)>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            let at = yaml::join(path, k);
            match v {
                Value::Array(items) if k == "passthroughHeaders" => out.push((at, items)),
                _ => passthrough_lists(v, &at, out),
            }
        }
    }
}

/// The schema node a fragment belongs to: every top-level key (of the mapping, or of the items
/// of a list) must be a property of one object node. Ties are broken by the kinds named in the
/// block's title and heading, then the kinds of the page's complete objects, then depth.
fn choose_fragment(
    ctx: &DocCtx<'_>,
    value: &Value,
    schemas: &mut SchemaSet,
) -> Option<(usize, schema::SchemaNode, Vec<SchemaProblem>)> {
    let candidates = wrap_fragment(ctx, value, schemas);
    let tier = candidates.first()?.0;
    let mut best: Option<(usize, usize, usize, schema::SchemaNode, Vec<SchemaProblem>)> = None;
    for (rank, i, node) in candidates.into_iter().filter(|(r, _, _)| *r == tier).take(8) {
        let _ = rank;
        let problems = match value {
            Value::Array(items) if node.item => items
                .iter()
                .enumerate()
                .flat_map(|(n, item)| {
                    schemas.validate(i, &node.pointer, item).into_iter().map(move |mut p| {
                        p.path = if p.path.is_empty() { format!("[{n}]") } else { format!("[{n}].{}", p.path) };
                        p
                    })
                })
                .collect(),
            _ => schemas.validate(i, &node.pointer, value),
        };
        let score = (problems.len(), node.depth);
        if best.as_ref().is_none_or(|(n, d, _, _, _)| score < (*n, *d)) {
            best = Some((score.0, score.1, i, node, problems));
        }
    }
    best.map(|(_, _, i, node, problems)| (i, node, problems))
}

/// Candidate nodes, best first, with their rank tier (title/heading names the kind, the page holds
/// the kind, keys missing from the node).
/// (kind not named by the title or heading, kind not on the page, keys the node lacks).
type Rank = (u8, u8, usize);

fn wrap_fragment(ctx: &DocCtx<'_>, value: &Value, schemas: &SchemaSet) -> Vec<(Rank, usize, schema::SchemaNode)> {
    let (keys, item): (Vec<&str>, bool) = match value {
        Value::Object(m) => (m.keys().map(String::as_str).collect(), false),
        Value::Array(items) => {
            let mut keys: Vec<&str> =
                items.iter().filter_map(Value::as_object).flat_map(|m| m.keys()).map(String::as_str).collect();
            keys.sort();
            keys.dedup();
            (keys, true)
        }
        _ => return Vec::new(),
    };
    if keys.is_empty() {
        return Vec::new();
    }
    // The newest version of each kind (CRDs list versions oldest first).
    let mut latest: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, k) in schemas.kinds().iter().enumerate() {
        latest.insert((k.group.as_str(), k.kind.as_str()), i);
    }
    let mut out: Vec<(Rank, usize, usize, schema::SchemaNode)> = Vec::new();
    let spec_only = keys.iter().all(|k| *k == "spec" || *k == "metadata") && keys.contains(&"spec");
    for &i in latest.values() {
        let k = &schemas.kinds()[i];
        let lower = k.kind.to_ascii_lowercase();
        let named = ctx
            .hints
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == lower || w.strip_suffix('s') == Some(lower.as_str()));
        let on_page = ctx.page_kinds.contains(&k.kind);
        for node in &k.nodes {
            if node.item != item || (node.depth == 0) != spec_only {
                continue;
            }
            let (matched, total) = if spec_only {
                // `spec:` alone says nothing: match the keys under it against the kind's spec.
                let spec_keys: Vec<&String> =
                    value.get("spec").and_then(Value::as_object).map(|m| m.keys().collect()).unwrap_or_default();
                let spec_props = k.nodes.iter().find(|n| n.path == "spec").map(|n| n.props.as_slice()).unwrap_or(&[]);
                (spec_keys.iter().filter(|key| spec_props.contains(key)).count(), spec_keys.len())
            } else {
                (keys.iter().filter(|key| node.props.iter().any(|p| p == *key)).count(), keys.len())
            };
            let missing = total - matched;
            if spec_only {
                out.push(((u8::from(!named), u8::from(!on_page), missing), node.depth, i, node.clone()));
                continue;
            }
            // Every key, or all but one of at least three (a typo in a real fragment).
            if !(missing == 0 || (keys.len() >= 3 && missing == 1)) {
                continue;
            }
            out.push(((u8::from(!named), u8::from(!on_page), missing), node.depth, i, node.clone()));
        }
    }
    out.sort_by_key(|a| (a.0, a.1, a.2));
    out.into_iter().map(|(rank, _, i, node)| (rank, i, node)).collect()
}
