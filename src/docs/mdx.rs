//! Fenced code blocks through a real Markdown/MDX parser (markdown-rs), with the line-based
//! reader of [`super::blocks`] as the fallback for pages the parser rejects.
//!
//! `.mdx` pages are parsed with MDX syntax (JSX, `{expressions}`, ESM), `.md` pages as GFM
//! (Docusaurus treats `.md` as CommonMark). Front matter is recognised in both.

use markdown::mdast::Node;
use markdown::message::Place;
use markdown::{Constructs, ParseOptions};

use super::blocks::{CodeBlock, attribute, extract_blocks, heading_anchor};

/// Why the parser rejected a page, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// The blocks of one page and, when the parser rejected it, why (the blocks then come from the
/// line-based reader).
#[derive(Debug, Clone)]
pub struct PageBlocks {
    pub blocks: Vec<CodeBlock>,
    pub parse_error: Option<ParseError>,
}

/// Parses `page` (MDX when `mdx`, else GFM) and returns its fenced blocks; never fails.
pub fn page_blocks(page: &str, mdx: bool) -> PageBlocks {
    match parse_blocks(page, mdx) {
        Ok(blocks) => PageBlocks { blocks, parse_error: None },
        Err(e) => PageBlocks { blocks: extract_blocks(page), parse_error: Some(e) },
    }
}

/// The parse options used for a page.
pub fn options(mdx: bool) -> ParseOptions {
    let mut options = if mdx { ParseOptions::mdx() } else { ParseOptions::gfm() };
    options.constructs = Constructs { frontmatter: true, ..options.constructs };
    options
}

/// Fenced blocks through markdown-rs; `Err` when the page does not parse.
pub fn parse_blocks(page: &str, mdx: bool) -> Result<Vec<CodeBlock>, ParseError> {
    // markdown-rs 1.0 has reachable `unreachable!`s (a setext underline right after a JSX line,
    // found by the proptest in tests/verify_docs.rs): a crash of the parser is a parse error too.
    let parsed = std::panic::catch_unwind(|| markdown::to_mdast(page, &options(mdx))).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        ParseError { line: 1, column: 1, reason: format!("the Markdown parser crashed on this page ({what})") }
    })?;
    let tree = parsed.map_err(|m| {
        let (line, column) = match m.place.as_deref() {
            Some(Place::Point(p)) => (p.line, p.column),
            Some(Place::Position(p)) => (p.start.line, p.start.column),
            None => (1, 1),
        };
        ParseError { line, column, reason: m.reason }
    })?;
    let mut out = Vec::new();
    let mut heading = String::new();
    walk(&tree, &mut heading, &mut out);
    Ok(out)
}

fn walk(node: &Node, heading: &mut String, out: &mut Vec<CodeBlock>) {
    match node {
        Node::Code(code) => {
            // Indented code has no fence: only fenced blocks count (MDX disables indented code).
            let Some(position) = &code.position else { return };
            let lang = code.lang.as_deref().unwrap_or("").to_ascii_lowercase();
            let title = code.meta.as_deref().and_then(|m| attribute(m, "title"));
            let mut content = code.value.clone();
            if !content.is_empty() {
                content.push('\n');
            }
            out.push(CodeBlock { line: position.start.line, lang, title, heading_anchor: heading.clone(), content });
        }
        Node::Heading(h) => {
            *heading = heading_anchor(&node.to_string());
            let _ = h;
        }
        _ => {
            if let Some(children) = node.children() {
                for child in children {
                    walk(child, heading, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fences_tight_inside_jsx_and_lists() {
        let page = "---\ntitle: T\n---\n\n## Set up\n\n<Tabs>\n<TabItem value=\"a\">\n```yaml title=\"x.yaml\"\nkind: A\n```\n</TabItem>\n</Tabs>\n\n1. Step\n\n   ```yml\n   kind: B\n   ```\n";
        let got = parse_blocks(page, true).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].line, 9);
        assert_eq!(got[0].title.as_deref(), Some("x.yaml"));
        assert_eq!(got[0].heading_anchor, "set-up");
        assert_eq!(got[0].content, "kind: A\n");
        assert_eq!(got[1].line, 17);
        assert_eq!(got[1].content, "kind: B\n");
    }

    #[test]
    fn a_rejected_page_falls_back_to_the_line_reader() {
        let page = "# T\n\nA stray { brace\n\n```yaml\nkind: A\n```\n";
        let got = page_blocks(page, true);
        let e = got.parse_error.expect("MDX rejects an unclosed expression");
        assert!(e.line >= 3, "{e:?}");
        assert_eq!(got.blocks.len(), 1);
        assert_eq!(got.blocks[0].line, 5);
        // A page that makes markdown-rs panic is a parse error as well.
        let crash = "\0<TabItem value=\"a\">\nkind: A\nkind: B\n---\n";
        let got = page_blocks(crash, true);
        assert!(got.parse_error.as_ref().is_some_and(|e| e.reason.contains("crashed")), "{:?}", got.parse_error);
        // The same page as plain Markdown parses.
        assert!(page_blocks(page, false).parse_error.is_none());
    }
}
