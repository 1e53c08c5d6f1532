//! Proof that the checks can fail (rule 3 of ARCHITECTURE.md): the suite is run against the
//! reference target with one defect switch on, and the scenarios covering that defect must fail
//! on the check that names it, while the run as a whole reports the failure.

use std::process::Command;

struct Case {
    defect: &'static str,
    /// Tag expression selecting the scenarios that cover the defect.
    tags: &'static str,
    /// The check id that must be reported as failing.
    failing_check: &'static str,
}

const CASES: &[Case] = &[
    Case { defect: "inject-wrong-provider-token", tags: "@claim-O15", failing_check: "upstream-inject.provider-token" },
    Case {
        defect: "leak-client-authorization",
        tags: "@claim-N1",
        failing_check: "outgoing.unlisted-backend-unauthenticated",
    },
    Case { defect: "skip-signature-check", tags: "@claim-J1", failing_check: "incoming.token-refused" },
    Case { defect: "skip-expiry-check", tags: "@claim-L2 and @slow", failing_check: "incoming.token-refused" },
    Case { defect: "double-access-token-lifespan", tags: "@claim-L1", failing_check: "lifespan.access-token" },
    Case { defect: "omit-registration-endpoint", tags: "@claim-W1", failing_check: "as-metadata.field" },
    Case { defect: "skip-pkce-verification", tags: "@rfc7636", failing_check: "oauth.error-response" },
];

fn run_with_defect(case: &Case) -> (bool, String) {
    let out_dir = std::env::temp_dir().join(format!("vmcp-conformance-defect-{}-{}", case.defect, std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_vmcp-conformance"))
        .args(["run", "--defect", case.defect, "--tags", case.tags, "--concurrency", "4"])
        .arg("--junit")
        .arg(out_dir.join("junit.xml"))
        .arg("--json")
        .arg(out_dir.join("cucumber.json"))
        .output()
        .expect("the vmcp-conformance binary runs");
    let text = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn every_defect_switch_fails_the_scenarios_that_cover_it() {
    let handles: Vec<_> = CASES.iter().map(|case| std::thread::spawn(move || (case, run_with_defect(case)))).collect();
    let mut problems = Vec::new();
    for handle in handles {
        let (case, (succeeded, text)) = handle.join().expect("defect run thread");
        let closing = text.lines().rev().find(|l| l.contains(" passed, ")).unwrap_or("").to_string();
        if succeeded {
            problems
                .push(format!("--defect {} passed `{}` ({closing}): the check cannot fail", case.defect, case.tags));
        } else if !text.contains(&format!("[{}]", case.failing_check)) {
            problems.push(format!(
                "--defect {} failed, but not on check [{}]:\n{}",
                case.defect,
                case.failing_check,
                text.lines().filter(|l| l.contains('[') || l.contains("passed")).collect::<Vec<_>>().join("\n")
            ));
        } else if closing.starts_with("0 passed, 0 failed") {
            problems.push(format!("--defect {}: `{}` selected no scenario", case.defect, case.tags));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
