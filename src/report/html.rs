//! The HTML report: one self-contained page (inline CSS and a few lines of JS, no external
//! resource, opens from disk) with the run's summary, the features and scenarios linked to their
//! doc sections, each failing check with its expected and actual values, each scenario's HTTP
//! exchanges (collapsible; already redacted by the recorder), the documented YAML blocks it
//! deployed, and the doc-coverage table. All text is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::coverage::{Coverage, doc_url};
use super::model::{HttpExchange, RunReport, ScenarioResult, ScenarioStatus};
use super::yaml::ConformanceReport;

/// Every status, in the order the summary lists them.
pub const STATUSES: [ScenarioStatus; 7] = [
    ScenarioStatus::Passed,
    ScenarioStatus::Failed,
    ScenarioStatus::Skipped,
    ScenarioStatus::NotClaimed,
    ScenarioStatus::ExpectedFailure,
    ScenarioStatus::StaleExpectedFailure,
    ScenarioStatus::Quarantined,
];

/// The status's name in reports (`expected-failure`).
pub fn status_name(s: ScenarioStatus) -> &'static str {
    match s {
        ScenarioStatus::Passed => "passed",
        ScenarioStatus::Failed => "failed",
        ScenarioStatus::Skipped => "skipped",
        ScenarioStatus::NotClaimed => "not-claimed",
        ScenarioStatus::ExpectedFailure => "expected-failure",
        ScenarioStatus::StaleExpectedFailure => "stale",
        ScenarioStatus::Quarantined => "quarantined",
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}
th,td{border:1px solid #d8dce3;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef0f4;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#fff;border:1px solid #d8dce3;padding:8px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.passed{background:#1f883d}.failed{background:#cf222e}.skipped{background:#9a6700}.not-claimed{background:#6e7781}
.expected-failure{background:#8250df}.stale{background:#bc4c00}.quarantined{background:#0969da}
.verdict{font-size:16px;font-weight:700;padding:8px 12px;border-radius:6px;color:#fff;display:inline-block;margin:8px 0}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin:8px 0}
details{background:#fff;border:1px solid #d8dce3;border-radius:6px;margin:8px 0;padding:4px 10px}
details details{margin:4px 0}
summary{cursor:pointer;font-weight:600}
.ex summary{overflow-wrap:anywhere;font-weight:400;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.muted{color:#57606a}.check-fail{background:#ffebe9}.check-warn{background:#fff8c5}
.tick{color:#1f883d;font-weight:700}.miss{color:#cf222e}
.toolbar{margin:8px 0}.toolbar button,.toolbar label{margin-right:12px}
"#;

const SCRIPT: &str = r#"
function onlyProblems(on){document.querySelectorAll('[data-status]').forEach(function(e){
 var s=e.getAttribute('data-status');e.style.display=(on&&s==='passed')?'none':'';});}
function openAll(open){document.querySelectorAll('#scenarios details.scenario').forEach(function(d){d.open=open;});}
"#;

/// Renders the whole page; `conformance` gives the per-feature results table.
pub fn render(report: &RunReport, coverage: &Coverage, conformance: &ConformanceReport) -> String {
    let mut o = String::new();
    let m = &report.meta;
    let title = match &m.implementation {
        Some(i) => format!("vMCP conformance: {} {}", i.name, i.version),
        None => format!("vMCP conformance: {}", m.target),
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body><main>\n",
        esc(&title)
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&title));
    meta_table(&mut o, report);
    summary(&mut o, report);
    claimable_features(&mut o, conformance);
    features(&mut o, report);
    scenarios(&mut o, report);
    coverage_section(&mut o, coverage);
    let _ = writeln!(
        o,
        "<p class=\"muted\">Written by vmcp-conformance {}. Tokens and secrets are redacted to \
         prefix…suffix; bodies are cut at 8 KiB.</p></main></body></html>",
        esc(&m.suite_version)
    );
    o
}

fn meta_table(o: &mut String, report: &RunReport) {
    let m = &report.meta;
    let _ = writeln!(o, "<table id=\"meta\"><tbody>");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    row("Target", esc(&m.target));
    if let Some(i) = &m.implementation {
        row("Implementation", format!("{} {}", esc(&i.name), esc(&i.version)));
        if !i.contact.is_empty() {
            row("Contact", esc(&i.contact.join(", ")));
        }
        if let Some(u) = &i.url {
            row("URL", esc(u));
        }
    }
    row(
        "Claimed features",
        if m.claimed_features.is_empty() { "all".into() } else { esc(&m.claimed_features.join(", ")) },
    );
    row("Suite version", esc(&m.suite_version));
    row("Docs version", esc(&m.docs_version));
    row("Started", esc(&m.started_at));
    row("Duration", format!("{:.1} s", m.duration_ms as f64 / 1000.0));
    let _ = writeln!(o, "</tbody></table>");
    if !m.defects.is_empty() {
        let _ = writeln!(
            o,
            "<div class=\"warn\">Test-only defect switches were ON: <code>{}</code>. This run proves \
             that checks can fail; it is not a conformance result.</div>",
            esc(&m.defects.join(", "))
        );
    }
}

fn counts(scenarios: &[&ScenarioResult]) -> BTreeMap<ScenarioStatus, usize> {
    let mut c = BTreeMap::new();
    for s in scenarios {
        *c.entry(s.status).or_insert(0) += 1;
    }
    c
}

fn badge(s: ScenarioStatus) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", status_name(s))
}

fn summary(o: &mut String, report: &RunReport) {
    let all: Vec<&ScenarioResult> = report.scenarios.iter().collect();
    let c = counts(&all);
    let failing = report.scenarios.iter().filter(|s| s.status.fails_run()).count();
    let (class, text) = if failing == 0 {
        ("passed", "PASS".to_string())
    } else {
        ("failed", format!("FAIL ({failing} fail the run)"))
    };
    let _ = writeln!(o, "<h2 id=\"summary\">Summary</h2>");
    let _ = writeln!(o, "<div class=\"verdict {class}\">{}</div>", esc(&text));
    let _ = writeln!(
        o,
        "<table id=\"summary-table\"><thead><tr><th>Status</th><th>Scenarios</th><th>Meaning</th></tr></thead><tbody>"
    );
    for s in STATUSES {
        let meaning = match s {
            ScenarioStatus::Passed => "every MUST check held",
            ScenarioStatus::Failed => "a check or step failed and the baseline does not list it (fails the run)",
            ScenarioStatus::Skipped => "a step was skipped or undefined (fails the run)",
            ScenarioStatus::NotClaimed => "exercises a feature the target does not claim; not run",
            ScenarioStatus::ExpectedFailure => "failed as the baseline says, for its reason",
            ScenarioStatus::StaleExpectedFailure => "listed in the baseline but passed (fails the run)",
            ScenarioStatus::Quarantined => "failed while quarantined as flaky (reported, does not fail the run)",
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            badge(s),
            c.get(&s).copied().unwrap_or(0),
            esc(meaning)
        );
    }
    let _ = writeln!(o, "<tr><th>total</th><th class=\"n\">{}</th><th></th></tr></tbody></table>", all.len());
}

fn claimable_features(o: &mut String, c: &ConformanceReport) {
    let _ = writeln!(o, "<h2 id=\"claimable-features\">Results per feature</h2>");
    let _ = writeln!(
        o,
        "<table id=\"feature-results\"><thead><tr><th>Feature</th><th>Result</th><th>Passed</th><th>Failed</th>\
         <th>Skipped</th><th>Not claimed</th><th>Expected failures</th><th>Stale</th><th>Quarantined</th>\
         <th>Checks not met</th></tr></thead><tbody>"
    );
    for f in &c.features {
        let st = &f.statistics;
        let class = match f.result {
            "success" => "passed",
            "failure" => "failed",
            "not-claimed" => "not-claimed",
            _ => "expected-failure",
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td><span class=\"badge {class}\">{}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{} of {}</td></tr>",
            esc(&f.name),
            esc(f.result),
            st.passed,
            st.failed,
            st.skipped,
            st.not_claimed,
            st.expected_failures,
            st.stale_expected_failures,
            st.quarantined,
            st.checks_not_met,
            st.checks
        );
    }
    let _ = writeln!(o, "</tbody></table>");
}

fn scenario_id(s: &ScenarioResult) -> String {
    let slug: String =
        s.feature_path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>();
    format!("s-{slug}-{}", s.line)
}

fn doc_links(s: &ScenarioResult) -> String {
    let mut links = Vec::new();
    for tag in &s.tags {
        if let Some(doc) = tag.strip_prefix("doc:") {
            let (page, anchor) = doc.split_once('#').map_or((doc, None), |(p, a)| (p, Some(a)));
            if anchor.is_some() {
                links.push(format!("<a href=\"{}\">{}</a>", esc(&doc_url(page, anchor)), esc(doc)));
            }
        }
    }
    links.join("<br>")
}

fn claims(s: &ScenarioResult) -> String {
    s.tags.iter().filter_map(|t| t.strip_prefix("claim-")).map(esc).collect::<Vec<_>>().join(" ")
}

fn features(o: &mut String, report: &RunReport) {
    let mut by_feature: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for s in &report.scenarios {
        by_feature.entry(&s.feature_path).or_default().push(s);
    }
    let _ = writeln!(o, "<h2 id=\"features\">Features and scenarios</h2>");
    let _ = writeln!(
        o,
        "<div class=\"toolbar\"><label><input type=\"checkbox\" onchange=\"onlyProblems(this.checked)\"> \
         hide passed scenarios</label></div>"
    );
    let _ = writeln!(
        o,
        "<table id=\"scenario-table\"><thead><tr><th>Feature / scenario</th><th>Status</th>\
         <th>Doc sections</th><th>Claims</th><th>Checks</th></tr></thead><tbody>"
    );
    for (path, scenarios) in &by_feature {
        let c = counts(scenarios);
        let tally: Vec<String> = c.iter().map(|(s, n)| format!("{n} {}", status_name(*s))).collect();
        let page_links: Vec<String> = scenarios[0]
            .tags
            .iter()
            .filter_map(|t| t.strip_prefix("doc:"))
            .filter(|d| !d.contains('#'))
            .map(|p| format!("<a href=\"{}\">{}</a>", esc(&doc_url(p, None)), esc(p)))
            .collect();
        let _ = writeln!(
            o,
            "<tr><th colspan=\"2\">{} <span class=\"muted\">({})</span></th><th colspan=\"3\">{} <span class=\"muted\">{}</span></th></tr>",
            esc(&scenarios[0].feature_name),
            esc(path),
            page_links.join(" "),
            esc(&tally.join(", "))
        );
        for s in scenarios {
            let failed = s.checks.iter().filter(|c| !c.passed).count();
            let _ = writeln!(
                o,
                "<tr data-status=\"{}\"><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}{}</td></tr>",
                status_name(s.status),
                scenario_id(s),
                esc(&s.name),
                badge(s.status),
                doc_links(s),
                claims(s),
                s.checks.len(),
                if failed > 0 { format!(" <span class=\"miss\">({failed} not met)</span>") } else { String::new() }
            );
        }
    }
    let _ = writeln!(o, "</tbody></table>");
}

fn scenarios(o: &mut String, report: &RunReport) {
    let _ = writeln!(o, "<h2 id=\"scenarios\">Scenario details</h2>");
    let _ = writeln!(
        o,
        "<div class=\"toolbar\"><button type=\"button\" onclick=\"openAll(true)\">expand all</button>\
         <button type=\"button\" onclick=\"openAll(false)\">collapse all</button></div>"
    );
    for s in &report.scenarios {
        let problem = s.status != ScenarioStatus::Passed || s.checks.iter().any(|c| !c.passed);
        let _ = writeln!(
            o,
            "<details class=\"scenario\" id=\"{}\" data-status=\"{}\"{}><summary>{} {} <span class=\"muted\">{}:{}</span></summary>",
            scenario_id(s),
            status_name(s.status),
            if problem { " open" } else { "" },
            badge(s.status),
            esc(&s.name),
            esc(&s.feature_path),
            s.line
        );
        if let Some(reason) = &s.status_reason {
            let _ = writeln!(o, "<p><b>Why this status:</b> {}</p>", esc(reason));
        }
        if let Some(f) = &s.failure {
            let _ = writeln!(o, "<p><b>Failure</b></p><pre class=\"failure\">{}</pre>", esc(f));
        }
        let failing: Vec<_> = s.checks.iter().filter(|c| !c.passed).collect();
        if !failing.is_empty() {
            let _ = writeln!(
                o,
                "<h3>Checks not met</h3><table class=\"checks\"><thead><tr><th>Check</th><th>Level</th>\
                 <th>Source</th><th>Expected</th><th>Actual</th></tr></thead><tbody>"
            );
            for c in failing {
                let must = matches!(c.severity, super::model::Severity::Must);
                let _ = writeln!(
                    o,
                    "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td></tr>",
                    if must { "check-fail" } else { "check-warn" },
                    esc(&c.id),
                    if must { "MUST" } else { "SHOULD" },
                    esc(&c.source),
                    esc(c.expected.as_deref().unwrap_or("")),
                    esc(c.actual.as_deref().unwrap_or(""))
                );
            }
            let _ = writeln!(o, "</tbody></table>");
        }
        let passed: Vec<String> =
            s.checks.iter().filter(|c| c.passed).map(|c| format!("<code>{}</code>", esc(&c.id))).collect();
        if !passed.is_empty() {
            let _ = writeln!(o, "<p><b>Checks met:</b> {}</p>", passed.join(" "));
        }
        if !s.blocks.is_empty() {
            let _ = writeln!(o, "<p><b>Documented YAML blocks deployed:</b></p><ul>");
            for b in &s.blocks {
                let page = b.split([':', '#']).next().unwrap_or(b);
                let _ = writeln!(o, "<li><a href=\"{}\">{}</a></li>", esc(&doc_url(page, None)), esc(b));
            }
            let _ = writeln!(o, "</ul>");
        }
        let _ = writeln!(o, "<p><b>HTTP exchanges ({}):</b></p>", s.exchanges.len());
        for (i, e) in s.exchanges.iter().enumerate() {
            exchange(o, i + 1, e);
        }
        let _ = writeln!(o, "</details>");
    }
}

fn exchange(o: &mut String, n: usize, e: &HttpExchange) {
    let status = if e.status == 0 { "no response".to_string() } else { e.status.to_string() };
    let _ = writeln!(
        o,
        "<details class=\"ex\"><summary>#{n} {} {} → {} <span class=\"muted\">{} ms</span></summary>",
        esc(&e.method),
        esc(&e.url),
        esc(&status),
        e.duration_ms
    );
    if let Some(err) = &e.error {
        let _ = writeln!(o, "<p class=\"miss\">{}</p>", esc(err));
    }
    let mut request = format!("{} {}\n", e.method, e.url);
    for (k, v) in &e.request_headers {
        let _ = writeln!(request, "{k}: {v}");
    }
    if !e.request_body.is_empty() {
        let _ = write!(request, "\n{}", e.request_body);
    }
    let mut response = format!("{status}\n");
    for (k, v) in &e.response_headers {
        let _ = writeln!(response, "{k}: {v}");
    }
    if !e.response_body.is_empty() {
        let _ = write!(response, "\n{}", e.response_body);
    }
    let _ = writeln!(
        o,
        "<p>Request</p><pre class=\"request\">{}</pre><p>Response</p><pre class=\"response\">{}</pre></details>",
        esc(&request),
        esc(&response)
    );
}

fn coverage_section(o: &mut String, coverage: &Coverage) {
    let (s, st, b, bt) = coverage.totals();
    let _ = writeln!(o, "<h2 id=\"coverage\">Doc coverage</h2>");
    let _ = writeln!(
        o,
        "<p>{s} of {st} sections and {b} of {bt} YAML blocks of {} in-scope pages are exercised. A section \
         counts when a scenario is tagged with its anchor; a block when a scenario's steps name it \
         or the scenario deployed it in this run.</p>",
        coverage.pages.len()
    );
    for p in &coverage.pages {
        let _ = writeln!(o, "<details class=\"page\"><summary><a href=\"{}\">{}</a>", esc(&p.url), esc(&p.page));
        if let Some(e) = &p.error {
            let _ = writeln!(o, "</summary><p class=\"miss\">{}</p></details>", esc(e));
            continue;
        }
        let sc = p.sections.iter().filter(|x| !x.scenarios.is_empty()).count();
        let bc = p.blocks.iter().filter(|x| x.exercised()).count();
        let _ = writeln!(
            o,
            " <span class=\"muted\">sections {sc}/{}, YAML blocks {bc}/{}</span></summary>",
            p.sections.len(),
            p.blocks.len()
        );
        let _ = writeln!(
            o,
            "<table class=\"coverage\"><thead><tr><th>Section</th><th>Line</th><th>Scenarios</th></tr></thead><tbody>"
        );
        for x in &p.sections {
            let mark = if x.scenarios.is_empty() {
                "<span class=\"miss\">✘</span>"
            } else {
                "<span class=\"tick\">✔</span>"
            };
            let _ = writeln!(
                o,
                "<tr><td>{mark} {}<a href=\"{}\">{}</a></td><td class=\"n\">{}</td><td>{}</td></tr>",
                "&nbsp;&nbsp;".repeat(x.heading.level.saturating_sub(1)),
                esc(&doc_url(&p.page, Some(&x.heading.anchor))),
                esc(&x.heading.title),
                x.heading.line,
                x.scenarios.iter().map(|k| esc(k)).collect::<Vec<_>>().join("<br>")
            );
        }
        let _ = writeln!(o, "</tbody></table>");
        let _ = writeln!(
            o,
            "<table class=\"coverage\"><thead><tr><th>YAML block</th><th>Under</th><th>Named by</th><th>Deployed in this run by</th></tr></thead><tbody>"
        );
        for x in &p.blocks {
            let mark =
                if x.exercised() { "<span class=\"tick\">✔</span>" } else { "<span class=\"miss\">✘</span>" };
            let _ = writeln!(
                o,
                "<tr><td>{mark} line {} {}</td><td>#{}</td><td>{}</td><td>{}</td></tr>",
                x.line,
                esc(x.title.as_deref().unwrap_or("")),
                esc(&x.anchor),
                x.scenarios.iter().map(|k| esc(k)).collect::<Vec<_>>().join("<br>"),
                x.deployed_by.iter().map(|k| esc(k)).collect::<Vec<_>>().join("<br>")
            );
        }
        let _ = writeln!(o, "</tbody></table>");
        for a in &p.unknown_anchors {
            let _ = writeln!(o, "<p class=\"miss\">A scenario names #{}, which this page does not have.</p>", esc(a));
        }
        for r in &p.unresolved_blocks {
            let _ =
                writeln!(o, "<p class=\"miss\">A step names the block {}, which this page does not have.</p>", esc(r));
        }
        let _ = writeln!(o, "</details>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{CheckResult, RunMeta, Severity};

    fn sample() -> RunReport {
        RunReport {
            meta: RunMeta {
                target: "reference (in-process)".into(),
                suite_version: "0.1.0".into(),
                ..Default::default()
            },
            scenarios: vec![ScenarioResult {
                feature_path: "a/b.feature".into(),
                feature_name: "B <flows>".into(),
                name: "A <script>alert(1)</script> scenario".into(),
                line: 7,
                tags: vec!["doc:guides-vmcp/authentication.mdx#oidc-authentication".into(), "claim-J3".into()],
                status: ScenarioStatus::Failed,
                status_reason: None,
                failure: Some("[x.y] MUST requirement not met".into()),
                checks: vec![CheckResult {
                    id: "x.y".into(),
                    severity: Severity::Must,
                    passed: false,
                    source: "RFC 6750 §3".into(),
                    expected: Some("401 & a challenge".into()),
                    actual: Some("200 \"ok\"".into()),
                }],
                blocks: vec!["guides-vmcp/authentication.mdx:120 (MCPOIDCConfig resource)".into()],
                exchanges: vec![HttpExchange {
                    method: "POST".into(),
                    url: "http://127.0.0.1:1/mcp".into(),
                    request_headers: vec![("authorization".into(), "Bearer eyJh…abcd".into())],
                    request_body: "{\"a\":\"<b>\"}".into(),
                    status: 200,
                    ..Default::default()
                }],
                duration_ms: 12,
            }],
        }
    }

    #[test]
    fn page_is_escaped_self_contained_and_shows_failures() {
        let run = sample();
        let conformance = crate::report::yaml::report(&run, &|_| vec!["core".into()]);
        let html = render(&run, &Coverage::default(), &conformance);
        assert!(html.contains("id=\"feature-results\"") && html.contains("<td>core</td>"));
        assert!(!html.contains("<script>alert"), "unescaped scenario name");
        assert!(html.contains("A &lt;script&gt;alert(1)&lt;/script&gt; scenario"));
        assert!(html.contains("401 &amp; a challenge") && html.contains("200 &quot;ok&quot;"));
        assert!(html.contains("id=\"summary-table\"") && html.contains("POST http://127.0.0.1:1/mcp"));
        assert!(html.contains("https://docs.stacklok.com/toolhive/guides-vmcp/authentication#oidc-authentication"));
        for external in ["<link", "src=\"http", "@import", "url(http"] {
            assert!(!html.contains(external), "external resource {external}");
        }
        assert!(html.contains("FAIL (1 fail the run)"));
    }
}
