//! The `command` target, end to end: the whole suite against this crate's own `serve` started as a
//! separate process from ToolHive's non-Kubernetes files must pass what the in-process reference
//! passes; the differences are listed, with reasons, in baselines/command-serve.yaml (an
//! unexpected failure or a stale entry fails the run).

use std::process::Command;

#[test]
fn the_suite_passes_against_serve_run_as_a_separate_process() {
    let dir = std::env::temp_dir().join(format!("vmcp-conformance-command-target-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    // A private copy: a rebuild of target/debug during the run must not pull the binary away from
    // the processes the run starts.
    let bin = dir.join("vmcp-conformance");
    std::fs::copy(env!("CARGO_BIN_EXE_vmcp-conformance"), &bin).expect("copies the binary");
    let bin = bin.display().to_string();
    let out = dir.join("reports");
    let template = format!("{bin} serve --config {{config}} --host {{host}} --port {{port}}");
    let started = std::time::Instant::now();
    let status = Command::new(&bin)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VMCP_CONFORMANCE_CLI", &bin)
        .args(["run", "--target", "command", "--command", &template, "--baseline", "baselines/command-serve.yaml"])
        .arg("--out")
        .arg(&out)
        .status()
        .expect("runs vmcp-conformance");
    eprintln!("command target run: {:.0?} (reports in {})", started.elapsed(), out.display());
    assert!(status.success(), "the command-target run failed ({status}); see the output above and {}", out.display());
    let _ = std::fs::remove_dir_all(&dir);
}
