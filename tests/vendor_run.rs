//! A vendor run end to end against the reference: a target file that leaves a feature
//! unclaimed, a baseline whose expected failure a defect switch produces, a stale entry, a
//! quarantine, and a typo in the baseline.

use std::path::{Path, PathBuf};
use std::process::Command;

use vmcp_conformance::vendor::features::FEATURES;

const ISSUER: &str =
    "embedded-auth-server-vmcp/security.feature: A validly signed token naming another issuer is refused";
const TAGS: &str = "@as-jwt-issuer or @anonymous";

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("vmcp-conformance-vendor-run-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A target file claiming every feature but anonymous-incoming, with `baseline` next to it.
fn target_file(dir: &Path, baseline: &str) -> PathBuf {
    let features: Vec<&str> =
        FEATURES.iter().map(|(n, _)| *n).filter(|n| *n != "core" && *n != "anonymous-incoming").collect();
    std::fs::write(dir.join("baseline.yaml"), baseline).expect("baseline written");
    let file = dir.join("target.yaml");
    let text = format!(
        "implementation: {{name: reference-under-test, version: '0', contact: [nobody@example.com]}}\n\
         target: {{kind: reference}}\nfeatures: [{}]\nbaseline: baseline.yaml\n",
        features.join(", ")
    );
    std::fs::write(&file, text).expect("target file written");
    file
}

fn run(file: &Path, defect: Option<&str>, out: &Path) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmcp-conformance"));
    cmd.args(["run", "--target-file"]).arg(file).args(["--tags", TAGS, "--concurrency", "2", "--out"]).arg(out);
    if let Some(d) = defect {
        cmd.args(["--defect", d]);
    }
    let o = cmd.output().expect("the binary runs");
    let text = format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}

fn closing(text: &str) -> String {
    text.lines().rev().find(|l| l.contains(" passed, ")).unwrap_or_default().to_string()
}

#[test]
fn baseline_quarantine_and_claims_decide_the_verdicts() {
    let d = dir();
    let expected = format!(
        "expected_failures:\n  - scenario: \"{ISSUER}\"\n    check: incoming.token-refused\n    reason: the issuer check is switched off\n"
    );
    let file = target_file(&d, &expected);

    // The listed check fails: an expected failure, with its reason, and the run passes.
    let (code, text) = run(&file, Some("skip-issuer-check"), &d.join("expected"));
    assert_eq!(
        closing(&text),
        "0 passed, 0 failed, 0 skipped, 1 not claimed, 1 expected failures, 0 quarantined, 0 stale baseline entries",
        "{text}"
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("the issuer check is switched off"), "the reason is shown:\n{text}");
    assert!(text.contains("needs the unclaimed feature(s) anonymous-incoming"), "{text}");
    let yaml = std::fs::read_to_string(d.join("expected/conformance-report.yaml")).unwrap_or_default();
    assert!(yaml.contains("reference-under-test"), "the report names the implementation:\n{yaml}");

    // The listed scenario passes without the defect: the entry is stale and fails the run.
    let (code, text) = run(&file, None, &d.join("stale"));
    assert!(closing(&text).ends_with("0 quarantined, 1 stale baseline entries"), "{text}");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("passes now"), "{text}");

    // Quarantined: reported with its expiry, not failing.
    let quarantine =
        format!("quarantine:\n  - scenario: \"{ISSUER}\"\n    reason: flaky here\n    expires: 2999-01-01\n");
    let file = target_file(&d, &quarantine);
    let (code, text) = run(&file, Some("skip-issuer-check"), &d.join("quarantine"));
    assert!(closing(&text).contains("1 not claimed, 0 expected failures, 1 quarantined"), "{text}");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("flaky here (expires 2999-01-01)"), "{text}");

    // A typo stops the run before it starts.
    let typo = format!("expected_failures:\n  - scenario: \"{ISSUER}.\"\n    reason: r\n");
    let file = target_file(&d, &typo);
    let (code, text) = run(&file, None, &d.join("typo"));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("names no scenario under features/") && text.contains("did you mean"), "{text}");
    let _ = std::fs::remove_dir_all(&d);
}
