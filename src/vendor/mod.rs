//! Vendor runs: the target file a vendor writes (implementation, target, claimed features,
//! baseline), the mapping from scenarios to features, and the verdicts the baseline and
//! quarantine give each scenario.

pub mod baseline;
pub mod features;
pub mod target_file;
pub mod verdict;

use std::collections::BTreeSet;
use std::path::Path;

pub use baseline::{Baseline, Date};
pub use target_file::TargetFile;
pub use verdict::{Verdicts, classify};

use crate::report::Implementation;

/// What the vendor rules need during a run; the default (no target file, no baseline) claims
/// every feature and expects every scenario to pass.
#[derive(Debug, Clone, Default)]
pub struct VendorRules {
    pub implementation: Option<Implementation>,
    /// `None`: every feature is claimed.
    pub claimed: Option<BTreeSet<String>>,
    pub baseline: Baseline,
}

impl VendorRules {
    /// The rules of a target file, with `baseline` (`--baseline FILE`) added to its own.
    pub fn from_files(target_file: Option<&TargetFile>, baseline: Option<&Path>) -> Result<Self, String> {
        let mut rules = Self::default();
        if let Some(f) = target_file {
            rules.implementation = Some(f.implementation());
            rules.claimed = Some(f.claimed());
            rules.baseline = f.load_baseline()?;
        }
        if let Some(p) = baseline {
            rules.baseline.merge(Baseline::load(p)?);
        }
        Ok(rules)
    }

    /// Why a scenario is not run (`None`: it is claimed).
    pub fn not_claimed_reason(&self, scenario: features::ScenarioView<'_>) -> Option<String> {
        let exercised = features::exercised(scenario);
        let missing = features::unclaimed(&exercised, self.claimed.as_ref());
        (!missing.is_empty()).then(|| format!("needs the unclaimed feature(s) {}", missing.join(", ")))
    }

    /// Baseline entries naming no scenario, and expired quarantine entries: errors before a run.
    pub fn problems(&self, features_root: &Path, today: Date) -> Result<Vec<String>, String> {
        if self.baseline == Baseline::default() {
            return Ok(Vec::new());
        }
        let scenarios = features::catalogue(features_root)?;
        Ok(self.baseline.problems(&scenarios, today))
    }
}

/// A scenario the filter left out because its features are not claimed, for the report.
pub fn not_claimed_result(
    feature_path: String,
    feature_name: String,
    name: String,
    line: usize,
    tags: Vec<String>,
    reason: String,
) -> crate::report::ScenarioResult {
    crate::report::ScenarioResult {
        feature_path,
        feature_name,
        name,
        line,
        tags,
        status: crate::report::ScenarioStatus::NotClaimed,
        status_reason: Some(reason),
        failure: None,
        checks: Vec::new(),
        blocks: Vec::new(),
        exchanges: Vec::new(),
        duration_ms: 0,
    }
}

/// The vendor rules applied to a finished run's report: who was tested, the unclaimed
/// scenarios added in feature-file order, and every scenario's verdict.
pub fn apply(
    report: &mut crate::report::RunReport,
    rules: &VendorRules,
    not_claimed: Vec<crate::report::ScenarioResult>,
) -> Verdicts {
    report.meta.implementation = rules.implementation.clone();
    report.meta.claimed_features = rules.claimed.iter().flatten().cloned().collect();
    report.scenarios.extend(not_claimed);
    report.scenarios.sort_by(|a, b| (&a.feature_path, a.line).cmp(&(&b.feature_path, b.line)));
    classify(&mut report.scenarios, &rules.baseline)
}
