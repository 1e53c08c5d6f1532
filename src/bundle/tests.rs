//! Bundle tests with small manifests written for these tests.

use std::time::Duration;

use super::*;
use crate::authserver::config::UpstreamKind;
use crate::vmcp::config::{BackendKind, IncomingAuthConfig, OutgoingStrategy};

/// Two upstreams (an OAuth2 one with userinfo, an OIDC one), two MCPServers and an
/// MCPServerEntry in the group, inline outgoing auth with upstream injection and header injection.
fn valid_bundle() -> String {
    r#"
apiVersion: v1
kind: Secret
metadata: {name: as-keys, namespace: team-a}
stringData:
  signing: |
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg
    -----END PRIVATE KEY-----
  hmac: 0123456789abcdef0123456789abcdef-extra
---
apiVersion: v1
kind: Secret
metadata: {name: idp-clients, namespace: team-a}
data:
  forge: Zm9yZ2Utc2VjcmV0
  corp: Y29ycC1zZWNyZXQ=
---
apiVersion: v1
kind: Secret
metadata: {name: api-token, namespace: team-a}
stringData:
  value: Bearer static-123
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPGroup
metadata: {name: tools, namespace: team-a}
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPOIDCConfig
metadata: {name: vmcp-oidc, namespace: team-a}
spec:
  type: inline
  inline:
    issuer: https://login.test
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPServer
metadata: {name: srv-forge, namespace: team-a}
spec:
  image: example/forge-mcp
  transport: streamable-http
  groupRef: {name: tools}
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPServer
metadata: {name: srv-api, namespace: team-a}
spec:
  image: example/api-mcp
  transport: streamable-http
  groupRef: {name: tools}
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPServerEntry
metadata: {name: remote-docs, namespace: team-a}
spec:
  groupRef: {name: tools}
  remoteUrl: https://docs.test/mcp
  transport: streamable-http
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPExternalAuthConfig
metadata: {name: use-forge, namespace: team-a}
spec:
  type: upstreamInject
  upstreamInject:
    providerName: forge
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPExternalAuthConfig
metadata: {name: api-header, namespace: team-a}
spec:
  type: headerInjection
  headerInjection:
    headerName: Authorization
    valueSecretRef: {name: api-token, key: value}
---
apiVersion: toolhive.stacklok.dev/v1beta1
kind: VirtualMCPServer
metadata: {name: gateway, namespace: team-a}
spec:
  groupRef: {name: tools}
  config:
    aggregation:
      conflictResolution: prefix
      conflictResolutionConfig: {prefixFormat: "{workload}__"}
  passthroughHeaders: [X-Trace-Id]
  authServerConfig:
    issuer: https://login.test
    signingKeySecretRefs: [{name: as-keys, key: signing}]
    hmacSecretRefs: [{name: as-keys, key: hmac}]
    tokenLifespans: {accessTokenLifespan: 30m, refreshTokenLifespan: 1h30m, authCodeLifespan: 90s}
    upstreamProviders:
      - name: forge
        type: oauth2
        oauth2Config:
          authorizationEndpoint: https://forge.test/authorize
          tokenEndpoint: https://forge.test/token
          clientId: forge-client
          clientSecretRef: {name: idp-clients, key: forge}
          scopes: [repo]
          userInfo:
            endpointUrl: https://forge.test/user
            fieldMapping: {subjectFields: [id, login]}
      - name: corp
        type: oidc
        oidcConfig:
          issuerUrl: https://corp.test
          clientId: corp-client
          clientSecretRef: {name: idp-clients, key: corp}
          additionalAuthorizationParams: {prompt: consent}
  incomingAuth:
    type: oidc
    oidcConfigRef:
      name: vmcp-oidc
      audience: https://gateway.test/mcp
  outgoingAuth:
    source: inline
    backends:
      srv-forge:
        type: externalAuthConfigRef
        externalAuthConfigRef: {name: use-forge}
      srv-api:
        type: externalAuthConfigRef
        externalAuthConfigRef: {name: api-header}
"#
    .to_string()
}

fn env() -> Environment {
    Environment {
        backend_urls: [
            ("srv-forge".to_string(), "http://127.0.0.1:9001/mcp".to_string()),
            ("srv-api".to_string(), "http://127.0.0.1:9002/mcp".to_string()),
        ]
        .into(),
        ..Environment::default()
    }
}

fn reconcile(yaml: &str) -> Reconciled {
    Bundle::from_yaml(yaml).unwrap_or_else(|e| panic!("bundle should load: {e}")).reconcile(&env())
}

const VMCP: &str = "VirtualMCPServer/gateway";

/// Asserts `type_` is False on the VirtualMCPServer with `reason` and a message containing each
/// of `needles`, and that the runtime is withheld.
fn assert_fails(r: &Reconciled, type_: &str, reason: &str, needles: &[&str]) {
    let c = r.condition(VMCP, type_).unwrap_or_else(|| panic!("no {type_} condition in {:#?}", r.conditions));
    assert!(!c.status, "{c}");
    assert_eq!(c.reason, reason, "{c}");
    for n in needles {
        assert!(c.message.contains(n), "message lacks {n:?}: {c}");
    }
    assert!(r.runtime.is_none(), "runtime must be withheld when {type_} fails");
}

#[test]
fn valid_two_upstream_bundle_translates() {
    let r = reconcile(&valid_bundle());
    for c in &r.conditions {
        assert!(c.status, "unexpected failure: {c}");
    }
    let c = r.condition(VMCP, "AuthServerConfigValidated").unwrap();
    assert_eq!(c.reason, "AuthServerConfigValid");
    let rt = r.runtime.expect("runtime");

    let v = &rt.vmcp;
    assert_eq!(v.name, "gateway");
    let names: Vec<(&str, &str, BackendKind)> =
        v.backends.iter().map(|b| (b.name.as_str(), b.url.as_str(), b.kind)).collect();
    assert_eq!(
        names,
        vec![
            ("remote-docs", "https://docs.test/mcp", BackendKind::McpServerEntry),
            ("srv-api", "http://127.0.0.1:9002/mcp", BackendKind::McpServer),
            ("srv-forge", "http://127.0.0.1:9001/mcp", BackendKind::McpServer),
        ]
    );
    let IncomingAuthConfig::Oidc(inc) = &v.incoming else { panic!("oidc expected") };
    assert_eq!(inc.issuer, "https://login.test");
    assert_eq!(inc.audience, "https://gateway.test/mcp");
    assert_eq!(inc.resource_url, "https://gateway.test/mcp");
    assert_eq!(inc.scopes, vec!["openid"]);
    assert_eq!(inc.jwks_url, None);
    assert_eq!(
        v.outgoing.for_backend("srv-forge"),
        &OutgoingStrategy::UpstreamInject { provider_name: "forge".into() }
    );
    assert_eq!(
        v.outgoing.for_backend("srv-api"),
        &OutgoingStrategy::HeaderInjection {
            header_name: "Authorization".into(),
            header_value: "Bearer static-123".into()
        }
    );
    assert_eq!(v.outgoing.for_backend("remote-docs"), &OutgoingStrategy::Unauthenticated);
    assert_eq!(v.aggregation.prefixed("srv-api", "get"), "srv-api__get");
    assert_eq!(rt.passthrough_headers, vec!["X-Trace-Id"]);
    assert_eq!(rt.auth_storage, StorageConfig::Memory);

    let a = rt.auth_server.expect("auth server");
    assert_eq!(a.issuer, "https://login.test");
    assert_eq!(a.signing_keys_pem.len(), 1);
    assert!(a.signing_keys_pem[0].starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(a.hmac_secrets, vec![b"0123456789abcdef0123456789abcdef-extra".to_vec()]);
    assert_eq!(a.lifespans.access_token, Duration::from_secs(1800));
    assert_eq!(a.lifespans.refresh_token, Duration::from_secs(5400));
    assert_eq!(a.lifespans.auth_code, Duration::from_secs(90));
    assert_eq!(a.scopes_supported, vec!["openid", "profile", "email", "offline_access"]);
    assert_eq!(a.allowed_audiences, vec!["https://gateway.test/mcp"]);
    assert!(!a.insecure_allow_http);
    let ups: Vec<&str> = a.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(ups, vec!["forge", "corp"]);
    let UpstreamKind::OAuth2(forge) = &a.upstreams[0].kind else { panic!("oauth2 expected") };
    assert_eq!(forge.client_secret.as_deref(), Some("forge-secret"));
    assert_eq!(forge.redirect_uri, "https://login.test/oauth/callback");
    assert_eq!(forge.scopes, vec!["repo"]);
    let ui = forge.userinfo.as_ref().unwrap();
    assert_eq!(ui.http_method, "GET");
    assert_eq!(ui.field_mapping.subject_fields, vec!["id", "login"]);
    assert_eq!(ui.field_mapping.name_fields, vec!["name"]);
    let UpstreamKind::Oidc(corp) = &a.upstreams[1].kind else { panic!("oidc expected") };
    assert_eq!(corp.client_secret.as_deref(), Some("corp-secret"));
    assert_eq!(corp.scopes, vec!["openid", "offline_access"]);
    assert_eq!(corp.redirect_uri, "https://login.test/oauth/callback");
    assert_eq!(corp.additional_authorization_params.get("prompt").map(String::as_str), Some("consent"));
}

#[test]
fn oidc_config_ref_overrides_feed_both_sides() {
    let yaml = valid_bundle()
        .replace(
            "      audience: https://gateway.test/mcp\n",
            "      audience: https://gateway.test/mcp\n      resourceUrl: https://gateway.test/mcp\n      scopes: [openid, offline_access]\n",
        )
        .replace("issuer: https://login.test\n---", "issuer: https://login.test\n    jwksUrl: https://login.test/jwks\n---")
        .replace("          clientId: corp-client\n", "          clientId: corp-client\n          redirectUri: https://cb.test/cb\n");
    let rt = reconcile(&yaml).runtime.expect("runtime");
    let a = rt.auth_server.unwrap();
    assert_eq!(a.scopes_supported, vec!["openid", "offline_access"]);
    let IncomingAuthConfig::Oidc(inc) = &rt.vmcp.incoming else { panic!() };
    assert_eq!(inc.scopes, vec!["openid", "offline_access"]);
    assert_eq!(inc.jwks_url.as_deref(), Some("https://login.test/jwks"));
    let UpstreamKind::Oidc(corp) = &a.upstreams[1].kind else { panic!() };
    assert_eq!(corp.redirect_uri, "https://cb.test/cb");
}

#[test]
fn http_issuer_rules() {
    let http = |issuer: &str, extra: &str| {
        valid_bundle()
            .replace(
                "    issuer: https://login.test\n    signing",
                &format!("    issuer: {issuer}\n{extra}    signing"),
            )
            .replace(
                "  inline:\n    issuer: https://login.test",
                &format!("  inline:\n    issuer: {issuer}\n    insecureAllowHTTP: true"),
            )
    };
    let r = reconcile(&http("http://auth.team-a.svc.cluster.local", ""));
    assert_fails(
        &r,
        "AuthServerConfigValidated",
        "AuthServerConfigInvalid",
        &[
            "spec.authServerConfig.issuer",
            "insecureAllowHTTP",
            "embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server",
        ],
    );
    let r = reconcile(&http("http://auth.team-a.svc.cluster.local", "    insecureAllowHTTP: true\n"));
    assert!(r.runtime.is_some(), "{:#?}", r.conditions);
    assert!(r.runtime.unwrap().auth_server.unwrap().insecure_allow_http);
    assert!(reconcile(&http("http://localhost:8080", "")).runtime.is_some());
    assert!(reconcile(&http("http://127.0.0.1:8080", "")).runtime.is_some());
}

#[test]
fn issuer_with_trailing_slash_query_or_fragment_fails() {
    for (issuer, needle) in
        [("https://login.test/", "slash"), ("https://login.test?a=b", "query"), ("https://login.test#x", "fragment")]
    {
        let yaml = valid_bundle()
            .replace("    issuer: https://login.test\n    signing", &format!("    issuer: {issuer:?}\n    signing"));
        assert_fails(&reconcile(&yaml), "AuthServerConfigValidated", "AuthServerConfigInvalid", &[needle]);
    }
}

#[test]
fn provider_name_must_name_an_upstream() {
    let yaml = valid_bundle().replace("providerName: forge", "providerName: frge");
    assert_fails(
        &reconcile(&yaml),
        "AuthServerConfigValidated",
        "AuthServerConfigInvalid",
        &["spec.outgoingAuth.backends.srv-forge -> MCPExternalAuthConfig/use-forge spec.upstreamInject.providerName \
             \"frge\" names no upstream in spec.authServerConfig.upstreamProviders [forge, corp] \
             (embedded-auth-server-vmcp.mdx#how-the-references-link-by-name)"],
    );
}

#[test]
fn subject_provider_name_must_name_an_upstream_even_for_unimplemented_strategies() {
    let yaml = valid_bundle()
        .replace(
            "  type: upstreamInject\n  upstreamInject:\n    providerName: forge",
            "  type: tokenExchange\n  tokenExchange:\n    tokenUrl: https://sts.test/token\n    audience: backend\n    subjectProviderName: okta",
        );
    assert_fails(
        &reconcile(&yaml),
        "AuthServerConfigValidated",
        "AuthServerConfigInvalid",
        &["spec.tokenExchange.subjectProviderName \"okta\" names no upstream"],
    );
}

#[test]
fn unimplemented_strategy_leaves_the_backend_out() {
    let yaml = valid_bundle().replace(
        "  type: upstreamInject\n  upstreamInject:\n    providerName: forge",
        "  type: awsSts\n  awsSts:\n    region: eu-west-1\n    fallbackRoleArn: arn:aws:iam::123456789012:role/mcp\n    subjectProviderName: corp",
    );
    let r = reconcile(&yaml);
    let c = r.condition(VMCP, "BackendAuthConfig-srv-forge").expect("per-backend condition");
    assert!(!c.status);
    assert_eq!(c.reason, "StrategyNotImplemented");
    assert!(c.message.contains("awsSts"), "{c}");
    let rt = r.runtime.expect("the rest keeps serving");
    let names: Vec<&str> = rt.vmcp.backends.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, vec!["remote-docs", "srv-api"]);
}

#[test]
fn mcp_oidc_config_issuer_must_match() {
    let yaml = valid_bundle()
        .replace("  inline:\n    issuer: https://login.test", "  inline:\n    issuer: https://other.test");
    assert_fails(
        &reconcile(&yaml),
        "AuthServerConfigValidated",
        "AuthServerConfigInvalid",
        &["\"https://other.test\" differs from spec.authServerConfig.issuer", "#how-the-references-link-by-name"],
    );
}

#[test]
fn embedded_auth_server_requires_oidc_incoming_auth() {
    let yaml = valid_bundle().replace(
        "  incomingAuth:\n    type: oidc\n    oidcConfigRef:\n      name: vmcp-oidc\n      audience: https://gateway.test/mcp\n",
        "  incomingAuth:\n    type: anonymous\n",
    );
    assert_fails(
        &reconcile(&yaml),
        "AuthServerConfigValidated",
        "AuthServerConfigInvalid",
        &["spec.incomingAuth.type is anonymous"],
    );
}

#[test]
fn short_hmac_secret_fails() {
    let short = "x".repeat(31);
    let yaml = valid_bundle().replace("hmac: 0123456789abcdef0123456789abcdef-extra", &format!("hmac: {short}"));
    assert_fails(
        &reconcile(&yaml),
        "AuthServerConfigValidated",
        "AuthServerConfigInvalid",
        &["hmacSecretRefs[0]", "holds 31 bytes", "at least 32 bytes", "#step-3-create-a-secret-for-hmac-keys"],
    );
    let exact = "x".repeat(32);
    let yaml = valid_bundle().replace("hmac: 0123456789abcdef0123456789abcdef-extra", &format!("hmac: {exact}"));
    assert!(reconcile(&yaml).runtime.is_some());
}

#[test]
fn no_upstreams_fails() {
    let start = valid_bundle();
    let from = start.find("    upstreamProviders:").unwrap();
    let to = start.find("  incomingAuth:").unwrap();
    let yaml = format!("{}    upstreamProviders: []\n{}", &start[..from], &start[to..])
        .replace("  type: upstreamInject\n  upstreamInject:\n    providerName: forge", "  type: unauthenticated");
    assert_fails(
        &reconcile(&yaml),
        "AuthServerConfigValidated",
        "AuthServerConfigInvalid",
        &["upstreamProviders is empty"],
    );
}

#[test]
fn unknown_primary_upstream_provider_fails() {
    let yaml = valid_bundle()
        .replace("    upstreamProviders:\n", "    primaryUpstreamProvider: gitlab\n    upstreamProviders:\n");
    assert_fails(
        &reconcile(&yaml),
        "AuthServerConfigValidated",
        "AuthzUpstreamUnknown",
        &["primaryUpstreamProvider \"gitlab\"", "[forge, corp]", "#select-the-primary-upstream-provider"],
    );
    let yaml = valid_bundle()
        .replace("    upstreamProviders:\n", "    primaryUpstreamProvider: corp\n    upstreamProviders:\n");
    let a = reconcile(&yaml).runtime.unwrap().auth_server.unwrap();
    assert_eq!(a.primary_upstream_provider.as_deref(), Some("corp"));
}

#[test]
fn outgoing_backend_keys_must_name_group_backends() {
    let yaml = valid_bundle().replace("      srv-api:\n", "      srv-apii:\n");
    assert_fails(
        &reconcile(&yaml),
        "OutgoingAuthValidated",
        "BackendNotInGroup",
        &["spec.outgoingAuth.backends.srv-apii names no backend of MCPGroup/tools [remote-docs, srv-api, srv-forge]"],
    );
}

#[test]
fn group_must_exist() {
    let yaml = valid_bundle()
        .replace("metadata: {name: tools, namespace: team-a}", "metadata: {name: tools, namespace: team-b}");
    assert_fails(&reconcile(&yaml), "GroupRefValidated", "GroupRefNotFound", &["MCPGroup/tools", "team-a"]);
}

#[test]
fn referenced_resources_must_exist() {
    let yaml = valid_bundle().replace("name: vmcp-oidc\n      audience", "name: vmcp-oidcc\n      audience");
    assert_fails(&reconcile(&yaml), "OIDCConfigRefValidated", "OIDCConfigRefNotFound", &["MCPOIDCConfig/vmcp-oidcc"]);
    let yaml =
        valid_bundle().replace("externalAuthConfigRef: {name: api-header}", "externalAuthConfigRef: {name: api-hdr}");
    assert_fails(
        &reconcile(&yaml),
        "ExternalAuthConfigValidated",
        "ExternalAuthConfigNotFound",
        &["spec.outgoingAuth.backends.srv-api -> MCPExternalAuthConfig/api-hdr not found"],
    );
}

#[test]
fn missing_secret_and_key_become_conditions() {
    let yaml = valid_bundle()
        .replace("valueSecretRef: {name: api-token, key: value}", "valueSecretRef: {name: api-tokn, key: value}");
    assert_fails(
        &reconcile(&yaml),
        "SecretRefsValidated",
        "SecretNotFound",
        &["MCPExternalAuthConfig/api-header spec.headerInjection.valueSecretRef -> Secret/api-tokn not found"],
    );
    let yaml = valid_bundle().replace("key: forge}", "key: forj}");
    assert_fails(
        &reconcile(&yaml),
        "SecretRefsValidated",
        "SecretKeyNotFound",
        &["has no key \"forj\" (keys: [corp, forge])"],
    );
}

#[test]
fn discovered_mode_uses_each_backends_own_reference_and_the_default() {
    let yaml = valid_bundle()
        .replace("  groupRef: {name: tools}\n---\napiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: srv-api",
                 "  groupRef: {name: tools}\n  externalAuthConfigRef: {name: use-forge}\n---\napiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: srv-api")
        .replace(
            "  outgoingAuth:\n    source: inline\n    backends:\n      srv-forge:\n        type: externalAuthConfigRef\n        externalAuthConfigRef: {name: use-forge}\n      srv-api:\n        type: externalAuthConfigRef\n        externalAuthConfigRef: {name: api-header}\n",
            "  outgoingAuth:\n    source: discovered\n    default:\n      type: externalAuthConfigRef\n      externalAuthConfigRef: {name: api-header}\n",
        );
    let r = reconcile(&yaml);
    let rt = r.runtime.unwrap_or_else(|| panic!("{:#?}", r.conditions));
    let o = &rt.vmcp.outgoing;
    assert_eq!(o.for_backend("srv-forge"), &OutgoingStrategy::UpstreamInject { provider_name: "forge".into() });
    let header = OutgoingStrategy::HeaderInjection {
        header_name: "Authorization".into(),
        header_value: "Bearer static-123".into(),
    };
    assert_eq!(o.for_backend("srv-api"), &header);
    assert_eq!(o.for_backend("remote-docs"), &header);
}

#[test]
fn redis_storage_resolves_secrets_and_sentinel_service() {
    let yaml = valid_bundle().replace(
        "    tokenLifespans:",
        "    storage:\n      type: redis\n      redis:\n        sentinelConfig:\n          masterName: mymaster\n          sentinelService: {name: redis-sentinel, namespace: redis}\n        aclUserConfig:\n          usernameSecretRef: {name: as-keys, key: hmac}\n          passwordSecretRef: {name: api-token, key: value}\n        tls: {insecureSkipVerify: true}\n    tokenLifespans:",
    );
    let rt = reconcile(&yaml).runtime.expect("runtime");
    let StorageConfig::Redis(r) = rt.auth_storage else { panic!("redis expected") };
    assert_eq!(
        r.mode,
        RedisMode::Sentinel {
            master_name: "mymaster".into(),
            sentinel_addrs: vec!["redis-sentinel.redis.svc.cluster.local:26379".into()],
            db: 0
        }
    );
    assert_eq!(r.password, "Bearer static-123");
    assert_eq!(r.tls, Some(RedisTlsConfig { ca_cert_pem: None, insecure_skip_verify: true }));
    assert_eq!(r.read_timeout, Duration::from_secs(3));
    assert!(!format!("{r:?}").contains("static-123"), "password must not be printed");

    let both =
        yaml.replace("          masterName: mymaster\n", "          masterName: mymaster\n        addr: redis:6379\n");
    let both = both.replace(
        "        sentinelConfig:\n          masterName: mymaster\n        addr: redis:6379\n",
        "        addr: redis:6379\n        sentinelConfig:\n          masterName: mymaster\n",
    );
    assert_fails(&reconcile(&both), "AuthServerConfigValidated", "AuthServerConfigInvalid", &["exactly one of addr"]);
}

#[test]
fn unknown_field_is_reported_with_document_and_path() {
    let yaml = valid_bundle().replace("          clientId: forge-client", "          clientIdd: forge-client");
    let err = Bundle::from_yaml(&yaml).unwrap_err();
    let BundleError::Decode { index, kind, name, source, .. } = &err else { panic!("{err}") };
    assert_eq!((*index, kind.as_str(), name.as_str()), (11, "VirtualMCPServer", "gateway"));
    assert_eq!(source.path, "spec.authServerConfig.upstreamProviders[0].oauth2Config.clientIdd");
    let text = err.to_string();
    assert!(text.starts_with("document 11 (line "), "{text}");
    assert!(
        text.contains(
            "VirtualMCPServer/gateway: spec.authServerConfig.upstreamProviders[0].oauth2Config.clientIdd: unknown field"
        ),
        "{text}"
    );
}

#[test]
fn bad_yaml_is_an_error_not_a_panic() {
    for text in
        ["kind: [unclosed", "a: b\n c: d\n", "- just\n- a list\n", "apiVersion: v1\nkind: 7\n", "\u{0}", "? [a]\n: b\n"]
    {
        assert!(Bundle::from_yaml(text).is_err(), "{text:?}");
    }
    assert!(matches!(Bundle::from_yaml("kind: [unclosed").unwrap_err(), BundleError::Yaml(_)));
}

#[test]
fn non_toolhive_kind_is_named() {
    let yaml = format!("{}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\n", valid_bundle());
    let err = Bundle::from_yaml(&yaml).unwrap_err();
    assert!(matches!(&err, BundleError::UnknownKind { index: 12, kind, .. } if kind == "Deployment"), "{err}");
    assert!(err.to_string().contains("unsupported kind `Deployment` (apiVersion `apps/v1`)"));
}

#[test]
fn exactly_one_virtual_mcp_server() {
    let no_vmcp = valid_bundle();
    let no_vmcp = &no_vmcp[..no_vmcp.rfind("---").unwrap()];
    assert!(matches!(Bundle::from_yaml(no_vmcp).unwrap_err(), BundleError::VirtualMcpServerCount { found: 0, .. }));
    let two = format!(
        "{}---\n{}",
        valid_bundle(),
        valid_bundle()[valid_bundle().rfind("---").unwrap() + 4..].replace("name: gateway", "name: gateway-2")
    );
    let err = Bundle::from_yaml(&two).unwrap_err();
    assert!(err.to_string().contains("found 2 (gateway, gateway-2)"), "{err}");
}

#[test]
fn namespace_defaults_and_duplicates() {
    let yaml = "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPGroup\nmetadata: {name: g}\n---\n\
                apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPGroup\nmetadata: {name: g, namespace: default}\n";
    assert!(matches!(Bundle::from_yaml(yaml).unwrap_err(), BundleError::Duplicate { index: 2, .. }));
    let yaml = "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: VirtualMCPServer\nmetadata: {name: v}\n\
                spec: {groupRef: {name: g}, incomingAuth: {type: anonymous}}\n";
    let b = Bundle::from_yaml(yaml).unwrap();
    assert_eq!(b.documents[0].resource.namespace(), DEFAULT_NAMESPACE);
    let r = b.reconcile(&Environment::default());
    assert_eq!(r.condition("VirtualMCPServer/v", "GroupRefValidated").unwrap().reason, "GroupRefNotFound");
}

#[test]
fn secret_data_must_be_base64() {
    let yaml = valid_bundle().replace("forge: Zm9yZ2Utc2VjcmV0", "forge: \"not base64!\"");
    let err = Bundle::from_yaml(&yaml).unwrap_err();
    assert!(matches!(&err, BundleError::Decode { index: 2, kind, .. } if kind == "Secret"), "{err}");
}

/// J10: a cedarv1 MCPAuthzConfig runs as the gateway's Cedar config; another type, a missing
/// config and unloadable policies each fail the VirtualMCPServer naming the field.
#[test]
fn authz_config_ref_resolves_cedarv1_only() {
    let with_ref = |type_: &str, config: &str| {
        valid_bundle().replace(
            "      audience: https://gateway.test/mcp\n  outgoingAuth:",
            "      audience: https://gateway.test/mcp\n    authzConfigRef:\n      name: shared\n  outgoingAuth:",
        ) + &format!(
            "\n---\napiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPAuthzConfig\nmetadata: {{name: shared, namespace: team-a}}\nspec:\n  type: {type_}\n  config: {config}\n"
        )
    };
    let ok = reconcile(&with_ref(
        "cedarv1",
        r#"{policies: ["permit(principal, action, resource);"], primary_upstream_provider: corp}"#,
    ));
    let authz = ok.runtime.unwrap_or_else(|| panic!("{:#?}", ok.conditions)).vmcp.authz.unwrap();
    assert_eq!(authz.policies, vec!["permit(principal, action, resource);".to_string()]);
    assert_eq!(authz.claims_provider.as_deref(), Some("corp"));
    assert_fails(
        &reconcile(&with_ref("httpv1", "{http: {url: https://pdp.test}}")),
        "AuthzConfigRefValidated",
        "AuthzConfigRefUnsupportedType",
        &["spec.incomingAuth.authzConfigRef.name", "\"httpv1\"", "\"cedarv1\""],
    );
    assert_fails(
        &reconcile(&with_ref("cedarv1", r#"{policies: ["permit("]}"#)),
        "AuthzConfigRefValidated",
        "AuthzConfigRefInvalid",
        &["MCPAuthzConfig/shared spec.config"],
    );
    let missing = valid_bundle().replace(
        "      audience: https://gateway.test/mcp\n  outgoingAuth:",
        "      audience: https://gateway.test/mcp\n    authzConfigRef:\n      name: shared\n  outgoingAuth:",
    );
    assert_fails(&reconcile(&missing), "AuthzConfigRefValidated", "AuthzConfigRefNotFound", &["MCPAuthzConfig/shared"]);
}
