//! Proof that the checks can fail (rule 3 of ARCHITECTURE.md): the suite is run against the
//! reference target with one defect switch on, and the scenarios covering that defect must fail
//! on the check that names it, while the run as a whole reports the failure.

use std::process::Command;

struct Case {
    defect: &'static str,
    /// Tag expression selecting the scenarios that cover the defect.
    tags: &'static str,
    /// The check id that must be reported as failing.
    failing_check: &'static str,
}

const CASES: &[Case] = &[
    Case { defect: "inject-wrong-provider-token", tags: "@claim-O15", failing_check: "upstream-inject.provider-token" },
    Case { defect: "skip-issuer-check", tags: "@as-jwt-issuer", failing_check: "incoming.token-refused" },
    Case { defect: "reverse-upstream-chain", tags: "@claim-M4", failing_check: "multi-upstream.chain-order" },
    Case { defect: "omit-resource-metadata", tags: "@claim-W4", failing_check: "incoming.401-challenge" },
    Case {
        defect: "leak-client-authorization",
        tags: "@claim-N1",
        failing_check: "outgoing.unlisted-backend-unauthenticated",
    },
    Case { defect: "skip-signature-check", tags: "@claim-J1", failing_check: "incoming.token-refused" },
    Case { defect: "skip-expiry-check", tags: "@claim-L2 and @slow", failing_check: "incoming.token-refused" },
    Case { defect: "double-access-token-lifespan", tags: "@claim-L1", failing_check: "lifespan.access-token" },
    Case { defect: "omit-registration-endpoint", tags: "@claim-W1", failing_check: "as-metadata.field" },
    Case { defect: "skip-pkce-verification", tags: "@rfc7636", failing_check: "oauth.error-response" },
    // Issue 4: the gateway's outgoing strategies, passthrough headers and anonymous incoming auth.
    Case {
        defect: "exchange-omit-audience",
        tags: "@claim-O10 and @claim-O12",
        failing_check: "token-exchange.request",
    },
    Case { defect: "exchange-swap-subject", tags: "@claim-O12", failing_check: "token-exchange.subject-token" },
    Case { defect: "exchange-swap-subject", tags: "@claim-O13", failing_check: "token-exchange.subject-token" },
    Case {
        defect: "exchange-forward-subject-token",
        tags: "@claim-O10 and @claim-O12",
        failing_check: "token-exchange.backend-token",
    },
    Case { defect: "skip-header-injection", tags: "@claim-O6", failing_check: "header-injection.header" },
    Case { defect: "skip-header-injection", tags: "@claim-T3", failing_check: "header-injection.header" },
    Case { defect: "ignore-outgoing-default", tags: "@claim-O2", failing_check: "outgoing.default-applied" },
    Case {
        defect: "ignore-disable-upstream-token-injection",
        tags: "@claim-T2",
        failing_check: "token-injection-disabled.no-credentials",
    },
    Case { defect: "allow-injection-disabled-with-exchange", tags: "@claim-T4", failing_check: "startup.refused" },
    Case { defect: "passthrough-unlisted-headers", tags: "@claim-O25", failing_check: "passthrough.unlisted-dropped" },
    Case { defect: "passthrough-overrides-strategy", tags: "@claim-O26", failing_check: "passthrough.strategy-wins" },
    Case { defect: "anonymous-requires-token", tags: "@claim-J3", failing_check: "incoming.anonymous-allowed" },
    Case {
        defect: "skip-audience-check",
        tags: "@claim-J5 and @external-idp",
        failing_check: "incoming.token-refused",
    },
    Case { defect: "no-jwks-refetch", tags: "@key-rotation", failing_check: "incoming.token-accepted" },
    Case { defect: "skip-introspection", tags: "@claim-J6", failing_check: "incoming.introspection" },
    Case { defect: "ignore-required-subject", tags: "@claim-J8", failing_check: "incoming.token-refused" },
    Case { defect: "omit-registration-endpoint", tags: "@python-sdk", failing_check: "interop.python-sdk" },
    Case { defect: "xaa-omit-resource", tags: "@claim-O19", failing_check: "xaa.step-a" },
    Case { defect: "xaa-forward-id-jag", tags: "@claim-O20", failing_check: "xaa.backend-token" },
    Case { defect: "raw-parse-error", tags: "@gateway-failures", failing_check: "gateway.parse-error" },
    Case { defect: "gateway-no-body-limit", tags: "@gateway-failures", failing_check: "gateway.body-limit" },
    Case {
        defect: "inject-wrong-provider-token",
        tags: "@claim-O17",
        failing_check: "upstream-inject.remote-entry-token",
    },
    // Issue 5: Redis session storage (real Redis + Sentinel containers).
    Case { defect: "ignore-redis-storage", tags: "@claim-S2", failing_check: "redis.restart.session-kept" },
    Case { defect: "memory-survives-restart", tags: "@claim-S1", failing_check: "memory.restart.session-lost" },
    Case { defect: "redis-ignore-acl-user", tags: "@claim-S7", failing_check: "redis.acl.user" },
    Case { defect: "redis-keys-outside-prefix", tags: "@claim-S8", failing_check: "redis.keys.prefix" },
    Case { defect: "redis-probe-role", tags: "@claim-S9", failing_check: "redis.acl.categories-suffice" },
    Case { defect: "redis-swallow-errors", tags: "@claim-S14", failing_check: "redis.outage.clear-error" },
    Case { defect: "redis-no-reconnect", tags: "@claim-S14", failing_check: "redis.session.served-again" },
    Case { defect: "redis-no-reconnect", tags: "@failover", failing_check: "redis.session.served-again" },
    Case { defect: "redis-skip-wait", tags: "@redis-wait", failing_check: "redis.wait.replicated-before-complete" },
    Case { defect: "ignore-redis-storage", tags: "@redis-replicas", failing_check: "redis.replicas.shared-session" },
    Case { defect: "redis-take-keeps-record", tags: "@redis-replicas", failing_check: "redis.refresh.single-winner" },
    // Issue 3: the embedded authorization server.
    Case { defect: "authorization-base-overrides-all", tags: "@as-authz-base", failing_check: "as-metadata.field" },
    Case { defect: "scopes-supported-ignores-config", tags: "@as-scopes", failing_check: "as-metadata.list" },
    Case { defect: "allow-http-issuer", tags: "@as-http-issuer", failing_check: "bundle.status-condition" },
    Case { defect: "ignore-insecure-allow-http", tags: "@as-insecure-http", failing_check: "bundle.status-condition" },
    Case { defect: "ignore-issuer-mismatch", tags: "@as-issuer-mismatch", failing_check: "bundle.status-condition" },
    Case { defect: "accept-short-hmac-secret", tags: "@as-short-hmac", failing_check: "bundle.status-condition" },
    Case {
        defect: "reuse-ephemeral-signing-key",
        tags: "@as-ephemeral-restart",
        failing_check: "incoming.token-refused",
    },
    Case {
        defect: "ignore-signing-key-refs",
        tags: "@as-persistent-restart",
        failing_check: "incoming.token-accepted",
    },
    Case { defect: "drop-fallback-signing-keys", tags: "@as-key-rotation", failing_check: "incoming.token-accepted" },
    Case { defect: "ignore-auth-code-lifespan", tags: "@as-code-lifespan", failing_check: "oauth.error-response" },
    Case { defect: "allow-code-reuse", tags: "@as-code-reuse", failing_check: "oauth.error-response" },
    Case { defect: "allow-refresh-replay", tags: "@as-refresh-rotation", failing_check: "oauth.error-response" },
    Case {
        defect: "allow-refresh-by-other-client",
        tags: "@as-refresh-other-client",
        failing_check: "oauth.error-response",
    },
    Case { defect: "accept-plain-pkce", tags: "@as-plain-pkce", failing_check: "authorize.error-redirect" },
    Case { defect: "accept-missing-state", tags: "@as-missing-state", failing_check: "authorize.error-redirect" },
    Case { defect: "loose-redirect-uri-match", tags: "@as-redirect-uri", failing_check: "oauth.error-response" },
    Case {
        defect: "accept-unregistered-scope",
        tags: "@as-unregistered-scope",
        failing_check: "authorize.error-redirect",
    },
    Case {
        defect: "unknown-grant-as-invalid-request",
        tags: "@as-unknown-grant",
        failing_check: "oauth.error-response",
    },
    Case {
        defect: "invalid-client-without-challenge",
        tags: "@as-basic-secret",
        failing_check: "oauth.invalid-client-challenge",
    },
    Case { defect: "oauth-errors-cacheable", tags: "@as-malformed-body", failing_check: "oauth.error-response" },
    Case { defect: "no-body-limit", tags: "@as-oversized-body", failing_check: "http.status" },
    Case { defect: "skip-audience-check", tags: "@as-jwt-audience", failing_check: "incoming.token-refused" },
    Case { defect: "skip-expiry-check", tags: "@as-jwt-expired", failing_check: "incoming.token-refused" },
    Case {
        defect: "double-access-token-lifespan",
        tags: "@as-default-lifespan",
        failing_check: "lifespan.access-token",
    },
    Case { defect: "skip-redirect-uri-validation", tags: "@as-dcr-redirect", failing_check: "oauth.error-response" },
    Case { defect: "register-accepts-unsupported-scope", tags: "@as-dcr-scope", failing_check: "oauth.error-response" },
    Case { defect: "accept-unregistered-scope", tags: "@as-narrowed-scope", failing_check: "authorize.error-redirect" },
    Case { defect: "ignore-baseline-scopes", tags: "@as-baseline", failing_check: "authorize.accepted" },
    Case {
        defect: "accept-unsupported-baseline-scopes",
        tags: "@as-baseline-unsupported",
        failing_check: "bundle.status-condition",
    },
    Case {
        defect: "oidc-default-scopes-openid-only",
        tags: "@as-oidc-default-scopes",
        failing_check: "upstream.authorize-param",
    },
    Case {
        defect: "drop-additional-authorization-params",
        tags: "@as-auth-params",
        failing_check: "upstream.authorize-param",
    },
    Case { defect: "drop-userinfo-headers", tags: "@as-userinfo-headers", failing_check: "upstream.userinfo-header" },
    Case { defect: "omit-cimd-supported", tags: "@as-cimd-flag", failing_check: "as-metadata.flag" },
    Case { defect: "cimd-ignores-enabled", tags: "@as-cimd-off", failing_check: "oauth.error-response" },
    Case { defect: "cimd-no-cache", tags: "@as-cimd-login", failing_check: "cimd.fetch-count" },
    Case { defect: "cimd-skip-client-id-check", tags: "@as-cimd-client-id", failing_check: "oauth.error-response" },
    Case { defect: "cimd-allow-shared-secret", tags: "@as-cimd-secret", failing_check: "oauth.error-response" },
    Case { defect: "cimd-skip-document-rules", tags: "@as-cimd-rules", failing_check: "oauth.error-response" },
    Case { defect: "ignore-baseline-scopes", tags: "@as-cimd-baseline", failing_check: "authorize.accepted" },
    Case { defect: "ignore-token-response-mapping", tags: "@as-slack", failing_check: "upstream.identity-login" },
    Case { defect: "userinfo-wins-over-identity-from-token", tags: "@as-slack", failing_check: "upstream.no-userinfo" },
    Case {
        defect: "identity-from-token-falls-back",
        tags: "@as-identity-fails",
        failing_check: "upstream.identity-failure",
    },
    Case { defect: "no-upstreamjwt-modifier", tags: "@as-upstreamjwt", failing_check: "upstream.identity-login" },
    Case {
        defect: "dcr-credentials-survive-restart",
        tags: "@as-dcr-restart",
        failing_check: "upstream-dcr.registrations",
    },
    Case {
        defect: "dcr-ignore-initial-access-token",
        tags: "@as-dcr-iat",
        failing_check: "upstream-dcr.initial-access-token",
    },
    Case {
        defect: "dcr-ignore-issued-credentials",
        tags: "@as-dcr-discovery",
        failing_check: "upstream-dcr.client-id",
    },
];

fn run_with_defect(index: usize, case: &Case) -> (bool, String) {
    let out_dir = std::env::temp_dir().join(format!("vmcp-conformance-defect-{}-{index}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_vmcp-conformance"))
        .args(["run", "--defect", case.defect, "--tags", case.tags, "--concurrency", "4"])
        .arg("--junit")
        .arg(out_dir.join("junit.xml"))
        .arg("--json")
        .arg(out_dir.join("cucumber.json"))
        .output()
        .expect("the vmcp-conformance binary runs");
    let text = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Runs at once: each run starts its own targets and mocks, and the machine has 2 cores.
const PARALLEL_RUNS: usize = 4;

#[test]
fn every_defect_switch_fails_the_scenarios_that_cover_it() {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_RUNS {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = CASES.get(index) else { break };
                    let outcome = run_with_defect(index, case);
                    results.lock().unwrap_or_else(|p| p.into_inner()).push((case, outcome));
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut problems = Vec::new();
    for (case, (succeeded, text)) in results {
        let closing = text.lines().rev().find(|l| l.contains(" passed, ")).unwrap_or("").to_string();
        if closing.starts_with("0 passed, 0 failed") {
            problems.push(format!("--defect {}: `{}` selected no scenario", case.defect, case.tags));
        } else if succeeded {
            problems
                .push(format!("--defect {} passed `{}` ({closing}): the check cannot fail", case.defect, case.tags));
        } else if !text.contains(&format!("[{}]", case.failing_check)) {
            problems.push(format!(
                "--defect {} failed, but not on check [{}]:\n{}",
                case.defect,
                case.failing_check,
                text.lines().filter(|l| l.contains('[') || l.contains("passed")).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
