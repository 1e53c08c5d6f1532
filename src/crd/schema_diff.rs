//! Compare two openAPIV3Schema trees (ours, generated from the Rust types, against ToolHive's):
//! every field we model must exist upstream with the same shape (string / integer / number /
//! boolean / object / map / array), the same enum values, and must not be required where upstream
//! makes it optional. Upstream fields we do not model are listed, not failed.

use std::fmt;

use serde_json::Value;

/// The shape of a schema node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    String,
    Integer,
    Number,
    Boolean,
    /// An object with named `properties` (or a preserve-unknown-fields object).
    Object,
    /// An object whose values all follow `additionalProperties`.
    Map,
    Array,
    IntOrString,
    /// No constraint.
    Any,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Shape::String => "string",
            Shape::Integer => "integer",
            Shape::Number => "number",
            Shape::Boolean => "boolean",
            Shape::Object => "object",
            Shape::Map => "map",
            Shape::Array => "array",
            Shape::IntOrString => "int-or-string",
            Shape::Any => "any",
        };
        f.write_str(s)
    }
}

/// The shape of `schema`.
pub fn shape(schema: &Value) -> Shape {
    if schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
        return Shape::IntOrString;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => Shape::String,
        Some("integer") => Shape::Integer,
        Some("number") => Shape::Number,
        Some("boolean") => Shape::Boolean,
        Some("array") => Shape::Array,
        Some("object") => object_shape(schema),
        Some(_) => Shape::Any,
        None if schema.get("properties").is_some() => Shape::Object,
        None => Shape::Any,
    }
}

fn object_shape(schema: &Value) -> Shape {
    let has_props = schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
    let map_values = schema.get("additionalProperties").is_some_and(Value::is_object);
    if !has_props && map_values { Shape::Map } else { Shape::Object }
}

fn is_opaque(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
        && schema.get("properties").and_then(Value::as_object).is_none_or(|p| p.is_empty())
}

/// One way our schema departs from upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// The result of [`compare`].
#[derive(Debug, Clone, Default)]
pub struct SchemaDiff {
    /// Failures: modelled fields missing upstream or shaped differently.
    pub mismatches: Vec<Mismatch>,
    /// Upstream field paths we do not model (including those inside subtrees we keep opaque).
    pub unmodelled: Vec<String>,
    /// How many of our field paths were compared.
    pub checked: usize,
}

/// Compares `ours` with `upstream`, both rooted at `path` (e.g. `spec`).
pub fn compare(ours: &Value, upstream: &Value, path: &str) -> SchemaDiff {
    let mut diff = SchemaDiff::default();
    walk(ours, upstream, path, &mut diff);
    diff.mismatches.sort_by(|a, b| a.path.cmp(&b.path));
    diff.unmodelled.sort();
    diff.unmodelled.dedup();
    diff
}

fn walk(ours: &Value, up: &Value, path: &str, diff: &mut SchemaDiff) {
    let (so, su) = (shape(ours), shape(up));
    if so != su && so != Shape::Any && su != Shape::Any {
        diff.mismatches.push(Mismatch { path: path.to_string(), problem: format!("ours is {so}, upstream is {su}") });
        return;
    }
    compare_enums(ours, up, path, diff);
    match so {
        Shape::Object => {
            if is_opaque(ours) {
                list_all(up, path, &mut diff.unmodelled);
                return;
            }
            let empty = serde_json::Map::new();
            let op = ours.get("properties").and_then(Value::as_object).unwrap_or(&empty);
            let upp = up.get("properties").and_then(Value::as_object).unwrap_or(&empty);
            let up_open = upp.is_empty() && (is_opaque(up) || up.get("additionalProperties").is_some());
            let up_required = required(up);
            for (name, sub) in op {
                let sub_path = format!("{path}.{name}");
                diff.checked += 1;
                match upp.get(name) {
                    Some(usub) => walk(sub, usub, &sub_path, diff),
                    None if up_open => {}
                    None => diff
                        .mismatches
                        .push(Mismatch { path: sub_path.clone(), problem: "not in the upstream schema".into() }),
                }
                if required(ours).contains(&name.as_str()) && !up_required.contains(&name.as_str()) && !up_open {
                    diff.mismatches.push(Mismatch {
                        path: sub_path,
                        problem: "required by ours, optional upstream (valid manifests would be rejected)".into(),
                    });
                }
            }
            for (name, usub) in upp {
                if !op.contains_key(name) {
                    let sub_path = format!("{path}.{name}");
                    diff.unmodelled.push(sub_path.clone());
                    list_all(usub, &sub_path, &mut diff.unmodelled);
                }
            }
        }
        Shape::Map => {
            if let (Some(o), Some(u)) = (ours.get("additionalProperties"), up.get("additionalProperties")) {
                walk(o, u, &format!("{path}.*"), diff);
            }
        }
        Shape::Array => {
            if let (Some(o), Some(u)) = (ours.get("items"), up.get("items")) {
                walk(o, u, &format!("{path}[]"), diff);
            }
        }
        _ => {}
    }
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn enum_values(schema: &Value) -> Option<Vec<String>> {
    let values = schema.get("enum")?.as_array()?;
    let mut out: Vec<String> = values.iter().filter(|v| !v.is_null()).map(|v| v.to_string()).collect();
    out.sort();
    out.dedup();
    Some(out)
}

fn compare_enums(ours: &Value, up: &Value, path: &str, diff: &mut SchemaDiff) {
    match (enum_values(ours), enum_values(up)) {
        (Some(o), Some(u)) if o != u => diff.mismatches.push(Mismatch {
            path: path.to_string(),
            problem: format!("enum values differ: ours [{}], upstream [{}]", o.join(", "), u.join(", ")),
        }),
        (Some(o), None) => diff.mismatches.push(Mismatch {
            path: path.to_string(),
            problem: format!("ours restricts to [{}], upstream has no enum", o.join(", ")),
        }),
        _ => {}
    }
}

/// Every property path below `schema` (not `path` itself).
fn list_all(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let p = format!("{path}.{name}");
            out.push(p.clone());
            list_all(sub, &p, out);
        }
    }
    if let Some(items) = schema.get("items") {
        list_all(items, &format!("{path}[]"), out);
    }
    if let Some(ap) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        list_all(ap, &format!("{path}.*"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn upstream() -> Value {
        json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "port": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "params": {"type": "object", "additionalProperties": {"type": "string"}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "boolean"}}}},
            "extra": {"type": "object", "properties": {"deep": {"type": "string"}}}
        }})
    }

    #[test]
    fn identical_modelled_subset_passes_and_lists_the_rest() {
        let ours = json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "mode": {"type": "string", "enum": ["b", "a"], "nullable": true},
            "params": {"type": "object", "additionalProperties": {"type": "string"}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "boolean"}}}}
        }});
        let d = compare(&ours, &upstream(), "spec");
        assert!(d.mismatches.is_empty(), "{:?}", d.mismatches);
        assert_eq!(d.unmodelled, vec!["spec.extra", "spec.extra.deep", "spec.port"]);
    }

    #[test]
    fn deliberately_wrong_fields_fail() {
        let ours = json!({"type": "object", "required": ["name", "port"], "properties": {
            "name": {"type": "integer"},
            "port": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a"]},
            "params": {"type": "object", "properties": {"k": {"type": "string"}}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}},
            "typo": {"type": "string"}
        }});
        let d = compare(&ours, &upstream(), "spec");
        let got: Vec<String> = d.mismatches.iter().map(|m| m.path.clone()).collect();
        assert_eq!(got, vec!["spec.list[].x", "spec.mode", "spec.name", "spec.params", "spec.port", "spec.typo"]);
        let problem = |p: &str| d.mismatches.iter().find(|m| m.path == p).map(|m| m.problem.clone()).unwrap();
        assert!(problem("spec.list[].x").contains("ours is string, upstream is boolean"));
        assert!(problem("spec.mode").contains("enum values differ"));
        assert!(problem("spec.name").contains("ours is integer, upstream is string"));
        assert!(problem("spec.params").contains("ours is object, upstream is map"));
        assert!(problem("spec.port").contains("required by ours"));
        assert!(problem("spec.typo").contains("not in the upstream schema"));
    }

    #[test]
    fn opaque_subtrees_list_upstream_children_as_unmodelled() {
        let ours = json!({"type": "object", "properties": {
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }});
        let d = compare(&ours, &upstream(), "spec");
        assert!(d.mismatches.is_empty());
        assert!(d.unmodelled.contains(&"spec.extra.deep".to_string()));
    }
}
