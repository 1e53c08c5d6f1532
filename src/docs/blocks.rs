//! A line-based reader for fenced code blocks in Markdown and MDX.
//!
//! It handles fences at any indentation (inside lists, admonitions and `<TabItem>`s), backtick
//! and tilde fences of any length, the `title="…"` attribute Docusaurus uses, and remembers the
//! heading each block sits under. Unterminated fences run to the end of the page.

/// One fenced code block of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The first word of the info string (`yaml`, `bash`, …), lower-cased.
    pub lang: String,
    /// The `title="…"` attribute, if any.
    pub title: Option<String>,
    /// Anchor of the nearest heading above the block (`complete-example`), empty before any.
    pub heading_anchor: String,
    /// The block's text, with the fence's indentation removed.
    pub content: String,
}

/// Every fenced block of `page`, in order.
pub fn extract_blocks(page: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut lines = page.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(fence) = Fence::open(trimmed) {
            let mut content = String::new();
            for (_, body) in lines.by_ref() {
                if fence.closes(body.trim_start()) {
                    break;
                }
                content.push_str(strip_indent(body, indent));
                content.push('\n');
            }
            blocks.push(CodeBlock {
                line: index + 1,
                lang: fence.lang,
                title: fence.title,
                heading_anchor: heading.clone(),
                content,
            });
        } else if let Some(text) = heading_text(trimmed) {
            heading = heading_anchor(text);
        }
    }
    blocks
}

struct Fence {
    marker: char,
    len: usize,
    lang: String,
    title: Option<String>,
}

impl Fence {
    fn open(line: &str) -> Option<Fence> {
        let marker = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = line.chars().take_while(|c| *c == marker).count();
        if len < 3 {
            return None;
        }
        let info = line[len..].trim();
        // A backtick fence's info string may not contain backticks (CommonMark 4.5).
        if marker == '`' && info.contains('`') {
            return None;
        }
        let lang = info.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        Some(Fence { marker, len, lang, title: attribute(info, "title") })
    }

    fn closes(&self, line: &str) -> bool {
        let run = line.chars().take_while(|c| *c == self.marker).count();
        run >= self.len && line[run * self.marker.len_utf8()..].trim().is_empty()
    }
}

pub(crate) fn attribute(info: &str, name: &str) -> Option<String> {
    let start = info.find(&format!("{name}="))? + name.len() + 1;
    let rest = &info[start..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = rest[1..].find(quote)?;
    Some(rest[1..1 + end].to_string())
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
        return None;
    }
    Some(line[hashes..].trim())
}

/// The anchor Docusaurus derives from a heading: lower case, punctuation dropped, spaces to `-`.
pub fn heading_anchor(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else if c.is_whitespace() {
            out.push('-');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# Title\n\n## Complete example\n\n<TabItem>\n```yaml title=\"a.yaml\"\nkind: A\n```\n</TabItem>\n\n1. Step\n   ```yml\n   kind: B\n     nested: 1\n   ```\n\n````md\n```yaml\nnot: separate\n```\n````\n\n### Next (steps)!\n~~~bash\necho\n";

    #[test]
    fn finds_blocks_at_any_indentation_with_titles_and_headings() {
        let blocks = extract_blocks(PAGE);
        assert_eq!(blocks.len(), 4);
        assert_eq!(blocks[0].line, 6);
        assert_eq!(blocks[0].title.as_deref(), Some("a.yaml"));
        assert_eq!(blocks[0].heading_anchor, "complete-example");
        assert_eq!(blocks[0].content, "kind: A\n");
        assert_eq!(blocks[1].lang, "yml");
        assert_eq!(blocks[1].content, "kind: B\n  nested: 1\n");
        assert_eq!(blocks[2].lang, "md");
        assert!(blocks[2].content.contains("not: separate"));
        assert_eq!(blocks[3].heading_anchor, "next-steps");
        assert_eq!(blocks[3].content, "echo\n");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for page in ["```", "~~~~\n~~~", "#", "```yaml title=\"unterminated", "\u{feff}```é\nü", "  ```\n x"] {
            let _ = extract_blocks(page);
        }
    }
}
