//! The reference vMCP gateway: incoming auth, aggregation over backend MCP servers, outgoing
//! strategies.

pub mod config;
pub mod embedded;
