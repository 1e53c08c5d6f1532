//! Test-only defect switches for the reference target.
//!
//! Each switch breaks exactly one documented requirement, so that a meta-test can show the
//! scenarios covering that requirement fail (rule 3 of ARCHITECTURE.md). They are never on by
//! default and are named on the command line with `--defect <name>`.

pub mod cases;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One deliberate departure from the docs or an RFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// `upstreamInject` forwards another provider's token than `providerName` names.
    InjectWrongProviderToken,
    /// The gateway forwards the client's own `Authorization` header to backends that have no strategy.
    LeakClientAuthorization,
    /// The gateway accepts JWTs whose `aud` does not contain the configured audience.
    SkipAudienceCheck,
    /// The gateway accepts JWTs whose `exp` has passed.
    SkipExpiryCheck,
    /// The gateway accepts JWTs whose `iss` is not the configured issuer.
    SkipIssuerCheck,
    /// The login visits the upstream providers in reverse `upstreamProviders` order.
    ReverseUpstreamChain,
    /// The 401 challenge does not name the protected resource metadata.
    OmitResourceMetadata,
    /// The gateway accepts JWTs without checking their signature.
    SkipSignatureCheck,
    /// The token endpoint accepts any `code_verifier` (PKCE not checked).
    SkipPkceVerification,
    /// Access tokens live twice as long as `tokenLifespans.accessTokenLifespan` says.
    DoubleAccessTokenLifespan,
    /// The discovery document omits `registration_endpoint`.
    OmitRegistrationEndpoint,
    /// `disableUpstreamTokenInjection: true` is ignored: `upstreamInject` still injects.
    IgnoreDisableUpstreamTokenInjection,
    /// `disableUpstreamTokenInjection: true` combined with `tokenExchange`/`awsSts` is accepted.
    AllowInjectionDisabledWithExchange,
    /// Client headers not in `passthroughHeaders` are forwarded too.
    PassthroughUnlistedHeaders,
    /// A forwarded client header overrides the header a backend strategy set.
    PassthroughOverridesStrategy,
    /// `tokenExchange` uses the other subject (upstream token vs. vMCP JWT) than configured.
    ExchangeSwapSubject,
    /// The RFC 8693 request omits `audience`.
    ExchangeOmitAudience,
    /// The backend receives the exchange's subject token instead of the exchanged token.
    ExchangeForwardSubjectToken,
    /// `headerInjection` adds nothing.
    SkipHeaderInjection,
    /// `outgoingAuth.default` is ignored.
    IgnoreOutgoingDefault,
    /// With `incomingAuth.type: anonymous`, requests without a token are refused.
    AnonymousRequiresToken,
    /// Opaque tokens are accepted without RFC 7662 introspection.
    SkipIntrospection,
    /// A token with an unknown `kid` does not refresh the cached JWKS (key rotation breaks).
    NoJwksRefetch,
    /// `kubernetesServiceAccount.serviceAccount`/`namespace` do not restrict the accepted `sub`.
    IgnoreRequiredSubject,
    /// XAA Step A omits `resource` (`targetResource`).
    XaaOmitResource,
    /// XAA sends the ID-JAG to the backend instead of the target AS's access token.
    XaaForwardIdJag,
    /// A body that is not JSON-RPC gets rmcp's plain-text 415 instead of a JSON-RPC parse error.
    RawParseError,
    /// The gateway reads MCP request bodies of any size (64 MiB).
    GatewayNoBodyLimit,
    /// A failing backend's tool call returns an empty successful result instead of an error.
    SwallowBackendFailure,
    /// The 401 challenge for a refused token lacks `error="invalid_token"` (RFC 6750 §3.1 SHOULD).
    OmitInvalidTokenError,
    /// `tools/call` reaches the backend under the advertised (prefixed) name, not the tool's own.
    ForwardPrefixedToolName,
    /// An explicit `unauthenticated` backend strategy falls back to `outgoingAuth.default`.
    UnauthenticatedFallsBackToDefault,
    /// Headers listed in `passthroughHeaders` are not forwarded.
    DropPassthroughHeaders,
    /// Exchanged tokens are never cached: every call runs a new RFC 8693 exchange.
    NoExchangeCache,
    /// A failed token exchange sends the call to the backend without credentials (fails open).
    ExchangeFailureFailsOpen,
    /// The XAA access token is reused across calls (Steps A and B run once per ID token).
    CacheXaaToken,
    /// Cedar policies are not evaluated on `tools/call`: every call is forwarded.
    SkipCedarAuthorization,
    /// `tools/list` is not filtered by the Cedar `call_tool` policies.
    UnfilteredToolList,
    /// With an embedded authorization server, Cedar reads the vMCP JWT's claims instead of the
    /// primary upstream provider's.
    AuthzClaimsFromVmcpToken,
    /// A call Cedar denies is still forwarded to the backend before the 403 is sent.
    AuthzForwardsDeniedCall,
    /// Group and role claims are not mapped to `THVGroup` parents.
    AuthzIgnoreGroupClaims,
    /// Object-valued claims (an RFC 8693 `act`) are not given to Cedar.
    AuthzDropNestedClaims,
    /// `primaryUpstreamProvider` is ignored: Cedar always reads the first upstream's claims.
    AuthzIgnorePrimaryUpstream,
    /// An `authzConfigRef` to a non-`cedarv1` MCPAuthzConfig is accepted (and not enforced).
    AcceptNonCedarAuthzConfig,
    /// The gateway logs no start-up warnings (XAA without target client credentials).
    OmitStartupWarnings,
    /// `config.operational.timeouts` is ignored: backend calls may take 120 s.
    IgnoreBackendTimeouts,
    /// A `config.operational.timeouts` value that is not a duration is silently ignored.
    AcceptInvalidTimeout,
    /// `/oauth/authorize` accepts an RFC 8707 `resource` outside the allowed audiences.
    AcceptAnyResource,
    /// A failed XAA exchange sends the call to the backend without credentials (fails open).
    XaaFailureFailsOpen,
    /// authorizationEndpointBaseUrl moves every endpoint, not only authorization_endpoint.
    AuthorizationBaseOverridesAll,
    /// scopes_supported advertises the defaults instead of oidcConfigRef.scopes.
    ScopesSupportedIgnoresConfig,
    /// an http:// issuer on a non-loopback host is accepted without insecureAllowHTTP.
    AllowHttpIssuer,
    /// insecureAllowHTTP is ignored: an http:// non-loopback issuer is always rejected.
    IgnoreInsecureAllowHttp,
    /// an MCPOIDCConfig issuer differing from authServerConfig.issuer is accepted.
    IgnoreIssuerMismatch,
    /// HMAC secrets shorter than 32 bytes are accepted.
    AcceptShortHmacSecret,
    /// the ephemeral signing key survives a restart (one key per process).
    ReuseEphemeralSigningKey,
    /// signingKeySecretRefs are ignored: an ephemeral key signs.
    IgnoreSigningKeyRefs,
    /// only the first signingKeySecretRef verifies tokens; fallback keys are dropped.
    DropFallbackSigningKeys,
    /// expired authorization codes are still redeemed.
    IgnoreAuthCodeLifespan,
    /// an authorization code can be redeemed twice.
    AllowCodeReuse,
    /// a rotated-out refresh token is accepted again.
    AllowRefreshReplay,
    /// a refresh token is accepted from a client it was not issued to.
    AllowRefreshByOtherClient,
    /// code_challenge_method=plain is accepted at /oauth/authorize.
    AcceptPlainPkce,
    /// a redirect_uri that only starts with a registered one is accepted.
    LooseRedirectUriMatch,
    /// authorization requests without state (or a short one) are accepted.
    AcceptMissingState,
    /// scopes the client did not register are granted.
    AcceptUnregisteredScope,
    /// invalid_client after HTTP Basic lacks WWW-Authenticate.
    InvalidClientWithoutChallenge,
    /// token endpoint errors lack Cache-Control: no-store.
    OAuthErrorsCacheable,
    /// an unknown grant_type gets invalid_request instead of unsupported_grant_type.
    UnknownGrantAsInvalidRequest,
    /// The authorization server's routes accept request bodies of any size.
    NoBodyLimit,
    /// `baselineClientScopes` are not merged into registered clients.
    IgnoreBaselineScopes,
    /// URL client IDs are resolved as CIMD documents even when `cimd.enabled` is false.
    CimdIgnoresEnabled,
    /// Upstream DCR omits the initial access token.
    DcrIgnoreInitialAccessToken,
    /// `tokenResponseMapping` is ignored: tokens are read from the top level.
    IgnoreTokenResponseMapping,
    /// `userInfo` is used even when `identityFromToken` is set.
    UserinfoWinsOverIdentityFromToken,
    /// A failed `identityFromToken` extraction falls back to `userInfo`, else a synthesized identity.
    IdentityFromTokenFallsBack,
    /// The `@upstreamjwt` modifier is not understood.
    NoUpstreamJwtModifier,
    /// The client ID issued by upstream DCR is not used for the upstream flow.
    DcrIgnoreIssuedCredentials,
    /// Upstream DCR credentials are kept per process, so memory storage wrongly reuses them.
    DcrCredentialsSurviveRestart,
    /// CIMD documents are fetched on every use (no cache).
    CimdNoCache,
    /// CIMD documents whose client_id differs from their URL are accepted.
    CimdSkipClientIdCheck,
    /// CIMD documents declaring a shared-secret token_endpoint_auth_method are accepted.
    CimdAllowSharedSecret,
    /// CIMD documents skip the redirect_uris, grant/response types and scope rules.
    CimdSkipDocumentRules,
    /// The discovery document omits client_id_metadata_document_supported.
    OmitCimdSupported,
    /// The metadata advertises the implicit flow instead of the authorization-code flow.
    MetadataOmitsCodeFlow,
    /// Successful token responses lack `Cache-Control: no-store`.
    TokenResponseCacheable,
    /// CIMD URLs may use plain http on any host, not only loopback names.
    CimdAllowHttp,
    /// The gateway accepts HS256 tokens keyed with a JWKS public key's material.
    AcceptHs256PublicKey,
    /// An authorization error for an unregistered redirect_uri is redirected to that URI.
    RedirectErrorsToUnverifiedUri,
    /// The JWKS also publishes a freshly generated key that signs nothing.
    JwksPublishesUnconfiguredKey,
    /// The issued `aud` is the issuer, not the RFC 8707 resource.
    AudienceIgnoresResource,
    /// The issued `iss` carries a trailing slash.
    JwtIssuerTrailingSlash,
    /// The issued JWT omits the `name` claim.
    DropNameClaim,
    /// The refresh grant hands back the presented refresh token (no rotation).
    NoRefreshRotation,
    /// The token endpoint demands a client secret from public clients.
    RefusePublicClients,
    /// With tokenResponseMapping, the top-level access token is stored and forwarded.
    ForwardUnmappedUpstreamToken,
    /// The field-shape admission rules of the auth-server CRD fields are not enforced.
    SkipFieldAdmissionRules,
    /// CIMD fetches wait a minute instead of the documented 5 seconds.
    CimdNoFetchTimeout,
    /// CIMD documents of any size are read (no 10 KB cap).
    CimdNoSizeCap,
    /// CIMD fetches follow one redirect.
    CimdFollowRedirects,
    /// Upstream ID tokens are accepted whatever their `iss`.
    SkipUpstreamIdTokenIssuer,
    /// Upstream ID tokens are accepted after their `exp`.
    SkipUpstreamIdTokenExpiry,
    /// `oidcConfig.subjectClaim` is ignored: users are keyed on `sub`.
    IgnoreSubjectClaim,
    /// A failed upstream leg is reported to the client as access_denied instead of server_error.
    UpstreamErrorsAsAccessDenied,
    /// Expired upstream tokens are forwarded as they are (never refreshed, never refused).
    SkipUpstreamRefresh,
    /// The gateway accepts unsigned JWTs whose header says `alg: none`.
    AcceptAlgNone,
    /// A later upstream leg may vouch for another user than the first leg.
    SkipChainIdentityCheck,
    /// A synthesized identity gets its subject as a display name.
    SynthesizedIdentityHasName,
    /// No IdentitySynthesized condition for OAuth 2.0 upstreams without userInfo.
    OmitIdentitySynthesized,
    /// The upstream authorization request also carries the MCP client's own client_id.
    LeakClientIdUpstream,
    /// The default upstream callback ignores oidcConfigRef.resourceUrl (always the issuer's).
    CallbackDefaultFromIssuer,
    /// The OAuth endpoints are served under the issuer's path instead of the host root.
    EndpointsUnderIssuerPath,
    /// The ephemeral HMAC secret survives a restart (one secret per process).
    ReuseEphemeralHmacSecret,
    /// Baseline scopes outside the supported scopes pass admission.
    AcceptUnsupportedBaselineScopes,
    /// Dynamic registration accepts any redirect URI (http on any host, javascript:, …).
    SkipRedirectUriValidation,
    /// Dynamic registration accepts scopes outside `scopes_supported`.
    RegisterAcceptsUnsupportedScope,
    /// An OIDC upstream without `scopes` is asked for `openid` only.
    OidcDefaultScopesOpenidOnly,
    /// `additionalAuthorizationParams` are not sent to the upstream.
    DropAdditionalAuthorizationParams,
    /// `userInfo.additionalHeaders` are not sent with the userinfo request.
    DropUserInfoHeaders,
    /// `storage.type: redis` is ignored: sessions stay in memory and a restart loses them.
    IgnoreRedisStorage,
    /// Redis keys are written under `thv:auth:` without the `{<namespace>:<name>}:` part.
    RedisKeysOutsidePrefix,
    /// Redis writes are acknowledged without waiting for a replica (no `WAIT`).
    RedisSkipWait,
    /// Memory storage survives a restart (one store per process instead of per start).
    MemorySurvivesRestart,
    /// The Redis ACL user is ignored: the storage connects as the default user.
    RedisIgnoreAclUser,
    /// The Redis storage sends `ROLE` (outside the documented ACL) and ignores the refusal.
    RedisProbeRole,
    /// Redis read failures are reported as absent records (tokens silently dropped).
    RedisSwallowErrors,
    /// The Redis storage never reconnects nor re-resolves the master after a connection breaks.
    RedisNoReconnect,
    /// Redis `take` reads without deleting (`GET` instead of `GETDEL`): single-use records are not.
    RedisTakeKeepsRecord,
    /// Redis TLS accepts any server certificate (`caCertSecretRef` not checked).
    RedisTlsAcceptAny,
    /// Sentinels are dialled in plaintext when only `tls` is set.
    RedisSentinelPlaintext,
    /// `sentinelTls` is ignored: Sentinel connections use the master's `tls`.
    RedisIgnoreSentinelTls,
    /// `tls.insecureSkipVerify` is ignored.
    RedisIgnoreInsecureSkipVerify,
    /// In cluster mode the key prefix loses its hash tag: one server's keys spread over slots.
    RedisClusterIgnoreHashTag,
    /// Conflicting Redis connection modes (`addr` + `sentinelConfig`, `sentinelAddrs` +
    /// `sentinelService`) are narrowed to one instead of refused.
    RedisAcceptConflictingModes,
    /// `spec.sessionStorage` is ignored: MCP sessions stay in each replica's memory.
    IgnoreSessionStore,
    /// `sessionStorage.keyPrefix` is ignored: sessions go under ToolHive's default prefix.
    IgnoreSessionKeyPrefix,
    /// MCP sessions are also cached process-wide, so a restarted Redis seems to keep them.
    SessionStoreProcessCache,
    /// An MCPOIDCConfig's `caBundleRef` is not resolved: no `CABundleRefValidated`, the vMCP starts.
    SkipCaBundleCheck,
    /// `SessionStorageWarning` stays True whatever `sessionStorage` says.
    IgnoreSessionStorage,
    /// The MCPGroup does not report `MCPServersChecked`.
    SkipGroupCheck,
    /// A referenced MCPExternalAuthConfig reports no `Valid` condition of its own.
    SkipExternalAuthValid,
    /// `validate` checks only YAML syntax and field names, not required fields or values.
    ValidateSkipRequired,
    /// Quick mode (`serve --group`) binds any `--host`, exposing an anonymous server.
    QuickModeAnyHost,
    /// With both `--config` and `--group`, `serve` runs quick mode for the group.
    GroupWinsOverConfig,
    /// `validate` refuses a backend with the documented `transport: sse`.
    ValidateRefusesSse,
    /// `serve` ignores `incomingAuth` in the config file and serves anonymously.
    ServeIgnoresIncomingAuth,
    /// `serve --session-ttl` is ignored: idle MCP sessions live on.
    SessionTtlIgnored,
}

impl Defect {
    /// Every switch, with its command-line name and what it breaks.
    pub const ALL: &'static [(Defect, &'static str, &'static str)] = &[
        (
            Defect::InjectWrongProviderToken,
            "inject-wrong-provider-token",
            "upstreamInject sends another provider's access token",
        ),
        (
            Defect::LeakClientAuthorization,
            "leak-client-authorization",
            "backends without a strategy receive the client's own Authorization header",
        ),
        (Defect::SkipAudienceCheck, "skip-audience-check", "incoming JWTs are accepted whatever their aud"),
        (Defect::SkipExpiryCheck, "skip-expiry-check", "incoming JWTs are accepted after exp"),
        (Defect::SkipIssuerCheck, "skip-issuer-check", "incoming JWTs are accepted whatever their iss"),
        (Defect::ReverseUpstreamChain, "reverse-upstream-chain", "the login visits the upstreams in reverse order"),
        (Defect::OmitResourceMetadata, "omit-resource-metadata", "the 401 challenge lacks resource_metadata"),
        (
            Defect::SkipSignatureCheck,
            "skip-signature-check",
            "incoming JWTs are accepted without signature verification",
        ),
        (Defect::SkipPkceVerification, "skip-pkce-verification", "the token endpoint ignores code_verifier"),
        (
            Defect::DoubleAccessTokenLifespan,
            "double-access-token-lifespan",
            "access tokens outlive accessTokenLifespan",
        ),
        (
            Defect::OmitRegistrationEndpoint,
            "omit-registration-endpoint",
            "RFC 8414 metadata lacks registration_endpoint",
        ),
        (
            Defect::IgnoreDisableUpstreamTokenInjection,
            "ignore-disable-upstream-token-injection",
            "upstreamInject still injects with disableUpstreamTokenInjection: true",
        ),
        (
            Defect::AllowInjectionDisabledWithExchange,
            "allow-injection-disabled-with-exchange",
            "disableUpstreamTokenInjection with tokenExchange/awsSts is accepted at start-up",
        ),
        (
            Defect::PassthroughUnlistedHeaders,
            "passthrough-unlisted-headers",
            "client headers outside passthroughHeaders reach backends",
        ),
        (
            Defect::PassthroughOverridesStrategy,
            "passthrough-overrides-strategy",
            "a forwarded client header overrides the backend strategy's header",
        ),
        (Defect::ExchangeSwapSubject, "exchange-swap-subject", "tokenExchange picks the wrong subject token"),
        (Defect::ExchangeOmitAudience, "exchange-omit-audience", "the RFC 8693 request lacks audience"),
        (
            Defect::ExchangeForwardSubjectToken,
            "exchange-forward-subject-token",
            "the backend receives the subject token, not the exchanged one",
        ),
        (Defect::SkipHeaderInjection, "skip-header-injection", "headerInjection adds no header"),
        (Defect::IgnoreOutgoingDefault, "ignore-outgoing-default", "outgoingAuth.default is not applied"),
        (
            Defect::AnonymousRequiresToken,
            "anonymous-requires-token",
            "incomingAuth anonymous refuses requests without a token",
        ),
        (Defect::SkipIntrospection, "skip-introspection", "opaque tokens are accepted without introspection"),
        (Defect::NoJwksRefetch, "no-jwks-refetch", "an unknown kid does not refresh the JWKS (no key rotation)"),
        (
            Defect::IgnoreRequiredSubject,
            "ignore-required-subject",
            "any service account's token is accepted despite serviceAccount/namespace",
        ),
        (Defect::XaaOmitResource, "xaa-omit-resource", "XAA Step A lacks the RFC 8707 resource"),
        (Defect::XaaForwardIdJag, "xaa-forward-id-jag", "the backend receives the ID-JAG, not the access token"),
        (Defect::RawParseError, "raw-parse-error", "malformed JSON-RPC gets a plain-text 415"),
        (Defect::GatewayNoBodyLimit, "gateway-no-body-limit", "MCP request bodies are not limited to 1 MiB"),
        (
            Defect::SwallowBackendFailure,
            "swallow-backend-failure",
            "a failing backend's tool call returns an empty successful result",
        ),
        (
            Defect::OmitInvalidTokenError,
            "omit-invalid-token-error",
            "the 401 challenge for a refused token lacks error=\"invalid_token\" (SHOULD: warns)",
        ),
        (
            Defect::ForwardPrefixedToolName,
            "forward-prefixed-tool-name",
            "tools/call reaches the backend under the prefixed name",
        ),
        (
            Defect::UnauthenticatedFallsBackToDefault,
            "unauthenticated-falls-back-to-default",
            "an explicit unauthenticated backend gets outgoingAuth.default",
        ),
        (Defect::DropPassthroughHeaders, "drop-passthrough-headers", "passthroughHeaders are not forwarded"),
        (Defect::NoExchangeCache, "no-exchange-cache", "exchanged tokens are never cached"),
        (
            Defect::ExchangeFailureFailsOpen,
            "exchange-failure-fails-open",
            "a failed token exchange sends the call without credentials",
        ),
        (Defect::CacheXaaToken, "cache-xaa-token", "the XAA access token is reused across calls"),
        (
            Defect::SkipCedarAuthorization,
            "skip-cedar-authorization",
            "tools/call is not checked against Cedar policies",
        ),
        (Defect::UnfilteredToolList, "unfiltered-tool-list", "tools/list is not filtered by the Cedar policies"),
        (
            Defect::AuthzClaimsFromVmcpToken,
            "authz-claims-from-vmcp-token",
            "Cedar reads the vMCP JWT's claims, not the primary upstream provider's",
        ),
        (
            Defect::AuthzForwardsDeniedCall,
            "authz-forwards-denied-call",
            "a call Cedar denies still reaches the backend",
        ),
        (Defect::AuthzIgnoreGroupClaims, "authz-ignore-group-claims", "group claims do not become THVGroup parents"),
        (Defect::AuthzDropNestedClaims, "authz-drop-nested-claims", "nested claims such as act never reach Cedar"),
        (
            Defect::AuthzIgnorePrimaryUpstream,
            "authz-ignore-primary-upstream",
            "Cedar reads the first upstream's claims even when primaryUpstreamProvider names another",
        ),
        (
            Defect::AcceptNonCedarAuthzConfig,
            "accept-non-cedar-authz-config",
            "a VirtualMCPServer accepts an httpv1 MCPAuthzConfig and runs without authorization",
        ),
        (Defect::IgnoreBackendTimeouts, "ignore-backend-timeouts", "config.operational.timeouts is ignored (120 s)"),
        (Defect::AcceptInvalidTimeout, "accept-invalid-timeout", "a timeout that is not a duration is ignored"),
        (Defect::AcceptAnyResource, "accept-any-resource", "a resource outside the allowed audiences is accepted"),
        (
            Defect::OmitStartupWarnings,
            "omit-startup-warnings",
            "no start-up warning for XAA without target credentials",
        ),
        (
            Defect::XaaFailureFailsOpen,
            "xaa-failure-fails-open",
            "a failed XAA exchange sends the call without credentials",
        ),
        (
            Defect::AuthorizationBaseOverridesAll,
            "authorization-base-overrides-all",
            "authorizationEndpointBaseUrl moves every endpoint, not only authorization_endpoint",
        ),
        (
            Defect::ScopesSupportedIgnoresConfig,
            "scopes-supported-ignores-config",
            "scopes_supported advertises the defaults instead of oidcConfigRef.scopes",
        ),
        (
            Defect::AllowHttpIssuer,
            "allow-http-issuer",
            "an http:// issuer on a non-loopback host is accepted without insecureAllowHTTP",
        ),
        (
            Defect::IgnoreInsecureAllowHttp,
            "ignore-insecure-allow-http",
            "insecureAllowHTTP is ignored: http:// issuers are always rejected",
        ),
        (
            Defect::IgnoreIssuerMismatch,
            "ignore-issuer-mismatch",
            "an MCPOIDCConfig issuer differing from authServerConfig.issuer is accepted",
        ),
        (Defect::AcceptShortHmacSecret, "accept-short-hmac-secret", "HMAC secrets shorter than 32 bytes are accepted"),
        (
            Defect::ReuseEphemeralSigningKey,
            "reuse-ephemeral-signing-key",
            "the ephemeral signing key survives a restart (one key per process)",
        ),
        (
            Defect::IgnoreSigningKeyRefs,
            "ignore-signing-key-refs",
            "signingKeySecretRefs are ignored: an ephemeral key signs",
        ),
        (
            Defect::DropFallbackSigningKeys,
            "drop-fallback-signing-keys",
            "only the first signingKeySecretRef verifies tokens; fallback keys are dropped",
        ),
        (Defect::IgnoreAuthCodeLifespan, "ignore-auth-code-lifespan", "expired authorization codes are still redeemed"),
        (Defect::AllowCodeReuse, "allow-code-reuse", "an authorization code can be redeemed twice"),
        (Defect::AllowRefreshReplay, "allow-refresh-replay", "a rotated-out refresh token is accepted again"),
        (
            Defect::AllowRefreshByOtherClient,
            "allow-refresh-by-other-client",
            "a refresh token is accepted from a client it was not issued to",
        ),
        (Defect::AcceptPlainPkce, "accept-plain-pkce", "code_challenge_method=plain is accepted at /oauth/authorize"),
        (
            Defect::LooseRedirectUriMatch,
            "loose-redirect-uri-match",
            "a redirect_uri that only starts with a registered one is accepted",
        ),
        (
            Defect::AcceptMissingState,
            "accept-missing-state",
            "authorization requests without state (or a short one) are accepted",
        ),
        (
            Defect::AcceptUnregisteredScope,
            "accept-unregistered-scope",
            "scopes the client did not register are granted",
        ),
        (
            Defect::InvalidClientWithoutChallenge,
            "invalid-client-without-challenge",
            "invalid_client after HTTP Basic lacks WWW-Authenticate",
        ),
        (Defect::OAuthErrorsCacheable, "oauth-errors-cacheable", "token endpoint errors lack Cache-Control: no-store"),
        (
            Defect::AcceptUnsupportedBaselineScopes,
            "accept-unsupported-baseline-scopes",
            "baselineClientScopes outside the supported scopes pass admission",
        ),
        (
            Defect::DcrIgnoreInitialAccessToken,
            "dcr-ignore-initial-access-token",
            "upstream registration omits the initial access token",
        ),
        (
            Defect::DcrCredentialsSurviveRestart,
            "dcr-credentials-survive-restart",
            "upstream DCR credentials outlive a memory-storage restart",
        ),
        (
            Defect::DcrIgnoreIssuedCredentials,
            "dcr-ignore-issued-credentials",
            "the upstream flow does not use the DCR-issued client ID",
        ),
        (
            Defect::IgnoreTokenResponseMapping,
            "ignore-token-response-mapping",
            "tokenResponseMapping is ignored (top-level tokens used)",
        ),
        (
            Defect::UserinfoWinsOverIdentityFromToken,
            "userinfo-wins-over-identity-from-token",
            "userInfo is called although identityFromToken is set",
        ),
        (
            Defect::IdentityFromTokenFallsBack,
            "identity-from-token-falls-back",
            "a failed identityFromToken extraction falls back (userInfo, else a synthesized identity)",
        ),
        (Defect::NoUpstreamJwtModifier, "no-upstreamjwt-modifier", "the @upstreamjwt gjson modifier is not understood"),
        (Defect::CimdIgnoresEnabled, "cimd-ignores-enabled", "URL client IDs are resolved with CIMD off"),
        (Defect::CimdNoCache, "cimd-no-cache", "CIMD documents are fetched on every use"),
        (Defect::CimdSkipClientIdCheck, "cimd-skip-client-id-check", "a CIMD client_id may differ from its URL"),
        (
            Defect::CimdAllowSharedSecret,
            "cimd-allow-shared-secret",
            "CIMD documents may declare client_secret_* auth methods",
        ),
        (
            Defect::CimdSkipDocumentRules,
            "cimd-skip-document-rules",
            "CIMD redirect_uris, grant/response types and scopes are not checked",
        ),
        (Defect::OmitCimdSupported, "omit-cimd-supported", "metadata lacks client_id_metadata_document_supported"),
        (
            Defect::TokenResponseCacheable,
            "token-response-cacheable",
            "successful token responses lack Cache-Control: no-store",
        ),
        (Defect::CimdAllowHttp, "cimd-allow-http", "CIMD URLs may be plain http on any host"),
        (
            Defect::AcceptHs256PublicKey,
            "accept-hs256-public-key",
            "the gateway accepts HS256 tokens keyed with a published public key (RFC 8725 §2.1)",
        ),
        (
            Defect::MetadataOmitsCodeFlow,
            "metadata-omits-code-flow",
            "metadata advertises response type token and no authorization_code grant",
        ),
        (
            Defect::RedirectErrorsToUnverifiedUri,
            "redirect-errors-to-unverified-uri",
            "an unregistered redirect_uri receives the error as a redirect (open redirector)",
        ),
        (
            Defect::JwksPublishesUnconfiguredKey,
            "jwks-publishes-unconfigured-key",
            "the JWKS publishes an extra generated key besides the configured ones",
        ),
        (Defect::AudienceIgnoresResource, "audience-ignores-resource", "issued aud is the issuer, not the resource"),
        (Defect::JwtIssuerTrailingSlash, "jwt-issuer-trailing-slash", "issued iss has a trailing slash"),
        (Defect::DropNameClaim, "drop-name-claim", "issued JWTs lack the name claim"),
        (Defect::NoRefreshRotation, "no-refresh-rotation", "the refresh grant returns the presented refresh token"),
        (
            Defect::RefusePublicClients,
            "refuse-public-clients",
            "the token endpoint demands a secret from public clients",
        ),
        (
            Defect::ForwardUnmappedUpstreamToken,
            "forward-unmapped-upstream-token",
            "with tokenResponseMapping the top-level access token is stored and forwarded",
        ),
        (
            Defect::SkipFieldAdmissionRules,
            "skip-field-admission-rules",
            "auth-server field rules (names, blocks, https URLs, claim names, durations, PEM, DCR) are not enforced",
        ),
        (Defect::CimdNoFetchTimeout, "cimd-no-fetch-timeout", "CIMD fetches wait 60 s instead of 5 s"),
        (Defect::CimdNoSizeCap, "cimd-no-size-cap", "CIMD documents over 10 KB are accepted"),
        (Defect::CimdFollowRedirects, "cimd-follow-redirects", "CIMD fetches follow redirects"),
        (
            Defect::SkipUpstreamIdTokenIssuer,
            "skip-upstream-id-token-issuer",
            "upstream ID tokens are accepted whatever their iss",
        ),
        (
            Defect::SkipUpstreamIdTokenExpiry,
            "skip-upstream-id-token-expiry",
            "upstream ID tokens are accepted after exp",
        ),
        (Defect::IgnoreSubjectClaim, "ignore-subject-claim", "oidcConfig.subjectClaim is ignored (sub is used)"),
        (
            Defect::UpstreamErrorsAsAccessDenied,
            "upstream-errors-as-access-denied",
            "a failed upstream leg is reported as access_denied, not server_error",
        ),
        (
            Defect::SkipUpstreamRefresh,
            "skip-upstream-refresh",
            "expired upstream tokens are forwarded stale instead of refreshed (or refused)",
        ),
        (Defect::AcceptAlgNone, "accept-alg-none", "the gateway accepts unsigned JWTs with alg none"),
        (
            Defect::SkipChainIdentityCheck,
            "skip-chain-identity-check",
            "a later upstream leg may vouch for another user than the first",
        ),
        (
            Defect::SynthesizedIdentityHasName,
            "synthesized-identity-has-name",
            "synthesis mode names the user after the synthesized subject",
        ),
        (
            Defect::OmitIdentitySynthesized,
            "omit-identity-synthesized",
            "no IdentitySynthesized condition for an OAuth 2.0 upstream without userInfo",
        ),
        (
            Defect::LeakClientIdUpstream,
            "leak-client-id-upstream",
            "the upstream authorization request carries the MCP client's client_id",
        ),
        (
            Defect::CallbackDefaultFromIssuer,
            "callback-default-from-issuer",
            "the default upstream redirectUri ignores oidcConfigRef.resourceUrl",
        ),
        (
            Defect::EndpointsUnderIssuerPath,
            "endpoints-under-issuer-path",
            "the OAuth endpoints move under the issuer's path instead of the host root",
        ),
        (
            Defect::ReuseEphemeralHmacSecret,
            "reuse-ephemeral-hmac-secret",
            "the ephemeral HMAC secret survives a restart (one per process)",
        ),
        (Defect::IgnoreBaselineScopes, "ignore-baseline-scopes", "baselineClientScopes are not merged into clients"),
        (Defect::SkipRedirectUriValidation, "skip-redirect-uri-validation", "registration accepts any redirect URI"),
        (
            Defect::RegisterAcceptsUnsupportedScope,
            "register-accepts-unsupported-scope",
            "registration accepts scopes outside scopes_supported",
        ),
        (
            Defect::OidcDefaultScopesOpenidOnly,
            "oidc-default-scopes-openid-only",
            "an OIDC upstream without scopes is asked for openid only",
        ),
        (
            Defect::DropAdditionalAuthorizationParams,
            "drop-additional-authorization-params",
            "additionalAuthorizationParams never reach the upstream",
        ),
        (Defect::DropUserInfoHeaders, "drop-userinfo-headers", "userInfo.additionalHeaders are not sent"),
        (Defect::NoBodyLimit, "no-body-limit", "authorization server routes accept bodies of any size"),
        (
            Defect::UnknownGrantAsInvalidRequest,
            "unknown-grant-as-invalid-request",
            "an unknown grant_type gets invalid_request instead of unsupported_grant_type",
        ),
        (Defect::IgnoreRedisStorage, "ignore-redis-storage", "storage.type redis is ignored: sessions stay in memory"),
        (
            Defect::RedisKeysOutsidePrefix,
            "redis-keys-outside-prefix",
            "Redis keys lack the {<namespace>:<name>} part of the prefix",
        ),
        (Defect::RedisSkipWait, "redis-skip-wait", "Redis writes are not waited for on a replica"),
        (Defect::MemorySurvivesRestart, "memory-survives-restart", "memory session storage survives a restart"),
        (
            Defect::RedisIgnoreAclUser,
            "redis-ignore-acl-user",
            "the Redis storage connects as the default user, not the ACL user",
        ),
        (Defect::RedisProbeRole, "redis-probe-role", "the Redis storage sends ROLE, outside the documented ACL"),
        (Defect::RedisSwallowErrors, "redis-swallow-errors", "Redis read failures look like absent records"),
        (
            Defect::RedisNoReconnect,
            "redis-no-reconnect",
            "the Redis storage never reconnects after a broken connection",
        ),
        (
            Defect::RedisTakeKeepsRecord,
            "redis-take-keeps-record",
            "Redis take reads without deleting: two refreshes can both win",
        ),
        (
            Defect::RedisTlsAcceptAny,
            "redis-tls-accept-any",
            "Redis TLS accepts any server certificate, whatever caCertSecretRef holds",
        ),
        (
            Defect::RedisSentinelPlaintext,
            "redis-sentinel-plaintext",
            "with only tls set, Sentinel connections stay in plaintext",
        ),
        (
            Defect::RedisIgnoreSentinelTls,
            "redis-ignore-sentinel-tls",
            "sentinelTls is ignored: Sentinel connections are verified with the master's CA",
        ),
        (
            Defect::RedisIgnoreInsecureSkipVerify,
            "redis-ignore-insecure-skip-verify",
            "tls.insecureSkipVerify is ignored",
        ),
        (
            Defect::RedisClusterIgnoreHashTag,
            "redis-cluster-ignore-hash-tag",
            "in cluster mode the key prefix loses its {hash tag}: a server's keys spread over slots",
        ),
        (
            Defect::RedisAcceptConflictingModes,
            "redis-accept-conflicting-modes",
            "addr with sentinelConfig, or sentinelAddrs with sentinelService, is accepted (one is dropped)",
        ),
        (
            Defect::IgnoreSessionStore,
            "ignore-session-store",
            "spec.sessionStorage is ignored: MCP sessions stay in each replica's memory",
        ),
        (
            Defect::IgnoreSessionKeyPrefix,
            "ignore-session-key-prefix",
            "sessionStorage.keyPrefix is ignored: sessions go under thv:vmcp:session:",
        ),
        (
            Defect::SessionStoreProcessCache,
            "session-store-process-cache",
            "MCP sessions are cached in process memory in front of Redis (a Redis restart loses nothing)",
        ),
        (
            Defect::SkipCaBundleCheck,
            "skip-ca-bundle-check",
            "an MCPOIDCConfig's caBundleRef is not resolved (no CABundleRefValidated condition)",
        ),
        (
            Defect::IgnoreSessionStorage,
            "ignore-session-storage",
            "SessionStorageWarning stays True even when sessionStorage names Redis",
        ),
        (Defect::SkipGroupCheck, "skip-group-check", "the MCPGroup does not report MCPServersChecked"),
        (
            Defect::SkipExternalAuthValid,
            "skip-external-auth-valid",
            "a referenced MCPExternalAuthConfig reports no Valid condition (nothing for the consumer to mirror)",
        ),
        (
            Defect::ValidateSkipRequired,
            "validate-skip-required",
            "`validate` accepts a vmcp.yaml missing required fields",
        ),
        (Defect::QuickModeAnyHost, "quick-mode-any-host", "`serve --group` binds a non-loopback --host"),
        (Defect::GroupWinsOverConfig, "group-wins-over-config", "`serve --config X --group Y` serves the group, not X"),
        (Defect::ValidateRefusesSse, "validate-refuses-sse", "`validate` refuses a backend with transport: sse"),
        (
            Defect::ServeIgnoresIncomingAuth,
            "serve-ignores-incoming-auth",
            "`serve` ignores incomingAuth and serves anonymously",
        ),
        (
            Defect::SessionTtlIgnored,
            "session-ttl-ignored",
            "`serve --session-ttl` is ignored: idle MCP sessions live on",
        ),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(d, _, _)| *d == self).map(|(_, n, _)| *n).unwrap_or("unknown")
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Defect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().find(|(_, n, _)| *n == s).map(|(d, _, _)| *d).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|(_, n, _)| *n).collect();
            format!("unknown defect switch `{s}`; known switches: {}", known.join(", "))
        })
    }
}

/// The set of switches a reference target runs with (empty in every normal run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeSet<Defect>);

impl Defects {
    pub fn none() -> Self {
        Self::default()
    }
    pub fn with(mut self, d: Defect) -> Self {
        self.0.insert(d);
        self
    }
    pub fn is_on(&self, d: Defect) -> bool {
        self.0.contains(&d)
    }
    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
    /// Parses a comma-separated list, as given to `--defect` or `VMCP_CONFORMANCE_DEFECTS`.
    pub fn parse_list(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            set.insert(part.parse()?);
        }
        Ok(Self(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (d, name, _) in Defect::ALL {
            assert_eq!(name.parse::<Defect>().unwrap(), *d);
            assert_eq!(d.name(), *name);
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = Defects::parse_list("nope").unwrap_err();
        assert!(err.contains("inject-wrong-provider-token"), "{err}");
    }
}
