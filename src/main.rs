//! `vmcp-conformance`: run the Gherkin suite transcribed from ToolHive's vMCP authentication
//! docs against a target, and report which documented behaviours hold.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use vmcp_conformance::defects::{Defect, Defects};

#[path = "../steps/mod.rs"]
#[allow(dead_code)]
mod suite;
mod vendor_cli;

#[derive(Debug, Parser)]
#[command(name = "vmcp-conformance", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the scenarios against a target and write JUnit XML and Cucumber JSON reports.
    Run(Box<RunArgs>),
    /// List the reference target's test-only defect switches.
    Defects {
        /// The documented table instead (DEFECTS.md): switch, what it breaks, the scenarios and check that catch it.
        #[arg(long)]
        markdown: bool,
    },
    /// Run the suite against the reference with each defect switch on, in parallel child runs, and
    /// assert the scenarios covering it fail on the named check while the others pass.
    Selftest(vendor_cli::SelftestArgs),
    /// List the features a target file may claim.
    Features,
    /// Check every YAML example of a docs folder against the CRDs, their CEL rules and the wiring
    /// between resources (exit 0 clean, 1 new error or stale baseline entry, 2 bad usage).
    VerifyDocs(vmcp_conformance::docs::verify::cli::VerifyDocsArgs),
    /// For each docs page the features name, which sections and YAML blocks the scenarios
    /// exercise (from their @doc tags and the blocks their steps name), and which they do not.
    Coverage,
    /// Serve ToolHive's non-Kubernetes configuration (`vmcp.yaml` and the sibling
    /// `authserver-config.yaml`) with the reference, as `thv vmcp serve` does.
    Serve(ServeArgs),
    /// Check a `vmcp.yaml` (syntax, required fields, strategies, backends); exit 0 when valid.
    Validate {
        /// Path to the vMCP configuration file.
        #[arg(long, short = 'c')]
        config: PathBuf,
        /// Test-only: validate with these defect switches (see `vmcp-conformance defects`).
        #[arg(long, value_delimiter = ',')]
        defect: Vec<Defect>,
    },
    /// Serve the harness's mock IdPs and mock MCP backends on fixed consecutive ports from ADDR
    /// (for the url and kubernetes targets), print their URLs and test clients, run until SIGTERM.
    MockIdps {
        /// The base address (its port and the next ones are used); one the implementation can reach.
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
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
    /// The report folder: junit.xml, cucumber.json, report.html, conformance-report.yaml
    /// (default: target/conformance/, or the folder of --junit when only that is given).
    #[arg(long)]
    out: Option<PathBuf>,
    /// JUnit XML report (default: OUT/junit.xml).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Cucumber JSON report (default: OUT/cucumber.json).
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
    /// With `--target command`: the command line that starts the implementation; `{config}` (the
    /// written vmcp.yaml), `{port}`, `{host}` and `{dir}` are filled in
    /// (`thv vmcp serve --config {config} --host {host} --port {port}`).
    #[arg(long)]
    command: Option<String>,
    /// The vendor's target file: implementation, target settings, claimed features, baseline.
    #[arg(long)]
    target_file: Option<PathBuf>,
    /// Expected failures and quarantine (baselines/<target>.yaml format), added to the target file's.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// url / kubernetes: where the implementation answers (its issuer and MCP origin). For
    /// kubernetes it may hold `{namespace}` (the scenario's namespace).
    #[arg(long)]
    url: Option<String>,
    /// url / kubernetes: serve the harness's mocks on fixed consecutive ports from this address
    /// (one the implementation can reach; see `vmcp-conformance mock-idps`). Runs one scenario at a time.
    #[arg(long)]
    mocks_listen: Option<std::net::SocketAddr>,
    /// url: the folder holding the configuration the running implementation was given
    /// (manifests.yaml, backends.yaml, vmcp/); written from the first scenario when empty.
    #[arg(long, default_value = "target/conformance/url-config")]
    url_config: PathBuf,
    /// url: seconds to wait for the implementation to answer at `--url`.
    #[arg(long, default_value_t = 600)]
    url_wait: u64,
    /// kubernetes: a kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// kubernetes: apply every scenario into this existing namespace (default: a namespace
    /// created and deleted per scenario).
    #[arg(long)]
    namespace: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Path to the vMCP configuration file (`authserver-config.yaml` is read from its folder).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Quick mode: serve this group's workloads anonymously (used when --config is not set).
    #[arg(long)]
    group: Option<String>,
    /// Quick mode: YAML file naming each group's workloads (`group: [{name, url, transport}]`);
    /// the reference has no local ToolHive runtime to discover them from.
    #[arg(long, env = "VMCP_CONFORMANCE_GROUPS")]
    groups: Option<PathBuf>,
    /// Bind address (quick mode requires a loopback address).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// TCP port to listen on.
    #[arg(long, default_value_t = 4483)]
    port: u16,
    /// Session inactivity timeout as a Go duration.
    #[arg(long, default_value = "30m")]
    session_ttl: String,
    /// Test-only: serve with these defect switches (see `vmcp-conformance defects`).
    #[arg(long, value_delimiter = ',')]
    defect: Vec<Defect>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    /// This crate's own vMCP and authorization server, in process, with in-memory storage.
    Reference,
    /// An implementation already running at `--url`, configured from `--url-config`.
    Url,
    /// A Kubernetes cluster with the ToolHive operator: server-side apply, conditions read back.
    Kubernetes,
    /// Any implementation started as a process from `--command` (ToolHive's non-Kubernetes files).
    Command,
}

fn main() -> ExitCode {
    let cli = match vendor_cli::expand_target_file(std::env::args_os().collect()) {
        Ok(argv) => Cli::parse_from(argv),
        Err(e) => {
            eprintln!("vmcp-conformance run --target-file: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VMCP_CONFORMANCE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Defects { markdown: true } => vendor_cli::defects_markdown(&suite::runner::features_root()),
        Command::Selftest(args) => vendor_cli::selftest(args),
        Command::Features => vendor_cli::list_features(),
        Command::Defects { markdown: false } => {
            for (_, name, what) in Defect::ALL {
                println!("{name:32} {what}");
            }
            ExitCode::SUCCESS
        }
        Command::Run(args) => run(*args),
        Command::Bench { name, list } => bench(name, list),
        Command::VerifyDocs(args) => vmcp_conformance::docs::verify::cli::run(args),
        Command::Serve(args) => serve(args),
        Command::Validate { config, defect } => {
            validate(&config, &defect.into_iter().fold(Defects::none(), Defects::with))
        }
        Command::Coverage => coverage(),
        Command::MockIdps { listen } => mock_idps_standalone(listen),
    }
}

fn mock_idps_standalone(listen: std::net::SocketAddr) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(vmcp_conformance::mocks::serve_standalone(listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmcp-conformance mock-idps: {e}");
            ExitCode::from(2)
        }
    }
}

fn coverage() -> ExitCode {
    match vmcp_conformance::report::coverage::Coverage::from_features(&suite::runner::features_root()) {
        Ok(c) => {
            print!("{}", c.render_text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vmcp-conformance coverage: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let options = vmcp_conformance::serve::ServeOptions {
        config: args.config,
        group: args.group,
        groups_file: args.groups,
        host: args.host,
        port: args.port,
        session_ttl: args.session_ttl,
        defects: args.defect.into_iter().fold(Defects::none(), Defects::with),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(vmcp_conformance::serve::serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmcp-conformance serve: {e}");
            ExitCode::FAILURE
        }
    }
}

fn validate(config: &std::path::Path, defects: &Defects) -> ExitCode {
    match vmcp_conformance::serve::validate(config, defects) {
        Ok(refused) => {
            println!("{}: valid", config.display());
            if !refused.is_empty() {
                println!("note: `vmcp-conformance serve` does not implement: {}", refused.join(", "));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vmcp-conformance validate: {e}");
            ExitCode::FAILURE
        }
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

/// The url and kubernetes targets' settings, checked before anything runs.
fn remote_target(args: &RunArgs) -> Result<Option<suite::world::TargetKind>, String> {
    use vmcp_conformance::target::{kubernetes::KubernetesOptions, url::UrlOptions};
    let mocks = args.mocks_listen.map(mock_idps::standalone::Layout::new).transpose()?;
    let url = || args.url.clone().ok_or_else(|| format!("--target {:?} needs --url", args.target));
    match args.target {
        TargetArg::Url => {
            let Some(mocks) = mocks else {
                return Err("--target url needs --mocks-listen: the running implementation is configured with \
                            the mocks' addresses, so they must be fixed"
                    .into());
            };
            let options = UrlOptions {
                url: url()?,
                config_dir: args.url_config.clone(),
                wait: std::time::Duration::from_secs(args.url_wait),
            };
            Ok(Some(suite::world::TargetKind::Url { options, mocks }))
        }
        TargetArg::Kubernetes => {
            let mut options = KubernetesOptions::new(url()?);
            options.kubeconfig = args.kubeconfig.clone();
            options.namespace = args.namespace.clone();
            Ok(Some(suite::world::TargetKind::Kubernetes { options, mocks }))
        }
        _ => Ok(None),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let mut options = suite::runner::RunOptions::new();
    let remote = match remote_target(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vmcp-conformance run: {e}");
            return ExitCode::from(2);
        }
    };
    options.paths = args.paths;
    options.tags = args.tags;
    // Mocks on fixed ports (--mocks-listen) serve one scenario at a time.
    options.concurrency = if args.mocks_listen.is_some() { 1 } else { args.concurrency.max(1) };
    options.target = match args.target {
        TargetArg::Url | TargetArg::Kubernetes => remote.unwrap_or(suite::world::TargetKind::Reference),
        TargetArg::Reference => suite::world::TargetKind::Reference,
        TargetArg::Command => match args.command {
            Some(template) => suite::world::TargetKind::Command(template),
            None => {
                eprintln!(
                    "vmcp-conformance run: --target command needs --command 'TEMPLATE' (with {{config}} and {{port}})"
                );
                return ExitCode::from(2);
            }
        },
    };
    options.defects = args.defect.into_iter().fold(Defects::none(), Defects::with);
    options.vendor = match vendor_cli::vendor_rules(args.target_file.as_deref(), args.baseline.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("vmcp-conformance run: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(out) = args.out {
        options.junit = out.join("junit.xml");
        options.json = out.join("cucumber.json");
        options.out = out;
    } else if let Some(dir) = args.junit.as_deref().and_then(|j| j.parent()).filter(|d| !d.as_os_str().is_empty()) {
        // Without --out, the HTML and YAML reports go beside the JUnit file (so concurrent runs
        // with their own --junit, as the selftest's, never share a report.html).
        options.out = dir.to_path_buf();
    }
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
