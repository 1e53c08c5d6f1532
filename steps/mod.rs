//! The Gherkin suite: a World per scenario, step modules by domain concept, and the runner
//! shared by `cargo test --test bdd` and `vmcp-conformance run`.
//!
//! House rule: nothing here imports the reference implementation (`authserver`, `vmcp`,
//! `storage`). Steps reach the system under test through `vmcp_conformance::target` and HTTP,
//! and assert what a backend or an IdP received from the harness's own mocks.

pub mod authserver;
pub mod backends;
pub mod checks;
pub mod deploy;
pub mod gateway;
pub mod local_cli;
pub mod login;
pub mod mcp;
pub mod oauth_errors;
pub mod python_sdk;
pub mod report;
pub mod runner;
pub mod session_storage;
pub mod world;

/// What every step module needs.
pub(crate) mod suite_prelude {
    pub use super::checks::{Check, CheckOutcome, verify};
}
