//! The `verify-docs` subcommand's arguments and driver (exit 0 clean, 1 new error or stale
//! baseline entry, 2 bad usage).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::baseline::Baseline;
use super::report::{Format, render};
use super::schema::SchemaSet;
use super::{Options, verify_dir};

/// `vmcp-conformance verify-docs <DOCS_DIR> [--crds DIR] [--baseline FILE] [--format …] [--changed FILE…]`
#[derive(Debug, clap::Args)]
pub struct VerifyDocsArgs {
    /// The docs folder: every `.md`/`.mdx` page under it is read.
    pub docs_dir: PathBuf,
    /// A folder of CRD manifests (ToolHive's deploy/charts/operator-crds/files/crds/); default:
    /// the schemas generated from this crate's kube types.
    #[arg(long)]
    pub crds: Option<PathBuf>,
    /// Accepted errors: a YAML list of `{entry: "file:block_line:rule", reason: "…"}`.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Only report blocks inside these files (paths relative to DOCS_DIR, or paths that lie
    /// under it, as a pull request's changed-file list gives them).
    #[arg(long, num_args = 1..)]
    pub changed: Vec<PathBuf>,
    /// Write a baseline covering every current error to this file (reasons of entries kept from
    /// --baseline; new entries say what to triage) and exit 0.
    #[arg(long)]
    pub write_baseline: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    Junit,
    Github,
    Sarif,
}

/// Maps `--changed` paths onto page paths relative to `docs_dir`.
pub fn changed_pages(docs_dir: &Path, changed: &[PathBuf]) -> Vec<String> {
    let canon_dir = docs_dir.canonicalize().ok();
    let mut out = Vec::new();
    for c in changed {
        let rel = canon_dir
            .as_ref()
            .and_then(|d| c.canonicalize().ok().and_then(|p| p.strip_prefix(d).ok().map(Path::to_path_buf)))
            .or_else(|| c.strip_prefix(docs_dir).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| c.clone());
        out.push(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
    }
    out
}

/// Runs the command; the process exit status is the return value.
pub fn run(args: VerifyDocsArgs) -> ExitCode {
    match run_inner(&args) {
        Ok((output, failed)) => {
            print!("{output}");
            if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        Err(e) => {
            eprintln!("vmcp-conformance verify-docs: {e}");
            ExitCode::from(2)
        }
    }
}

/// The rendered report and whether it fails; `Err` is bad usage.
pub fn run_inner(args: &VerifyDocsArgs) -> Result<(String, bool), String> {
    if !args.docs_dir.is_dir() {
        return Err(format!("{} is not a folder", args.docs_dir.display()));
    }
    let mut schemas = match &args.crds {
        Some(dir) => SchemaSet::from_dir(dir)?,
        None => SchemaSet::builtin(),
    };
    let baseline = match &args.baseline {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| format!("cannot read --baseline {}: {e}", p.display()))?;
            Baseline::parse(&text).map_err(|e| format!("--baseline {}: {e}", p.display()))?
        }
        None => Baseline::default(),
    };
    let options = Options { changed: changed_pages(&args.docs_dir, &args.changed) };
    let report = verify_dir(&args.docs_dir, &mut schemas, &options)?;
    let scope: Option<BTreeSet<String>> = (!args.changed.is_empty()).then(|| options.changed.iter().cloned().collect());
    let outcome = baseline.compare(&report.findings, scope.as_ref());
    if let Some(path) = &args.write_baseline {
        let text = baseline.rewrite(&report.findings);
        std::fs::write(path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let n = text.lines().filter(|l| l.starts_with("- entry:")).count();
        return Ok((format!("verify-docs: wrote {n} baseline entries to {}\n", path.display()), false));
    }
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Junit => Format::Junit,
        FormatArg::Github => Format::Github,
        FormatArg::Sarif => Format::Sarif,
    };
    let prefix = args.docs_dir.to_string_lossy();
    Ok((render(&report, &outcome, format, &prefix), outcome.failed()))
}
