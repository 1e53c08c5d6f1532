//! Upstream identity provider and MCP backend mocks for vmcp-conformance.
//!
//! The conformance steps assert what an upstream *received* and compare it with what it *issued*,
//! so every mock records both: [`RecordedRequest`]s for the wire and [`IssuedToken`]s for the
//! credentials it minted. Mocks log users in with automatic consent ([`MockUser`]) and answer bad
//! input with the RFC error the real provider would send, never a panic.

mod backend;
mod cimd;
mod dcr;
mod fault;
mod github;
mod google;
mod keys;
mod oauth;
mod oidc_issuer;
mod okta;
mod record;
mod slack;
mod snowflake;
pub mod standalone;
mod token_exchange;
mod user;

pub use backend::{MockBackend, RecordedToolCall};
pub use cimd::{CimdAnswer, CimdHost};
pub use dcr::{DcrProviderMock, Registration};
pub use fault::Fault;
pub use github::GithubMock;
pub use google::{GoogleMock, entra_oid, entra_pairwise_sub};
pub use keys::{KeyError, SigningKey};
pub use oauth::pkce_challenge;
pub use oidc_issuer::OidcIssuerMock;
pub use okta::OktaMock;
pub use record::{IssuedToken, RecordedRequest};
pub use slack::{SlackMock, slack_user_id};
pub use snowflake::{SnowflakeMock, snowflake_login};
pub use token_exchange::{ExchangeFault, RecordedExchange, TokenExchangeMock, unverified_sub};
pub use user::MockUser;
