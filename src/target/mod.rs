//! The system under test. Steps reach it only through [`Target`] and HTTP.

use std::collections::BTreeMap;

pub mod command;
pub mod kubernetes;
pub mod reference;
pub mod url;

use async_trait::async_trait;

/// What the harness deploys: manifests as written in the docs (placeholders already
/// substituted, real IdP hosts mapped to the harness's mocks) plus where the harness's mock
/// backends listen, by MCPServer name (an MCPServer's `image` cannot run here).
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub manifests: String,
    pub backend_urls: BTreeMap<String, String>,
}

/// A status condition as the docs name them (`AuthServerConfigValidated=False`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCondition {
    /// `Kind/name` of the resource carrying it.
    pub resource: String,
    pub type_: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl std::fmt::Display for StatusCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = if self.status { "True" } else { "False" };
        write!(f, "{}: {}={} ({}): {}", self.resource, self.type_, status, self.reason, self.message)
    }
}

/// The outcome of a deployment.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// Whether the vMCP serves requests (false when admission or reconcile refused the bundle).
    pub ready: bool,
    pub conditions: Vec<StatusCondition>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the manifests cannot be loaded: {0}")]
    Manifests(String),
    #[error("the target failed to start: {0}")]
    Start(String),
    #[error("the target is not running")]
    NotRunning,
    /// The scenario needs a deployment other than the one this target was given (a running
    /// implementation has one configuration): the scenario cannot be run here, which is not a
    /// failure of the implementation.
    #[error("needs another configuration: {0}")]
    NeedsOtherConfiguration(String),
    /// The target cannot do this (restart a deployment it does not control).
    #[error("not supported by this target: {0}")]
    Unsupported(String),
}

#[async_trait]
pub trait Target: Send + Sync {
    /// A short description for reports (`reference (in-process)`).
    fn describe(&self) -> String;
    /// The origin (`http://127.0.0.1:PORT`) the system listens on. Known before `start` so the
    /// harness can write it into the manifests as the issuer and the MCP URL.
    fn base_url(&self) -> String;
    async fn start(&mut self, deployment: Deployment) -> Result<Deployed, TargetError>;
    /// Stops and starts the same deployment on the same address (a pod restart).
    async fn restart(&mut self) -> Result<Deployed, TargetError>;
    async fn stop(&mut self);
    /// What the system logged, for failing-scenario reports.
    fn logs(&self) -> Vec<String>;
}
