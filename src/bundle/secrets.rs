//! Resolve `SecretKeyRef`s against the bundle's Secrets: `stringData` first, then base64 `data`
//! (already decoded by k8s-openapi). Problems are collected, never panicked on, and reported as a
//! `SecretRefsValidated` condition.

use crate::crd::SecretKeyRef;

use super::Bundle;

/// Why a reference could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretProblem {
    SecretNotFound,
    KeyNotFound,
    NotUtf8,
}

impl SecretProblem {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            SecretProblem::SecretNotFound => "SecretNotFound",
            SecretProblem::KeyNotFound => "SecretKeyNotFound",
            SecretProblem::NotUtf8 => "SecretValueInvalid",
        }
    }
}

/// Resolves references in one namespace and remembers what went wrong.
pub struct SecretResolver<'a> {
    bundle: &'a Bundle,
    namespace: &'a str,
    problems: Vec<(SecretProblem, String)>,
}

impl<'a> SecretResolver<'a> {
    pub fn new(bundle: &'a Bundle, namespace: &'a str) -> Self {
        Self { bundle, namespace, problems: Vec::new() }
    }

    /// The raw bytes `r` points at; `field` is the referencing field path for the message.
    pub fn bytes(&mut self, r: &SecretKeyRef, field: &str) -> Option<Vec<u8>> {
        let Some(secret) = self.bundle.secret(self.namespace, &r.name) else {
            self.problems.push((
                SecretProblem::SecretNotFound,
                format!("{field} -> Secret/{} not found in namespace {}", r.name, self.namespace),
            ));
            return None;
        };
        if let Some(v) = secret.string_data.as_ref().and_then(|d| d.get(&r.key)) {
            return Some(v.as_bytes().to_vec());
        }
        if let Some(v) = secret.data.as_ref().and_then(|d| d.get(&r.key)) {
            return Some(v.0.clone());
        }
        let mut keys: Vec<&String> = secret.string_data.iter().flat_map(|d| d.keys()).collect();
        keys.extend(secret.data.iter().flat_map(|d| d.keys()));
        keys.sort();
        keys.dedup();
        let keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
        self.problems.push((
            SecretProblem::KeyNotFound,
            format!("{field} -> Secret/{} has no key {:?} (keys: [{}])", r.name, r.key, keys.join(", ")),
        ));
        None
    }

    /// The value `r` points at as UTF-8 text.
    pub fn string(&mut self, r: &SecretKeyRef, field: &str) -> Option<String> {
        let bytes = self.bytes(r, field)?;
        match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => {
                self.problems.push((
                    SecretProblem::NotUtf8,
                    format!("{field} -> Secret/{} key {:?} is not UTF-8 text", r.name, r.key),
                ));
                None
            }
        }
    }

    /// What went wrong so far, in order.
    pub fn problems(&self) -> &[(SecretProblem, String)] {
        &self.problems
    }
}
