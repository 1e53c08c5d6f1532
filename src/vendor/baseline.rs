//! A target's expected failures and quarantine (`baselines/<target>.yaml`, `--baseline FILE`).
//!
//! Format (shared contract): `expected_failures: [{scenario, check?, reason}]` and
//! `quarantine: [{scenario, check?, reason, expires: YYYY-MM-DD}]`; `scenario` is
//! `ScenarioResult::key()` (`<path under features/>: <scenario name>`).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::features::ScenarioInfo;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default)]
    pub expected_failures: Vec<ExpectedFailure>,
    #[serde(default)]
    pub quarantine: Vec<QuarantineEntry>,
}

/// A scenario (or one check of it) known to fail on this target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    pub scenario: String,
    /// Only this check id may fail; any other failure of the scenario is unexpected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    pub reason: String,
}

/// A flaky scenario: its failure is reported as quarantined until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineEntry {
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    pub reason: String,
    /// `YYYY-MM-DD`; on and after the day after it, the entry is an error.
    pub expires: String,
}

/// A calendar day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a date in the form YYYY-MM-DD");
        let mut parts = s.trim().splitn(3, '-');
        let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let (year, month, day) =
            (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(bad());
        }
        Ok(Self { year, month, day })
    }

    /// Today in UTC.
    pub fn today() -> Self {
        let secs =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        Self::from_days((secs / 86_400) as i64)
    }

    /// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Self { year: yoe + era * 400 + i64::from(month <= 2), month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Baseline {
    /// Reads and strictly decodes a baseline file (unknown fields are errors naming their path).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        if value.is_null() {
            return Ok(Self::default());
        }
        let baseline: Self = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
        })?;
        for (i, e) in baseline.expected_failures.iter().enumerate() {
            if e.reason.trim().is_empty() {
                return Err(format!("expected_failures[{i}].reason: empty (say why {:?} fails)", e.scenario));
            }
        }
        for (i, q) in baseline.quarantine.iter().enumerate() {
            if q.reason.trim().is_empty() {
                return Err(format!("quarantine[{i}].reason: empty (say why {:?} is flaky)", q.scenario));
            }
            Date::parse(&q.expires).map_err(|e| format!("quarantine[{i}].expires: {e}"))?;
        }
        Ok(baseline)
    }

    /// Adds another file's entries (a separate quarantine file).
    pub fn merge(&mut self, other: Baseline) {
        self.expected_failures.extend(other.expected_failures);
        self.quarantine.extend(other.quarantine);
    }

    /// Entries naming no scenario of the suite (typos) and expired quarantine entries.
    pub fn problems(&self, scenarios: &[ScenarioInfo], today: Date) -> Vec<String> {
        let mut out = Vec::new();
        let known = |key: &str| scenarios.iter().any(|s| s.matches_key(key));
        for (i, e) in self.expected_failures.iter().enumerate() {
            if !known(&e.scenario) {
                out.push(format!(
                    "expected_failures[{i}].scenario: {:?} names no scenario under features/{}",
                    e.scenario,
                    suggestion(&e.scenario, scenarios)
                ));
            }
        }
        for (i, q) in self.quarantine.iter().enumerate() {
            if !known(&q.scenario) {
                out.push(format!(
                    "quarantine[{i}].scenario: {:?} names no scenario under features/{}",
                    q.scenario,
                    suggestion(&q.scenario, scenarios)
                ));
            }
            if let Ok(expires) = Date::parse(&q.expires)
                && expires < today
            {
                out.push(format!(
                    "quarantine[{i}]: the quarantine of {:?} expired on {expires} (fix the flake or renew it with a reason)",
                    q.scenario
                ));
            }
        }
        out
    }
}

/// `(did you mean "…"?)` for a key whose feature path or name is close to a real one.
fn suggestion(key: &str, scenarios: &[ScenarioInfo]) -> String {
    let (path, name) = key.split_once(": ").unwrap_or(("", key));
    let same_file: Vec<&ScenarioInfo> = scenarios.iter().filter(|s| s.feature_path == path).collect();
    if same_file.is_empty() {
        let files: std::collections::BTreeSet<&str> = scenarios.iter().map(|s| s.feature_path.as_str()).collect();
        return format!(
            " (no feature file {path:?}; the key is `<path under features/>: <scenario name>`, files: {})",
            files.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let lower = name.to_lowercase();
    let best = same_file.iter().max_by_key(|s| {
        let n = s.name.to_lowercase();
        lower.split_whitespace().filter(|w| n.contains(w)).count()
    });
    best.map(|s| format!(" (did you mean {:?}?)", s.key())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(path: &str, name: &str) -> ScenarioInfo {
        ScenarioInfo {
            feature_path: path.into(),
            feature_name: "F".into(),
            name: name.into(),
            line: 1,
            tags: vec![],
            steps: vec![],
            outline: false,
        }
    }

    #[test]
    fn the_documented_format_parses() {
        let b = Baseline::parse(
            "expected_failures:\n  - scenario: \"a/x.feature: One\"\n    check: xaa.per-call\n    reason: not yet\nquarantine:\n  - scenario: \"a/x.feature: Two\"\n    reason: flaky\n    expires: 2027-01-31\n",
        )
        .unwrap();
        assert_eq!(b.expected_failures[0].check.as_deref(), Some("xaa.per-call"));
        assert_eq!(b.quarantine[0].expires, "2027-01-31");
        assert_eq!(Baseline::parse("").unwrap(), Baseline::default());
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_field() {
        let e = Baseline::parse("expected_failure: []").unwrap_err();
        assert!(e.contains("expected_failure") && e.contains("expected_failures"), "{e}");
        let e = Baseline::parse("expected_failures:\n  - scenario: x\n    reason: r\n    cheque: y\n").unwrap_err();
        assert!(e.contains("expected_failures[0]") && e.contains("cheque"), "{e}");
        let e = Baseline::parse("expected_failures:\n  - scenario: x\n    reason: ' '\n").unwrap_err();
        assert!(e.contains("expected_failures[0].reason"), "{e}");
        let e = Baseline::parse("quarantine:\n  - scenario: x\n    reason: r\n    expires: soon\n").unwrap_err();
        assert!(e.contains("quarantine[0].expires"), "{e}");
        let e = Baseline::parse("quarantine:\n  - scenario: x\n    reason: r\n").unwrap_err();
        assert!(e.contains("expires"), "{e}");
    }

    #[test]
    fn typos_and_expired_entries_are_problems() {
        let scenarios = [scenario("a/x.feature", "A login succeeds")];
        let b = Baseline {
            expected_failures: vec![ExpectedFailure {
                scenario: "a/x.feature: A login succeed".into(),
                check: None,
                reason: "r".into(),
            }],
            quarantine: vec![
                QuarantineEntry {
                    scenario: "a/x.feature: A login succeeds".into(),
                    check: None,
                    reason: "r".into(),
                    expires: "2026-01-01".into(),
                },
                QuarantineEntry {
                    scenario: "a/y.feature: A login succeeds".into(),
                    check: None,
                    reason: "r".into(),
                    expires: "2099-01-01".into(),
                },
            ],
        };
        let today = Date::parse("2026-06-01").unwrap();
        let problems = b.problems(&scenarios, today);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("did you mean \"a/x.feature: A login succeeds\""), "{}", problems[0]);
        assert!(problems[1].contains("expired on 2026-01-01"), "{}", problems[1]);
        assert!(problems[2].contains("no feature file \"a/y.feature\""), "{}", problems[2]);
        // The last day of a quarantine still counts.
        assert!(b.problems(&scenarios, Date::parse("2026-01-01").unwrap()).iter().all(|p| !p.contains("expired")));
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_454).to_string(), "2026-01-01");
        assert!(Date::parse("2026-13-01").is_err());
        assert!(Date::parse("2027-01-31").unwrap() > Date::parse("2026-12-31").unwrap());
    }
}
