//! Round trips RuntimeConfig -> files -> RuntimeConfig, the CLI validator's rules, and ToolHive's
//! own example file (read from ../shared at test time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::load::map_env;
use super::*;
use crate::authserver::cimd::CimdSettings;
use crate::authserver::config::*;
use crate::bundle::{RedisConfig, RedisMode, RedisTlsConfig, RuntimeConfig, StorageConfig};
use crate::vmcp::config::*;

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("vmcp-cliconfig-test-{}", uuid::Uuid::new_v4()))
}

/// Every setting the scenarios deploy: both upstream kinds, each outgoing strategy, keys, HMAC,
/// CIMD, DCR, introspection and Redis Sentinel storage with TLS.
fn kitchen_sink() -> RuntimeConfig {
    let issuer = "http://127.0.0.1:4483".to_string();
    let google = UpstreamProvider {
        name: "google".into(),
        kind: UpstreamKind::Oidc(OidcUpstream {
            issuer_url: "http://127.0.0.1:5556".into(),
            client_id: "vmcp-google".into(),
            client_secret: Some("google-secret".into()),
            redirect_uri: format!("{issuer}/oauth/callback"),
            scopes: vec!["openid".into(), "email".into()],
            subject_claim: Some("oid".into()),
            additional_authorization_params: BTreeMap::from([("prompt".into(), "consent".into())]),
        }),
    };
    let github = UpstreamProvider {
        name: "github".into(),
        kind: UpstreamKind::OAuth2(OAuth2Upstream {
            authorization_endpoint: "http://127.0.0.1:5600/login/oauth/authorize".into(),
            token_endpoint: "http://127.0.0.1:5600/login/oauth/access_token".into(),
            client_id: "vmcp-github".into(),
            client_secret: Some("github-secret".into()),
            redirect_uri: format!("{issuer}/oauth/callback"),
            scopes: vec!["read:user".into()],
            userinfo: Some(UserInfoConfig {
                endpoint_url: "http://127.0.0.1:5600/user".into(),
                http_method: "GET".into(),
                additional_headers: BTreeMap::from([("Accept".into(), "application/json".into())]),
                field_mapping: FieldMapping {
                    subject_fields: vec!["id".into(), "login".into()],
                    ..FieldMapping::default()
                },
            }),
            additional_authorization_params: BTreeMap::new(),
            dcr: None,
            token_response_mapping: Some(crate::crd::TokenResponseMapping {
                access_token_path: "authed_user.access_token".into(),
                scope_path: Some("authed_user.scope".into()),
                refresh_token_path: None,
                expires_in_path: None,
            }),
            identity_from_token: Some(crate::crd::IdentityFromToken {
                subject_path: "authed_user.id".into(),
                name_path: None,
                email_path: None,
            }),
        }),
    };
    let dcr = UpstreamProvider {
        name: "tracker".into(),
        kind: UpstreamKind::OAuth2(OAuth2Upstream {
            authorization_endpoint: "http://127.0.0.1:5700/authorize".into(),
            token_endpoint: "http://127.0.0.1:5700/token".into(),
            client_id: String::new(),
            client_secret: None,
            redirect_uri: format!("{issuer}/oauth/callback"),
            scopes: Vec::new(),
            userinfo: None,
            additional_authorization_params: BTreeMap::new(),
            dcr: Some(DcrSettings {
                discovery_url: Some("http://127.0.0.1:5700/.well-known/oauth-authorization-server".into()),
                registration_endpoint: None,
                initial_access_token: Some("iat-123".into()),
                software_id: Some("vmcp".into()),
                software_statement: None,
            }),
            token_response_mapping: None,
            identity_from_token: None,
        }),
    };
    let auth = AuthServerConfig {
        issuer: issuer.clone(),
        authorization_endpoint_base_url: None,
        signing_keys_pem: vec!["-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(), "old".into()],
        hmac_secrets: vec![vec![7u8; 32], b"0123456789abcdef0123456789abcdef\n".to_vec()],
        lifespans: TokenLifespans {
            access_token: Duration::from_secs(1800),
            refresh_token: Duration::from_secs(7 * 24 * 3600),
            auth_code: Duration::from_secs(90),
        },
        upstreams: vec![google, github, dcr],
        scopes_supported: vec!["openid".into(), "offline_access".into()],
        allowed_audiences: vec![format!("{issuer}/mcp")],
        baseline_client_scopes: vec!["openid".into()],
        insecure_allow_http: false,
        primary_upstream_provider: Some("github".into()),
        cimd: Some(CimdSettings { cache_max_size: 64, cache_fallback_ttl: Duration::from_secs(120) }),
    };
    let mut backends = BTreeMap::new();
    backends.insert("issues".to_string(), OutgoingStrategy::UpstreamInject { provider_name: "github".into() });
    backends.insert(
        "docs".to_string(),
        OutgoingStrategy::TokenExchange(TokenExchangeConfig {
            name: "docs".into(),
            token_url: "http://127.0.0.1:9300/token".into(),
            audience: "docs-api".into(),
            client_id: Some("vmcp".into()),
            client_secret: Some("tx-secret".into()),
            scopes: vec!["docs.read".into()],
            subject_provider_name: Some("google".into()),
            subject_token_type: "urn:ietf:params:oauth:token-type:id_token".into(),
            external_token_header_name: None,
        }),
    );
    backends.insert(
        "wiki".to_string(),
        OutgoingStrategy::HeaderInjection { header_name: "X-API-Key".into(), header_value: "key-1".into() },
    );
    backends.insert(
        "crm".to_string(),
        OutgoingStrategy::Xaa(XaaConfig {
            name: "crm".into(),
            idp_token_url: "http://127.0.0.1:9400/token".into(),
            idp_client_id: Some("vmcp-idp".into()),
            idp_client_secret: Some("idp-secret".into()),
            target_token_url: "http://127.0.0.1:9500/token".into(),
            target_client_id: Some("vmcp-target".into()),
            target_client_secret: Some("target-secret".into()),
            target_audience: "http://127.0.0.1:9500".into(),
            target_resource: Some("http://127.0.0.1:9600/mcp".into()),
            scopes: vec!["crm.read".into()],
            subject_provider_name: "google".into(),
            subject_token_type: "urn:ietf:params:oauth:token-type:id_token".into(),
        }),
    );
    let vmcp = VmcpConfig {
        name: "demo-vmcp".into(),
        backends: ["crm", "docs", "issues", "wiki"]
            .iter()
            .enumerate()
            .map(|(i, n)| BackendConfig {
                name: n.to_string(),
                url: format!("http://127.0.0.1:{}/mcp", 9101 + i),
                kind: if *n == "wiki" { BackendKind::McpServerEntry } else { BackendKind::McpServer },
            })
            .collect(),
        incoming: IncomingAuthConfig::Oidc(OidcIncoming {
            issuer: issuer.clone(),
            audience: format!("{issuer}/mcp"),
            resource_url: format!("{issuer}/mcp"),
            scopes: vec!["openid".into(), "offline_access".into()],
            jwks_url: None,
            introspection: Some(IntrospectionConfig {
                url: Some("http://127.0.0.1:5556/introspect".into()),
                client_id: "introspector".into(),
                client_secret: "introspection-secret".into(),
            }),
            required_subject: None,
        }),
        outgoing: OutgoingAuthConfig {
            default: Some(OutgoingStrategy::Unauthenticated),
            backends,
            passthrough_headers: vec!["X-Tenant".into()],
            disable_upstream_token_injection: false,
        },
        aggregation: AggregationConfig { prefix_format: "{workload}.".into() },
        authz: Some(crate::vmcp::authz::AuthzConfig {
            policies: vec!["permit(principal, action, resource);".into()],
            entities_json: Some("[]".into()),
            group_claim_name: Some("groups".into()),
            role_claim_name: None,
            claims_provider: Some("github".into()),
        }),
        timeouts: BackendTimeouts {
            default: Duration::from_secs(45),
            per_workload: BTreeMap::from([("crm".to_string(), Duration::from_millis(1500))]),
        },
    };
    let redis = RedisConfig {
        mode: RedisMode::Sentinel {
            master_name: "mymaster".into(),
            sentinel_addrs: vec!["127.0.0.1:26379".into(), "127.0.0.1:26380".into()],
            db: 2,
        },
        username: Some("toolhive-auth".into()),
        password: "redis-pass".into(),
        tls: Some(RedisTlsConfig { ca_cert_pem: Some("CA PEM".into()), insecure_skip_verify: false }),
        sentinel_tls: Some(RedisTlsConfig { ca_cert_pem: None, insecure_skip_verify: true }),
        dial_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_millis(1500),
        write_timeout: Duration::from_secs(3),
    };
    RuntimeConfig {
        vmcp,
        auth_server: Some(auth),
        auth_storage: StorageConfig::Redis(Box::new(redis)),
        passthrough_headers: vec!["X-Tenant".into()],
    }
}

fn anonymous() -> RuntimeConfig {
    RuntimeConfig {
        vmcp: VmcpConfig {
            name: "anon".into(),
            backends: vec![BackendConfig {
                name: "fetch".into(),
                url: "http://127.0.0.1:9101/mcp".into(),
                kind: BackendKind::McpServer,
            }],
            incoming: IncomingAuthConfig::Anonymous,
            outgoing: OutgoingAuthConfig::default(),
            aggregation: AggregationConfig::default(),
            authz: None,
            timeouts: BackendTimeouts::default(),
        },
        auth_server: None,
        auth_storage: StorageConfig::Memory,
        passthrough_headers: Vec::new(),
    }
}

fn options() -> WriteOptions {
    WriteOptions {
        group_ref: "demo".into(),
        redis_key_prefix: "thv:auth:{toolhive-system:demo-vmcp}:".into(),
        session_storage: Some(crate::storage::session_store::SessionStorageConfig {
            address: "127.0.0.1:6379".into(),
            db: 1,
            key_prefix: Some("vmcp-sessions:".into()),
            password: Some("session-pass".into()),
        }),
    }
}

/// Writes `runtime` into a fresh folder and loads it back.
fn round_trip(runtime: &RuntimeConfig) -> (Files, Loaded, PathBuf) {
    let dir = temp_dir();
    let files = to_files(runtime, &options(), &dir).expect("writes");
    let written = files.write_to(&dir).expect("files written");
    let loaded = load(&written.vmcp_path, &map_env(&written.env)).expect("loads back");
    (files, loaded, dir)
}

#[test]
fn round_trip_is_lossless_for_every_setting_the_scenarios_use() {
    for runtime in [kitchen_sink(), anonymous()] {
        let (files, loaded, dir) = round_trip(&runtime);
        // Writing what was loaded gives the same files: nothing was lost or altered.
        let again = to_files(&loaded.runtime, &options(), &dir).expect("writes again");
        assert_eq!(files.render().unwrap(), again.render().unwrap());
        assert_eq!(files.env, again.env);
        assert_eq!(loaded.group_ref, "demo");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn loaded_values_match_the_runtime_config() {
    let runtime = kitchen_sink();
    let (_, loaded, dir) = round_trip(&runtime);
    let (a, b) = (runtime.auth_server.as_ref().unwrap(), loaded.runtime.auth_server.as_ref().unwrap());
    assert_eq!(a.signing_keys_pem, b.signing_keys_pem);
    assert_eq!(a.hmac_secrets, b.hmac_secrets, "HMAC files are read back untrimmed");
    assert_eq!(a.lifespans, b.lifespans);
    assert_eq!(a.allowed_audiences, b.allowed_audiences);
    assert_eq!(a.primary_upstream_provider, b.primary_upstream_provider);
    assert_eq!(runtime.vmcp.authz, loaded.runtime.vmcp.authz, "Cedar policies");
    assert_eq!(runtime.vmcp.timeouts, loaded.runtime.vmcp.timeouts, "operational.timeouts");
    assert_eq!(loaded.session_storage, options().session_storage, "sessionStorage, password from env");
    assert_eq!(runtime.auth_storage, loaded.runtime.auth_storage, "storage, secrets from env and files");
    assert_eq!(loaded.redis_key_prefix, "thv:auth:{toolhive-system:demo-vmcp}:");
    for name in ["docs", "crm", "wiki", "issues"] {
        assert_eq!(
            runtime.vmcp.outgoing.backends[name], loaded.runtime.vmcp.outgoing.backends[name],
            "outgoingAuth.backends.{name}"
        );
    }
    match &b.upstreams[2].kind {
        UpstreamKind::OAuth2(o) => assert_eq!(o.dcr.as_ref().unwrap().initial_access_token.as_deref(), Some("iat-123")),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn operator_mapping_rules_are_applied() {
    let dir = PathBuf::from("/run/vmcp");
    let files = to_files(&kitchen_sink(), &options(), &dir).unwrap();
    let a = files.authserver.as_ref().unwrap();
    let keys = a.signing_key_config.as_ref().unwrap();
    assert_eq!((keys.key_dir.as_str(), keys.signing_key_file.as_str()), ("/run/vmcp/keys", "key-0.pem"));
    assert_eq!(keys.fallback_key_files, ["key-1.pem"]);
    assert_eq!(a.hmac_secret_files, ["/run/vmcp/hmac/hmac-0", "/run/vmcp/hmac/hmac-1"]);
    let google = a.upstreams[0].oidc_config.as_ref().unwrap();
    assert_eq!(google.secret.client_secret_env_var.as_deref(), Some("TOOLHIVE_UPSTREAM_CLIENT_SECRET_GOOGLE"));
    assert_eq!(files.env["TOOLHIVE_UPSTREAM_CLIENT_SECRET_GOOGLE"], "google-secret");
    let redis = a.storage.as_ref().unwrap().redis_config.as_ref().unwrap();
    assert_eq!(redis.auth_type, "aclUser");
    assert_eq!(redis.key_prefix, "thv:auth:{toolhive-system:demo-vmcp}:");
    assert_eq!(files.env["TOOLHIVE_AUTH_SERVER_REDIS_PASSWORD"], "redis-pass");
    let (vmcp, auth) = files.render().unwrap();
    assert!(vmcp.contains("groupRef: demo"), "{vmcp}");
    assert!(!vmcp.contains("tx-secret") && !auth.unwrap().contains("google-secret"), "secrets stay out of the files");
}

#[test]
fn inexpressible_settings_are_refused_by_name() {
    let mut runtime = kitchen_sink();
    if let IncomingAuthConfig::Oidc(o) = &mut runtime.vmcp.incoming {
        o.required_subject = Some("system:serviceaccount:agents:mcp-client".into());
    }
    let e = to_files(&runtime, &options(), Path::new("/tmp")).unwrap_err();
    assert!(e.to_string().contains("kubernetesServiceAccount"), "{e}");
}

fn no_env(_: &str) -> Option<String> {
    None
}

const MINIMAL: &str = "name: v\ngroupRef: g\nincomingAuth:\n  type: anonymous\noutgoingAuth:\n  source: inline\n\
aggregation:\n  conflictResolution: prefix\n  conflictResolutionConfig:\n    prefixFormat: '{workload}_'\n";

fn vmcp_error(yaml: &str) -> String {
    parse_vmcp(yaml, &no_env).unwrap_err().to_string()
}

#[test]
fn validator_names_file_and_field_path() {
    assert!(parse_vmcp(MINIMAL, &no_env).is_ok());
    assert_eq!(
        vmcp_error(&format!("{MINIMAL}colour: red\n")),
        "vmcp.yaml: colour: unknown field `colour`, expected one of `name`, `groupRef`, `backends`, `incomingAuth`, `outgoingAuth`, `aggregation`, `passthroughHeaders`, `compositeTools`, `compositeToolRefs`, `operational`, `metadata`, `telemetry`, `audit`, `optimizer`, `codeMode`, `sessionStorage`, `rateLimiting`"
    );
    let tx = MINIMAL.replace(
        "  source: inline\n",
        "  source: inline\n  backends:\n    docs:\n      type: token_exchange\n      tokenExchange:\n        audience: x\n",
    );
    assert_eq!(vmcp_error(&tx), "vmcp.yaml: outgoingAuth.backends.docs.tokenExchange.tokenUrl: required");
    let typo = MINIMAL.replace(
        "  source: inline\n",
        "  source: inline\n  default:\n    type: header_injection\n    headerInjection:\n      headerNme: X\n",
    );
    assert!(
        vmcp_error(&typo)
            .starts_with("vmcp.yaml: outgoingAuth.default.headerInjection.headerNme: unknown field `headerNme`"),
        "{}",
        vmcp_error(&typo)
    );
    assert_eq!(vmcp_error(&MINIMAL.replace("name: v\n", "")), "vmcp.yaml: name: required");
    assert_eq!(
        vmcp_error(&MINIMAL.replace("type: anonymous", "type: magic")),
        "vmcp.yaml: incomingAuth.type: \"magic\" is not one of oidc, local, anonymous"
    );
    let env = MINIMAL.replace("  source: inline\n", "  source: inline\n  default:\n    type: header_injection\n    headerInjection:\n      headerName: X-Key\n      headerValueEnv: NOT_SET_ANYWHERE\n");
    assert_eq!(
        vmcp_error(&env),
        "vmcp.yaml: outgoingAuth.default.headerInjection.headerValueEnv: environment variable NOT_SET_ANYWHERE is not set"
    );
    let auth = format!("{MINIMAL}passthroughHeaders: [Host]\n");
    assert!(vmcp_error(&auth).starts_with("vmcp.yaml: passthroughHeaders[0]:"), "{}", vmcp_error(&auth));
    assert!(vmcp_error("name: [").starts_with("vmcp.yaml: not valid YAML"));
}

fn load_with_authserver(authserver: &str) -> Result<Loaded, CliConfigError> {
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(VMCP_FILE), MINIMAL).unwrap();
    std::fs::write(dir.join(AUTHSERVER_FILE), authserver).unwrap();
    let r = load(&dir.join(VMCP_FILE), &map_env(&BTreeMap::from([("S".to_string(), "secret".to_string())])));
    let _ = std::fs::remove_dir_all(&dir);
    r
}

const AS_OK: &str = "issuer: http://localhost:4483\nallowed_audiences: [http://localhost:4483]\nupstreams:\n  - type: oidc\n    oidc_config:\n      issuer_url: http://localhost:5556\n      client_id: c\n      client_secret_env_var: S\n      redirect_uri: http://localhost:4483/oauth/callback\n";

#[test]
fn authorization_server_start_up_rules() {
    let ok = load_with_authserver(AS_OK).expect("valid");
    let a = ok.runtime.auth_server.unwrap();
    assert_eq!(a.upstreams[0].name, "default", "a single unnamed upstream is `default`");
    let err = |yaml: String| load_with_authserver(&yaml).unwrap_err().to_string();
    assert_eq!(
        err(AS_OK.replace("issuer: http://localhost:4483\n", "issuer: http://localhost:4483/\n")),
        "authserver-config.yaml: issuer: \"http://localhost:4483/\": must not end with a slash"
    );
    assert!(
        err(AS_OK.replace("issuer: http://localhost", "issuer: http://vmcp.example.com")).contains("loopback host")
    );
    assert_eq!(
        err(AS_OK.replace("      redirect_uri: http://localhost:4483/oauth/callback\n", "")),
        "authserver-config.yaml: upstreams[0].oidc_config.redirect_uri: required"
    );
    assert_eq!(
        err(AS_OK.replace("client_secret_env_var: S", "client_secret_env_var: UNSET_VAR")),
        "authserver-config.yaml: upstreams[0].oidc_config.client_secret_env_var: environment variable UNSET_VAR is not set"
    );
    assert_eq!(
        err(AS_OK.replace("allowed_audiences: [http://localhost:4483]\n", "")),
        "authserver-config.yaml: allowed_audiences: at least one audience is required"
    );
    let two = AS_OK.replace("  - type: oidc", "  - name: a\n    type: oidc")
        + &AS_OK[AS_OK.find("  - type").unwrap()..].replace("  - type: oidc", "  - name: a\n    type: oidc");
    assert_eq!(err(two), "authserver-config.yaml: upstreams[1].name: duplicate upstream name \"a\"");
    assert!(err(AS_OK.replace("type: oidc", "type: oauth2")).contains("upstreams[0].type"));
}

#[test]
fn toolhive_example_names_what_the_reference_does_not_implement() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/toolhive-examples/vmcp-config.yaml");
    let text = std::fs::read_to_string(&path).expect("the ToolHive example in ../shared/reference");
    let env = BTreeMap::from([
        ("VMCP_CLIENT_SECRET".to_string(), "s".to_string()),
        ("GITHUB_API_TOKEN".to_string(), "t".to_string()),
    ]);
    // Valid ToolHive configuration: `validate` accepts it.
    let file = parse_vmcp(&text, &map_env(&env)).expect("the example is valid");
    // `serve` refuses it and says which sections it does not implement.
    let refused = load::unsupported(&file);
    for feature in ["operational.failureHandling", "telemetry", "aggregation.tools"] {
        assert!(refused.iter().any(|r| r == feature), "{feature} missing from {refused:?}");
    }
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vmcp-config.yaml"), &text).unwrap();
    let e = load(&dir.join("vmcp-config.yaml"), &map_env(&env)).unwrap_err().to_string();
    assert!(e.starts_with("vmcp.yaml: not implemented by the reference: "), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
