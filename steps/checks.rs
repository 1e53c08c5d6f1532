//! Checks: each `Then` asserts one documented requirement under a stable id.
//!
//! MUST-level requirements fail the scenario; SHOULD-level ones print a warning and pass, as in
//! the MCP conformance suite's check model. The failure message names the check, the doc
//! section it comes from, and the expected and actual values.

use std::fmt::Display;

/// RFC 2119 strength of a documented requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Must,
    Should,
}

/// A documented requirement a step asserts.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id, kept whether the check passes or fails (`upstream-inject.provider-token`).
    pub id: &'static str,
    pub level: Level,
    /// Where the requirement is written: `<page>#<anchor>` or an RFC section.
    pub source: &'static str,
}

impl Check {
    pub const fn must(id: &'static str, source: &'static str) -> Self {
        Self { id, level: Level::Must, source }
    }
    pub const fn should(id: &'static str, source: &'static str) -> Self {
        Self { id, level: Level::Should, source }
    }
}

/// The outcome of one check in one scenario, kept for reports.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub id: &'static str,
    pub passed: bool,
    pub level: Level,
    pub source: &'static str,
    /// Kept only when the check failed or warned (a passing check's values add nothing).
    pub expected: Option<String>,
    pub actual: Option<String>,
}

impl CheckOutcome {
    /// The report's form of this outcome.
    pub fn to_result(&self) -> vmcp_conformance::report::CheckResult {
        use vmcp_conformance::report::{CheckResult, Severity, redact::redact_text};
        CheckResult {
            id: self.id.to_string(),
            severity: match self.level {
                Level::Must => Severity::Must,
                Level::Should => Severity::Should,
            },
            passed: self.passed,
            source: self.source.to_string(),
            // Expected and actual values often quote a token or a response body.
            expected: self.expected.as_deref().map(redact_text),
            actual: self.actual.as_deref().map(redact_text),
        }
    }
}

/// Evaluates `check`: `Ok` when `ok`, else an error (MUST) or a warning (SHOULD) that shows
/// the expected and actual values.
pub fn verify(
    log: &mut Vec<CheckOutcome>,
    check: Check,
    ok: bool,
    expected: impl Display,
    actual: impl Display,
) -> Result<(), String> {
    if ok {
        log.push(CheckOutcome {
            id: check.id,
            passed: true,
            level: check.level,
            source: check.source,
            expected: None,
            actual: None,
        });
        return Ok(());
    }
    let level = match check.level {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
    };
    let (expected, actual) = (expected.to_string(), actual.to_string());
    let message = format!(
        "[{}] {level} requirement not met ({})\n  expected: {expected}\n  actual:   {actual}",
        check.id, check.source
    );
    log.push(CheckOutcome {
        id: check.id,
        passed: false,
        level: check.level,
        source: check.source,
        expected: Some(expected),
        actual: Some(actual),
    });
    match check.level {
        Level::Must => Err(message),
        Level::Should => {
            eprintln!("warning: {message}");
            Ok(())
        }
    }
}
