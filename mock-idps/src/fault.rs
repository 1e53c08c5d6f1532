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
}
