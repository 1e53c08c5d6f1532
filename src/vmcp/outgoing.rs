//! Outgoing strategies: the headers the gateway adds to every request it sends to a backend.
//!
//! The gateway opens its own requests to backends and never copies the client's headers
//! (docs N2, VC:313-316; toolhive-behaviour 8.1: `Authorization` and `Cookie` are never
//! forwarded). A backend receives exactly what its strategy produces here, nothing else.

use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use super::config::OutgoingStrategy;
use super::error::{GatewayError, OutgoingError};
use super::incoming::Identity;
use crate::defects::{Defect, Defects};

/// Headers the MCP Streamable HTTP transport (or HTTP itself) owns; a strategy may not set them.
const RESERVED: &[&str] =
    &["accept", "mcp-session-id", "mcp-protocol-version", "last-event-id", "host", "content-length", "content-type"];

/// What a strategy may use about the caller.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub identity: &'a Identity,
    /// The client's own `Authorization` header: used only by the `LeakClientAuthorization` defect.
    pub client_authorization: Option<&'a HeaderValue>,
}

/// Checks a strategy once at start-up; `location` is the field path used in messages
/// (`backends.<name>` or `default`).
pub fn validate(strategy: &OutgoingStrategy, location: &str, has_embedded: bool) -> Result<(), GatewayError> {
    match strategy {
        OutgoingStrategy::Unauthenticated => Ok(()),
        OutgoingStrategy::UpstreamInject { provider_name } => {
            if provider_name.trim().is_empty() {
                return Err(GatewayError::EmptyProviderName { location: location.to_owned() });
            }
            if !has_embedded {
                return Err(GatewayError::UpstreamInjectWithoutEmbeddedServer {
                    location: location.to_owned(),
                    provider: provider_name.clone(),
                });
            }
            Ok(())
        }
        OutgoingStrategy::HeaderInjection { header_name, header_value } => {
            let name = HeaderName::from_bytes(header_name.as_bytes()).map_err(|_| GatewayError::InvalidHeaderName {
                location: location.to_owned(),
                header: header_name.clone(),
            })?;
            if RESERVED.contains(&name.as_str()) {
                return Err(GatewayError::ReservedHeader {
                    location: location.to_owned(),
                    header: header_name.clone(),
                });
            }
            HeaderValue::from_str(header_value).map_err(|_| GatewayError::InvalidHeaderValue {
                location: location.to_owned(),
                header: header_name.clone(),
            })?;
            Ok(())
        }
    }
}

/// The headers `strategy` adds for `caller`.
pub fn headers_for(
    strategy: &OutgoingStrategy,
    caller: Caller<'_>,
    defects: &Defects,
) -> Result<HeaderMap, OutgoingError> {
    let mut headers = HeaderMap::new();
    match strategy {
        OutgoingStrategy::Unauthenticated => {
            if defects.is_on(Defect::LeakClientAuthorization)
                && let Some(value) = caller.client_authorization
            {
                headers.insert(AUTHORIZATION, value.clone());
            }
        }
        OutgoingStrategy::UpstreamInject { provider_name } => {
            let tokens = &caller.identity.upstream_tokens;
            let chosen = if defects.is_on(Defect::InjectWrongProviderToken) {
                // The last other provider alphabetically, when the user has one.
                tokens
                    .iter()
                    .rev()
                    .find(|(name, _)| *name != provider_name)
                    .or_else(|| tokens.get_key_value(provider_name))
            } else {
                tokens.get_key_value(provider_name)
            };
            let (_, stored) = chosen
                .filter(|(_, t)| !t.access_token.is_empty())
                .ok_or_else(|| OutgoingError::UpstreamTokenMissing { provider: provider_name.clone() })?;
            let value = HeaderValue::from_str(&format!("Bearer {}", stored.access_token))
                .map_err(|_| OutgoingError::UnusableUpstreamToken { provider: provider_name.clone() })?;
            headers.insert(AUTHORIZATION, value);
        }
        OutgoingStrategy::HeaderInjection { header_name, header_value } => {
            let invalid = || OutgoingError::InvalidHeader { header: header_name.clone() };
            let name = HeaderName::from_bytes(header_name.as_bytes()).map_err(|_| invalid())?;
            let value = HeaderValue::from_str(header_value).map_err(|_| invalid())?;
            headers.insert(name, value);
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::vmcp::embedded::UpstreamTokens;

    fn identity(tokens: &[(&str, &str)]) -> Identity {
        let mut upstream = BTreeMap::new();
        for (p, t) in tokens {
            upstream.insert(
                p.to_string(),
                UpstreamTokens { access_token: t.to_string(), id_token: None, expires_at: None },
            );
        }
        Identity { upstream_tokens: upstream, ..Identity::anonymous() }
    }

    fn inject(p: &str) -> OutgoingStrategy {
        OutgoingStrategy::UpstreamInject { provider_name: p.into() }
    }

    #[test]
    fn upstream_inject_sends_the_named_providers_token() {
        let id = identity(&[("github", "gh-token"), ("google", "g-token")]);
        let caller = Caller { identity: &id, client_authorization: None };
        let h = headers_for(&inject("github"), caller, &Defects::none()).unwrap();
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Bearer gh-token");
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn upstream_inject_without_a_token_is_an_error_naming_the_provider() {
        let id = identity(&[("google", "g-token")]);
        let caller = Caller { identity: &id, client_authorization: None };
        let err = headers_for(&inject("github"), caller, &Defects::none()).unwrap_err();
        assert_eq!(err, OutgoingError::UpstreamTokenMissing { provider: "github".into() });
        assert!(err.to_string().contains("`github`"), "{err}");
    }

    #[test]
    fn wrong_provider_defect_picks_another_stored_token() {
        let id = identity(&[("atlassian", "a"), ("github", "gh"), ("google", "g")]);
        let caller = Caller { identity: &id, client_authorization: None };
        let d = Defects::none().with(Defect::InjectWrongProviderToken);
        let h = headers_for(&inject("github"), caller, &d).unwrap();
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Bearer g");
    }

    #[test]
    fn unauthenticated_adds_nothing_unless_the_leak_defect_is_on() {
        let id = Identity::anonymous();
        let client = HeaderValue::from_static("Bearer client-jwt");
        let caller = Caller { identity: &id, client_authorization: Some(&client) };
        assert!(headers_for(&OutgoingStrategy::Unauthenticated, caller, &Defects::none()).unwrap().is_empty());
        let d = Defects::none().with(Defect::LeakClientAuthorization);
        let h = headers_for(&OutgoingStrategy::Unauthenticated, caller, &d).unwrap();
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Bearer client-jwt");
    }

    #[test]
    fn header_injection_sets_the_configured_header() {
        let id = Identity::anonymous();
        let caller = Caller { identity: &id, client_authorization: None };
        let s = OutgoingStrategy::HeaderInjection { header_name: "X-API-Key".into(), header_value: "secret".into() };
        let h = headers_for(&s, caller, &Defects::none()).unwrap();
        assert_eq!(h.get("x-api-key").unwrap(), "secret");
    }

    #[test]
    fn validation_names_the_location() {
        let err = validate(&inject("github"), "backends.github-mcp", false).unwrap_err();
        assert!(err.to_string().contains("backends.github-mcp"), "{err}");
        let bad = OutgoingStrategy::HeaderInjection { header_name: "bad header".into(), header_value: "v".into() };
        assert!(matches!(validate(&bad, "default", false), Err(GatewayError::InvalidHeaderName { .. })));
        let reserved =
            OutgoingStrategy::HeaderInjection { header_name: "Mcp-Session-Id".into(), header_value: "v".into() };
        assert!(matches!(validate(&reserved, "default", false), Err(GatewayError::ReservedHeader { .. })));
        assert!(validate(&inject("github"), "default", true).is_ok());
    }
}
