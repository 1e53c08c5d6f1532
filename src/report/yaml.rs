//! The machine-readable conformance report (`conformance-report.yaml`), in the spirit of Gateway
//! API's `ConformanceReport`: who was tested (implementation, target), with what (suite version,
//! docs version, claimed features, the mode), the results per feature a target can claim
//! (`crate::vendor::features`: `core`, `embedded-auth-server`, `xaa`, …), per profile (a docs area:
//! the folder under `features/`) and per feature file, and the statistics.

use std::collections::BTreeMap;

use serde::Serialize;

use super::html::status_name;
use super::model::{Implementation, RunReport, ScenarioResult, ScenarioStatus};

/// The report's kind and version, so readers can tell formats apart.
pub const API_VERSION: &str = "vmcp-conformance.stacklok.dev/v1alpha1";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub date: String,
    pub implementation: Option<Implementation>,
    pub target: String,
    pub suite_version: String,
    pub docs_version: String,
    /// `default`, or `defects-on: …` for the suite's own proof runs (never a conformance result).
    pub mode: String,
    /// Empty = the implementation claims every feature.
    pub claimed_features: Vec<String>,
    /// `success` when nothing fails the run, else `failure`.
    pub result: &'static str,
    pub statistics: Statistics,
    /// Per claimable feature (a scenario counts under every feature it exercises).
    pub features: Vec<Group>,
    pub profiles: Vec<Group>,
    pub feature_files: Vec<Group>,
}

/// Results of a group of scenarios.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub name: String,
    /// `success`, `partial` (only expected failures, quarantined or not claimed besides passes),
    /// `failure`, or `not-claimed` (nothing run).
    pub result: &'static str,
    pub statistics: Statistics,
    /// Doc sections (`page#anchor`) the group's scenarios exercise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub doc_sections: Vec<String>,
    /// Claim ids (docs-claims.md) the group's scenarios carry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<String>,
    /// `scenario key: status[: reason]` for every scenario that did not simply pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_passed: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub not_claimed: usize,
    pub expected_failures: usize,
    pub stale_expected_failures: usize,
    pub quarantined: usize,
    /// Checks evaluated, and how many were not met (MUST fails, SHOULD warns).
    pub checks: usize,
    pub checks_not_met: usize,
}

impl Statistics {
    fn of(scenarios: &[&ScenarioResult]) -> Self {
        let mut s = Self { total: scenarios.len(), ..Self::default() };
        for r in scenarios {
            match r.status {
                ScenarioStatus::Passed => s.passed += 1,
                ScenarioStatus::Failed => s.failed += 1,
                ScenarioStatus::Skipped => s.skipped += 1,
                ScenarioStatus::NotClaimed => s.not_claimed += 1,
                ScenarioStatus::ExpectedFailure => s.expected_failures += 1,
                ScenarioStatus::StaleExpectedFailure => s.stale_expected_failures += 1,
                ScenarioStatus::Quarantined => s.quarantined += 1,
            }
            s.checks += r.checks.len();
            s.checks_not_met += r.checks.iter().filter(|c| !c.passed).count();
        }
        s
    }

    fn result(&self) -> &'static str {
        if self.failed + self.skipped + self.stale_expected_failures > 0 {
            "failure"
        } else if self.total > 0 && self.not_claimed == self.total {
            "not-claimed"
        } else if self.passed == self.total {
            "success"
        } else {
            "partial"
        }
    }
}

fn group(name: String, scenarios: &[&ScenarioResult]) -> Group {
    let statistics = Statistics::of(scenarios);
    let mut doc_sections: Vec<String> = scenarios
        .iter()
        .flat_map(|s| &s.tags)
        .filter_map(|t| t.strip_prefix("doc:"))
        .filter(|d| d.contains('#'))
        .map(str::to_string)
        .collect();
    doc_sections.sort();
    doc_sections.dedup();
    let mut claims: Vec<String> =
        scenarios.iter().flat_map(|s| &s.tags).filter_map(|t| t.strip_prefix("claim-")).map(str::to_string).collect();
    claims.sort();
    claims.dedup();
    let not_passed = scenarios
        .iter()
        .filter(|s| s.status != ScenarioStatus::Passed)
        .map(|s| match &s.status_reason {
            Some(r) => format!("{}: {}: {r}", s.key(), status_name(s.status)),
            None => format!("{}: {}", s.key(), status_name(s.status)),
        })
        .collect();
    Group { name, result: statistics.result(), statistics, doc_sections, claims, not_passed }
}

/// Builds the report. `features_of` names the claimable features a scenario exercises
/// (`crate::vendor::features::exercised`); scenarios it names none for count under `core`.
pub fn report(run: &RunReport, features_of: &dyn Fn(&ScenarioResult) -> Vec<String>) -> ConformanceReport {
    let all: Vec<&ScenarioResult> = run.scenarios.iter().collect();
    let mut profiles: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    let mut files: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    let mut features: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    for s in &run.scenarios {
        let area = s.feature_path.split('/').next().unwrap_or(&s.feature_path).to_string();
        profiles.entry(area).or_default().push(s);
        files.entry(s.feature_path.clone()).or_default().push(s);
        let mut names = features_of(s);
        if names.is_empty() {
            names.push("core".into());
        }
        for f in names {
            features.entry(f).or_default().push(s);
        }
    }
    let statistics = Statistics::of(&all);
    let m = &run.meta;
    ConformanceReport {
        api_version: API_VERSION,
        kind: "ConformanceReport",
        date: m.started_at.clone(),
        implementation: m.implementation.clone(),
        target: m.target.clone(),
        suite_version: m.suite_version.clone(),
        docs_version: m.docs_version.clone(),
        mode: if m.defects.is_empty() { "default".into() } else { format!("defects-on: {}", m.defects.join(", ")) },
        claimed_features: m.claimed_features.clone(),
        result: if run.scenarios.iter().any(|s| s.status.fails_run()) { "failure" } else { "success" },
        statistics,
        features: features.into_iter().map(|(k, v)| group(k, &v)).collect(),
        profiles: profiles.into_iter().map(|(k, v)| group(k, &v)).collect(),
        feature_files: files.into_iter().map(|(k, v)| group(k, &v)).collect(),
    }
}

/// The report as YAML, with a comment saying what it is.
pub fn render(report: &ConformanceReport) -> String {
    let body = serde_saphyr::to_string(report).unwrap_or_else(|e| format!("# cannot serialise the report: {e}\n"));
    format!("# vmcp-conformance report: ToolHive vMCP authentication docs, run against one target.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::RunMeta;

    fn scenario(path: &str, status: ScenarioStatus) -> ScenarioResult {
        ScenarioResult {
            feature_path: path.into(),
            feature_name: "F".into(),
            name: format!("s {status:?}"),
            line: 1,
            tags: vec!["doc:p.mdx#a".into(), "claim-A1".into()],
            status,
            status_reason: (status == ScenarioStatus::ExpectedFailure).then(|| "known bug".into()),
            failure: None,
            checks: Vec::new(),
            blocks: Vec::new(),
            exchanges: Vec::new(),
            duration_ms: 0,
        }
    }

    #[test]
    fn groups_results_and_round_trips_as_yaml() {
        let run = RunReport {
            meta: RunMeta { target: "reference".into(), suite_version: "0.1.0".into(), ..Default::default() },
            scenarios: vec![
                scenario("backend-auth/xaa.feature", ScenarioStatus::Passed),
                scenario("backend-auth/xaa.feature", ScenarioStatus::ExpectedFailure),
                scenario("redis/r.feature", ScenarioStatus::Failed),
            ],
        };
        let features_of = |s: &ScenarioResult| {
            if s.feature_path.contains("xaa") { vec!["xaa".to_string(), "core".to_string()] } else { Vec::new() }
        };
        let r = report(&run, &features_of);
        let by_feature: Vec<(&str, usize)> = r.features.iter().map(|f| (f.name.as_str(), f.statistics.total)).collect();
        assert_eq!(by_feature, [("core", 3), ("xaa", 2)]);
        assert_eq!(r.result, "failure");
        assert_eq!((r.statistics.total, r.statistics.passed, r.statistics.failed), (3, 1, 1));
        assert_eq!(
            r.profiles.iter().map(|p| (p.name.as_str(), p.result)).collect::<Vec<_>>(),
            [("backend-auth", "partial"), ("redis", "failure")]
        );
        let text = render(&r);
        let back: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back["kind"], "ConformanceReport");
        assert_eq!(back["statistics"]["expectedFailures"], 1);
        assert_eq!(
            back["profiles"][0]["notPassed"][0],
            "backend-auth/xaa.feature: s ExpectedFailure: expected-failure: known bug"
        );
    }
}
