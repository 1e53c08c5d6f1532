//! CRD schemas: loaded from a folder of CRD manifests (ToolHive's `operator-crds/files/crds/`)
//! or generated from this crate's kube types; structural validation (jsonschema over the
//! openAPIV3Schema made strict like `kubectl apply`), list-type checks, defaults, and the
//! `x-kubernetes-validations` CEL rules (kube-cel).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use jsonschema::error::ValidationErrorKind;
use kube::CustomResourceExt;
use kube::core::cel::{CompiledSchema, ErrorKind, RootContext, Validator as CelValidator, compile_schema};
use serde_json::{Map, Value};

use super::yaml::join;

/// The schema of one kind at one version.
pub struct KindSchema {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The openAPIV3Schema as written.
    pub raw: Value,
    /// Every object node with named properties: (JSON pointer into `raw`, field path with `[]`
    /// for items and `*` for map values, depth, property names).
    pub nodes: Vec<SchemaNode>,
}

/// An object node of a schema, for wrapping fragments.
#[derive(Debug, Clone)]
pub struct SchemaNode {
    pub pointer: String,
    pub path: String,
    pub depth: usize,
    pub props: Vec<String>,
    /// Reached through an array's `items`.
    pub item: bool,
}

/// One problem a schema check found in a document, at a field path relative to the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    pub rule: &'static str,
    pub path: String,
    pub message: String,
}

/// The kinds known to the verifier.
#[derive(Default)]
pub struct SchemaSet {
    kinds: Vec<KindSchema>,
    /// Where the schemas came from (a folder or "built-in").
    pub source: String,
    compiled: HashMap<(usize, String), Compiled>,
    cel: Option<CelValidator>,
}

struct Compiled {
    structural: Result<jsonschema::Validator, String>,
    cel: CompiledSchema,
    sub: Value,
}

impl SchemaSet {
    /// The schemas generated from this crate's kube types (`CustomResourceExt::crd()`).
    pub fn builtin() -> SchemaSet {
        use crate::crd::*;
        let crds = [
            serde_json::to_value(VirtualMCPServer::crd()),
            serde_json::to_value(MCPExternalAuthConfig::crd()),
            serde_json::to_value(MCPOIDCConfig::crd()),
            serde_json::to_value(MCPServer::crd()),
            serde_json::to_value(MCPServerEntry::crd()),
            serde_json::to_value(MCPGroup::crd()),
        ];
        let mut set = SchemaSet { source: "built-in (this crate's kube types)".into(), ..Default::default() };
        for mut crd in crds.into_iter().flatten() {
            // kube-derive's root schema names only `spec` (and `status`) and requires `spec`; the
            // API server knows the object fields, and ToolHive's CRDs do not require `spec`.
            if let Some(versions) = crd.pointer_mut("/spec/versions").and_then(Value::as_array_mut) {
                for v in versions {
                    if let Some(Value::Object(root)) = v.pointer_mut("/schema/openAPIV3Schema") {
                        if let Some(Value::Object(props)) = root.get_mut("properties") {
                            props.entry("apiVersion").or_insert_with(|| serde_json::json!({"type": "string"}));
                            props.entry("kind").or_insert_with(|| serde_json::json!({"type": "string"}));
                            props.entry("metadata").or_insert_with(|| serde_json::json!({"type": "object"}));
                        }
                        root.remove("required");
                    }
                }
            }
            set.add_crd(&crd);
        }
        set
    }

    /// Every CRD manifest (`*.yaml`, `*.yml`, `*.json`) in `dir`.
    pub fn from_dir(dir: &Path) -> Result<SchemaSet, String> {
        let mut set = SchemaSet { source: dir.display().to_string(), ..Default::default() };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read --crds {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json"))
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let docs: Vec<Value> =
                serde_saphyr::from_multiple(&text).map_err(|e| format!("{} is not valid YAML: {e}", path.display()))?;
            for doc in docs {
                if doc.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                    set.add_crd(&doc);
                }
            }
        }
        if set.kinds.is_empty() {
            return Err(format!("--crds {}: no CustomResourceDefinition found", dir.display()));
        }
        Ok(set)
    }

    fn add_crd(&mut self, crd: &Value) {
        let spec = &crd["spec"];
        let (Some(group), Some(kind)) = (spec["group"].as_str(), spec["names"]["kind"].as_str()) else { return };
        for v in spec["versions"].as_array().into_iter().flatten() {
            let (Some(version), Some(schema)) = (v["name"].as_str(), v.pointer("/schema/openAPIV3Schema")) else {
                continue;
            };
            let mut nodes = Vec::new();
            index_nodes(schema, String::new(), String::new(), 0, false, &mut nodes);
            self.kinds.push(KindSchema {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                raw: schema.clone(),
                nodes,
            });
        }
    }

    pub fn kinds(&self) -> &[KindSchema] {
        &self.kinds
    }

    /// The index of `kind` in `apiVersion` (`group/version`).
    pub fn find(&self, api_version: &str, kind: &str) -> Option<usize> {
        let (group, version) = api_version.split_once('/')?;
        self.kinds.iter().position(|k| k.group == group && k.version == version && k.kind == kind)
    }

    /// Whether any version of `group` is known.
    pub fn knows_group(&self, group: &str) -> bool {
        self.kinds.iter().any(|k| k.group == group)
    }

    /// The versions known for `group`/`kind`.
    pub fn versions(&self, group: &str, kind: &str) -> Vec<String> {
        self.kinds.iter().filter(|k| k.group == group && k.kind == kind).map(|k| k.version.clone()).collect()
    }

    /// The preferred (last listed, i.e. newest) schema of `kind` in any group.
    pub fn by_kind(&self, kind: &str) -> Option<usize> {
        self.kinds.iter().rposition(|k| k.kind == kind)
    }

    /// Whether `path` (relative to the node at `pointer` of schema `index`) passes through a list
    /// item or a map value: an entry the docs write whole, as opposed to the plain objects a
    /// fragment walks through to reach what it shows.
    pub fn through_entry(&self, index: usize, pointer: &str, path: &str) -> bool {
        let Some(mut node) = self.kinds[index].raw.pointer(pointer) else { return false };
        for seg in super::yaml::segments(path) {
            match seg {
                super::yaml::Segment::Index(_) => return true,
                super::yaml::Segment::Key(k) => match node.get("properties").and_then(|p| p.get(&k)) {
                    Some(next) => node = next,
                    None if node.get("additionalProperties").is_some_and(Value::is_object) => return true,
                    None => return false,
                },
            }
        }
        false
    }

    /// Validates `value` against the node at `pointer` ("" = the whole object) of schema `index`:
    /// defaults applied, then structure, list types and CEL rules. Paths are relative to `value`.
    pub fn validate(&mut self, index: usize, pointer: &str, value: &Value) -> Vec<SchemaProblem> {
        let key = (index, pointer.to_string());
        if !self.compiled.contains_key(&key) {
            let sub = self.kinds[index].raw.pointer(pointer).cloned().unwrap_or(Value::Null);
            let strict = strict_schema(&sub);
            let structural = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .should_validate_formats(true)
                .build(&strict)
                .map_err(|e| e.to_string());
            let cel = compile_schema(&sub);
            self.compiled.insert(key.clone(), Compiled { structural, cel, sub });
        }
        let cel_validator = self.cel.get_or_insert_with(CelValidator::new);
        let compiled = &self.compiled[&key];
        let value = &prune_nulls(value);
        let defaulted = kube::core::cel::apply_defaults(&compiled.sub, value);
        let mut out = Vec::new();
        match &compiled.structural {
            Ok(v) => {
                for e in v.iter_errors(&defaulted) {
                    let at = pointer_to_path(e.instance_path().as_str());
                    structural_problem(e.kind(), &at, &e.to_string(), &mut out);
                }
            }
            Err(e) => out.push(SchemaProblem {
                rule: "schema-invalid",
                path: String::new(),
                message: format!("the CRD schema itself does not compile: {e}"),
            }),
        }
        list_types(&compiled.sub, &defaulted, "", &mut out);
        // CEL runs on structurally valid objects only (the API server stops before CEL).
        if out.is_empty() {
            let k = &self.kinds[index];
            let root = pointer.is_empty().then(|| RootContext {
                api_version: format!("{}/{}", k.group, k.version),
                api_group: k.group.clone(),
                kind: k.kind.clone(),
            });
            if let Err(errors) = cel_validator.validate_compiled_with_context(&compiled.cel, value, None, root.as_ref())
            {
                for e in errors.as_slice() {
                    let unsupported = matches!(
                        e.kind,
                        ErrorKind::UnsupportedReference | ErrorKind::CompilationFailure | ErrorKind::InvalidRule
                    );
                    out.push(SchemaProblem {
                        rule: if unsupported { "cel-unsupported" } else { "cel" },
                        path: e.field_path.clone(),
                        message: if unsupported {
                            format!("the CEL rule `{}` cannot be evaluated here: {}", e.rule, e.message)
                        } else {
                            format!("{} (x-kubernetes-validations rule `{}`)", e.message, e.rule)
                        },
                    });
                }
            }
        }
        out
    }
}

fn index_nodes(schema: &Value, pointer: String, path: String, depth: usize, item: bool, out: &mut Vec<SchemaNode>) {
    if depth > 40 {
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.push(SchemaNode {
            pointer: pointer.clone(),
            path: path.clone(),
            depth,
            props: props.keys().cloned().collect(),
            item,
        });
        for (k, v) in props {
            let p = format!("{pointer}/properties/{}", k.replace('~', "~0").replace('/', "~1"));
            index_nodes(v, p, join(&path, k), depth + 1, false, out);
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        index_nodes(items, format!("{pointer}/items"), format!("{path}[]"), depth + 1, true, out);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|i| i.is_object()) {
        index_nodes(values, format!("{pointer}/additionalProperties"), join(&path, "*"), depth + 1, false, out);
    }
}

/// The schema rewritten for jsonschema: `nullable`, int-or-string, and unknown fields denied on
/// every object with named properties unless it preserves unknown fields (strict, like
/// `kubectl apply`'s field validation). `x-kubernetes-*` rules are left to the other checks.
pub fn strict_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (k, v) in map {
        let v = match k.as_str() {
            "properties" | "patternProperties" | "definitions" => match v {
                Value::Object(props) => {
                    Value::Object(props.iter().map(|(pk, pv)| (pk.clone(), strict_schema(pv))).collect())
                }
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" if v.is_object() => strict_schema(v),
            "allOf" | "anyOf" | "oneOf" => match v {
                Value::Array(list) => Value::Array(list.iter().map(strict_schema).collect()),
                other => other.clone(),
            },
            "pattern" => match v.as_str() {
                Some(p) => Value::String(re2_to_ecma(p)),
                None => v.clone(),
            },
            k if k.starts_with("x-kubernetes-") || k == "nullable" || k == "default" || k == "example" => continue,
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    let preserve = map.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
    if map.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
        out.remove("type");
        out.insert("anyOf".into(), serde_json::json!([{"type": "integer"}, {"type": "string"}]));
    }
    if map.get("nullable").and_then(Value::as_bool) == Some(true)
        && let Some(Value::String(t)) = out.get("type").cloned()
    {
        out.insert("type".into(), serde_json::json!([t, "null"]));
    }
    if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserve {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    // Kubernetes formats jsonschema does not know are ignored by it; `int32`/`int64`/`byte` are
    // checked by type alone.
    Value::Object(out)
}

/// Kubernetes patterns are Go RE2; ECMA-262 (what JSON Schema's `pattern` means) has no POSIX
/// bracket classes, so `[[:space:]]` and friends are spelled out.
pub fn re2_to_ecma(pattern: &str) -> String {
    const CLASSES: [(&str, &str); 9] = [
        ("[:space:]", r"\s"),
        ("[:alpha:]", "A-Za-z"),
        ("[:digit:]", "0-9"),
        ("[:alnum:]", "A-Za-z0-9"),
        ("[:upper:]", "A-Z"),
        ("[:lower:]", "a-z"),
        ("[:xdigit:]", "0-9A-Fa-f"),
        ("[:word:]", r"\w"),
        ("[:punct:]", r"!-/:-@\[-`{-~"),
    ];
    let mut out = pattern.to_string();
    for (posix, ecma) in CLASSES {
        out = out.replace(posix, ecma);
    }
    out
}

/// Drops `null` values from mappings: the API server prunes nulls of non-nullable fields before
/// defaulting and validation.
pub fn prune_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), prune_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(prune_nulls).collect()),
        other => other.clone(),
    }
}

fn structural_problem(kind: &ValidationErrorKind, at: &str, text: &str, out: &mut Vec<SchemaProblem>) {
    let (rule, path, message) = match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                out.push(SchemaProblem {
                    rule: "schema-unknown-field",
                    path: join(at, key),
                    message: format!(
                        "unknown field `{key}`: the CRD has no such field here (strict decoding, as kubectl apply)"
                    ),
                });
            }
            return;
        }
        ValidationErrorKind::Required { property } => {
            let p = property.as_str().unwrap_or_default();
            ("schema-required", join(at, p), format!("missing required field `{p}`"))
        }
        ValidationErrorKind::Enum { options } => {
            ("schema-enum", at.to_string(), format!("{text} (allowed: {options})"))
        }
        ValidationErrorKind::Type { .. } => ("schema-type", at.to_string(), text.to_string()),
        ValidationErrorKind::Pattern { .. } => ("schema-pattern", at.to_string(), text.to_string()),
        ValidationErrorKind::Format { .. } => ("schema-format", at.to_string(), text.to_string()),
        ValidationErrorKind::Minimum { .. }
        | ValidationErrorKind::Maximum { .. }
        | ValidationErrorKind::ExclusiveMinimum { .. }
        | ValidationErrorKind::ExclusiveMaximum { .. }
        | ValidationErrorKind::MinLength { .. }
        | ValidationErrorKind::MaxLength { .. }
        | ValidationErrorKind::MinItems { .. }
        | ValidationErrorKind::MaxItems { .. }
        | ValidationErrorKind::MinProperties { .. }
        | ValidationErrorKind::MaxProperties { .. } => ("schema-bounds", at.to_string(), text.to_string()),
        _ => ("schema-invalid", at.to_string(), text.to_string()),
    };
    out.push(SchemaProblem { rule, path, message });
}

/// `x-kubernetes-list-type: map` (unique `x-kubernetes-list-map-keys` tuples) and `set` (unique
/// items), recursively along the value.
fn list_types(schema: &Value, value: &Value, path: &str, out: &mut Vec<SchemaProblem>) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, v) in map {
                if let Some(s) = props.and_then(|p| p.get(k)).or(extra) {
                    list_types(s, v, &join(path, k), out);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema.get("items").unwrap_or(&Value::Null);
            match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => {
                    let keys: Vec<&str> = schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                    for (i, item) in items.iter().enumerate() {
                        let tuple: Vec<String> =
                            keys.iter().map(|k| item.get(*k).map(Value::to_string).unwrap_or_default()).collect();
                        let tuple = tuple.join(",");
                        if let Some(first) = seen.insert(tuple.clone(), i) {
                            out.push(SchemaProblem {
                                rule: "schema-list-map-key",
                                path: format!("{path}[{i}]"),
                                message: format!(
                                    "duplicate entry: items {first} and {i} have the same {} ({tuple}); this list is \
                                     keyed by it (x-kubernetes-list-type: map)",
                                    keys.join(", ")
                                ),
                            });
                        }
                    }
                }
                Some("set") => {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            out.push(SchemaProblem {
                                rule: "schema-list-map-key",
                                path: format!("{path}[{i}]"),
                                message: format!("duplicate item {item} in a set (x-kubernetes-list-type: set)"),
                            });
                        }
                    }
                }
                _ => {}
            }
            for (i, item) in items.iter().enumerate() {
                list_types(item_schema, item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// `/spec/a/0/b` -> `spec.a[0].b`.
pub fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            out = join(&out, &seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_schemas_validate_structure_and_cel() {
        let mut set = SchemaSet::builtin();
        let i = set.find(crate::crd::API_VERSION, "MCPGroup").expect("MCPGroup");
        let ok = json!({"apiVersion": crate::crd::API_VERSION, "kind": "MCPGroup", "metadata": {"name": "g"}});
        assert_eq!(set.validate(i, "", &ok), vec![]);
        let mut bad = ok.clone();
        bad["spec"] = json!({"descriptionn": "x"});
        let got = set.validate(i, "", &bad);
        assert_eq!(got[0].rule, "schema-unknown-field", "{got:?}");
        assert_eq!(got[0].path, "spec.descriptionn");
    }

    #[test]
    fn list_map_keys_and_pointers() {
        let schema = json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"], "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}});
        let mut out = Vec::new();
        list_types(&schema, &json!({"l": [{"name": "a"}, {"name": "a"}]}), "", &mut out);
        assert_eq!(out[0].path, "l[1]");
        assert_eq!(pointer_to_path("/spec/a/0/b~1c"), "spec.a[0].b/c");
    }
}
