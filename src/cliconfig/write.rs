//! RuntimeConfig -> ToolHive's two files, the way the operator writes them
//! (toolhive `cmd/thv-operator/pkg/vmcpconfig/converter.go`, `controllerutil.BuildAuthServerRunConfig`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::model::*;
use super::{AUTHSERVER_FILE, CliConfigError, VMCP_FILE};
use crate::authserver::config::{AuthServerConfig, UpstreamKind};
use crate::bundle::{RedisConfig, RedisMode, RedisTlsConfig, RuntimeConfig, StorageConfig};
use crate::vmcp::config::{BackendKind, IncomingAuthConfig, OutgoingStrategy};

/// What the files cannot derive from a [`RuntimeConfig`] alone.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// `groupRef` (the VirtualMCPServer's `spec.groupRef.name`).
    pub group_ref: String,
    /// Redis `key_prefix` (`thv:auth:{<namespace>:<name>}:`); used only with Redis storage.
    pub redis_key_prefix: String,
    /// `spec.sessionStorage` when it names Redis (password resolved).
    pub session_storage: Option<crate::storage::session_store::SessionStorageConfig>,
}

impl WriteOptions {
    /// What the bundle's VirtualMCPServer says beside the runtime configuration: `groupRef`,
    /// the Redis key prefix of its workload, and `spec.sessionStorage` (password resolved).
    pub fn from_bundle(bundle: &crate::bundle::Bundle) -> Result<WriteOptions, String> {
        let v = bundle.virtual_mcp_server().ok_or("the bundle has no VirtualMCPServer")?;
        let namespace = v.metadata.namespace.as_deref().unwrap_or(crate::bundle::DEFAULT_NAMESPACE);
        let session_storage = bundle.session_storage()?;
        Ok(WriteOptions {
            group_ref: v.spec.group_ref.name.clone(),
            redis_key_prefix: crate::storage::redis::key_prefix(
                namespace,
                v.metadata.name.as_deref().unwrap_or_default(),
            ),
            session_storage,
        })
    }
}

/// Where `vmcp.yaml`'s `sessionStorage` password comes from (ToolHive's variable).
pub const SESSION_PASSWORD_ENV: &str = "THV_SESSION_REDIS_PASSWORD";

/// The files in memory, with the secret files and environment variables they refer to.
#[derive(Debug, Clone)]
pub struct Files {
    pub vmcp: VmcpFile,
    pub authserver: Option<AuthServerFile>,
    /// Absolute path -> contents (keys, HMAC secrets, CA certificates).
    pub secret_files: Vec<(PathBuf, Vec<u8>)>,
    /// Secrets passed by environment (`TOOLHIVE_UPSTREAM_CLIENT_SECRET_<NAME>`, …).
    pub env: BTreeMap<String, String>,
}

/// Where [`Files::write_to`] put them.
#[derive(Debug, Clone)]
pub struct Written {
    pub vmcp_path: PathBuf,
    pub authserver_path: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
}

/// `<NAME>` of an operator env var: upper-cased, `-` and `.` -> `_`.
pub fn env_suffix(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// A Go duration the way `time.Duration.String()` would accept it back (`1h`, `10m`, `30s`, `500ms`).
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    if s != 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s != 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn is_plain_http(url: &str) -> bool {
    url.starts_with("http://")
}

/// Builds both files for `runtime`, with secret files placed under `dir`.
pub fn to_files(runtime: &RuntimeConfig, options: &WriteOptions, dir: &Path) -> Result<Files, CliConfigError> {
    let mut files =
        Files { vmcp: VmcpFile::default(), authserver: None, secret_files: Vec::new(), env: BTreeMap::new() };
    let v = &runtime.vmcp;
    files.vmcp.name = Some(v.name.clone());
    files.vmcp.group_ref = Some(options.group_ref.clone());
    files.vmcp.backends = v
        .backends
        .iter()
        .map(|b| StaticBackend {
            name: b.name.clone(),
            url: b.url.clone(),
            transport: "streamable-http".into(),
            type_: if b.kind == BackendKind::McpServerEntry { "entry".into() } else { String::new() },
            ..Default::default()
        })
        .collect();
    let mut incoming = IncomingAuth::default();
    match &v.incoming {
        IncomingAuthConfig::Anonymous => incoming.type_ = "anonymous".into(),
        IncomingAuthConfig::Oidc(o) => {
            if o.required_subject.is_some() {
                return Err(CliConfigError::Inexpressible(
                    "a kubernetesServiceAccount MCPOIDCConfig (required service-account subject) has no vmcp.yaml field"
                        .into(),
                ));
            }
            incoming.type_ = "oidc".into();
            // Everything the harness runs is on loopback over http: the permissions a CLI user
            // would need are granted explicitly.
            let http = is_plain_http(&o.issuer);
            let mut oidc = IncomingOidc {
                issuer: o.issuer.clone(),
                audience: o.audience.clone(),
                resource: Some(o.resource_url.clone()),
                jwks_url: o.jwks_url.clone(),
                scopes: Some(o.scopes.clone()),
                insecure_allow_http: http.then_some(true),
                jwks_allow_private_ip: Some(true),
                protected_resource_allow_private_ip: Some(true),
                ..Default::default()
            };
            if let Some(i) = &o.introspection {
                oidc.introspection_url = i.url.clone();
                oidc.client_id = Some(i.client_id.clone());
                let env = "TOOLHIVE_OIDC_CLIENT_SECRET".to_string();
                files.env.insert(env.clone(), i.client_secret.clone());
                oidc.client_secret_env = Some(env);
            }
            incoming.oidc = Some(oidc);
        }
    }
    let primary = runtime.auth_server.as_ref().and_then(|a| a.primary_upstream_provider.clone());
    incoming.authz = match &v.authz {
        Some(z) => Some(Authz {
            type_: "cedar".into(),
            policies: z.policies.clone(),
            entities_json: z.entities_json.clone(),
            primary_upstream_provider: primary.or_else(|| z.claims_provider.clone()),
            group_claim_name: z.group_claim_name.clone(),
            role_claim_name: z.role_claim_name.clone(),
            group_entity_type: None,
        }),
        None => {
            primary.map(|p| Authz { type_: "none".into(), primary_upstream_provider: Some(p), ..Default::default() })
        }
    };
    files.vmcp.incoming_auth = Some(incoming);
    let mut outgoing = OutgoingAuth { source: "inline".into(), ..Default::default() };
    if let Some(d) = &v.outgoing.default {
        outgoing.default = Some(strategy(d, "default", &mut files.env)?);
    }
    for (name, s) in &v.outgoing.backends {
        outgoing.backends.insert(name.clone(), strategy(s, name, &mut files.env)?);
    }
    files.vmcp.outgoing_auth = Some(outgoing);
    files.vmcp.aggregation = Some(Aggregation {
        conflict_resolution: "prefix".into(),
        conflict_resolution_config: Some(ConflictResolutionConfig {
            prefix_format: Some(v.aggregation.prefix_format.clone()),
            priority_order: Vec::new(),
        }),
        ..Default::default()
    });
    let mut passthrough = runtime.passthrough_headers.clone();
    for h in &v.outgoing.passthrough_headers {
        if !passthrough.contains(h) {
            passthrough.push(h.clone());
        }
    }
    files.vmcp.passthrough_headers = passthrough;
    if v.timeouts != crate::vmcp::config::BackendTimeouts::default() {
        files.vmcp.operational = Some(Operational {
            timeouts: Some(Timeouts {
                default: Some(go_duration(v.timeouts.default)),
                per_workload: v.timeouts.per_workload.iter().map(|(k, d)| (k.clone(), go_duration(*d))).collect(),
            }),
            failure_handling: None,
        });
    }
    if let Some(s) = &options.session_storage {
        files.vmcp.session_storage = Some(SessionStorageFile {
            provider: "redis".into(),
            address: Some(s.address.clone()),
            db: Some(s.db),
            key_prefix: s.key_prefix.clone(),
        });
        if let Some(p) = &s.password {
            files.env.insert(SESSION_PASSWORD_ENV.into(), p.clone());
        }
    }

    if let Some(a) = &runtime.auth_server {
        let mut file = authserver(a, dir, &mut files)?;
        file.disable_upstream_token_injection = v.outgoing.disable_upstream_token_injection;
        file.storage = Some(storage(&runtime.auth_storage, options, dir, &mut files));
        files.authserver = Some(file);
    } else if runtime.auth_storage != StorageConfig::Memory {
        return Err(CliConfigError::Inexpressible("session storage without an embedded authorization server".into()));
    }
    Ok(files)
}

fn strategy(s: &OutgoingStrategy, key: &str, env: &mut BTreeMap<String, String>) -> Result<Strategy, CliConfigError> {
    let suffix = env_suffix(key);
    let mut secret_env = |prefix: &str, value: &Option<String>| {
        value.as_ref().map(|v| {
            let name = format!("{prefix}{suffix}");
            env.insert(name.clone(), v.clone());
            name
        })
    };
    Ok(match s {
        OutgoingStrategy::Unauthenticated => Strategy { type_: "unauthenticated".into(), ..Default::default() },
        OutgoingStrategy::UpstreamInject { provider_name } => Strategy {
            type_: "upstream_inject".into(),
            upstream_inject: Some(UpstreamInject { provider_name: provider_name.clone() }),
            ..Default::default()
        },
        OutgoingStrategy::HeaderInjection { header_name, header_value } => Strategy {
            type_: "header_injection".into(),
            header_injection: Some(HeaderInjection {
                header_name: header_name.clone(),
                header_value: None,
                header_value_env: secret_env("TOOLHIVE_HEADER_INJECTION_VALUE_", &Some(header_value.clone())),
            }),
            ..Default::default()
        },
        OutgoingStrategy::TokenExchange(t) => {
            if let Some(h) = &t.external_token_header_name {
                return Err(CliConfigError::Inexpressible(format!(
                    "outgoingAuth.backends.{key}: tokenExchange.externalTokenHeaderName ({h}) is not carried into \
                     vmcp.yaml (ToolHive's vMCP strategy has no such field)"
                )));
            }
            Strategy {
                type_: "token_exchange".into(),
                token_exchange: Some(TokenExchange {
                    token_url: t.token_url.clone(),
                    client_id: t.client_id.clone(),
                    client_secret: None,
                    client_secret_env: secret_env("TOOLHIVE_TOKEN_EXCHANGE_CLIENT_SECRET_", &t.client_secret),
                    audience: Some(t.audience.clone()).filter(|a| !a.is_empty()),
                    scopes: t.scopes.clone(),
                    subject_token_type: Some(t.subject_token_type.clone()),
                    subject_provider_name: t.subject_provider_name.clone(),
                }),
                ..Default::default()
            }
        }
        OutgoingStrategy::Xaa(x) => Strategy {
            type_: "xaa".into(),
            xaa: Some(Xaa {
                idp_token_url: x.idp_token_url.clone(),
                idp_client_id: x.idp_client_id.clone(),
                idp_client_secret: None,
                idp_client_secret_env: secret_env("TOOLHIVE_XAA_IDP_CLIENT_SECRET_", &x.idp_client_secret),
                target_token_url: x.target_token_url.clone(),
                insecure_target_token_url: is_plain_http(&x.target_token_url).then_some(true),
                target_client_id: x.target_client_id.clone(),
                target_client_secret: None,
                target_client_secret_env: secret_env("TOOLHIVE_XAA_TARGET_CLIENT_SECRET_", &x.target_client_secret),
                target_audience: x.target_audience.clone(),
                target_resource: x.target_resource.clone(),
                scopes: x.scopes.clone(),
                subject_provider_name: Some(x.subject_provider_name.clone()),
                subject_token_type: Some(x.subject_token_type.clone()),
            }),
            ..Default::default()
        },
    })
}

fn authserver(a: &AuthServerConfig, dir: &Path, files: &mut Files) -> Result<AuthServerFile, CliConfigError> {
    let mut f = AuthServerFile {
        schema_version: Some("v0.1.0".into()),
        issuer: a.issuer.clone(),
        authorization_endpoint_base_url: a.authorization_endpoint_base_url.clone(),
        scopes_supported: Some(a.scopes_supported.clone()),
        baseline_client_scopes: a.baseline_client_scopes.clone(),
        allowed_audiences: a.allowed_audiences.clone(),
        insecure_allow_http: a.insecure_allow_http,
        token_lifespans: Some(TokenLifespansFile {
            access_token_lifespan: Some(go_duration(a.lifespans.access_token)),
            refresh_token_lifespan: Some(go_duration(a.lifespans.refresh_token)),
            auth_code_lifespan: Some(go_duration(a.lifespans.auth_code)),
        }),
        cimd: a.cimd.as_ref().map(|c| CimdFile {
            enabled: true,
            cache_max_size: Some(c.cache_max_size as u64),
            cache_fallback_ttl: Some(go_duration(c.cache_fallback_ttl)),
        }),
        ..Default::default()
    };
    if !a.signing_keys_pem.is_empty() {
        let key_dir = dir.join("keys");
        let names: Vec<String> = (0..a.signing_keys_pem.len()).map(|i| format!("key-{i}.pem")).collect();
        for (name, pem) in names.iter().zip(&a.signing_keys_pem) {
            files.secret_files.push((key_dir.join(name), pem.as_bytes().to_vec()));
        }
        f.signing_key_config = Some(SigningKeyConfig {
            key_dir: key_dir.display().to_string(),
            signing_key_file: names[0].clone(),
            fallback_key_files: names[1..].to_vec(),
        });
    }
    for (i, secret) in a.hmac_secrets.iter().enumerate() {
        let path = dir.join("hmac").join(format!("hmac-{i}"));
        f.hmac_secret_files.push(path.display().to_string());
        files.secret_files.push((path, secret.clone()));
    }
    for u in &a.upstreams {
        let secret_env = format!("TOOLHIVE_UPSTREAM_CLIENT_SECRET_{}", env_suffix(&u.name));
        let mut secret = |value: &Option<String>| match value {
            Some(v) => {
                files.env.insert(secret_env.clone(), v.clone());
                ClientSecretSource { client_secret_file: None, client_secret_env_var: Some(secret_env.clone()) }
            }
            None => ClientSecretSource::default(),
        };
        let entry = match &u.kind {
            UpstreamKind::Oidc(o) => UpstreamFile {
                name: u.name.clone(),
                type_: "oidc".into(),
                oidc_config: Some(OidcUpstreamFile {
                    issuer_url: o.issuer_url.clone(),
                    client_id: o.client_id.clone(),
                    secret: secret(&o.client_secret),
                    redirect_uri: o.redirect_uri.clone(),
                    scopes: o.scopes.clone(),
                    userinfo_override: None,
                    additional_authorization_params: o.additional_authorization_params.clone(),
                    subject_claim: o.subject_claim.clone(),
                    allow_private_ips: true,
                    insecure_allow_http: is_plain_http(&o.issuer_url),
                }),
                oauth2_config: None,
            },
            UpstreamKind::OAuth2(o) => UpstreamFile {
                name: u.name.clone(),
                type_: "oauth2".into(),
                oidc_config: None,
                oauth2_config: Some(OAuth2UpstreamFile {
                    authorization_endpoint: o.authorization_endpoint.clone(),
                    token_endpoint: o.token_endpoint.clone(),
                    client_id: o.client_id.clone(),
                    secret: secret(&o.client_secret),
                    redirect_uri: o.redirect_uri.clone(),
                    scopes: o.scopes.clone(),
                    userinfo: o.userinfo.as_ref().map(|ui| UserInfoFile {
                        endpoint_url: ui.endpoint_url.clone(),
                        http_method: Some(ui.http_method.clone()),
                        additional_headers: ui.additional_headers.clone(),
                        field_mapping: Some(FieldMappingFile {
                            subject_fields: ui.field_mapping.subject_fields.clone(),
                            name_fields: ui.field_mapping.name_fields.clone(),
                            email_fields: ui.field_mapping.email_fields.clone(),
                        }),
                    }),
                    token_response_mapping: o.token_response_mapping.as_ref().map(|m| TokenResponseMappingFile {
                        access_token_path: m.access_token_path.clone(),
                        scope_path: m.scope_path.clone(),
                        refresh_token_path: m.refresh_token_path.clone(),
                        expires_in_path: m.expires_in_path.clone(),
                    }),
                    identity_from_token: o.identity_from_token.as_ref().map(|m| IdentityFromTokenFile {
                        subject_path: m.subject_path.clone(),
                        name_path: m.name_path.clone(),
                        email_path: m.email_path.clone(),
                    }),
                    additional_authorization_params: o.additional_authorization_params.clone(),
                    dcr_config: o.dcr.as_ref().map(|d| {
                        let token_env = d.initial_access_token.as_ref().map(|t| {
                            let name = format!("TOOLHIVE_UPSTREAM_DCR_INITIAL_ACCESS_TOKEN_{}", env_suffix(&u.name));
                            files.env.insert(name.clone(), t.clone());
                            name
                        });
                        DcrFile {
                            discovery_url: d.discovery_url.clone(),
                            registration_endpoint: d.registration_endpoint.clone(),
                            initial_access_token_file: None,
                            initial_access_token_env_var: token_env,
                            software_id: d.software_id.clone(),
                            software_statement: d.software_statement.clone(),
                        }
                    }),
                    allow_private_ips: true,
                    insecure_allow_http: is_plain_http(&o.token_endpoint),
                }),
            },
        };
        f.upstreams.push(entry);
    }
    Ok(f)
}

fn storage(config: &StorageConfig, options: &WriteOptions, dir: &Path, files: &mut Files) -> StorageFile {
    let StorageConfig::Redis(r) = config else {
        return StorageFile { type_: "memory".into(), redis_config: None };
    };
    let r: &RedisConfig = r;
    let mut out = RedisFile {
        auth_type: "aclUser".into(),
        key_prefix: options.redis_key_prefix.clone(),
        dial_timeout: Some(go_duration(r.dial_timeout)),
        read_timeout: Some(go_duration(r.read_timeout)),
        write_timeout: Some(go_duration(r.write_timeout)),
        ..Default::default()
    };
    match &r.mode {
        RedisMode::Standalone { addr } => out.addr = Some(addr.clone()),
        RedisMode::Cluster { addr } => {
            out.addr = Some(addr.clone());
            out.cluster_mode = true;
        }
        RedisMode::Sentinel { master_name, sentinel_addrs, db } => {
            out.sentinel_config =
                Some(SentinelFile { master_name: master_name.clone(), sentinel_addrs: sentinel_addrs.clone(), db: *db })
        }
    }
    let mut acl = AclUserFile::default();
    if let Some(u) = &r.username {
        files.env.insert("TOOLHIVE_AUTH_SERVER_REDIS_USERNAME".into(), u.clone());
        acl.username_env_var = Some("TOOLHIVE_AUTH_SERVER_REDIS_USERNAME".into());
    }
    files.env.insert("TOOLHIVE_AUTH_SERVER_REDIS_PASSWORD".into(), r.password.clone());
    acl.password_env_var = Some("TOOLHIVE_AUTH_SERVER_REDIS_PASSWORD".into());
    out.acl_user_config = Some(acl);
    let mut tls = |t: &RedisTlsConfig, file: &str| {
        let ca_cert_file = t.ca_cert_pem.as_ref().map(|pem| {
            let path = dir.join("redis-tls").join(file);
            files.secret_files.push((path.clone(), pem.as_bytes().to_vec()));
            path.display().to_string()
        });
        RedisTlsFile { insecure_skip_verify: t.insecure_skip_verify, ca_cert_file }
    };
    out.tls = r.tls.as_ref().map(|t| tls(t, "ca.crt"));
    out.sentinel_tls = r.sentinel_tls.as_ref().map(|t| tls(t, "sentinel-ca.crt"));
    StorageFile { type_: "redis".into(), redis_config: Some(out) }
}

impl Files {
    /// The YAML texts (`vmcp.yaml`, `authserver-config.yaml`).
    pub fn render(&self) -> Result<(String, Option<String>), CliConfigError> {
        let ser = |file: &str, e: serde_saphyr::SerializeError| CliConfigError::Io {
            file: file.into(),
            message: e.to_string(),
        };
        let vmcp = serde_saphyr::to_string(&self.vmcp).map_err(|e| ser(VMCP_FILE, e))?;
        let auth = match &self.authserver {
            Some(a) => Some(serde_saphyr::to_string(a).map_err(|e| ser(AUTHSERVER_FILE, e))?),
            None => None,
        };
        Ok((vmcp, auth))
    }

    /// Writes `vmcp.yaml`, `authserver-config.yaml` (when there is an authorization server) and
    /// the secret files (mode 0600) into `dir`.
    pub fn write_to(&self, dir: &Path) -> Result<Written, CliConfigError> {
        let io = |path: &Path, e: std::io::Error| CliConfigError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let (vmcp, auth) = self.render()?;
        let vmcp_path = dir.join(VMCP_FILE);
        std::fs::write(&vmcp_path, vmcp).map_err(|e| io(&vmcp_path, e))?;
        let authserver_path = match auth {
            Some(text) => {
                let path = dir.join(AUTHSERVER_FILE);
                std::fs::write(&path, text).map_err(|e| io(&path, e))?;
                Some(path)
            }
            None => None,
        };
        for (path, bytes) in &self.secret_files {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::write(path, bytes).map_err(|e| io(path, e))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| io(path, e))?;
        }
        Ok(Written { vmcp_path, authserver_path, env: self.env.clone() })
    }
}
