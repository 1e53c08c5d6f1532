//! The run report's data model. Plain data, serialisable, no behaviour beyond small helpers:
//! the runner builds it, the vendor rules (baseline, quarantine, claimed features) set each
//! scenario's [`ScenarioStatus`], and the writers render it.

use serde::{Deserialize, Serialize};

/// One run of the suite against one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunReport {
    pub meta: RunMeta,
    /// Every selected scenario, in feature-file order.
    pub scenarios: Vec<ScenarioResult>,
}

/// Who was tested, with what, and when.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunMeta {
    /// `Target::describe()` (`reference (in-process)`, `command: thv vmcp serve …`).
    pub target: String,
    /// From the vendor's target file; `None` for the built-in reference.
    pub implementation: Option<Implementation>,
    /// Features the implementation claims (`embedded-auth-server`, `xaa`, …); empty = all.
    pub claimed_features: Vec<String>,
    /// This crate's version (`CARGO_PKG_VERSION`).
    pub suite_version: String,
    /// Which docs snapshot the scenarios were transcribed from.
    pub docs_version: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub duration_ms: u64,
    /// Test-only defect switches that were on (empty in every real run).
    pub defects: Vec<String>,
}

/// The implementation under test, as its vendor declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Implementation {
    pub name: String,
    pub version: String,
    /// Maintainers' contacts (e-mail, GitHub handles, URL).
    #[serde(default)]
    pub contact: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The verdict on one scenario after the vendor rules are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioStatus {
    Passed,
    /// A failure not listed in the baseline: fails the run.
    Failed,
    /// A step was skipped or undefined (fails the run: the suite uses `fail_on_skipped`).
    Skipped,
    /// The scenario exercises a feature the target file does not claim; not run.
    NotClaimed,
    /// Failed as the baseline says it would (with the baseline's reason).
    ExpectedFailure,
    /// Listed in the baseline but passed: the entry is stale and fails the run.
    StaleExpectedFailure,
    /// Failed while quarantined (flaky, unexpired quarantine entry): reported, does not fail the run.
    Quarantined,
}

impl ScenarioStatus {
    /// Whether this verdict makes the run fail.
    pub fn fails_run(self) -> bool {
        matches!(self, Self::Failed | Self::Skipped | Self::StaleExpectedFailure)
    }
}

/// One scenario's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Path under `features/` (`backend-auth/xaa.feature`).
    pub feature_path: String,
    pub feature_name: String,
    pub name: String,
    /// Line of the `Scenario:` keyword.
    pub line: usize,
    /// Feature, rule and scenario tags without `@` (`doc:guides-vmcp/authentication.mdx#…`, `claim-J3`).
    pub tags: Vec<String>,
    pub status: ScenarioStatus,
    /// Why the status is what it is, when a rule decided it (baseline or quarantine reason,
    /// the unclaimed feature).
    pub status_reason: Option<String>,
    /// The failing step's message, when a step failed.
    pub failure: Option<String>,
    pub checks: Vec<CheckResult>,
    /// Documented YAML blocks the scenario deployed (`page:line (title)`).
    pub blocks: Vec<String>,
    /// What the harness sent and received, tokens and secrets redacted.
    pub exchanges: Vec<HttpExchange>,
    pub duration_ms: u64,
}

impl ScenarioResult {
    /// `backend-auth/xaa.feature: <scenario name>`: the stable key baselines use.
    pub fn key(&self) -> String {
        format!("{}: {}", self.feature_path, self.name)
    }
}

/// RFC 2119 strength of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Must,
    Should,
}

/// One `Then` check as evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable id (`upstream-inject.provider-token`).
    pub id: String,
    pub severity: Severity,
    pub passed: bool,
    /// Where the requirement is written (`<page>#<anchor>` or an RFC section).
    pub source: String,
    /// Set when the check failed or warned.
    pub expected: Option<String>,
    pub actual: Option<String>,
}

/// One HTTP request the harness made and the response it got (bodies capped, secrets redacted).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HttpExchange {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    /// 0 when no response arrived (`error` says why).
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    pub error: Option<String>,
    pub duration_ms: u64,
}
