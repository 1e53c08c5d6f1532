//! Proof that the checks can fail (rule 3 of ARCHITECTURE.md): the suite is run against the
//! reference target with one defect switch on, and the scenarios covering that defect must fail
//! on the check that names it, while the run as a whole reports the failure.

use std::process::Command;

use vmcp_conformance::defects::cases::{CASES, Case};
fn run_with_defect(index: usize, case: &Case) -> (bool, String) {
    let out_dir = std::env::temp_dir().join(format!("vmcp-conformance-defect-{}-{index}", std::process::id()));
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

/// Runs at once: each run starts its own targets and mocks, and the machine has 2 cores.
const PARALLEL_RUNS: usize = 4;

#[test]
fn every_defect_switch_fails_the_scenarios_that_cover_it() {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_RUNS {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = CASES.get(index) else { break };
                    let outcome = run_with_defect(index, case);
                    results.lock().unwrap_or_else(|p| p.into_inner()).push((case, outcome));
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut problems = Vec::new();
    for (case, (succeeded, text)) in results {
        let closing = text.lines().rev().find(|l| l.contains(" passed, ")).unwrap_or("").to_string();
        if closing.starts_with("0 passed, 0 failed") {
            problems.push(format!("--defect {}: `{}` selected no scenario", case.defect, case.tags));
        } else if succeeded {
            problems
                .push(format!("--defect {} passed `{}` ({closing}): the check cannot fail", case.defect, case.tags));
        } else if !text.contains(&format!("[{}]", case.failing_check)) {
            problems.push(format!(
                "--defect {} failed, but not on check [{}]:\n{}",
                case.defect,
                case.failing_check,
                text.lines().filter(|l| l.contains('[') || l.contains("passed")).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
