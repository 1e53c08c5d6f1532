//! Expected findings: a YAML list of `{entry: "file:block_line:rule", reason: "…"}`. An error
//! covered by an entry does not fail the run; an entry that covers no error is stale and does.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{Finding, Severity};

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// `file:block_line:rule`.
    pub entry: String,
    /// Why it is accepted (required).
    pub reason: String,
}

/// A parsed baseline.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub entries: Vec<Entry>,
}

/// The outcome of comparing findings with a baseline.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Errors no entry covers.
    pub new_errors: Vec<Finding>,
    /// Errors an entry covers.
    pub accepted: usize,
    /// Entries that cover no error.
    pub stale: Vec<Entry>,
}

impl Outcome {
    /// Exit status: 0 clean, 1 on a new error or a stale entry.
    pub fn failed(&self) -> bool {
        !self.new_errors.is_empty() || !self.stale.is_empty()
    }
}

impl Baseline {
    /// Parses a baseline file's text; errors name the entry.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let entries: Option<Vec<Entry>> =
            serde_saphyr::from_str(text).map_err(|e| format!("the baseline is not a YAML list of entries: {e}"))?;
        let entries = entries.unwrap_or_default();
        for (i, e) in entries.iter().enumerate() {
            let parts: Vec<&str> = e.entry.rsplitn(3, ':').collect();
            if parts.len() != 3 || parts[1].parse::<usize>().is_err() || parts[0].is_empty() {
                return Err(format!("baseline entry {} `{}`: expected `file:block_line:rule`", i + 1, e.entry));
            }
            if e.reason.trim().is_empty() {
                return Err(format!("baseline entry {} `{}`: a reason is required", i + 1, e.entry));
            }
        }
        Ok(Baseline { entries })
    }

    /// A baseline covering every error of `findings`: one entry per `file:block_line:rule`, the
    /// reason of an existing entry kept, else a reason naming the first such finding to triage.
    pub fn rewrite(&self, findings: &[Finding]) -> String {
        let mut out = String::from(
            "# verify-docs baseline: errors accepted for now, one per file:block_line:rule, each with a reason.\n\
             # An entry that no longer matches an error is stale and fails the run.\n",
        );
        let mut seen = BTreeSet::new();
        for f in findings.iter().filter(|f| f.severity == Severity::Error) {
            let key = Self::key(f);
            if !seen.insert(key.clone()) {
                continue;
            }
            let reason = match self.entries.iter().find(|e| e.entry == key) {
                Some(e) => e.reason.clone(),
                None => {
                    let what = if f.path.is_empty() { f.message.clone() } else { format!("{}: {}", f.path, f.message) };
                    let mut what: String = what.chars().take(200).collect();
                    what = what.replace('\n', " ");
                    format!("to triage (line {}): {what}", f.line)
                }
            };
            out.push_str(&format!(
                "- entry: {}\n  reason: {}\n",
                serde_json::to_string(&key).unwrap_or_default(),
                serde_json::to_string(&reason).unwrap_or_default()
            ));
        }
        out
    }

    /// The key a finding is matched by.
    pub fn key(f: &Finding) -> String {
        format!("{}:{}:{}", f.file, f.block_line, f.rule)
    }

    /// Compares the errors of `findings` with the entries. With `scope` (the pages that were
    /// verified, for `--changed`), only entries of those pages can be stale.
    pub fn compare(&self, findings: &[Finding], scope: Option<&BTreeSet<String>>) -> Outcome {
        let keys: BTreeSet<&str> = self.entries.iter().map(|e| e.entry.as_str()).collect();
        let mut out = Outcome::default();
        let mut used = BTreeSet::new();
        for f in findings.iter().filter(|f| f.severity == Severity::Error) {
            let k = Self::key(f);
            if keys.contains(k.as_str()) {
                out.accepted += 1;
                used.insert(k);
            } else {
                out.new_errors.push(f.clone());
            }
        }
        for e in &self.entries {
            let file = e.entry.rsplitn(3, ':').nth(2).unwrap_or_default();
            if scope.is_some_and(|s| !s.contains(file)) {
                continue;
            }
            if !used.contains(&e.entry) {
                out.stale.push(e.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity) -> Finding {
        Finding {
            file: "a/b.mdx".into(),
            line: 12,
            block_line: 10,
            severity,
            rule: rule.into(),
            path: String::new(),
            message: String::new(),
        }
    }

    #[test]
    fn covers_errors_and_reports_stale_entries() {
        let b = Baseline::parse(
            "- entry: a/b.mdx:10:cel\n  reason: upstream bug\n- entry: a/b.mdx:99:cel\n  reason: fixed since\n",
        )
        .unwrap();
        let out = b.compare(&[finding("cel", Severity::Error), finding("elision", Severity::Note)], None);
        assert_eq!(out.accepted, 1);
        assert!(out.new_errors.is_empty());
        assert_eq!(out.stale.len(), 1);
        assert!(out.failed());
        let scope = BTreeSet::from(["other.mdx".to_string()]);
        assert!(b.compare(&[], Some(&scope)).stale.is_empty());
        let rewritten =
            Baseline::parse(&b.rewrite(&[finding("cel", Severity::Error), finding("other", Severity::Error)])).unwrap();
        assert_eq!(rewritten.entries.len(), 2);
        assert_eq!(rewritten.entries[0].reason, "upstream bug");
        assert!(rewritten.entries[1].reason.starts_with("to triage"), "{:?}", rewritten.entries[1]);
    }

    #[test]
    fn malformed_baselines_are_refused() {
        assert!(Baseline::parse("- entry: a.mdx:x:cel\n  reason: r\n").is_err());
        assert!(Baseline::parse("- entry: a.mdx:1:cel\n  reason: ' '\n").is_err());
        assert!(Baseline::parse("- entry: a.mdx:1:cel\n").is_err());
        assert!(Baseline::parse("").unwrap().entries.is_empty());
    }
}
