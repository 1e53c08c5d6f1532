//! ToolHive's non-Kubernetes vMCP configuration: `vmcp.yaml` and the sibling
//! `authserver-config.yaml` (toolhive-behaviour §9, docs-claims Appendix A).
//!
//! Two directions: [`write::to_files`] plays the operator (a reconciled bundle's
//! [`RuntimeConfig`](crate::bundle::RuntimeConfig) -> the two files, secret files and env vars), which
//! is what the `command` target hands to the implementation it starts; [`load::load`] is what
//! `vmcp-conformance serve` reads back.

pub mod load;
pub mod model;
#[cfg(test)]
mod tests;
pub mod write;

pub use load::{Loaded, load, parse_vmcp};
pub use write::{Files, WriteOptions, Written, to_files};

/// The vMCP file's name in errors (the path given to `--config` may differ).
pub const VMCP_FILE: &str = "vmcp.yaml";
/// The authorization server's file, always next to the vMCP file.
pub const AUTHSERVER_FILE: &str = "authserver-config.yaml";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliConfigError {
    /// The file cannot be read or is not YAML.
    #[error("{file}: {message}")]
    Io { file: String, message: String },
    /// A field breaks a rule (`vmcp.yaml: outgoingAuth.backends.docs.tokenExchange.tokenUrl: required`).
    #[error("{file}: {path}: {message}")]
    Field { file: String, path: String, message: String },
    /// Valid ToolHive configuration the reference does not implement.
    #[error("{file}: not implemented by the reference: {}", features.join(", "))]
    Unsupported { file: String, features: Vec<String> },
    /// A runtime configuration with a setting ToolHive's files have no field for.
    #[error("cannot be written in ToolHive's file format: {0}")]
    Inexpressible(String),
}
