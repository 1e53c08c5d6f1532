//! vmcp-conformance: an executable specification of ToolHive's vMCP authentication docs.
//!
//! The library holds the reference implementation (authorization server, gateway, storage),
//! the CRD model and bundle rules, and the `Target` abstraction the Gherkin steps drive.
//! Steps (in `steps/`) only ever use [`target`] and HTTP, never the reference's internals.

pub mod authserver;
pub mod bench;
pub mod bundle;
pub mod cliconfig;
pub mod crd;
pub mod defects;
pub mod docs;
pub mod mocks;
pub mod report;
pub mod selftest;
pub mod serve;
pub mod storage;
pub mod target;
pub mod topology;
pub mod vendor;
pub mod vmcp;
