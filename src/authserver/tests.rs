//! Router-level tests of the authorization server.
