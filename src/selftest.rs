//! `vmcp-conformance selftest`: proof that the suite finds real departures. For each row of
//! [`CASES`], one child run of the reference with the row's switch on over the scenarios its tag
//! expression selects (`run --defect D --tags T`), in a pool of parallel child processes, and asserts:
//! (a) for every row, a selected scenario fails on the row's check (a SHOULD check's warning
//!     counts: it only warns by design);
//! (b) "the others pass": every other scenario of that run passes, so a switch breaks only what
//!     its rows say (a scenario failing on a check no row of the switch names is collateral);
//! (c) every switch of [`Defect::ALL`] has at least one row, and every row names a known switch.
//! The tables are read at run time, so rows added by anyone are proven by the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::tag::Ext as _;
use serde::Deserialize;

use crate::defects::Defect;
use crate::defects::cases::{CASES, Case};
use crate::vendor::features::{ScenarioInfo, catalogue};

#[derive(Debug, Clone)]
pub struct Options {
    /// The `vmcp-conformance` binary the child runs start.
    pub exe: PathBuf,
    /// Child runs at once.
    pub parallel: usize,
    /// `--concurrency` of each child run.
    pub concurrency: usize,
    /// Only these switches (empty: all).
    pub only: Vec<String>,
    /// Where the child runs write their reports.
    pub out_dir: PathBuf,
}

/// What the selftest found; empty `problems` means it passed.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub runs: usize,
    pub rows: usize,
    pub problems: Vec<String>,
    pub seconds: f64,
}

/// Switches of [`Defect::ALL`] without a row in [`CASES`].
pub fn switches_without_rows() -> Vec<&'static str> {
    let named: BTreeSet<&str> = CASES.iter().map(|c| c.defect).collect();
    Defect::ALL.iter().map(|(_, n, _)| *n).filter(|n| !named.contains(n)).collect()
}

/// Rows naming no switch of [`Defect::ALL`].
pub fn rows_with_unknown_switches() -> Vec<&'static str> {
    CASES.iter().map(|c| c.defect).filter(|d| !Defect::ALL.iter().any(|(_, n, _)| n == d)).collect()
}

/// The scenarios a row's tag expression selects.
pub fn selected<'a>(case: &Case, scenarios: &'a [ScenarioInfo]) -> Result<Vec<&'a ScenarioInfo>, String> {
    let op: TagOperation =
        case.tags.parse().map_err(|e| format!("--defect {}: bad tag expression {:?}: {e}", case.defect, case.tags))?;
    Ok(scenarios.iter().filter(|s| op.eval(s.tags.iter())).collect())
}

pub fn run(options: &Options) -> Result<Outcome, String> {
    let started = Instant::now();
    let mut outcome = Outcome::default();
    for d in switches_without_rows() {
        outcome
            .problems
            .push(format!("switch {d} has no row in src/defects/cases.rs: nothing proves its check can fail"));
    }
    for d in rows_with_unknown_switches() {
        outcome.problems.push(format!("src/defects/cases.rs names the unknown switch {d}"));
    }
    let mut by_defect: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for case in CASES.iter().filter(|c| options.only.is_empty() || options.only.iter().any(|o| o == c.defect)) {
        by_defect.entry(case.defect).or_default().push(case);
    }
    for o in &options.only {
        if !CASES.iter().any(|c| c.defect == *o) {
            return Err(format!("selftest --defect {o}: no row of src/defects/cases.rs names this switch"));
        }
    }
    outcome.rows = by_defect.values().map(Vec::len).sum();
    // One child run per row, as CI always ran them: two failing Redis scenarios in one process
    // wait for each other's topology (a failed scenario's World outlives it).
    let jobs: Vec<(usize, &Case, &[&Case])> = by_defect
        .values()
        .flat_map(|rows| rows.iter().map(move |case| (*case, rows.as_slice())))
        .enumerate()
        .map(|(i, (case, rows))| (i, case, rows))
        .collect();
    outcome.runs = jobs.len();
    std::fs::create_dir_all(&options.out_dir).map_err(|e| format!("{}: {e}", options.out_dir.display()))?;
    let next = AtomicUsize::new(0);
    let problems = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.parallel.max(1) {
            scope.spawn(|| {
                while let Some((index, case, rows)) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let found = match child_run(options, *index, case) {
                        Ok(child) => judge(case.defect, &[*case], rows, &child),
                        Err(e) => vec![e],
                    };
                    problems.lock().unwrap_or_else(|p| p.into_inner()).extend(found);
                }
            });
        }
    });
    let mut found = problems.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort();
    outcome.problems.extend(found);
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// One scenario as the child run's Cucumber JSON reports it.
#[derive(Debug, Clone)]
pub struct ChildScenario {
    pub key: String,
    pub tags: Vec<String>,
    /// `None` when it passed; else the failing step's message.
    pub failure: Option<String>,
}

/// What one child run printed and reported.
#[derive(Debug, Clone, Default)]
pub struct ChildRun {
    pub succeeded: bool,
    pub output: String,
    pub scenarios: Vec<ChildScenario>,
}

fn child_run(options: &Options, index: usize, case: &Case) -> Result<ChildRun, String> {
    let defect = case.defect;
    let dir = options.out_dir.join(format!("{defect}-{index}"));
    let json = dir.join("cucumber.json");
    let out = Command::new(&options.exe)
        .args(["run", "--defect", defect, "--tags", case.tags])
        .args(["--concurrency", &options.concurrency.to_string()])
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--json")
        .arg(&json)
        .output()
        .map_err(|e| format!("--defect {defect}: cannot start {}: {e}", options.exe.display()))?;
    let output = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&json).unwrap_or_default();
    let scenarios = parse_cucumber_json(&text).map_err(|e| {
        format!("--defect {defect}: the run wrote no readable {} ({e}); its output:\n{}", json.display(), tail(&output))
    })?;
    Ok(ChildRun { succeeded: out.status.success(), output, scenarios })
}

/// The useful line of a step failure (cucumber puts `Matched: file:line` first).
fn headline(message: &str) -> &str {
    let line = message.lines().find(|l| !l.starts_with("Matched:") && !l.trim().is_empty()).unwrap_or(message);
    line.trim_start_matches("Step panicked. Captured output: ")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The selftest's verdict on a run with the switch `defect` on (pure: unit-tested below): each of
/// `cases` is proven, and a scenario failing on a check no row of the switch (`rows`) names is collateral.
pub fn judge(defect: &str, cases: &[&Case], rows: &[&Case], child: &ChildRun) -> Vec<String> {
    let mut problems = Vec::new();
    if child.scenarios.is_empty() {
        let what = cases.iter().map(|c| c.tags).collect::<Vec<_>>().join("`, `");
        return vec![format!("--defect {defect}: `{what}` selected no scenario\n{}", tail(&child.output))];
    }
    let names_check = |msg: &str, check: &str| msg.contains(&format!("[{check}]"));
    for case in cases {
        let op: TagOperation = match case.tags.parse() {
            Ok(op) => op,
            Err(e) => {
                problems.push(format!("--defect {defect}: bad tag expression {:?}: {e}", case.tags));
                continue;
            }
        };
        let mine: Vec<&ChildScenario> = child.scenarios.iter().filter(|s| op.eval(s.tags.iter())).collect();
        let caught = mine.iter().any(|s| s.failure.as_deref().is_some_and(|m| names_check(m, case.failing_check)));
        let warned = child.output.contains(&format!("[{}] SHOULD requirement not met", case.failing_check));
        if mine.is_empty() {
            problems.push(format!("--defect {defect}: `{}` selected no scenario", case.tags));
        } else if !caught && !warned {
            let seen: Vec<String> = mine
                .iter()
                .map(|s| match &s.failure {
                    None => format!("  {}: passed", s.key),
                    Some(m) => format!("  {}: failed: {}", s.key, headline(m)),
                })
                .collect();
            problems.push(format!(
                "--defect {defect} `{}`: no scenario failed on [{}] (the check cannot fail):\n{}",
                case.tags,
                case.failing_check,
                seen.join("\n")
            ));
        }
    }
    for s in &child.scenarios {
        if let Some(m) = &s.failure
            && !rows.iter().any(|c| names_check(m, c.failing_check))
        {
            problems.push(format!(
                "--defect {defect}: {} failed on something no row of this switch names (collateral): {}",
                s.key,
                headline(m)
            ));
        }
    }
    problems
}

#[derive(Deserialize)]
struct JsonFeature {
    uri: Option<String>,
    name: String,
    #[serde(default)]
    tags: Vec<JsonTag>,
    #[serde(default)]
    elements: Vec<JsonElement>,
}

#[derive(Deserialize)]
struct JsonTag {
    name: String,
}

#[derive(Deserialize)]
struct JsonElement {
    name: String,
    #[serde(default)]
    line: usize,
    #[serde(default)]
    tags: Vec<JsonTag>,
    #[serde(default)]
    steps: Vec<JsonStep>,
}

#[derive(Deserialize)]
struct JsonStep {
    result: JsonResult,
}

#[derive(Deserialize)]
struct JsonResult {
    status: String,
    error_message: Option<String>,
}

/// Scenarios of a Cucumber JSON report (cucumber-rs' `writer::Json`). A scenario's background
/// is an element of its own with the scenario's name and line: the two are one scenario.
pub fn parse_cucumber_json(text: &str) -> Result<Vec<ChildScenario>, String> {
    let features: Vec<JsonFeature> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out: Vec<ChildScenario> = Vec::new();
    let mut seen: BTreeMap<(String, usize, String), usize> = BTreeMap::new();
    for f in features {
        let uri = f.uri.unwrap_or(f.name);
        let path = uri.rsplit_once("features/").map(|(_, p)| p.to_string()).unwrap_or(uri);
        for e in f.elements {
            let tags = f.tags.iter().chain(&e.tags).map(|t| t.name.trim_start_matches('@').to_string()).collect();
            let failure = e
                .steps
                .iter()
                .find(|s| s.result.status != "passed")
                .map(|s| s.result.error_message.clone().unwrap_or_else(|| format!("step {}", s.result.status)));
            match seen.get(&(path.clone(), e.line, e.name.clone())) {
                Some(&i) => {
                    out[i].failure = out[i].failure.take().or(failure);
                    out[i].tags.extend(tags);
                    out[i].tags.sort();
                    out[i].tags.dedup();
                }
                None => {
                    seen.insert((path.clone(), e.line, e.name.clone()), out.len());
                    out.push(ChildScenario { key: format!("{path}: {}", e.name), tags, failure });
                }
            }
        }
    }
    Ok(out)
}

/// `vmcp-conformance defects --markdown`: every switch, what it breaks, the scenarios and the
/// check that catch it. DEFECTS.md holds this output (a test keeps them equal).
pub fn markdown_table(features_root: &Path) -> Result<String, String> {
    let scenarios = catalogue(features_root)?;
    let mut out = String::from(
        "# Defect switches\n\n\
         Generated by `vmcp-conformance defects --markdown > DEFECTS.md`; `cargo test --lib selftest` fails when\n\
         this file and the tables in `src/defects/` disagree. Each switch makes the reference target depart\n\
         from one documented requirement; `vmcp-conformance selftest` (and `tests/defect_switches.rs`) runs\n\
         the scenarios of each row with the switch on and asserts they fail on the row's check while the\n\
         other scenarios of that run pass.\n\n\
         | switch | what it breaks | scenarios (tag expression) | failing check |\n\
         |---|---|---|---|\n",
    );
    let cell = |s: &str| s.replace('|', "\\|");
    for (_, name, what) in Defect::ALL {
        let rows: Vec<&Case> = CASES.iter().filter(|c| c.defect == *name).collect();
        if rows.is_empty() {
            out.push_str(&format!("| `{name}` | {} | **no row yet** | |\n", cell(what)));
        }
        for case in rows {
            let names = selected(case, &scenarios)?.iter().map(|s| cell(&s.key())).collect::<Vec<_>>().join("<br>");
            out.push_str(&format!(
                "| `{name}` | {} | `{}`: {} | `{}` |\n",
                cell(what),
                cell(case.tags),
                if names.is_empty() { "**no scenario**".to_string() } else { names },
                case.failing_check
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
    }

    /// DEFECTS.md is the generated table: it cannot drift from src/defects/.
    #[test]
    fn defects_md_is_the_generated_table() {
        let generated = markdown_table(&root().join("features")).expect("the table generates");
        let written = std::fs::read_to_string(root().join("DEFECTS.md")).unwrap_or_default();
        assert!(
            written == generated,
            "DEFECTS.md differs from the generated table: run `cargo run -- defects --markdown > DEFECTS.md`"
        );
    }

    #[test]
    fn every_row_selects_a_scenario() {
        let scenarios = catalogue(&root().join("features")).unwrap();
        let empty: Vec<String> = CASES
            .iter()
            .filter(|c| selected(c, &scenarios).map(|s| s.is_empty()).unwrap_or(true))
            .map(|c| format!("{} `{}`", c.defect, c.tags))
            .collect();
        assert!(empty.is_empty(), "rows of src/defects/cases.rs selecting no scenario: {empty:#?}");
    }

    fn child(scenarios: &[(&str, &str, Option<&str>)]) -> ChildRun {
        ChildRun {
            succeeded: scenarios.iter().all(|s| s.2.is_none()),
            output: String::new(),
            scenarios: scenarios
                .iter()
                .map(|(k, t, f)| ChildScenario {
                    key: k.to_string(),
                    tags: vec![t.to_string()],
                    failure: f.map(String::from),
                })
                .collect(),
        }
    }

    const CASE: Case = Case { defect: "d", tags: "@t", failing_check: "c.one" };

    #[test]
    fn a_row_whose_scenario_fails_on_its_check_passes() {
        let run = child(&[("f: A", "t", Some("[c.one] MUST requirement not met")), ("f: B", "t", None)]);
        assert!(judge("d", &[&CASE], &[&CASE], &run).is_empty());
    }

    #[test]
    fn a_row_whose_scenarios_all_pass_is_a_check_that_cannot_fail() {
        let p = judge("d", &[&CASE], &[&CASE], &child(&[("f: A", "t", None)]));
        assert!(p.len() == 1 && p[0].contains("no scenario failed on [c.one]"), "{p:?}");
        let mut warned = child(&[("f: A", "t", None)]);
        warned.output = "warning: [c.one] SHOULD requirement not met".into();
        assert!(judge("d", &[&CASE], &[&CASE], &warned).is_empty(), "a SHOULD warning is the proof");
    }

    #[test]
    fn another_failure_in_the_run_is_collateral() {
        let run =
            child(&[("f: A", "t", Some("[c.one] MUST")), ("f: B", "t", Some("[c.two] MUST requirement not met"))]);
        let p = judge("d", &[&CASE], &[&CASE], &run);
        assert!(p.len() == 1 && p[0].contains("f: B failed on something no row") && p[0].contains("c.two"), "{p:?}");
    }

    #[test]
    fn a_failure_on_another_row_of_the_same_switch_is_not_collateral() {
        let sibling = Case { defect: "d", tags: "@u", failing_check: "c.two" };
        let run = child(&[("f: A", "t", Some("[c.one] MUST")), ("f: B", "t", Some("[c.two] MUST"))]);
        assert!(judge("d", &[&CASE], &[&CASE, &sibling], &run).is_empty());
    }

    #[test]
    fn an_empty_selection_is_reported() {
        let p = judge("d", &[&CASE], &[&CASE], &child(&[]));
        assert!(p[0].contains("selected no scenario"), "{p:?}");
    }

    #[test]
    fn cucumber_json_scenarios_are_read() {
        let text = r#"[{"uri":"/x/features/a/b.feature","keyword":"Feature","name":"B","tags":[{"name":"@doc:p","line":1}],
            "elements":[{"keyword":"Background","type":"background","line":3,"name":"S","steps":[]},{"keyword":"Scenario","type":"scenario","id":"b;s","line":3,"name":"S","tags":[{"name":"@t","line":2}],
            "steps":[{"keyword":"Given ","line":4,"name":"x","result":{"status":"passed","duration":1}},
                     {"keyword":"Then ","line":5,"name":"y","result":{"status":"failed","duration":1,"error_message":"[c.one] MUST"}}]}]}]"#;
        let s = parse_cucumber_json(text).unwrap();
        assert_eq!(s.len(), 1, "the background and its scenario are one: {s:?}");
        assert_eq!(s[0].key, "a/b.feature: S");
        assert_eq!(s[0].tags, vec!["doc:p".to_string(), "t".to_string()]);
        assert_eq!(s[0].failure.as_deref(), Some("[c.one] MUST"));
    }
}
