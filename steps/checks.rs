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
        log.push(CheckOutcome { id: check.id, passed: true });
        return Ok(());
    }
    let level = match check.level {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
    };
    let message = format!(
        "[{}] {level} requirement not met ({})\n  expected: {expected}\n  actual:   {actual}",
        check.id, check.source
    );
    log.push(CheckOutcome { id: check.id, passed: false });
    match check.level {
        Level::Must => Err(message),
        Level::Should => {
            eprintln!("warning: {message}");
            Ok(())
        }
    }
}
