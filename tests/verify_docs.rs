//! `verify-docs`: our own fixture pages (one kind of mistake each) must produce exactly the
//! expected errors, the clean page none; the docs snapshot in ../shared must verify against its
//! baseline; every output format and exit status of the command; extraction never panics.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use vmcp_conformance::docs::verify::schema::SchemaSet;
use vmcp_conformance::docs::verify::{Options, Report, Severity, verify_dir, verify_page};

const BIN: &str = env!("CARGO_BIN_EXE_vmcp-conformance");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("fixtures/verify-docs")
}

/// `$VMCP_CONFORMANCE_SHARED` or `../shared`. Missing is a failure with a clear message (house
/// rule 3), unless `VMCP_CONFORMANCE_SKIP_SHARED=1` opts out, which is printed.
fn shared() -> Option<PathBuf> {
    let dir =
        std::env::var_os("VMCP_CONFORMANCE_SHARED").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"));
    if dir.join("reference/docs").is_dir() && dir.join("reference/crds").is_dir() {
        return Some(dir);
    }
    if std::env::var("VMCP_CONFORMANCE_SKIP_SHARED").is_ok_and(|v| v == "1") {
        eprintln!(
            "SKIPPED by VMCP_CONFORMANCE_SKIP_SHARED=1: {} has no reference/docs and reference/crds",
            dir.display()
        );
        return None;
    }
    panic!(
        "the docs snapshot and ToolHive's CRDs are missing: {} must hold reference/docs and reference/crds. Set \
         VMCP_CONFORMANCE_SHARED to the shared/ folder (or VMCP_CONFORMANCE_SKIP_SHARED=1 to skip these checks \
         explicitly)",
        dir.display()
    );
}

fn real_crds() -> Option<SchemaSet> {
    let dir = shared()?.join("reference/crds");
    Some(SchemaSet::from_dir(&dir).expect("ToolHive's CRDs load"))
}

/// An error as (rule, path, line).
type Expected = (String, String, usize);

fn errors(report: &Report, file: &str) -> Vec<Expected> {
    let mut out: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.file == file && f.severity == Severity::Error)
        .map(|f| (f.rule.clone(), f.path.clone(), f.line))
        .collect();
    out.sort();
    out
}

fn e(rule: &str, path: &str, line: usize) -> Expected {
    (rule.to_string(), path.to_string(), line)
}

/// Each fixture page and the errors it must produce, exactly.
fn expected() -> Vec<(&'static str, Vec<Expected>)> {
    vec![
        ("clean.mdx", vec![]),
        ("placeholders.mdx", vec![]),
        ("missing-backend-type.mdx", vec![e("schema-required", "spec.outgoingAuth.backends.calendar-mcp.type", 100)]),
        (
            "provider-name.mdx",
            vec![e("wiring-AuthServerConfigValidated", "spec.outgoingAuth.backends.calendar-mcp", 100)],
        ),
        ("issuer-mismatch.mdx", vec![e("wiring-AuthServerConfigValidated", "spec.incomingAuth.oidcConfigRef", 94)]),
        (
            "unknown-field.mdx",
            vec![e("schema-unknown-field", "spec.authServerConfig.upstreamProviders[0].oauth2Config.clientID", 81)],
        ),
        ("enum.mdx", vec![e("schema-enum", "spec.authServerConfig.upstreamProviders[1].type", 88)]),
        ("pattern.mdx", vec![e("schema-pattern", "spec.authServerConfig.upstreamProviders[0].name", 73)]),
        (
            "cel.mdx",
            vec![
                e("cel", "spec.authServerConfig.upstreamProviders[1]", 87),
                e("cel", "spec.authServerConfig.upstreamProviders[1].oauth2Config", 92),
            ],
        ),
        ("list-map-key.mdx", vec![e("schema-list-map-key", "spec.authServerConfig.upstreamProviders[1]", 87)]),
        ("yaml-error.mdx", vec![e("yaml-parse", "", 16)]),
        ("duplicate-key.mdx", vec![e("yaml-duplicate-key", "", 17)]),
        ("core-kind.mdx", vec![e("schema-unknown-field", "stringdata", 18)]),
        ("api-version.mdx", vec![e("api-version", "apiVersion", 12)]),
        ("fragment.mdx", vec![e("schema-type", "upstreamProviders[0].oidcConfig.scopes", 18)]),
        ("mdx-error.mdx", vec![e("mdx-parse", "", 6), e("schema-unknown-field", "spec.descripton", 19)]),
        ("vmcp-config.mdx", vec![e("schema-enum", "aggregation.conflictResolution", 15)]),
        ("passthrough.mdx", vec![e("passthrough-restricted", "spec.passthroughHeaders[1]", 16)]),
    ]
}

#[test]
fn each_fixture_page_yields_exactly_its_mistake() {
    let Some(mut schemas) = real_crds() else { return };
    let report = verify_dir(&fixtures(), &mut schemas, &Options::default()).expect("fixtures verify");
    let table = expected();
    let mut pages: Vec<&str> = report.blocks.iter().map(|b| b.file.as_str()).collect();
    pages.sort();
    pages.dedup();
    for page in &pages {
        assert!(table.iter().any(|(p, _)| p == page), "fixture {page} has no expectation in this table");
    }
    for (page, want) in table {
        let mut want = want;
        want.sort();
        assert_eq!(
            errors(&report, page),
            want,
            "{page}: {:#?}",
            report.findings.iter().filter(|f| f.file == page).collect::<Vec<_>>()
        );
    }
    // The clean page shows every class a docs page holds.
    let classes: Vec<&str> = report
        .blocks
        .iter()
        .filter(|b| b.file == "clean.mdx")
        .flat_map(|b| b.documents.iter().map(|d| d.name()))
        .collect();
    for class in ["complete", "core", "fragment", "not-toolhive"] {
        assert!(classes.contains(&class), "clean.mdx: no {class} document in {classes:?}");
    }
    assert!(
        report
            .blocks
            .iter()
            .any(|b| b.file == "vmcp-config.mdx" && b.documents.iter().any(|d| d.name() == "vmcp-config")),
        "vmcp-config.mdx is not recognised as the vMCP configuration format"
    );
    // Placeholders and elisions are notes of their own class, never errors.
    for rule in ["placeholder", "elision"] {
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.file == "placeholders.mdx" && f.rule == rule && f.severity == Severity::Note),
            "placeholders.mdx: no {rule} note"
        );
    }
}

#[test]
fn builtin_schemas_catch_the_structural_and_wiring_mistakes() {
    let mut schemas = SchemaSet::builtin();
    let report = verify_dir(&fixtures(), &mut schemas, &Options::default()).expect("fixtures verify");
    assert!(errors(&report, "clean.mdx").is_empty(), "{:#?}", errors(&report, "clean.mdx"));
    for (page, rule) in [
        ("missing-backend-type.mdx", "schema-required"),
        ("unknown-field.mdx", "schema-unknown-field"),
        ("enum.mdx", "schema-enum"),
        ("provider-name.mdx", "wiring-AuthServerConfigValidated"),
        ("issuer-mismatch.mdx", "wiring-AuthServerConfigValidated"),
    ] {
        assert!(
            errors(&report, page).iter().any(|(r, _, _)| r == rule),
            "{page}: no {rule}: {:?}",
            errors(&report, page)
        );
    }
}

#[test]
fn the_docs_snapshot_verifies_against_its_baseline() {
    let Some(shared) = shared() else { return };
    let out = Command::new(BIN)
        .arg("verify-docs")
        .arg(shared.join("reference/docs"))
        .arg("--crds")
        .arg(shared.join("reference/crds"))
        .arg("--baseline")
        .arg(fixtures().join("reference-docs.baseline.yaml"))
        .output()
        .expect("run verify-docs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "new errors or stale baseline entries:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("documents per class:"), "{stdout}");
    // Every YAML block got a classification.
    let mut schemas = real_crds().expect("crds");
    let report = verify_dir(&shared.join("reference/docs"), &mut schemas, &Options::default()).expect("verify");
    assert!(report.blocks.len() > 400, "only {} YAML blocks found", report.blocks.len());
    for b in &report.blocks {
        assert!(
            !b.documents.is_empty() || report.findings.iter().any(|f| f.file == b.file && f.block_line == b.line),
            "{}:{}: a YAML block with no document and no finding",
            b.file,
            b.line
        );
    }
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).arg("verify-docs").args(args).current_dir(root()).output().expect("run");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn exit_status_baseline_and_changed() {
    let dir = "fixtures/verify-docs";
    // New errors: 1.
    let (code, out) = run(&[dir]);
    assert_eq!(code, Some(1), "{out}");
    // Bad usage: 2.
    assert_eq!(run(&["no/such/dir"]).0, Some(2));
    assert_eq!(run(&[dir, "--format", "xml"]).0, Some(2));
    let tmp = std::env::temp_dir().join(format!("verify-docs-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let bad = tmp.join("bad.yaml");
    std::fs::write(&bad, "- entry: clean.mdx:x:cel\n  reason: r\n").unwrap();
    assert_eq!(run(&[dir, "--baseline", bad.to_str().unwrap()]).0, Some(2));
    // --changed limits the report to one page; its error covered by a baseline: 0.
    let (code, out) = run(&[dir, "--changed", "fixtures/verify-docs/enum.mdx", "clean.mdx", "--format", "json"]);
    assert_eq!(code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let files: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert!(files.iter().all(|f| *f == "enum.mdx" || *f == "clean.mdx"), "{files:?}");
    let line = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "schema-enum")
        .map(|f| f["block_line"].as_u64().unwrap())
        .expect("enum finding");
    let ok = tmp.join("ok.yaml");
    std::fs::write(&ok, format!("- entry: enum.mdx:{line}:schema-enum\n  reason: fixture mistake on purpose\n"))
        .unwrap();
    let (code, out) = run(&[dir, "--changed", "enum.mdx", "--baseline", ok.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(baseline)"), "{out}");
    // The same entry is stale once its page is clean: 1 (checked on the clean page's scope too).
    let stale = tmp.join("stale.yaml");
    std::fs::write(&stale, "- entry: clean.mdx:12:schema-enum\n  reason: was fixed\n").unwrap();
    let (code, out) = run(&[dir, "--changed", "clean.mdx", "--baseline", stale.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("stale entry clean.mdx:12:schema-enum"), "{out}");
    // An entry of a page outside --changed is not judged.
    let (code, out) = run(&[dir, "--changed", "placeholders.mdx", "--baseline", stale.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn every_format_renders_the_findings() {
    let dir = "fixtures/verify-docs";
    let (_, json) = run(&[dir, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let f = &v["findings"][0];
    for key in ["file", "line", "block_line", "severity", "rule", "path", "message"] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    assert!(v["summary"]["classes"].is_object() && v["summary"]["errors"].as_u64().unwrap() > 0, "{}", v["summary"]);
    let (_, gh) = run(&[dir, "--format", "github"]);
    assert!(
        gh.lines().any(|l| l.starts_with("::error file=fixtures/verify-docs/enum.mdx,line=88,title=schema-enum")),
        "{gh}"
    );
    assert!(gh.lines().any(|l| l.starts_with("::notice file=fixtures/verify-docs/placeholders.mdx")), "{gh}");
    let (_, junit) = run(&[dir, "--format", "junit"]);
    let blocks = v["summary"]["blocks"].as_u64().unwrap() as usize;
    // One case per block, plus one per page-level error (the MDX parse error).
    assert_eq!(junit.matches("<testcase ").count(), blocks + 1, "{junit}");
    assert!(junit.contains("<failure message=") && junit.contains("</testsuites>"), "{junit}");
    let (_, sarif) = run(&[dir, "--format", "sarif"]);
    let s: serde_json::Value = serde_json::from_str(&sarif).expect("sarif json");
    assert_eq!(s["version"], "2.1.0");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), v["findings"].as_array().unwrap().len());
    assert!(results.iter().any(|r| r["ruleId"] == "schema-enum"
        && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "fixtures/verify-docs/enum.mdx"));
    let (_, text) = run(&[dir]);
    let tail: Vec<&str> = text.lines().rev().take(7).collect();
    assert!(
        text.contains("documents per class:") && tail.iter().any(|l| l.trim_start().starts_with("complete")),
        "{text}"
    );
}

fn page_strategy() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "```yaml\n",
        "```yml title=\"x.yaml\"\n",
        "```\n",
        "~~~\n",
        "````\n",
        "  - ```yaml\n",
        "apiVersion: toolhive.stacklok.dev/v1beta1\n",
        "kind: VirtualMCPServer\n",
        "kind: MCPGroup\n",
        "metadata:\n  name: x\n",
        "spec:\n  groupRef:\n    name: g\n",
        "  upstreamProviders:\n  - name: a\n    type: oidc\n",
        "---\n",
        "...\n",
        "# highlight-next-line\n",
        "key: { ... }\n",
        "<TabItem value=\"a\">\n",
        "</TabItem>\n",
        "{\n",
        "}\n",
        "# Heading\n",
        "- item\n",
        "\t\n",
        "x: [\n",
        "<YOUR_VALUE>\n",
        "é\u{feff}\n",
    ]);
    let chunk = prop_oneof![pieces.prop_map(|s| s.as_bytes().to_vec()), prop::collection::vec(any::<u8>(), 0..12),];
    prop::collection::vec(chunk, 0..24).prop_map(|v| v.concat())
}

proptest! {
    // Bounded for CI (256 cases, a few seconds); `PROPTEST_CASES=N` runs longer.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    /// Nothing panics on any page: invalid UTF-8, unterminated fences, broken YAML and MDX.
    #[test]
    fn extraction_and_verification_never_panic(bytes in page_strategy(), mdx in any::<bool>()) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = vmcp_conformance::docs::extract_blocks(&text);
        let _ = vmcp_conformance::docs::mdx::page_blocks(&text, mdx);
        thread_local! {
            static SCHEMAS: std::cell::RefCell<SchemaSet> = std::cell::RefCell::new(SchemaSet::builtin());
        }
        SCHEMAS.with(|s| {
            let mut report = Report::default();
            verify_page(if mdx { "p.mdx" } else { "p.md" }, &text, &mut s.borrow_mut(), &mut report);
            for f in &report.findings {
                assert!(f.line >= 1 || f.block_line == 0, "{f:?}");
            }
        });
    }
}

#[test]
fn page_paths_are_relative_and_slash_separated() {
    let pages = vmcp_conformance::docs::verify::pages(Path::new(&fixtures())).unwrap();
    assert!(pages.contains(&"clean.mdx".to_string()), "{pages:?}");
    assert!(pages.iter().all(|p| !p.starts_with('/')));
}
