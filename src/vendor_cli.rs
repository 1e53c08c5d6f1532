//! The CLI side of vendor runs: `--target-file` expansion, `selftest`, `defects --markdown`,
//! `features`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vmcp_conformance::vendor::{TargetFile, VendorRules, features};

/// `run --target-file F`: the target settings of F become the flags they stand for
/// (`--target KIND --command … --url … --mocks-listen … --namespace … --kubeconfig …`), inserted after `run`
/// unless the command line gives that flag itself (the command line wins).
pub fn expand_target_file(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let Some(run_at) = argv.iter().position(|a| a == "run") else { return Ok(argv) };
    let mut file = None;
    for (i, a) in argv.iter().enumerate().skip(run_at) {
        let a = a.to_string_lossy();
        if a == "--target-file" {
            file = argv.get(i + 1).map(PathBuf::from);
        } else if let Some(v) = a.strip_prefix("--target-file=") {
            file = Some(PathBuf::from(v));
        }
    }
    let Some(file) = file else { return Ok(argv) };
    let target = TargetFile::load(&file)?.target;
    let given = |flag: &str| {
        argv.iter().skip(run_at).any(|a| {
            let a = a.to_string_lossy();
            a == flag || a.starts_with(&format!("{flag}="))
        })
    };
    let mut extra: Vec<OsString> = Vec::new();
    let settings = [
        ("--target", Some(target.kind.as_str().to_string())),
        ("--command", target.command),
        ("--url", target.url),
        ("--mocks-listen", target.mocks_listen),
        ("--namespace", target.namespace),
        ("--kubeconfig", target.kubeconfig),
    ];
    for (flag, value) in settings {
        if let Some(v) = value
            && !given(flag)
        {
            extra.push(flag.into());
            extra.push(v.into());
        }
    }
    let mut out = argv;
    out.splice(run_at + 1..run_at + 1, extra);
    Ok(out)
}

/// The vendor rules of a run: the target file's, plus `--baseline`.
pub fn vendor_rules(target_file: Option<&Path>, baseline: Option<&Path>) -> Result<VendorRules, String> {
    let file = target_file.map(TargetFile::load).transpose()?;
    VendorRules::from_files(file.as_ref(), baseline)
}

#[derive(Debug, clap::Args)]
pub struct SelftestArgs {
    /// Child runs at once (each starts its own reference target and mocks).
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Scenarios at once within each child run.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Only these switches (comma-separated; default: every switch with a row).
    #[arg(long, value_delimiter = ',')]
    defect: Vec<String>,
    /// Where the child runs write their reports (default: target/selftest/).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn selftest(args: SelftestArgs) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("selftest: cannot find this binary: {e}");
            return ExitCode::from(2);
        }
    };
    let options = vmcp_conformance::selftest::Options {
        exe,
        parallel: args.parallel,
        concurrency: args.concurrency,
        only: args.defect,
        out_dir: args.out.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/selftest")),
    };
    match vmcp_conformance::selftest::run(&options) {
        Ok(o) if o.problems.is_empty() => {
            println!(
                "selftest passed: {} rows of {} switches proven in {} child runs ({:.1} s)",
                o.rows,
                vmcp_conformance::defects::Defect::ALL.len(),
                o.runs,
                o.seconds
            );
            ExitCode::SUCCESS
        }
        Ok(o) => {
            eprintln!("selftest failed ({} problems, {} child runs, {:.1} s):", o.problems.len(), o.runs, o.seconds);
            for p in &o.problems {
                eprintln!("- {p}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("selftest: {e}");
            ExitCode::from(2)
        }
    }
}

pub fn defects_markdown(features_root: &Path) -> ExitCode {
    match vmcp_conformance::selftest::markdown_table(features_root) {
        Ok(t) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), t.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("defects --markdown: {e}");
            ExitCode::from(2)
        }
    }
}

/// `vmcp-conformance features`: the vocabulary of a target file's `features:`.
pub fn list_features() -> ExitCode {
    let text: String = features::FEATURES.iter().map(|(name, what)| format!("{name:24} {what}\n")).collect();
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_target_file_becomes_flags_and_the_command_line_wins() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/target-thv.yaml");
        let f = file.to_string_lossy().to_string();
        let out = expand_target_file(args(&["x", "run", "--target-file", &f])).unwrap();
        let text: Vec<String> = out.iter().map(|a| a.to_string_lossy().to_string()).collect();
        assert_eq!(&text[..4], &["x", "run", "--target", "command"]);
        assert_eq!(text[4], "--command");
        let out = expand_target_file(args(&["x", "run", "--target", "reference", "--target-file", &f])).unwrap();
        assert!(!out[2..].iter().any(|a| a == "command"), "{out:?}");
        let e = expand_target_file(args(&["x", "run", "--target-file", "/nonexistent.yaml"])).unwrap_err();
        assert!(e.contains("/nonexistent.yaml"), "{e}");
        assert_eq!(expand_target_file(args(&["x", "defects"])).unwrap(), args(&["x", "defects"]));
    }
}
