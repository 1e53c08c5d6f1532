//! YAML documents of a code block: Docusaurus `highlight-*` comments stripped, `---` splitting,
//! elision and placeholder marking, and a locator from a field path to the line of its key.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// One YAML document of a block, ready to parse.
#[derive(Debug, Clone)]
pub struct YamlDoc {
    /// 1-based position in the block.
    pub index: usize,
    /// Page line of the document's first text line.
    pub first_line: usize,
    /// The text, one line per page line (stripped comments and elisions become blank lines, so
    /// line `n` of the text is page line `first_line + n - 1`).
    pub text: String,
    /// Page lines holding an elision (`...`, `# ...`, `{ ... }`).
    pub elisions: Vec<usize>,
}

static HIGHLIGHT_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*#\s*highlight-(next-line|start|end)\s*$").expect("regex"));
static HIGHLIGHT_SUFFIX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+#\s*highlight-line\s*$").expect("regex"));
static ELISION_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(-\s+)?(#\s*)?(\.\.\.|…)(\s.*)?$").expect("regex"));
static ELISION_COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s#\s*(\.\.\.|…)").expect("regex"));
static ELISION_FLOW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([\{\[])\s*(\.\.\.|…)\s*([\}\]])").expect("regex"));
static ELISION_VALUE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r":\s+(\.\.\.|…)\s*$").expect("regex"));
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<[A-Za-z][^<>]*>|\bYOUR[_-][A-Z0-9_-]*|\byour-[a-z0-9-]+|\$\{[^}]+\}").expect("regex")
});

/// Splits a block's content (its first line is page line `block_line + 1`) into documents.
pub fn split_documents(content: &str, block_line: usize) -> Vec<YamlDoc> {
    let mut docs = Vec::new();
    let mut current = YamlDoc { index: 1, first_line: block_line + 1, text: String::new(), elisions: Vec::new() };
    for (i, raw) in content.lines().enumerate() {
        let page_line = block_line + 1 + i;
        let trimmed = raw.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            let index = current.index + 1;
            let done = std::mem::replace(
                &mut current,
                YamlDoc { index, first_line: page_line + 1, text: String::new(), elisions: Vec::new() },
            );
            docs.push(done);
            continue;
        }
        let mut line =
            if HIGHLIGHT_LINE.is_match(raw) { String::new() } else { HIGHLIGHT_SUFFIX.replace(raw, "").into_owned() };
        if ELISION_LINE.is_match(&line) {
            current.elisions.push(page_line);
            line.clear();
        } else {
            if ELISION_FLOW.is_match(&line) {
                current.elisions.push(page_line);
                line = ELISION_FLOW.replace_all(&line, "$1$3").into_owned();
            }
            if ELISION_VALUE.is_match(&line) {
                current.elisions.push(page_line);
                line = ELISION_VALUE.replace(&line, ":").into_owned();
            }
            if ELISION_COMMENT.is_match(&line) {
                current.elisions.push(page_line);
            }
        }
        current.text.push_str(&line);
        current.text.push('\n');
    }
    docs.push(current);
    // Drop documents holding nothing but blank lines and comments (a leading `---`, a trailing one).
    docs.retain(|d| d.text.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')));
    for (i, d) in docs.iter_mut().enumerate() {
        d.index = i + 1;
    }
    docs
}

/// Whether a string value is a placeholder the reader must replace (`<client-id>`, `YOUR_TOKEN`,
/// `your-domain`, `${VAR}`).
pub fn is_placeholder(s: &str) -> bool {
    PLACEHOLDER.is_match(s)
}

/// Field paths (dotted, `[i]` for items) of every placeholder string in `value`.
pub fn placeholder_paths(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s) if is_placeholder(s) => out.push(path.to_string()),
        Value::Object(map) => {
            for (k, v) in map {
                placeholder_paths(v, &join(path, k), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                placeholder_paths(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// `a.b` + `c` -> `a.b.c`; the root is the empty path.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// One segment of a dotted field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// `spec.a[0].b` -> `[Key(spec), Key(a), Index(0), Key(b)]`.
pub fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Segment::Key(key.to_string()));
        }
        while let Some(end) = rest.find(']') {
            if let Ok(n) = rest[1..end].parse() {
                out.push(Segment::Index(n));
            }
            rest = &rest[end + 1..];
        }
    }
    out
}

/// The value at a dotted path.
pub fn value_at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = value;
    for s in segments(path) {
        v = match s {
            Segment::Key(k) => v.get(&k)?,
            Segment::Index(i) => v.get(i)?,
        };
    }
    Some(v)
}

/// The 1-based line (within `text`) of the key that `path` names, or of its deepest ancestor
/// found; `None` when not even the first key is found. Works on block-style YAML, which is what
/// the docs write; flow-style values resolve to the line of their key.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Option<usize> = None;
    let mut start = 0usize;
    // Keys of the current mapping sit at a column greater than `parent`.
    let mut parent: isize = -1;
    for seg in segments(path) {
        match seg {
            Segment::Key(k) => {
                let mut hit = None;
                let mut child_col = None;
                for (i, line) in lines.iter().enumerate().skip(start) {
                    let Some((col, body)) = content(line) else { continue };
                    if (col as isize) <= parent {
                        break;
                    }
                    // Only the mapping's own keys, not those of nested mappings.
                    if *child_col.get_or_insert(col) != col {
                        continue;
                    }
                    let key = body.trim_start_matches(['"', '\'']);
                    if key.starts_with(k.as_str()) && key[k.len()..].trim_start_matches(['"', '\'']).starts_with(':') {
                        hit = Some((i, col));
                        break;
                    }
                }
                let Some((i, col)) = hit else { return found.map(|f| f + 1) };
                found = Some(i);
                start = i + 1;
                parent = col as isize;
            }
            Segment::Index(n) => {
                let mut seen = 0usize;
                let mut item_col = None;
                let mut hit = None;
                for (i, line) in lines.iter().enumerate().skip(start) {
                    let trimmed = line.trim_start();
                    if trimmed.is_empty() || trimmed.starts_with('#') {
                        continue;
                    }
                    let col = line.len() - trimmed.len();
                    let dash = trimmed.starts_with("- ") || trimmed == "-";
                    if (col as isize) < parent || ((col as isize) == parent && !dash) {
                        break;
                    }
                    if dash {
                        if *item_col.get_or_insert(col) != col {
                            continue;
                        }
                        if seen == n {
                            hit = Some((i, col));
                            break;
                        }
                        seen += 1;
                    }
                }
                let Some((i, col)) = hit else { return found.map(|f| f + 1) };
                found = Some(i);
                // The item's keys: on the dash line (column col + 2) and below it.
                start = i;
                parent = col as isize;
            }
        }
    }
    found.map(|f| f + 1)
}

/// The column and text of a line's first key, looking through `- ` item markers; `None` for
/// blank and comment lines.
fn content(line: &str) -> Option<(usize, &str)> {
    let mut rest = line;
    let mut col = 0;
    loop {
        let t = rest.trim_start_matches(' ');
        col += rest.len() - t.len();
        rest = t;
        if let Some(r) = rest.strip_prefix("- ") {
            col += 2;
            rest = r;
            continue;
        }
        break;
    }
    if rest.is_empty() || rest.starts_with('#') {
        return None;
    }
    Some((col, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_strips_highlights_and_marks_elisions() {
        let content = "# highlight-next-line\na: 1 # highlight-line\n---\nb: { ... }\n# ...\n---\n";
        let docs = split_documents(content, 10);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].first_line, 11);
        assert_eq!(docs[0].text, "\na: 1\n");
        assert_eq!(docs[1].first_line, 14);
        assert_eq!(docs[1].text, "b: {}\n\n");
        assert_eq!(docs[1].elisions, vec![14, 15]);
    }

    #[test]
    fn locates_keys_and_list_items() {
        let text = "spec:\n  groupRef:\n    name: g\n  upstreamProviders:\n    - name: a\n      type: oidc\n    - name: b\n      oauth2Config:\n        clientId: x\n  name: top\n";
        assert_eq!(locate(text, "spec.groupRef.name"), Some(3));
        assert_eq!(locate(text, "spec.upstreamProviders[1].oauth2Config.clientId"), Some(9));
        assert_eq!(locate(text, "spec.upstreamProviders[0].type"), Some(6));
        assert_eq!(locate(text, "spec.upstreamProviders[1].name"), Some(7));
        assert_eq!(locate(text, "spec.name"), Some(10));
        assert_eq!(locate(text, "spec.missing"), Some(1));
        assert_eq!(locate(text, "spec.upstreamProviders[0].nope"), Some(5));
        assert_eq!(locate(text, "nothing"), None);
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder("<your-client-id>"));
        assert!(is_placeholder("YOUR_CLIENT_ID"));
        assert!(is_placeholder("https://${HOST}/x"));
        assert!(!is_placeholder("https://auth.example.com"));
        assert!(!is_placeholder("a < b > c"));
    }
}
