//! Doc coverage: for each in-scope docs page (the pages the features' `@doc:` tags name), which
//! sections (headings and their anchors) and which YAML blocks the scenarios exercise, and which
//! they do not.
//!
//! Statically, from the feature files: a scenario exercises a section when it is tagged
//! `@doc:<page>#<anchor>`, and a YAML block when one of its steps names it
//! (`the documented block "<title>" [number N] from "<page>" section "<anchor>"`, and the other
//! `documented …` steps of the same shape). A run adds the blocks each scenario really deployed
//! ([`Coverage::add_run`]). The pages are read from the docs snapshot at run time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::model::RunReport;
use crate::docs;

/// Where the snapshot's pages are published: the pages link to each other as `/toolhive/<path>`
/// and name the site `docs.stacklok.com`.
pub const DOCS_SITE: &str = "https://docs.stacklok.com/toolhive/";

/// The published URL of `page` (`guides-vmcp/authentication.mdx`), optionally at an anchor.
pub fn doc_url(page: &str, anchor: Option<&str>) -> String {
    let path = page.trim_end_matches(".mdx").trim_end_matches(".md");
    let path = path.strip_suffix("/index").unwrap_or(path);
    match anchor.filter(|a| !a.is_empty()) {
        Some(a) => format!("{DOCS_SITE}{path}#{a}"),
        None => format!("{DOCS_SITE}{path}"),
    }
}

/// One heading of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heading {
    pub level: usize,
    pub title: String,
    pub anchor: String,
    /// 1-based line.
    pub line: usize,
}

/// The headings of an MDX/Markdown page, skipping front matter and fenced code (where `# …` is
/// a comment). An explicit `{#id}` after the title is the anchor, as in Docusaurus.
pub fn headings(page: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut lines = page.lines().enumerate().peekable();
    if lines.peek().is_some_and(|(_, l)| l.trim() == "---") {
        lines.next();
        for (_, l) in lines.by_ref() {
            if l.trim() == "---" {
                break;
            }
        }
    }
    for (i, line) in lines {
        let t = line.trim_start();
        let marker = t.chars().next().filter(|c| *c == '`' || *c == '~');
        if let Some(m) = marker {
            let run = t.chars().take_while(|c| *c == m).count();
            match fence {
                Some((fm, flen)) if fm == m && run >= flen && t[run..].trim().is_empty() => fence = None,
                None if run >= 3 => fence = Some((m, run)),
                _ => {}
            }
            continue;
        }
        if fence.is_some() {
            continue;
        }
        let level = t.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&level) || !t[level..].starts_with(' ') {
            continue;
        }
        let text = t[level..].trim().trim_end_matches('#').trim();
        let (title, anchor) = match text.rsplit_once("{#") {
            Some((title, id)) if id.ends_with('}') => (title.trim().to_string(), id.trim_end_matches('}').to_string()),
            _ => (text.to_string(), docs::heading_anchor(text)),
        };
        out.push(Heading { level, title, anchor, line: i + 1 });
    }
    out
}

/// A reference a step makes to a documented block.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlockRef {
    pub page: String,
    pub anchor: String,
    pub title: String,
    /// 1 = the first block with that title under that heading.
    pub number: usize,
}

/// `documented <thing> "<titles>" [number N] from "<page>" section "<anchor>"`.
static BLOCK_STEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"documented [A-Za-z ]*?"([^"]+)"(?: number (\d+))? from "([^"]+)" section "([^"]+)""#)
        .unwrap_or_else(|e| panic!("BLOCK_STEP regex: {e}"))
});

/// The block references in one step's text (`manifests "a.yaml, b.yaml"` names several).
pub fn block_refs(step: &str) -> Vec<BlockRef> {
    let mut out = Vec::new();
    for c in BLOCK_STEP.captures_iter(step) {
        let number = c.get(2).and_then(|n| n.as_str().parse().ok()).unwrap_or(1);
        for title in c[1].split(',').map(str::trim).filter(|t| !t.is_empty()) {
            out.push(BlockRef { page: c[3].to_string(), anchor: c[4].to_string(), title: title.into(), number });
        }
    }
    out
}

/// What one scenario names, statically.
#[derive(Debug, Clone, Default)]
pub struct ScenarioDocs {
    /// `<feature path>: <scenario name>`, as `ScenarioResult::key`.
    pub key: String,
    /// Pages named by a feature-level `@doc:<page>` tag.
    pub pages: BTreeSet<String>,
    /// `(page, anchor)` from `@doc:<page>#<anchor>` tags.
    pub sections: BTreeSet<(String, String)>,
    pub blocks: BTreeSet<BlockRef>,
}

/// Reads every `.feature` under `root` with cucumber's Gherkin parser.
pub fn scan_features(root: &Path) -> Result<Vec<ScenarioDocs>, String> {
    let mut files = Vec::new();
    collect_features(root, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let feature = cucumber::gherkin::Feature::parse_path(&file, cucumber::gherkin::GherkinEnv::default())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let rel = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        let background: Vec<&str> =
            feature.background.iter().flat_map(|b| &b.steps).map(|s| s.value.as_str()).collect();
        let mut push = |tags: Vec<&String>, name: &str, steps: Vec<&str>| {
            let mut s = ScenarioDocs { key: format!("{rel}: {name}"), ..ScenarioDocs::default() };
            for tag in tags {
                let Some(doc) = tag.strip_prefix("doc:") else { continue };
                match doc.split_once('#') {
                    Some((page, anchor)) => {
                        s.pages.insert(page.to_string());
                        s.sections.insert((page.to_string(), anchor.to_string()));
                    }
                    None => {
                        s.pages.insert(doc.to_string());
                    }
                }
            }
            s.blocks = steps.iter().flat_map(|step| block_refs(step)).collect();
            out.push(s);
        };
        for scenario in &feature.scenarios {
            let steps = background.iter().copied().chain(scenario.steps.iter().map(|s| s.value.as_str())).collect();
            push(feature.tags.iter().chain(&scenario.tags).collect(), &scenario.name, steps);
        }
        for rule in &feature.rules {
            let rule_background: Vec<&str> =
                rule.background.iter().flat_map(|b| &b.steps).map(|s| s.value.as_str()).collect();
            for scenario in &rule.scenarios {
                let steps = background
                    .iter()
                    .chain(&rule_background)
                    .copied()
                    .chain(scenario.steps.iter().map(|s| s.value.as_str()))
                    .collect();
                push(feature.tags.iter().chain(&rule.tags).chain(&scenario.tags).collect(), &scenario.name, steps);
            }
        }
    }
    Ok(out)
}

fn collect_features(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_features(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "feature") {
            out.push(path);
        }
    }
    Ok(())
}

/// One section of a page and the scenarios tagged with it.
#[derive(Debug, Clone, Serialize)]
pub struct SectionCoverage {
    #[serde(flatten)]
    pub heading: Heading,
    pub scenarios: Vec<String>,
}

/// One YAML block of a page and the scenarios that use it.
#[derive(Debug, Clone, Serialize)]
pub struct BlockCoverage {
    pub line: usize,
    pub title: Option<String>,
    /// The heading it sits under.
    pub anchor: String,
    /// Scenarios whose steps name it (static).
    pub scenarios: Vec<String>,
    /// Scenarios that deployed it in this run (dynamic; empty outside a run).
    pub deployed_by: Vec<String>,
}

impl BlockCoverage {
    pub fn exercised(&self) -> bool {
        !self.scenarios.is_empty() || !self.deployed_by.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PageCoverage {
    pub page: String,
    pub url: String,
    pub sections: Vec<SectionCoverage>,
    pub blocks: Vec<BlockCoverage>,
    /// Set when the page could not be read; the tables are then empty.
    pub error: Option<String>,
    /// Anchors the features name that the page does not have (a renamed heading).
    pub unknown_anchors: Vec<String>,
    /// Block references that match no block of the page.
    pub unresolved_blocks: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub pages: Vec<PageCoverage>,
}

impl Coverage {
    /// The static table for the features under `features_root`, reading the pages from the
    /// docs snapshot ([`docs::read_page`]).
    pub fn from_features(features_root: &Path) -> Result<Self, String> {
        Ok(Self::build(&scan_features(features_root)?, |page| docs::read_page(page).map(|(_, text)| text)))
    }

    /// The table from scanned scenarios and a page reader.
    pub fn build(scenarios: &[ScenarioDocs], read: impl Fn(&str) -> Result<String, String>) -> Self {
        let pages: BTreeSet<&String> = scenarios.iter().flat_map(|s| &s.pages).collect();
        let mut out = Vec::new();
        for page in pages {
            let mut pc = PageCoverage {
                page: page.clone(),
                url: doc_url(page, None),
                sections: Vec::new(),
                blocks: Vec::new(),
                error: None,
                unknown_anchors: Vec::new(),
                unresolved_blocks: Vec::new(),
            };
            let text = match read(page) {
                Ok(t) => t,
                Err(e) => {
                    pc.error = Some(e);
                    out.push(pc);
                    continue;
                }
            };
            pc.sections = headings(&text)
                .into_iter()
                .map(|h| {
                    let scenarios = scenarios
                        .iter()
                        .filter(|s| s.sections.contains(&(page.clone(), h.anchor.clone())))
                        .map(|s| s.key.clone())
                        .collect();
                    SectionCoverage { heading: h, scenarios }
                })
                .collect();
            let known: BTreeSet<&str> = pc.sections.iter().map(|s| s.heading.anchor.as_str()).collect();
            pc.unknown_anchors = scenarios
                .iter()
                .flat_map(|s| &s.sections)
                .filter(|(p, a)| p == page && !known.contains(a.as_str()))
                .map(|(_, a)| a.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let blocks: Vec<docs::CodeBlock> =
                docs::extract_blocks(&text).into_iter().filter(|b| b.lang == "yaml" || b.lang == "yml").collect();
            let mut users: BTreeMap<usize, Vec<String>> = BTreeMap::new();
            let mut unresolved = BTreeSet::new();
            for s in scenarios {
                for r in s.blocks.iter().filter(|r| &r.page == page) {
                    let found = blocks
                        .iter()
                        .filter(|b| b.heading_anchor == r.anchor && b.title.as_deref() == Some(r.title.as_str()))
                        .nth(r.number.saturating_sub(1));
                    match found {
                        Some(b) => users.entry(b.line).or_default().push(s.key.clone()),
                        None => {
                            unresolved.insert(format!("#{} {:?} number {}", r.anchor, r.title, r.number));
                        }
                    }
                }
            }
            pc.unresolved_blocks = unresolved.into_iter().collect();
            pc.blocks = blocks
                .iter()
                .map(|b| {
                    let mut scenarios = users.remove(&b.line).unwrap_or_default();
                    scenarios.dedup();
                    BlockCoverage {
                        line: b.line,
                        title: b.title.clone(),
                        anchor: b.heading_anchor.clone(),
                        scenarios,
                        deployed_by: Vec::new(),
                    }
                })
                .collect();
            out.push(pc);
        }
        Self { pages: out }
    }

    /// Adds what a run really deployed (`ScenarioResult::blocks`: `page:line (title)`).
    pub fn add_run(&mut self, run: &RunReport) {
        for s in &run.scenarios {
            for origin in &s.blocks {
                let Some((page, rest)) = origin.split_once(':') else { continue };
                let Some(line) = rest.split_whitespace().next().and_then(|l| l.parse::<usize>().ok()) else {
                    continue;
                };
                let block = self
                    .pages
                    .iter_mut()
                    .filter(|p| p.page == page)
                    .flat_map(|p| &mut p.blocks)
                    .find(|b| b.line == line);
                if let Some(b) = block
                    && !b.deployed_by.contains(&s.key())
                {
                    b.deployed_by.push(s.key());
                }
            }
        }
    }

    /// `(sections exercised, sections, blocks exercised, blocks)` over every page.
    pub fn totals(&self) -> (usize, usize, usize, usize) {
        let mut t = (0, 0, 0, 0);
        for p in &self.pages {
            t.0 += p.sections.iter().filter(|s| !s.scenarios.is_empty()).count();
            t.1 += p.sections.len();
            t.2 += p.blocks.iter().filter(|b| b.exercised()).count();
            t.3 += p.blocks.len();
        }
        t
    }

    /// The plain-text table `vmcp-conformance coverage` prints.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        for p in &self.pages {
            let _ = writeln!(o, "{}  ({})", p.page, p.url);
            if let Some(e) = &p.error {
                let _ = writeln!(o, "  cannot read the page: {e}");
                continue;
            }
            let covered = p.sections.iter().filter(|s| !s.scenarios.is_empty()).count();
            let _ = writeln!(o, "  sections: {covered} of {} exercised", p.sections.len());
            for s in &p.sections {
                let indent = "  ".repeat(s.heading.level.saturating_sub(1));
                let mark = if s.scenarios.is_empty() { "  " } else { "✔ " };
                let _ = writeln!(
                    o,
                    "    {mark}{indent}#{} (line {}){}",
                    s.heading.anchor,
                    s.heading.line,
                    count(s.scenarios.len())
                );
                for k in &s.scenarios {
                    let _ = writeln!(o, "          {indent}- {k}");
                }
            }
            let covered = p.blocks.iter().filter(|b| b.exercised()).count();
            let _ = writeln!(o, "  YAML blocks: {covered} of {} exercised", p.blocks.len());
            for b in &p.blocks {
                let mark = if b.exercised() { "✔ " } else { "  " };
                let title = b.title.as_deref().map(|t| format!(" {t:?}")).unwrap_or_default();
                let _ = writeln!(o, "    {mark}line {}{title} under #{}{}", b.line, b.anchor, count(b.scenarios.len()));
                for k in b.scenarios.iter().chain(b.deployed_by.iter().filter(|k| !b.scenarios.contains(k))) {
                    let _ = writeln!(o, "          - {k}");
                }
            }
            for a in &p.unknown_anchors {
                let _ = writeln!(o, "  ! a scenario names #{a}, which this page does not have");
            }
            for r in &p.unresolved_blocks {
                let _ = writeln!(o, "  ! a step names the block {r}, which this page does not have");
            }
        }
        let (s, st, b, bt) = self.totals();
        let _ = writeln!(o, "{} pages: {s} of {st} sections and {b} of {bt} YAML blocks exercised", self.pages.len());
        o
    }
}

fn count(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "  [1 scenario]".into(),
        n => format!("  [{n} scenarios]"),
    }
}

/// Which docs the suite was transcribed from: the snapshot's recorded source commit (the
/// `docs/toolhive/` row of `NOTICE.md` beside the snapshot, when present) and a SHA-256 over the
/// in-scope pages' bytes, so two runs on different page texts never claim the same version.
pub fn docs_version(pages: &[String]) -> String {
    use sha2::Digest as _;
    let root = docs::docs_root();
    let mut hash = sha2::Sha256::new();
    let mut read = 0;
    for page in pages {
        if let Ok(bytes) = std::fs::read(root.join(page)) {
            hash.update(page.as_bytes());
            hash.update(&bytes);
            read += 1;
        }
    }
    let digest: String = hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    let notice = root.parent().and_then(|p| p.parent()).map(|p| p.join("NOTICE.md"));
    let source = notice
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| t.lines().find(|l| l.contains("`docs/toolhive/`")).map(str::to_string))
        .and_then(|row| {
            let re = Regex::new(r"commit ([0-9a-f]{7,40})(?: \(([0-9-]+)\))?").ok()?;
            let c = re.captures(&row)?;
            Some(format!(
                "stacklok/docs-website@{}{} ",
                &c[1],
                c.get(2).map(|d| format!(" ({})", d.as_str())).unwrap_or_default()
            ))
        })
        .unwrap_or_default();
    format!("{source}sha256:{digest} over {read} pages")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "---\ntitle: A page\n---\n\n# Title\n\nIntro.\n\n## Complete example\n\n<Tabs>\n<TabItem value=\"a\">\n\n```yaml title=\"server.yaml\"\n# not a heading\nkind: A\n```\n\n</TabItem>\n</Tabs>\n\n### Step 2: configure (optional) {#step-two}\n\n```yaml title=\"server.yaml\"\nkind: B\n```\n\n```bash\n## also not a heading\n```\n\n## Unused section\n\n```yml\nkind: C\n```\n";

    #[test]
    fn headings_skip_front_matter_and_code_and_honour_explicit_ids() {
        let h = headings(PAGE);
        let got: Vec<(usize, &str, &str, usize)> =
            h.iter().map(|h| (h.level, h.title.as_str(), h.anchor.as_str(), h.line)).collect();
        assert_eq!(
            got,
            vec![
                (1, "Title", "title", 5),
                (2, "Complete example", "complete-example", 9),
                (3, "Step 2: configure (optional)", "step-two", 22),
                (2, "Unused section", "unused-section", 32),
            ]
        );
    }

    #[test]
    fn block_steps_name_their_blocks() {
        let r = block_refs(r#"the documented manifests "a.yaml, b.yaml" from "p.mdx" section "complete-example""#);
        assert_eq!(r.len(), 2);
        assert_eq!((r[1].title.as_str(), r[1].number, r[1].anchor.as_str()), ("b.yaml", 1, "complete-example"));
        let r = block_refs(r#"the documented block "MCPOIDCConfig resource" number 2 from "p.mdx" section "oidc""#);
        assert_eq!((r[0].title.as_str(), r[0].number), ("MCPOIDCConfig resource", 2));
        assert!(block_refs("the vMCP is deployed").is_empty());
    }

    #[test]
    fn table_marks_exercised_and_unexercised_sections_and_blocks() {
        let scenario = ScenarioDocs {
            key: "f.feature: one".into(),
            pages: ["p.mdx".to_string()].into(),
            sections: [("p.mdx".to_string(), "step-two".to_string()), ("p.mdx".to_string(), "gone".to_string())].into(),
            blocks: block_refs(r#"the documented block "server.yaml" number 2 from "p.mdx" section "step-two""#)
                .into_iter()
                .chain(block_refs(r#"the documented block "server.yaml" from "p.mdx" section "complete-example""#))
                .collect(),
        };
        let cov = Coverage::build(&[scenario], |_| Ok(PAGE.to_string()));
        let p = &cov.pages[0];
        assert_eq!(p.url, "https://docs.stacklok.com/toolhive/p");
        let exercised: Vec<&str> =
            p.sections.iter().filter(|s| !s.scenarios.is_empty()).map(|s| s.heading.anchor.as_str()).collect();
        assert_eq!(exercised, ["step-two"]);
        assert_eq!(p.unknown_anchors, ["gone"]);
        // Line 14 (under #complete-example) is used; "number 2" under #step-two names no block;
        // line 34 (yml) is unused.
        let used: Vec<(usize, bool)> = p.blocks.iter().map(|b| (b.line, b.exercised())).collect();
        assert_eq!(used, [(14, true), (24, false), (34, false)]);
        assert_eq!(p.unresolved_blocks.len(), 1);
        assert_eq!(cov.totals(), (1, 4, 1, 3));
        assert!(cov.render_text().contains("1 pages: 1 of 4 sections and 1 of 3 YAML blocks exercised"));
    }
}
