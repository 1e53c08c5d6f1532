//! The run report: a [`ScenarioResult`] per scenario (built in the runner's after hook from the
//! World: checks with expected and actual values, deployed documented blocks, the HTTP
//! exchanges its recorder saw), the [`RunReport`] at the end of the run, and the report folder's
//! `report.html` and `conformance-report.yaml` (cucumber writes `junit.xml` and `cucumber.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cucumber::event::ScenarioFinished;
use vmcp_conformance::report::coverage::{self, Coverage};
use vmcp_conformance::report::redact::redact_text;
use vmcp_conformance::report::{RunMeta, RunReport, ScenarioResult, ScenarioStatus};
use vmcp_conformance::vendor::features;

use super::runner::{RunOptions, features_root};
use super::world::ConformanceWorld;

/// Every finished scenario, by `(feature path, line)` (a retried scenario keeps its last outcome).
static RESULTS: Mutex<BTreeMap<(String, usize), ScenarioResult>> = Mutex::new(BTreeMap::new());

/// `Target::describe()` of the first scenario's target (all scenarios of a run share the kind).
static TARGET: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Feature path relative to `features/` (the key baselines use).
pub fn feature_path(feature: &cucumber::gherkin::Feature) -> String {
    feature
        .path
        .as_ref()
        .map(|p| p.strip_prefix(features_root()).unwrap_or(p).display().to_string())
        .unwrap_or_else(|| feature.name.clone())
}

/// The text of `TargetError::NeedsOtherConfiguration` (src/target/mod.rs).
const NEEDS_OTHER_CONFIGURATION: &str = "needs another configuration: ";

/// Called from the runner's after hook: what this scenario did, for the reports.
pub fn record(
    feature: &cucumber::gherkin::Feature,
    rule: Option<&cucumber::gherkin::Rule>,
    scenario: &cucumber::gherkin::Scenario,
    event: &ScenarioFinished,
    world: Option<&ConformanceWorld>,
) {
    let (status, failure) = match event {
        ScenarioFinished::StepPassed => (ScenarioStatus::Passed, None),
        ScenarioFinished::StepSkipped => (ScenarioStatus::Skipped, Some("a step was skipped".to_string())),
        ScenarioFinished::StepFailed(_, _, error) => {
            // A step's `Err` reaches cucumber as a panic; the prefix says nothing to a reader.
            let text = error.to_string();
            let text = text.strip_prefix("Step panicked. Captured output: ").unwrap_or(&text);
            (ScenarioStatus::Failed, Some(redact_text(text)))
        }
        ScenarioFinished::BeforeHookFailed(_) => {
            (ScenarioStatus::Failed, Some("the scenario could not start (the World failed to build)".to_string()))
        }
    };
    // A scenario whose deployment is not the one a running implementation was given (url
    // target) was not run there: reported as not claimed, with the reason, never as a failure.
    let (status, status_reason) = match &failure {
        Some(f) if status == ScenarioStatus::Failed && f.contains(NEEDS_OTHER_CONFIGURATION) => {
            (ScenarioStatus::NotClaimed, failure.clone())
        }
        _ => (status, None),
    };
    if let Some(w) = world {
        let _ = TARGET.set(w.target.describe());
    }
    let tags = feature.tags.iter().chain(rule.iter().flat_map(|r| &r.tags)).chain(&scenario.tags).cloned().collect();
    let result = ScenarioResult {
        feature_path: feature_path(feature),
        feature_name: feature.name.clone(),
        name: scenario.name.clone(),
        line: scenario.position.line,
        tags,
        status,
        status_reason,
        failure,
        checks: world.map(|w| w.checks.iter().map(|c| c.to_result()).collect()).unwrap_or_default(),
        blocks: world.map(ConformanceWorld::documented_blocks).unwrap_or_default(),
        exchanges: world.map(|w| w.recorder.exchanges()).unwrap_or_default(),
        duration_ms: world.map(|w| w.recorder.started().elapsed().as_millis() as u64).unwrap_or_default(),
    };
    let mut results = RESULTS.lock().unwrap_or_else(|p| p.into_inner());
    results.insert((result.feature_path.clone(), result.line), result);
}

/// The run's report, with every scenario recorded so far.
pub fn run_report(options: &RunOptions, started_at: String, started: Instant) -> RunReport {
    let scenarios: Vec<ScenarioResult> = RESULTS.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
    // The docs version covers every in-scope page, whatever the selection ran.
    let pages: std::collections::BTreeSet<String> = coverage::scan_features(&features_root())
        .map(|all| all.into_iter().flat_map(|s| s.pages).collect())
        .unwrap_or_default();
    RunReport {
        meta: RunMeta {
            target: TARGET.get().cloned().unwrap_or_else(|| format!("{:?}", options.target)),
            implementation: None,
            claimed_features: Vec::new(),
            suite_version: env!("CARGO_PKG_VERSION").to_string(),
            docs_version: coverage::docs_version(&pages.into_iter().collect::<Vec<_>>()),
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            defects: options.defects.iter().map(|d| d.to_string()).collect(),
        },
        scenarios,
    }
}

/// Writes `report.html` and `conformance-report.yaml` into `out`; returns the files written.
pub fn write(out: &Path, report: &RunReport) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut coverage = match Coverage::from_features(&features_root()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("doc coverage not computed: {e}");
            Coverage::default()
        }
    };
    coverage.add_run(report);
    let catalogue = features::catalogue(&features_root()).unwrap_or_else(|e| {
        eprintln!("per-feature results not computed: {e}");
        Vec::new()
    });
    let features_of = |s: &ScenarioResult| -> Vec<String> {
        let key = s.key();
        catalogue
            .iter()
            .find(|info| info.matches_key(&key))
            .map(|info| features::exercised(info.view()).into_iter().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let conformance = vmcp_conformance::report::yaml::report(report, &features_of);
    let html = out.join("report.html");
    write_whole(&html, &vmcp_conformance::report::html::render(report, &coverage, &conformance))?;
    let yaml = out.join("conformance-report.yaml");
    write_whole(&yaml, &vmcp_conformance::report::yaml::render(&conformance))?;
    Ok(vec![html, yaml])
}

/// Writes through a temporary file and a rename, so a reader never sees half a report.
fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Now, RFC 3339 UTC (`2026-11-29T16:20:00Z`).
pub fn rfc3339_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
