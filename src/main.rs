//! `vmcp-conformance`: run the Gherkin suite transcribed from ToolHive's vMCP authentication
//! docs against a target, and report which documented behaviours hold.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use vmcp_conformance::defects::{Defect, Defects};

#[path = "../steps/mod.rs"]
#[allow(dead_code)]
mod suite;

#[derive(Debug, Parser)]
#[command(name = "vmcp-conformance", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the scenarios against a target and write JUnit XML and Cucumber JSON reports.
    Run(RunArgs),
    /// List the reference target's test-only defect switches.
    Defects,
    /// Check every YAML example of a docs folder against the CRDs, their CEL rules and the wiring
    /// between resources (exit 0 clean, 1 new error or stale baseline entry, 2 bad usage).
    VerifyDocs(vmcp_conformance::docs::verify::cli::VerifyDocsArgs),
    /// Run a benchmark and print its figures (`vmcp-conformance bench --list` names them).
    Bench {
        /// The benchmark to run.
        name: Option<String>,
        /// List the benchmarks.
        #[arg(long)]
        list: bool,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The system under test.
    #[arg(long, value_enum, default_value_t = TargetArg::Reference)]
    target: TargetArg,
    /// Only scenarios matching this cucumber tag expression (`@claim-O15 and not @slow`).
    #[arg(long)]
    tags: Option<String>,
    /// JUnit XML report (default: target/conformance/junit.xml).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Cucumber JSON report (default: target/conformance/cucumber.json).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Test-only: run the reference target with these defect switches (comma-separated; see
    /// `vmcp-conformance defects`). The scenarios covering them are expected to fail.
    #[arg(long, value_delimiter = ',')]
    defect: Vec<Defect>,
    /// Feature files or folders (default: every feature under features/).
    paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    /// This crate's own vMCP and authorization server, in process, with in-memory storage.
    Reference,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VMCP_CONFORMANCE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Defects => {
            for (_, name, what) in Defect::ALL {
                println!("{name:32} {what}");
            }
            ExitCode::SUCCESS
        }
        Command::Run(args) => run(args),
        Command::Bench { name, list } => bench(name, list),
        Command::VerifyDocs(args) => vmcp_conformance::docs::verify::cli::run(args),
    }
}

fn bench(name: Option<String>, list: bool) -> ExitCode {
    let Some(name) = name.filter(|_| !list) else {
        for (name, what) in vmcp_conformance::bench::BENCHES {
            println!("{name:12} {what}");
        }
        return ExitCode::SUCCESS;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(vmcp_conformance::bench::run(&name)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmcp-conformance bench {name}: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    let mut options = suite::runner::RunOptions::new();
    options.paths = args.paths;
    options.tags = args.tags;
    options.concurrency = args.concurrency.max(1);
    options.target = match args.target {
        TargetArg::Reference => suite::world::TargetKind::Reference,
    };
    options.defects = args.defect.into_iter().fold(Defects::none(), Defects::with);
    if let Some(j) = args.junit {
        options.junit = j;
    }
    if let Some(j) = args.json {
        options.json = j;
    }
    let runtime = match suite::runner::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(suite::runner::run(options)) {
        Ok(t) if t.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vmcp-conformance run: {e}");
            ExitCode::from(2)
        }
    }
}
