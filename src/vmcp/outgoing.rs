//! Outgoing strategies: the headers the gateway adds to every request it sends to a backend.
//!
//! The gateway opens its own requests to backends and never copies the client's headers
//! (docs N2, VC:313-316; toolhive-behaviour 8.1: `Authorization` and `Cookie` are never
//! forwarded). A backend receives exactly what its strategy produces here, nothing else.

use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use super::config::{OutgoingStrategy, TokenExchangeConfig};
use super::error::{GatewayError, OutgoingError};
use super::exchange::{self, ExchangeCache};
use super::incoming::Identity;
use crate::defects::{Defect, Defects};

/// Headers `passthroughHeaders` may not name (authentication.mdx#pass-through-client-headers,
/// configuration.mdx#forward-client-headers-to-backends: `Host`, hop-by-hop headers,
/// `X-Forwarded-*`, `Proxy-Authorization` and other proxy-control headers). DECISION: unlike
/// ToolHive's code, `Authorization` and `Cookie` are allowed, as the docs' own example lists
/// `Authorization` (authentication.mdx:389-393).
const RESTRICTED_PASSTHROUGH: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "http2-settings",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "forwarded",
    "x-real-ip",
];

/// The credential headers `disableUpstreamTokenInjection` strips (VE:706-709).
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Checks `passthroughHeaders` once at start-up.
pub fn validate_passthrough(headers: &[String]) -> Result<Vec<HeaderName>, GatewayError> {
    let mut names = Vec::new();
    for h in headers {
        let refuse = |reason| GatewayError::RestrictedPassthroughHeader { header: h.clone(), reason };
        let name =
            HeaderName::from_bytes(h.trim().as_bytes()).map_err(|_| refuse("is not a valid HTTP header name"))?;
        if RESTRICTED_PASSTHROUGH.contains(&name.as_str()) {
            return Err(refuse("is a restricted header (Host, hop-by-hop or proxy-control) and cannot be forwarded"));
        }
        if name.as_str().starts_with("x-forwarded-") {
            return Err(refuse("is an X-Forwarded-* header and cannot be forwarded"));
        }
        if RESERVED.contains(&name.as_str()) {
            return Err(refuse("belongs to the MCP Streamable HTTP transport and cannot be forwarded"));
        }
        names.push(name);
    }
    Ok(names)
}

/// What the gateway needs besides the strategy to build a backend request's headers.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub http: &'a reqwest::Client,
    pub cache: &'a ExchangeCache,
    pub defects: &'a Defects,
    pub passthrough: &'a [HeaderName],
    pub disable_upstream_token_injection: bool,
}

/// Every header a backend request carries for `caller`: the strategy's (exchanging a token when
/// configured), then the allowlisted client headers where the strategy set nothing (lowest
/// precedence, VA:395-399), minus the client's credentials when upstream token injection is
/// disabled.
pub async fn backend_headers(
    strategy: &OutgoingStrategy,
    caller: Caller<'_>,
    env: Env<'_>,
) -> Result<HeaderMap, OutgoingError> {
    let defects = env.defects;
    let mut headers = match strategy {
        OutgoingStrategy::TokenExchange(cfg) => match exchange_headers(cfg, caller, env).await {
            Err(OutgoingError::ExchangeFailed { .. }) if defects.is_on(Defect::ExchangeFailureFailsOpen) => {
                HeaderMap::new()
            }
            other => other?,
        },
        OutgoingStrategy::Xaa(cfg) => {
            let provider = &cfg.subject_provider_name;
            let id_token = caller
                .identity
                .upstream_tokens
                .get(provider)
                .and_then(|t| t.id_token.clone())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| OutgoingError::UpstreamTokenMissing { provider: format!("{provider} (ID token)") })?;
            let token = match exchange::xaa(env.http, env.cache, cfg, &id_token, env.defects).await {
                Err(_) if defects.is_on(Defect::XaaFailureFailsOpen) => return Ok(HeaderMap::new()),
                other => other?,
            };
            let value =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| OutgoingError::ExchangeFailed {
                    url: cfg.target_token_url.clone(),
                    reason: "the access token cannot be sent in an HTTP header".into(),
                })?;
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, value);
            h
        }
        OutgoingStrategy::UpstreamInject { .. }
            if env.disable_upstream_token_injection && !defects.is_on(Defect::IgnoreDisableUpstreamTokenInjection) =>
        {
            HeaderMap::new()
        }
        other => headers_for(other, caller, defects)?,
    };
    if let Some(client) = caller.client_headers {
        let forward_all = defects.is_on(Defect::PassthroughUnlistedHeaders);
        for (name, value) in client {
            let listed = env.passthrough.contains(name) && !defects.is_on(Defect::DropPassthroughHeaders);
            let allowed = listed
                || (forward_all
                    && !RESERVED.contains(&name.as_str())
                    && !RESTRICTED_PASSTHROUGH.contains(&name.as_str())
                    && !CREDENTIAL_HEADERS.contains(&name.as_str())
                    && name.as_str() != "user-agent"
                    && name.as_str() != "accept-encoding");
            if !allowed {
                continue;
            }
            if env.disable_upstream_token_injection && CREDENTIAL_HEADERS.contains(&name.as_str()) {
                continue;
            }
            if headers.contains_key(name) && !defects.is_on(Defect::PassthroughOverridesStrategy) {
                continue;
            }
            headers.insert(name.clone(), value.clone());
        }
    }
    Ok(headers)
}

async fn exchange_headers(
    cfg: &TokenExchangeConfig,
    caller: Caller<'_>,
    env: Env<'_>,
) -> Result<HeaderMap, OutgoingError> {
    let from_upstream = cfg.subject_provider_name.is_some() != env.defects.is_on(Defect::ExchangeSwapSubject);
    let subject = if from_upstream {
        let provider = cfg
            .subject_provider_name
            .clone()
            .or_else(|| caller.identity.upstream_tokens.keys().next().cloned())
            .unwrap_or_default();
        caller
            .identity
            .upstream_tokens
            .get(&provider)
            .map(|t| t.access_token.clone())
            .filter(|t| !t.is_empty())
            .ok_or(OutgoingError::UpstreamTokenMissing { provider })?
    } else {
        caller
            .client_authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty())
            .map(|(_, t)| t.trim().to_owned())
            .ok_or(OutgoingError::NoSubjectToken)?
    };
    let omit_audience = env.defects.is_on(Defect::ExchangeOmitAudience);
    let uncached = ExchangeCache::default();
    let cache = if env.defects.is_on(Defect::NoExchangeCache) { &uncached } else { env.cache };
    let token = exchange::exchange(env.http, cache, cfg, &subject, omit_audience).await?;
    let token = if env.defects.is_on(Defect::ExchangeForwardSubjectToken) { subject } else { token };
    let mut headers = HeaderMap::new();
    let invalid = || OutgoingError::ExchangeFailed {
        url: cfg.token_url.clone(),
        reason: "the exchanged token cannot be sent in an HTTP header".into(),
    };
    match &cfg.external_token_header_name {
        Some(name) => {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            headers.insert(name, HeaderValue::from_str(&token).map_err(|_| invalid())?);
        }
        None => {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| invalid())?);
        }
    }
    Ok(headers)
}

/// Headers the MCP Streamable HTTP transport (or HTTP itself) owns; a strategy may not set them.
const RESERVED: &[&str] =
    &["accept", "mcp-session-id", "mcp-protocol-version", "last-event-id", "host", "content-length", "content-type"];

/// What a strategy may use about the caller.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub identity: &'a Identity,
    /// The client's own `Authorization` header: the subject of a `tokenExchange` without
    /// `subjectProviderName` (and what the `LeakClientAuthorization` defect leaks).
    pub client_authorization: Option<&'a HeaderValue>,
    /// Every header of the client's request, for `passthroughHeaders`.
    pub client_headers: Option<&'a HeaderMap>,
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
        OutgoingStrategy::TokenExchange(cfg) => {
            let invalid = |field: &str, reason: String| GatewayError::InvalidTokenExchange {
                location: location.to_owned(),
                field: field.to_owned(),
                reason,
            };
            let url = url::Url::parse(&cfg.token_url).map_err(|e| invalid("tokenUrl", e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("tokenUrl", format!("scheme `{}` is not http or https", url.scheme())));
            }
            if cfg.audience.trim().is_empty() {
                return Err(invalid("audience", "must not be empty".into()));
            }
            if cfg.client_secret.is_some() && cfg.client_id.is_none() {
                return Err(invalid("clientSecretRef", "needs clientId".into()));
            }
            if cfg.subject_provider_name.is_some() && !has_embedded {
                return Err(invalid(
                    "subjectProviderName",
                    "reads a stored upstream token and needs an embedded authorization server".into(),
                ));
            }
            if let Some(h) = &cfg.external_token_header_name {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| invalid("externalTokenHeaderName", format!("`{h}` is not a valid header name")))?;
            }
            Ok(())
        }
        OutgoingStrategy::Xaa(cfg) => {
            let invalid = |field: &str, reason: String| GatewayError::InvalidTokenExchange {
                location: location.to_owned(),
                field: format!("(xaa) {field}"),
                reason,
            };
            for (field, value) in [("idpTokenUrl", &cfg.idp_token_url), ("targetTokenUrl", &cfg.target_token_url)] {
                let url = url::Url::parse(value).map_err(|e| invalid(field, e.to_string()))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid(field, format!("scheme `{}` is not http or https", url.scheme())));
                }
            }
            if !has_embedded {
                return Err(invalid(
                    "subjectProviderName",
                    "reads a stored upstream ID token and needs an embedded authorization server".into(),
                ));
            }
            // Without target client credentials: a start-up warning (see `startup_warnings`).
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

/// What the gateway warns about at start-up for `strategy` at `location` (the config still runs).
pub fn startup_warning(strategy: &OutgoingStrategy, location: &str) -> Option<String> {
    match strategy {
        // embedded-auth-server-vmcp.mdx:686-691: "causes vMCP to log a warning at startup".
        OutgoingStrategy::Xaa(cfg) if cfg.target_client_id.is_none() || cfg.target_client_secret.is_none() => {
            Some(format!(
                "outgoingAuth {location}: xaa: target grant will run without client authentication \
                 (targetClientId / targetClientSecretRef not set; most target authorization servers refuse it)"
            ))
        }
        _ => None,
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
            if !defects.is_on(Defect::SkipHeaderInjection) {
                headers.insert(name, value);
            }
        }
        OutgoingStrategy::Xaa(cfg) => {
            return Err(OutgoingError::ExchangeFailed {
                url: cfg.idp_token_url.clone(),
                reason: "cross-application access is asynchronous: use backend_headers".into(),
            });
        }
        OutgoingStrategy::TokenExchange(cfg) => {
            return Err(OutgoingError::ExchangeFailed {
                url: cfg.token_url.clone(),
                reason: "token exchange is asynchronous: use backend_headers".into(),
            });
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
        let caller = Caller { identity: &id, client_authorization: None, client_headers: None };
        let h = headers_for(&inject("github"), caller, &Defects::none()).unwrap();
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Bearer gh-token");
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn upstream_inject_without_a_token_is_an_error_naming_the_provider() {
        let id = identity(&[("google", "g-token")]);
        let caller = Caller { identity: &id, client_authorization: None, client_headers: None };
        let err = headers_for(&inject("github"), caller, &Defects::none()).unwrap_err();
        assert_eq!(err, OutgoingError::UpstreamTokenMissing { provider: "github".into() });
        assert!(err.to_string().contains("`github`"), "{err}");
    }

    #[test]
    fn wrong_provider_defect_picks_another_stored_token() {
        let id = identity(&[("atlassian", "a"), ("github", "gh"), ("google", "g")]);
        let caller = Caller { identity: &id, client_authorization: None, client_headers: None };
        let d = Defects::none().with(Defect::InjectWrongProviderToken);
        let h = headers_for(&inject("github"), caller, &d).unwrap();
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Bearer g");
    }

    #[test]
    fn unauthenticated_adds_nothing_unless_the_leak_defect_is_on() {
        let id = Identity::anonymous();
        let client = HeaderValue::from_static("Bearer client-jwt");
        let caller = Caller { identity: &id, client_authorization: Some(&client), client_headers: None };
        assert!(headers_for(&OutgoingStrategy::Unauthenticated, caller, &Defects::none()).unwrap().is_empty());
        let d = Defects::none().with(Defect::LeakClientAuthorization);
        let h = headers_for(&OutgoingStrategy::Unauthenticated, caller, &d).unwrap();
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Bearer client-jwt");
    }

    #[test]
    fn header_injection_sets_the_configured_header() {
        let id = Identity::anonymous();
        let caller = Caller { identity: &id, client_authorization: None, client_headers: None };
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
