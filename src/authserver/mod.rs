//! The embedded OAuth authorization server.

pub mod config;
