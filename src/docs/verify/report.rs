//! Renderers: text (ends with counts per class), JSON (`{"findings":[…],"summary":{…}}`),
//! GitHub workflow annotations, JUnit (one test case per block) and SARIF 2.1.0.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::baseline::{Baseline, Outcome};
use super::{Finding, Report, Severity};

/// Output format of `verify-docs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Junit,
    Github,
    Sarif,
}

/// The summary object of the JSON report.
pub fn summary(report: &Report, outcome: &Outcome) -> Value {
    json!({
        "pages": report.pages,
        "blocks": report.blocks.len(),
        "documents": report.blocks.iter().map(|b| b.documents.len()).sum::<usize>(),
        "classes": report.class_counts(),
        "rules": report.rule_counts(),
        "errors": report.count(Severity::Error),
        "warnings": report.count(Severity::Warning),
        "notes": report.count(Severity::Note),
        "new_errors": outcome.new_errors.len(),
        "baselined": outcome.accepted,
        "stale_baseline_entries": outcome.stale.iter().map(|e| e.entry.clone()).collect::<Vec<_>>(),
    })
}

/// Renders `report` in `format`. `prefix` is DOCS_DIR as given, for paths the reader's tools
/// resolve from the repository root (GitHub annotations, SARIF).
pub fn render(report: &Report, outcome: &Outcome, format: Format, prefix: &str) -> String {
    match format {
        Format::Text => text(report, outcome),
        Format::Json => {
            let v = json!({"findings": report.findings, "summary": summary(report, outcome)});
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
        Format::Github => github(report, outcome, prefix),
        Format::Junit => junit(report),
        Format::Sarif => sarif(report, prefix),
    }
}

fn repo_path(prefix: &str, file: &str) -> String {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() || p == "." { file.to_string() } else { format!("{p}/{file}") }
}

fn text(report: &Report, outcome: &Outcome) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let accepted = f.severity == Severity::Error && !outcome.new_errors.contains(f);
        let _ = writeln!(
            out,
            "{}:{}: {}[{}]{} {}{}",
            f.file,
            f.line,
            f.severity.as_str(),
            f.rule,
            if accepted { " (baseline)" } else { "" },
            if f.path.is_empty() { String::new() } else { format!("{}: ", f.path) },
            f.message
        );
    }
    for e in &outcome.stale {
        let _ = writeln!(out, "baseline: stale entry {} ({}): no such error any more; remove it", e.entry, e.reason);
    }
    let docs: usize = report.blocks.iter().map(|b| b.documents.len()).sum();
    let _ = writeln!(
        out,
        "\nverify-docs: {} pages, {} YAML blocks, {} documents; {} errors ({} new, {} baselined), {} warnings, {} notes, {} stale baseline entries",
        report.pages,
        report.blocks.len(),
        docs,
        report.count(Severity::Error),
        outcome.new_errors.len(),
        outcome.accepted,
        report.count(Severity::Warning),
        report.count(Severity::Note),
        outcome.stale.len()
    );
    let _ = writeln!(out, "findings per rule:");
    for (rule, n) in report.rule_counts() {
        let _ = writeln!(out, "  {rule:32} {n}");
    }
    let _ = writeln!(out, "documents per class:");
    for (class, n) in report.class_counts() {
        let _ = writeln!(out, "  {class:32} {n}");
    }
    out
}

/// `%`, CR and LF escaped for workflow command data; `,` and `:` too in properties.
fn gh_escape(s: &str, property: bool) -> String {
    let mut out = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

fn github(report: &Report, outcome: &Outcome, prefix: &str) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let level = match f.severity {
            Severity::Error if outcome.new_errors.contains(f) => "error",
            Severity::Error | Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let title = if f.path.is_empty() { f.rule.clone() } else { format!("{} {}", f.rule, f.path) };
        let _ = writeln!(
            out,
            "::{level} file={},line={},title={}::{}",
            gh_escape(&repo_path(prefix, &f.file), true),
            f.line,
            gh_escape(&title, true),
            gh_escape(&f.message, false)
        );
    }
    for e in &outcome.stale {
        let _ = writeln!(out, "::error title=stale baseline entry::{}", gh_escape(&e.entry, false));
    }
    let _ = writeln!(
        out,
        "verify-docs: {} errors ({} new), {} warnings, {} notes",
        report.count(Severity::Error),
        outcome.new_errors.len(),
        report.count(Severity::Warning),
        report.count(Severity::Note)
    );
    out
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(report: &Report) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    let mut count = 0;
    // Page-level findings (parse errors) get their own case.
    let page_level: Vec<&Finding> = report.findings.iter().filter(|f| f.block_line == 0).collect();
    for f in &page_level {
        count += 1;
        if f.severity == Severity::Error {
            failures += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\"><failure message=\"{}\" type=\"{}\">{}:{}</failure></testcase>",
                xml(&f.file),
                xml(&format!("{} (page)", f.file)),
                xml(&f.message),
                xml(&f.rule),
                xml(&f.file),
                f.line
            );
        }
    }
    for b in &report.blocks {
        count += 1;
        let errors: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.file == b.file && f.block_line == b.line && f.severity == Severity::Error)
            .collect();
        let name = format!("{}:{}{}", b.file, b.line, b.title.as_ref().map(|t| format!(" ({t})")).unwrap_or_default());
        if errors.is_empty() {
            let _ = writeln!(cases, "    <testcase classname=\"{}\" name=\"{}\"/>", xml(&b.file), xml(&name));
        } else {
            failures += 1;
            let body = errors
                .iter()
                .map(|f| format!("{}:{} [{}] {} {}", f.file, f.line, f.rule, f.path, f.message))
                .collect::<Vec<_>>()
                .join("\n");
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\"><failure message=\"{}\" type=\"{}\">{}</failure></testcase>",
                xml(&b.file),
                xml(&name),
                xml(&errors[0].message),
                xml(&errors[0].rule),
                xml(&body)
            );
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"verify-docs\" tests=\"{count}\" failures=\"{failures}\">\n{cases}  </testsuite>\n</testsuites>\n"
    )
}

fn sarif(report: &Report, prefix: &str) -> String {
    let mut rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort();
    rules.dedup();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "level": f.severity.as_str(),
                "message": {"text": if f.path.is_empty() { f.message.clone() } else { format!("{}: {}", f.path, f.message) }},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": repo_path(prefix, &f.file)},
                    "region": {"startLine": f.line.max(1)}
                }}],
                "partialFingerprints": {"verifyDocs/v1": Baseline::key(f)}
            })
        })
        .collect();
    let v = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "vmcp-conformance verify-docs",
                "informationUri": "https://github.com/stacklok/toolhive",
                "rules": rules.iter().map(|r| json!({"id": r})).collect::<Vec<_>>()
            }},
            "results": results
        }]
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
