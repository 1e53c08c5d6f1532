//! The vendor rules applied to a run's results: baseline, quarantine and claimed features turn
//! each scenario's raw outcome (passed, failed, skipped) into its [`ScenarioStatus`]. A pure
//! function over the records, so every rule is unit-tested without running a scenario.

use std::collections::BTreeMap;

use crate::report::{ScenarioResult, ScenarioStatus, Severity};

use super::baseline::Baseline;

/// Counts per verdict, and the lines the summary prints so that nothing is hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    pub counts: BTreeMap<ScenarioStatus, usize>,
    /// `key [check]: reason`, one per scenario, per verdict that needs explaining.
    pub expected: Vec<String>,
    pub stale: Vec<String>,
    pub quarantined: Vec<String>,
    pub not_claimed: Vec<String>,
    /// Failures the baseline lists but for another check than the one that failed.
    pub unexpected_checks: Vec<String>,
}

impl Verdicts {
    pub fn count(&self, status: ScenarioStatus) -> usize {
        self.counts.get(&status).copied().unwrap_or_default()
    }

    /// Whether any scenario's verdict fails the run.
    pub fn fails_run(&self) -> bool {
        self.counts.iter().any(|(s, n)| s.fails_run() && *n > 0)
    }

    /// `N passed, N failed, N skipped, N not claimed, N expected failures, N quarantined, N stale baseline entries`.
    pub fn closing_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped, {} not claimed, {} expected failures, {} quarantined, {} stale baseline entries",
            self.count(ScenarioStatus::Passed),
            self.count(ScenarioStatus::Failed),
            self.count(ScenarioStatus::Skipped),
            self.count(ScenarioStatus::NotClaimed),
            self.count(ScenarioStatus::ExpectedFailure),
            self.count(ScenarioStatus::Quarantined),
            self.count(ScenarioStatus::StaleExpectedFailure),
        )
    }

    /// The summary section listing every expected failure, stale entry, quarantined failure and
    /// unclaimed scenario with its reason (empty when there is none of them).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut section = |title: &str, lines: &[String]| {
            if !lines.is_empty() {
                out.push_str(&format!("{title} ({}):\n", lines.len()));
                for l in lines {
                    out.push_str(&format!("  {l}\n"));
                }
            }
        };
        section("Expected failures (baseline)", &self.expected);
        section("Stale baseline entries (they pass now: remove them; this fails the run)", &self.stale);
        section("Failures the baseline lists for another check (this fails the run)", &self.unexpected_checks);
        section("Quarantined failures (flaky; reported, not failing the run)", &self.quarantined);
        section("Not claimed by the target file (not run)", &self.not_claimed);
        out
    }
}

/// Ids of the MUST checks that failed the scenario: the failed MUST checks recorded, and the
/// `[id] MUST` the failure message names (a step stops at its first failed MUST check).
pub fn failing_checks(s: &ScenarioResult) -> Vec<String> {
    let mut ids: Vec<String> =
        s.checks.iter().filter(|c| !c.passed && c.severity == Severity::Must).map(|c| c.id.clone()).collect();
    if let Some(msg) = &s.failure {
        for part in msg.split('[').skip(1) {
            if let Some((id, rest)) = part.split_once(']')
                && rest.trim_start().starts_with("MUST")
                && !ids.iter().any(|i| i == id)
            {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

fn label(key: &str, check: Option<&str>) -> String {
    match check {
        Some(c) => format!("{key} [{c}]"),
        None => key.to_string(),
    }
}

/// Applies the baseline and quarantine to scenarios whose status is the raw outcome
/// (`Passed`, `Failed`, `Skipped`) or `NotClaimed`; sets `status` and `status_reason`.
pub fn classify(scenarios: &mut [ScenarioResult], baseline: &Baseline) -> Verdicts {
    let mut v = Verdicts::default();
    for s in scenarios.iter_mut() {
        let key = s.key();
        let expected: Vec<_> = baseline.expected_failures.iter().filter(|e| e.scenario == key).collect();
        let quarantine: Vec<_> = baseline.quarantine.iter().filter(|q| q.scenario == key).collect();
        match s.status {
            ScenarioStatus::Failed => {
                let failing = failing_checks(s);
                let covers = |check: &Option<String>| match check {
                    None => true,
                    Some(c) => failing.iter().any(|f| f == c),
                };
                if let Some(q) = quarantine.iter().find(|q| covers(&q.check)) {
                    s.status = ScenarioStatus::Quarantined;
                    s.status_reason = Some(format!("quarantined until {}: {}", q.expires, q.reason));
                    v.quarantined.push(format!(
                        "{}: {} (expires {})",
                        label(&key, q.check.as_deref()),
                        q.reason,
                        q.expires
                    ));
                } else if let Some(e) = expected.iter().find(|e| e.check.is_none()) {
                    s.status = ScenarioStatus::ExpectedFailure;
                    s.status_reason = Some(e.reason.clone());
                    v.expected.push(format!("{key}: {}", e.reason));
                } else if !expected.is_empty() {
                    // Check level: every failing check must be listed, and at least one failed.
                    let listed: Vec<&str> = expected.iter().filter_map(|e| e.check.as_deref()).collect();
                    let unlisted: Vec<&String> = failing.iter().filter(|f| !listed.contains(&f.as_str())).collect();
                    if !failing.is_empty() && unlisted.is_empty() {
                        let reasons: Vec<String> = expected
                            .iter()
                            .filter(|e| e.check.as_ref().is_some_and(|c| failing.contains(c)))
                            .map(|e| format!("[{}] {}", e.check.as_deref().unwrap_or_default(), e.reason))
                            .collect();
                        s.status = ScenarioStatus::ExpectedFailure;
                        s.status_reason = Some(reasons.join("; "));
                        v.expected.push(format!("{key}: {}", reasons.join("; ")));
                    } else {
                        let what = if failing.is_empty() {
                            "without a failing check (a step error)".to_string()
                        } else {
                            format!("on {}", unlisted.iter().map(|c| format!("[{c}]")).collect::<Vec<_>>().join(", "))
                        };
                        s.status_reason =
                            Some(format!("failed {what}; the baseline expects only [{}]", listed.join("], [")));
                        v.unexpected_checks
                            .push(format!("{key}: failed {what}; the baseline lists [{}]", listed.join("], [")));
                    }
                }
            }
            ScenarioStatus::Passed if !expected.is_empty() => {
                // A check-level entry whose check still warns (SHOULD) is not stale.
                let still: Vec<_> = expected
                    .iter()
                    .filter(|e| e.check.as_ref().is_some_and(|c| s.checks.iter().any(|r| &r.id == c && !r.passed)))
                    .collect();
                if still.is_empty() {
                    let e = expected[0];
                    s.status = ScenarioStatus::StaleExpectedFailure;
                    s.status_reason = Some(format!("passes now; the baseline says: {}", e.reason));
                    v.stale.push(format!(
                        "{}: passes now (baseline reason: {})",
                        label(&key, e.check.as_deref()),
                        e.reason
                    ));
                }
            }
            ScenarioStatus::NotClaimed => {
                v.not_claimed.push(format!("{key}: {}", s.status_reason.as_deref().unwrap_or("not claimed")));
            }
            _ => {}
        }
        *v.counts.entry(s.status).or_default() += 1;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::CheckResult;
    use crate::vendor::baseline::{ExpectedFailure, QuarantineEntry};

    fn result(name: &str, status: ScenarioStatus, failed_check: Option<&str>) -> ScenarioResult {
        ScenarioResult {
            feature_path: "a/x.feature".into(),
            feature_name: "X".into(),
            name: name.into(),
            line: 1,
            tags: vec![],
            status,
            status_reason: None,
            failure: failed_check.map(|c| format!("Step failed: [{c}] MUST requirement not met (doc)")),
            checks: failed_check
                .map(|c| CheckResult {
                    id: c.into(),
                    severity: Severity::Must,
                    passed: false,
                    source: "doc".into(),
                    expected: Some("e".into()),
                    actual: Some("a".into()),
                })
                .into_iter()
                .collect(),
            blocks: vec![],
            exchanges: vec![],
            duration_ms: 0,
        }
    }

    fn expected(name: &str, check: Option<&str>) -> ExpectedFailure {
        ExpectedFailure {
            scenario: format!("a/x.feature: {name}"),
            check: check.map(Into::into),
            reason: format!("why {name}"),
        }
    }

    fn quarantined(name: &str) -> QuarantineEntry {
        QuarantineEntry {
            scenario: format!("a/x.feature: {name}"),
            check: None,
            reason: "flaky".into(),
            expires: "2099-01-01".into(),
        }
    }

    #[test]
    fn an_unlisted_failure_fails_the_run() {
        let mut s = vec![result("A", ScenarioStatus::Failed, Some("c.one")), result("B", ScenarioStatus::Passed, None)];
        let v = classify(&mut s, &Baseline::default());
        assert_eq!(s[0].status, ScenarioStatus::Failed);
        assert!(v.fails_run());
        assert_eq!(
            v.closing_line(),
            "1 passed, 1 failed, 0 skipped, 0 not claimed, 0 expected failures, 0 quarantined, 0 stale baseline entries"
        );
    }

    #[test]
    fn a_listed_failure_is_expected_with_its_reason() {
        let mut s = vec![result("A", ScenarioStatus::Failed, Some("c.one"))];
        let b = Baseline { expected_failures: vec![expected("A", None)], ..Default::default() };
        let v = classify(&mut s, &b);
        assert_eq!(s[0].status, ScenarioStatus::ExpectedFailure);
        assert_eq!(s[0].status_reason.as_deref(), Some("why A"));
        assert!(!v.fails_run());
        assert!(v.summary().contains("a/x.feature: A: why A"), "{}", v.summary());
    }

    #[test]
    fn a_check_level_entry_matches_only_its_check() {
        let b = Baseline { expected_failures: vec![expected("A", Some("c.one"))], ..Default::default() };
        let mut same = vec![result("A", ScenarioStatus::Failed, Some("c.one"))];
        assert!(!classify(&mut same, &b).fails_run());
        assert_eq!(same[0].status, ScenarioStatus::ExpectedFailure);
        let mut other = vec![result("A", ScenarioStatus::Failed, Some("c.two"))];
        let v = classify(&mut other, &b);
        assert_eq!(other[0].status, ScenarioStatus::Failed);
        assert!(v.fails_run());
        assert!(v.summary().contains("failed on [c.two]; the baseline lists [c.one]"), "{}", v.summary());
        // A step error without a check id is not the listed check failing.
        let mut no_check = vec![result("A", ScenarioStatus::Failed, None)];
        assert_eq!(
            {
                classify(&mut no_check, &b);
                no_check[0].status
            },
            ScenarioStatus::Failed
        );
    }

    #[test]
    fn a_listed_scenario_that_passes_is_stale_and_fails_the_run() {
        let mut s = vec![result("A", ScenarioStatus::Passed, None)];
        let b = Baseline { expected_failures: vec![expected("A", Some("c.one"))], ..Default::default() };
        let v = classify(&mut s, &b);
        assert_eq!(s[0].status, ScenarioStatus::StaleExpectedFailure);
        assert!(v.fails_run());
        assert!(v.summary().contains("a/x.feature: A [c.one]: passes now (baseline reason: why A)"), "{}", v.summary());
    }

    #[test]
    fn a_quarantined_failure_is_reported_not_failing_and_a_pass_stays_a_pass() {
        let b = Baseline { quarantine: vec![quarantined("A"), quarantined("B")], ..Default::default() };
        let mut s = vec![result("A", ScenarioStatus::Failed, Some("c.one")), result("B", ScenarioStatus::Passed, None)];
        let v = classify(&mut s, &b);
        assert_eq!(s[0].status, ScenarioStatus::Quarantined);
        assert_eq!(s[1].status, ScenarioStatus::Passed);
        assert!(!v.fails_run());
        assert!(v.summary().contains("a/x.feature: A: flaky (expires 2099-01-01)"), "{}", v.summary());
        assert_eq!(v.count(ScenarioStatus::Quarantined), 1);
    }

    #[test]
    fn not_claimed_and_skipped_are_counted_and_skipped_fails() {
        let mut nc = result("A", ScenarioStatus::NotClaimed, None);
        nc.status_reason = Some("needs xaa".into());
        let mut s = vec![nc, result("B", ScenarioStatus::Skipped, None)];
        let v = classify(&mut s, &Baseline::default());
        assert_eq!(v.count(ScenarioStatus::NotClaimed), 1);
        assert!(v.summary().contains("a/x.feature: A: needs xaa"));
        assert!(v.fails_run(), "a skipped step fails the run");
        assert!(v.closing_line().starts_with("0 passed, 0 failed, 1 skipped, 1 not claimed"));
    }

    #[test]
    fn the_failing_check_is_read_from_the_failure_message_too() {
        let mut s = result("A", ScenarioStatus::Failed, None);
        s.failure = Some("Step panicked: [xaa.per-call] MUST requirement not met (x)\n [other] SHOULD".into());
        assert_eq!(failing_checks(&s), vec!["xaa.per-call".to_string()]);
    }
}
