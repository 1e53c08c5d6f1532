//! Proof that the checks can fail (rule 3 of ARCHITECTURE.md): `vmcp-conformance selftest` as
//! CI runs it. For each row of src/defects/cases.rs, one run of the reference with the row's switch
//! on over the scenarios its tags select: they fail on the row's check, the other scenarios of that
//! run pass, and every switch has a row (src/selftest.rs).

use std::path::Path;

use vmcp_conformance::selftest::{Options, run};

/// Child runs at once: each starts its own targets and mocks, and the machine has 2 cores.
const PARALLEL_RUNS: usize = 4;

#[test]
fn every_defect_switch_fails_the_scenarios_that_cover_it_and_only_those() {
    let options = Options {
        exe: Path::new(env!("CARGO_BIN_EXE_vmcp-conformance")).to_path_buf(),
        parallel: PARALLEL_RUNS,
        concurrency: 4,
        only: Vec::new(),
        out_dir: std::env::temp_dir().join(format!("vmcp-conformance-selftest-{}", std::process::id())),
    };
    let outcome = run(&options).unwrap_or_else(|e| panic!("selftest: {e}"));
    let _ = std::fs::remove_dir_all(&options.out_dir);
    eprintln!("selftest: {} rows, {} child runs, {:.1} s", outcome.rows, outcome.runs, outcome.seconds);
    assert!(
        outcome.problems.is_empty(),
        "selftest found {} problems:\n- {}",
        outcome.problems.len(),
        outcome.problems.join("\n- ")
    );
}
