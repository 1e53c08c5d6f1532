//! Switches that make a mock misbehave, so scenarios can show the system under test copes with a
//! broken upstream. Each mock keeps its current fault in its shared state and consults it per request.

/// How a mock should misbehave from now on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Behave like the real provider.
    #[default]
    None,
    /// The token endpoint (for [`crate::MockBackend`]: every `/mcp` request) answers HTTP 500.
    ServerError,
    /// OIDC mocks: ID tokens name another issuer in `iss`.
    WrongIssuer,
    /// OIDC mocks: ID tokens expired ten minutes ago.
    ExpiredIdToken,
    /// The token endpoint answers only after this delay.
    SlowToken(std::time::Duration),
    /// [`crate::MockBackend`]: `tools/call` answers only after this delay (other requests do not wait).
    SlowToolCall(std::time::Duration),
}
