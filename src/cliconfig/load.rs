//! ToolHive's two files -> RuntimeConfig, with the CLI validator's rules (toolhive-behaviour §9.1)
//! and the authorization server's start-up rules. Every error names the file and the field path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::model::*;
use super::{AUTHSERVER_FILE, CliConfigError, VMCP_FILE};
use crate::authserver::cimd::CimdSettings;
use crate::authserver::config::{
    AuthServerConfig, DEFAULT_SCOPES_SUPPORTED, DcrSettings, FieldMapping, OAuth2Upstream, OidcUpstream,
    TokenLifespans, UpstreamKind, UpstreamProvider, UserInfoConfig,
};
use crate::bundle::{RedisConfig, RedisMode, RedisTlsConfig, RuntimeConfig, StorageConfig, parse_go_duration};
use crate::vmcp::config::{
    AggregationConfig, BackendConfig, BackendKind, IncomingAuthConfig, IntrospectionConfig, OidcIncoming,
    OutgoingAuthConfig, OutgoingStrategy, TokenExchangeConfig, VmcpConfig, XaaConfig, token_type_urn,
};

/// Environment lookup (the process environment in `serve`; a map in tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What `serve` starts from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub runtime: RuntimeConfig,
    pub group_ref: String,
    /// `storage.redis_config.key_prefix` (empty with memory storage).
    pub redis_key_prefix: String,
    /// The sibling `authserver-config.yaml`, when one was loaded.
    pub authserver_path: Option<PathBuf>,
    /// `sessionStorage` with provider `redis`.
    pub session_storage: Option<crate::storage::session_store::SessionStorageConfig>,
}

fn field(file: &str, path: impl Into<String>, message: impl Into<String>) -> CliConfigError {
    CliConfigError::Field { file: file.into(), path: path.into(), message: message.into() }
}

fn vfield(path: impl Into<String>, message: impl Into<String>) -> CliConfigError {
    field(VMCP_FILE, path, message)
}

fn afield(path: impl Into<String>, message: impl Into<String>) -> CliConfigError {
    field(AUTHSERVER_FILE, path, message)
}

fn read(path: &Path, file: &str) -> Result<String, CliConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliConfigError::Io { file: file.into(), message: format!("cannot read {}: {e}", path.display()) })
}

fn parse_yaml(text: &str, file: &str) -> Result<Value, CliConfigError> {
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|e| CliConfigError::Io { file: file.into(), message: format!("not valid YAML: {e}") })?;
    if !value.is_object() {
        return Err(CliConfigError::Io { file: file.into(), message: "the document must be a mapping".into() });
    }
    Ok(value)
}

/// Decodes `vmcp.yaml` text strictly and applies the CLI validator's rules (what `validate` checks;
/// env-sourced secrets included, the authorization server file not).
pub fn parse_vmcp(text: &str, env: EnvLookup<'_>) -> Result<VmcpFile, CliConfigError> {
    let file = decode_vmcp(text)?;
    validate_vmcp(&file, env)?;
    Ok(file)
}

/// Decodes `vmcp.yaml` text strictly (syntax and field names only, no rules).
pub fn decode_vmcp(text: &str) -> Result<VmcpFile, CliConfigError> {
    let value = parse_yaml(text, VMCP_FILE)?;
    crate::crd::decode_strict(value).map_err(|e| vfield(e.path, e.message))
}

fn required(value: &str, path: &str) -> Result<(), CliConfigError> {
    if value.trim().is_empty() { Err(vfield(path, "required")) } else { Ok(()) }
}

fn env_secret(name: &Option<String>, path: &str, env: EnvLookup<'_>) -> Result<Option<String>, CliConfigError> {
    match name.as_deref().filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) => match env(n) {
            Some(v) if !v.is_empty() => Ok(Some(v)),
            _ => Err(vfield(path, format!("environment variable {n} is not set"))),
        },
    }
}

/// The CLI validator (toolhive `pkg/vmcp/config/validator.go`, CLI part).
fn validate_vmcp(f: &VmcpFile, env: EnvLookup<'_>) -> Result<(), CliConfigError> {
    required(f.name.as_deref().unwrap_or_default(), "name")?;
    required(f.group_ref.as_deref().unwrap_or_default(), "groupRef")?;
    let mut names = BTreeSet::new();
    for (i, b) in f.backends.iter().enumerate() {
        let at = |k: &str| format!("backends[{i}].{k}");
        required(&b.name, &at("name"))?;
        if !names.insert(b.name.as_str()) {
            return Err(vfield(at("name"), format!("duplicate backend name {:?}", b.name)));
        }
        if !(b.url.starts_with("http://") || b.url.starts_with("https://")) || url::Url::parse(&b.url).is_err() {
            return Err(vfield(at("url"), format!("{:?} is not an http(s) URL", b.url)));
        }
        if !matches!(b.transport.as_str(), "sse" | "streamable-http") {
            return Err(vfield(at("transport"), format!("{:?} is not one of sse, streamable-http", b.transport)));
        }
        if !matches!(b.type_.as_str(), "" | "entry") {
            return Err(vfield(at("type"), format!("{:?} is not empty or entry", b.type_)));
        }
    }
    let incoming = f.incoming_auth.as_ref().ok_or_else(|| vfield("incomingAuth", "required"))?;
    match incoming.type_.as_str() {
        "anonymous" | "local" => {}
        "oidc" => {
            let o = incoming.oidc.as_ref().ok_or_else(|| vfield("incomingAuth.oidc", "required when type is oidc"))?;
            required(&o.issuer, "incomingAuth.oidc.issuer")?;
            required(&o.audience, "incomingAuth.oidc.audience")?;
            if let Some(p) = &o.ca_bundle_path
                && !Path::new(p).is_absolute()
            {
                return Err(vfield("incomingAuth.oidc.caBundlePath", format!("{p:?} must be an absolute path")));
            }
            env_secret(&o.client_secret_env, "incomingAuth.oidc.clientSecretEnv", env)?;
        }
        "" => return Err(vfield("incomingAuth.type", "required")),
        other => return Err(vfield("incomingAuth.type", format!("{other:?} is not one of oidc, local, anonymous"))),
    }
    if let Some(a) = &incoming.authz {
        match a.type_.as_str() {
            "none" => {}
            "cedar" if a.policies.is_empty() => {
                return Err(vfield("incomingAuth.authz.policies", "cedar authorization needs at least one policy"));
            }
            "cedar" => {}
            other => return Err(vfield("incomingAuth.authz.type", format!("{other:?} is not one of cedar, none"))),
        }
    }
    let outgoing = f.outgoing_auth.as_ref().ok_or_else(|| vfield("outgoingAuth", "required"))?;
    if !matches!(outgoing.source.as_str(), "inline" | "discovered") {
        return Err(vfield("outgoingAuth.source", format!("{:?} is not one of inline, discovered", outgoing.source)));
    }
    if let Some(d) = &outgoing.default {
        validate_strategy(d, "outgoingAuth.default", env)?;
    }
    for (name, s) in &outgoing.backends {
        validate_strategy(s, &format!("outgoingAuth.backends.{name}"), env)?;
    }
    let agg = f.aggregation.as_ref().ok_or_else(|| vfield("aggregation", "required"))?;
    let crc = || {
        agg.conflict_resolution_config
            .as_ref()
            .ok_or_else(|| vfield("aggregation.conflictResolutionConfig", "required"))
    };
    match agg.conflict_resolution.as_str() {
        "prefix" => {
            if crc()?.prefix_format.as_deref().is_none_or(str::is_empty) {
                return Err(vfield("aggregation.conflictResolutionConfig.prefixFormat", "required for prefix"));
            }
        }
        "priority" => {
            if crc()?.priority_order.is_empty() {
                return Err(vfield("aggregation.conflictResolutionConfig.priorityOrder", "required for priority"));
            }
        }
        "manual" => {}
        other => {
            return Err(vfield(
                "aggregation.conflictResolution",
                format!("{other:?} is not one of prefix, priority, manual"),
            ));
        }
    }
    // ToolHive's CLI also refuses Authorization and Cookie; the docs list Authorization as a
    // header to pass through, and the reference follows the docs (DECISIONS.md).
    for (i, h) in f.passthrough_headers.iter().enumerate() {
        crate::vmcp::outgoing::validate_passthrough(std::slice::from_ref(h))
            .map_err(|e| vfield(format!("passthroughHeaders[{i}]"), e.to_string()))?;
    }
    Ok(())
}

fn validate_strategy(s: &Strategy, at: &str, env: EnvLookup<'_>) -> Result<(), CliConfigError> {
    let missing = |k: &str| vfield(format!("{at}.{k}"), "required");
    match s.type_.as_str() {
        "unauthenticated" => {}
        "header_injection" => {
            let h = s.header_injection.as_ref().ok_or_else(|| missing("headerInjection"))?;
            required(&h.header_name, &format!("{at}.headerInjection.headerName"))?;
            match (&h.header_value, &h.header_value_env) {
                (Some(_), Some(_)) => {
                    return Err(vfield(
                        format!("{at}.headerInjection"),
                        "headerValue and headerValueEnv are mutually exclusive",
                    ));
                }
                (None, None) => {
                    return Err(vfield(format!("{at}.headerInjection"), "headerValue or headerValueEnv is required"));
                }
                _ => {}
            }
            env_secret(&h.header_value_env, &format!("{at}.headerInjection.headerValueEnv"), env)?;
        }
        "token_exchange" => {
            let t = s.token_exchange.as_ref().ok_or_else(|| missing("tokenExchange"))?;
            required(&t.token_url, &format!("{at}.tokenExchange.tokenUrl"))?;
            env_secret(&t.client_secret_env, &format!("{at}.tokenExchange.clientSecretEnv"), env)?;
        }
        "upstream_inject" => {
            s.upstream_inject.as_ref().ok_or_else(|| missing("upstreamInject"))?;
        }
        "aws_sts" => {
            let a = s.aws_sts.as_ref().ok_or_else(|| missing("awsSts"))?;
            if a.get("region").and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(missing("awsSts.region"));
            }
        }
        "obo" => {
            let o = s.obo.as_ref().ok_or_else(|| missing("obo"))?;
            if o.get("tokenUrl").and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(missing("obo.tokenUrl"));
            }
        }
        "xaa" => {
            let x = s.xaa.as_ref().ok_or_else(|| missing("xaa"))?;
            required(&x.idp_token_url, &format!("{at}.xaa.idpTokenUrl"))?;
            required(&x.target_token_url, &format!("{at}.xaa.targetTokenUrl"))?;
            required(&x.target_audience, &format!("{at}.xaa.targetAudience"))?;
            if let Some(t) = &x.subject_token_type
                && !matches!(
                    token_type_urn(Some(t)).as_str(),
                    "urn:ietf:params:oauth:token-type:id_token" | "urn:ietf:params:oauth:token-type:jwt"
                )
            {
                return Err(vfield(format!("{at}.xaa.subjectTokenType"), format!("{t:?} is not id_token or jwt")));
            }
            env_secret(&x.idp_client_secret_env, &format!("{at}.xaa.idpClientSecretEnv"), env)?;
            env_secret(&x.target_client_secret_env, &format!("{at}.xaa.targetClientSecretEnv"), env)?;
        }
        "" => return Err(missing("type")),
        other => {
            return Err(vfield(
                format!("{at}.type"),
                format!(
                    "{other:?} is not one of unauthenticated, header_injection, token_exchange, upstream_inject, \
                     aws_sts, obo, xaa"
                ),
            ));
        }
    }
    Ok(())
}

fn section(out: &mut Vec<String>, set: bool, name: &str) {
    if set {
        out.push(name.to_string());
    }
}

/// The valid ToolHive sections `serve` refuses because the reference does not implement them.
pub fn unsupported(f: &VmcpFile) -> Vec<String> {
    let mut out = Vec::new();
    section(&mut out, f.composite_tools.is_some(), "compositeTools");
    section(&mut out, f.composite_tool_refs.is_some(), "compositeToolRefs");
    section(
        &mut out,
        f.operational.as_ref().is_some_and(|o| o.failure_handling.is_some()),
        "operational.failureHandling",
    );
    section(&mut out, f.metadata.is_some(), "metadata");
    section(&mut out, f.telemetry.is_some(), "telemetry");
    section(&mut out, f.audit.is_some(), "audit");
    section(&mut out, f.optimizer.is_some(), "optimizer");
    section(&mut out, f.code_mode.is_some(), "codeMode");
    section(&mut out, f.rate_limiting.is_some(), "rateLimiting");
    for (i, b) in f.backends.iter().enumerate() {
        if b.transport == "sse" {
            out.push(format!("backends[{i}].transport: sse"));
        }
        if b.ca_bundle_path.is_some() {
            out.push(format!("backends[{i}].caBundlePath"));
        }
        if b.metadata.is_some() {
            out.push(format!("backends[{i}].metadata"));
        }
    }
    if let Some(i) = &f.incoming_auth {
        if i.type_ == "local" {
            out.push("incomingAuth.type: local".into());
        }
        if i.authz.as_ref().is_some_and(|a| a.group_entity_type.is_some()) {
            out.push("incomingAuth.authz.groupEntityType".into());
        }
        if let Some(o) = &i.oidc
            && o.ca_bundle_path.is_some()
        {
            out.push("incomingAuth.oidc.caBundlePath".into());
        }
    }
    if let Some(o) = &f.outgoing_auth {
        if o.source == "discovered" {
            out.push("outgoingAuth.source: discovered (needs in-cluster Kubernetes)".into());
        }
        let all = o
            .default
            .iter()
            .map(|s| ("default".to_string(), s))
            .chain(o.backends.iter().map(|(k, s)| (format!("backends.{k}"), s)));
        for (k, s) in all {
            if matches!(s.type_.as_str(), "aws_sts" | "obo") {
                out.push(format!("outgoingAuth.{k}: {}", s.type_));
            }
        }
    }
    if let Some(a) = &f.aggregation {
        if matches!(a.conflict_resolution.as_str(), "priority" | "manual") {
            out.push(format!("aggregation.conflictResolution: {}", a.conflict_resolution));
        }
        section(&mut out, a.tools.is_some(), "aggregation.tools");
        section(&mut out, a.exclude_all_tools.is_some(), "aggregation.excludeAllTools");
        section(&mut out, a.default_tool_visibility.is_some(), "aggregation.defaultToolVisibility");
    }
    out
}

/// Loads `vmcp.yaml` at `path` and, when it exists, the sibling `authserver-config.yaml`.
pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<Loaded, CliConfigError> {
    let text = read(path, VMCP_FILE)?;
    let file = parse_vmcp(&text, env)?;
    let unsupported = unsupported(&file);
    if !unsupported.is_empty() {
        return Err(CliConfigError::Unsupported { file: VMCP_FILE.into(), features: unsupported });
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let as_path = dir.join(AUTHSERVER_FILE);
    let auth = if as_path.exists() {
        let value = parse_yaml(&read(&as_path, AUTHSERVER_FILE)?, AUTHSERVER_FILE)?;
        let f: AuthServerFile = crate::crd::decode_strict(value).map_err(|e| afield(e.path, e.message))?;
        Some(f)
    } else {
        None
    };
    from_files(&file, auth.as_ref(), &dir, env).map(|mut l| {
        l.authserver_path = auth.is_some().then_some(as_path);
        l
    })
}

/// Builds the runtime configuration from decoded files (secret file paths resolved against `dir`).
pub fn from_files(
    f: &VmcpFile,
    auth: Option<&AuthServerFile>,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Loaded, CliConfigError> {
    let incoming_auth = f.incoming_auth.clone().unwrap_or_default();
    let incoming = match incoming_auth.oidc.as_ref().filter(|_| incoming_auth.type_ == "oidc") {
        None => IncomingAuthConfig::Anonymous,
        Some(o) => IncomingAuthConfig::Oidc(OidcIncoming {
            issuer: o.issuer.clone(),
            audience: o.audience.clone(),
            resource_url: o.resource.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| o.audience.clone()),
            scopes: o.scopes.clone().unwrap_or_else(|| vec!["openid".into()]),
            jwks_url: o.jwks_url.clone(),
            introspection: match (
                &o.client_id,
                env_secret(&o.client_secret_env, "incomingAuth.oidc.clientSecretEnv", env)?,
            ) {
                (Some(id), Some(secret)) => Some(IntrospectionConfig {
                    url: o.introspection_url.clone(),
                    client_id: id.clone(),
                    client_secret: secret,
                }),
                _ => None,
            },
            required_subject: None,
        }),
    };
    let outgoing_file = f.outgoing_auth.clone().unwrap_or_default();
    let first_upstream = auth.and_then(|a| a.upstreams.first()).map(|u| upstream_name(&u.name, auth));
    let mut outgoing = OutgoingAuthConfig {
        passthrough_headers: f.passthrough_headers.clone(),
        disable_upstream_token_injection: auth.is_some_and(|a| a.disable_upstream_token_injection),
        ..Default::default()
    };
    if let Some(d) = &outgoing_file.default {
        outgoing.default = Some(strategy(d, "default", "outgoingAuth.default", first_upstream.as_deref(), env)?);
    }
    for (name, s) in &outgoing_file.backends {
        let at = format!("outgoingAuth.backends.{name}");
        outgoing.backends.insert(name.clone(), strategy(s, name, &at, first_upstream.as_deref(), env)?);
    }
    let prefix_format = f
        .aggregation
        .as_ref()
        .and_then(|a| a.conflict_resolution_config.as_ref())
        .and_then(|c| c.prefix_format.clone())
        .unwrap_or_else(|| AggregationConfig::default().prefix_format);
    let vmcp = VmcpConfig {
        name: f.name.clone().unwrap_or_default(),
        backends: f
            .backends
            .iter()
            .map(|b| BackendConfig {
                name: b.name.clone(),
                url: b.url.clone(),
                kind: if b.type_ == "entry" { BackendKind::McpServerEntry } else { BackendKind::McpServer },
            })
            .collect(),
        incoming,
        outgoing,
        aggregation: AggregationConfig { prefix_format },
        authz: None,
        timeouts: timeouts(f.operational.as_ref().and_then(|o| o.timeouts.as_ref()))?,
    };
    let authz = incoming_auth.authz.clone().unwrap_or_default();
    let primary = authz.primary_upstream_provider.clone().filter(|p| !p.is_empty());
    let mut vmcp = vmcp;
    if authz.type_ == "cedar" {
        vmcp.authz = Some(crate::vmcp::authz::AuthzConfig {
            policies: authz.policies.clone(),
            entities_json: authz.entities_json.clone(),
            group_claim_name: authz.group_claim_name.clone(),
            role_claim_name: authz.role_claim_name.clone(),
            // With an embedded server, claims come from the primary upstream, else the first.
            claims_provider: primary.clone().or_else(|| first_upstream.clone()),
        });
    }
    let (auth_server, auth_storage, redis_key_prefix) = match auth {
        None => (None, StorageConfig::Memory, String::new()),
        Some(a) => {
            let (config, storage, prefix) = authserver(a, primary, dir, env)?;
            (Some(config), storage, prefix)
        }
    };
    Ok(Loaded {
        runtime: RuntimeConfig { vmcp, auth_server, auth_storage, passthrough_headers: f.passthrough_headers.clone() },
        group_ref: f.group_ref.clone().unwrap_or_default(),
        redis_key_prefix,
        authserver_path: None,
        session_storage: session_storage(f.session_storage.as_ref(), env)?,
    })
}

fn timeouts(t: Option<&Timeouts>) -> Result<crate::vmcp::config::BackendTimeouts, CliConfigError> {
    let mut out = crate::vmcp::config::BackendTimeouts::default();
    let Some(t) = t else { return Ok(out) };
    let parse =
        |v: &str, at: String| parse_go_duration(v).map_err(|e| vfield(at, format!("{v:?} is not a Go duration: {e}")));
    if let Some(d) = t.default.as_deref().filter(|d| !d.is_empty()) {
        out.default = parse(d, "operational.timeouts.default".into())?;
    }
    for (k, v) in &t.per_workload {
        out.per_workload.insert(k.clone(), parse(v, format!("operational.timeouts.perWorkload.{k}"))?);
    }
    Ok(out)
}

fn session_storage(
    s: Option<&SessionStorageFile>,
    env: EnvLookup<'_>,
) -> Result<Option<crate::storage::session_store::SessionStorageConfig>, CliConfigError> {
    let Some(s) = s else { return Ok(None) };
    match s.provider.as_str() {
        "memory" | "" => Ok(None),
        "redis" => {
            let address = s
                .address
                .clone()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| vfield("sessionStorage.address", "required when provider is redis"))?;
            Ok(Some(crate::storage::session_store::SessionStorageConfig {
                address,
                db: s.db.unwrap_or(0),
                key_prefix: s.key_prefix.clone().filter(|p| !p.is_empty()),
                password: env(super::write::SESSION_PASSWORD_ENV).filter(|p| !p.is_empty()),
            }))
        }
        other => Err(vfield("sessionStorage.provider", format!("{other:?} is not one of memory, redis"))),
    }
}

/// A single unnamed upstream is called `default`.
fn upstream_name(name: &str, auth: Option<&AuthServerFile>) -> String {
    if name.is_empty() && auth.is_some_and(|a| a.upstreams.len() == 1) { "default".into() } else { name.into() }
}

fn strategy(
    s: &Strategy,
    key: &str,
    at: &str,
    first_upstream: Option<&str>,
    env: EnvLookup<'_>,
) -> Result<OutgoingStrategy, CliConfigError> {
    let secret =
        |inline: &Option<String>, env_name: &Option<String>, path: &str| -> Result<Option<String>, CliConfigError> {
            Ok(match env_secret(env_name, path, env)? {
                Some(v) => Some(v),
                None => inline.clone(),
            })
        };
    Ok(match s.type_.as_str() {
        "header_injection" => {
            let h = s.header_injection.clone().unwrap_or_default();
            let value = secret(&h.header_value, &h.header_value_env, &format!("{at}.headerInjection.headerValueEnv"))?;
            OutgoingStrategy::HeaderInjection { header_name: h.header_name, header_value: value.unwrap_or_default() }
        }
        "upstream_inject" => {
            let name = s.upstream_inject.clone().unwrap_or_default().provider_name;
            OutgoingStrategy::UpstreamInject { provider_name: if name.is_empty() { "default".into() } else { name } }
        }
        "token_exchange" => {
            let t = s.token_exchange.clone().unwrap_or_default();
            OutgoingStrategy::TokenExchange(TokenExchangeConfig {
                name: key.into(),
                client_secret: secret(
                    &t.client_secret,
                    &t.client_secret_env,
                    &format!("{at}.tokenExchange.clientSecretEnv"),
                )?,
                token_url: t.token_url,
                audience: t.audience.unwrap_or_default(),
                client_id: t.client_id.filter(|c| !c.is_empty()),
                scopes: t.scopes,
                subject_provider_name: t.subject_provider_name.filter(|p| !p.is_empty()),
                subject_token_type: token_type_urn(t.subject_token_type.as_deref()),
                external_token_header_name: None,
            })
        }
        "xaa" => {
            let x = s.xaa.clone().unwrap_or_default();
            let subject = match x.subject_provider_name.clone().filter(|p| !p.is_empty()) {
                Some(p) => p,
                None => first_upstream.map(str::to_string).ok_or_else(|| {
                    vfield(
                        format!("{at}.xaa.subjectProviderName"),
                        "required: there is no authorization server upstream to default to",
                    )
                })?,
            };
            OutgoingStrategy::Xaa(XaaConfig {
                name: key.into(),
                idp_client_secret: secret(
                    &x.idp_client_secret,
                    &x.idp_client_secret_env,
                    &format!("{at}.xaa.idpClientSecretEnv"),
                )?,
                target_client_secret: secret(
                    &x.target_client_secret,
                    &x.target_client_secret_env,
                    &format!("{at}.xaa.targetClientSecretEnv"),
                )?,
                idp_token_url: x.idp_token_url,
                idp_client_id: x.idp_client_id.filter(|c| !c.is_empty()),
                target_token_url: x.target_token_url,
                target_client_id: x.target_client_id.filter(|c| !c.is_empty()),
                target_audience: x.target_audience,
                target_resource: x.target_resource,
                scopes: x.scopes,
                subject_provider_name: subject,
                subject_token_type: x
                    .subject_token_type
                    .map(|t| token_type_urn(Some(&t)))
                    .unwrap_or_else(|| "urn:ietf:params:oauth:token-type:id_token".into()),
            })
        }
        _ => OutgoingStrategy::Unauthenticated,
    })
}

/// `*_file` wins over `*_env_var`; files are whitespace-trimmed; a named but unset variable is an error.
fn client_secret(
    s: &ClientSecretSource,
    at: &str,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Option<String>, CliConfigError> {
    if let Some(f) = s.client_secret_file.as_deref().filter(|f| !f.is_empty()) {
        return Ok(Some(read_secret_file(f, &format!("{at}.client_secret_file"), dir)?.trim().to_string()));
    }
    env_var(&s.client_secret_env_var, &format!("{at}.client_secret_env_var"), env)
}

fn env_var(name: &Option<String>, at: &str, env: EnvLookup<'_>) -> Result<Option<String>, CliConfigError> {
    match name.as_deref().filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) => env(n)
            .filter(|v| !v.is_empty())
            .map(Some)
            .ok_or_else(|| afield(at, format!("environment variable {n} is not set"))),
    }
}

fn resolve(dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() { p.to_path_buf() } else { dir.join(p) }
}

fn read_secret_file(path: &str, at: &str, dir: &Path) -> Result<String, CliConfigError> {
    let full = resolve(dir, path);
    std::fs::read_to_string(&full).map_err(|e| afield(at, format!("cannot read {}: {e}", full.display())))
}

fn duration(value: &Option<String>, at: &str, default: Duration) -> Result<Duration, CliConfigError> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => parse_go_duration(v).map_err(|e| afield(at, format!("{v:?} is not a Go duration: {e}"))),
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// Issuer-like URL rules of the authorization server's start-up.
fn check_issuer_like(value: &str, at: &str, insecure: bool) -> Result<(), CliConfigError> {
    let bad = |why: &str| afield(at, format!("{value:?}: {why}"));
    let url = url::Url::parse(value).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if insecure || is_loopback_host(&url) => {}
        "http" => return Err(bad("http is allowed only on a loopback host or with insecure_allow_http")),
        _ => return Err(bad("must be an https URL")),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not have a query, fragment or userinfo"));
    }
    if value.ends_with('/') {
        return Err(bad("must not end with a slash"));
    }
    Ok(())
}

fn check_redirect(value: &str, at: &str, insecure: bool) -> Result<(), CliConfigError> {
    let bad = |why: &str| afield(at, format!("{value:?}: {why}"));
    let url = url::Url::parse(value).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if insecure || is_loopback_host(&url) => Ok(()),
        _ => Err(bad("must be https, or http on a loopback host")),
    }
}

type AuthParts = (AuthServerConfig, StorageConfig, String);

fn authserver(
    a: &AuthServerFile,
    primary: Option<String>,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Result<AuthParts, CliConfigError> {
    let mut refused = Vec::new();
    for (set, k) in [
        (a.trusted_issuers.is_some(), "trusted_issuers"),
        (a.allow_confidential_client_registration == Some(true), "allow_confidential_client_registration"),
        (a.force_confidential_redirect_uris.is_some(), "force_confidential_redirect_uris"),
        (
            a.insecure_allow_confidential_over_loopback_http == Some(true),
            "insecure_allow_confidential_over_loopback_http",
        ),
        (a.delegate_clients.is_some(), "delegate_clients"),
        (a.delegation_token_lifespan.is_some(), "delegation_token_lifespan"),
    ] {
        if set {
            refused.push(k.to_string());
        }
    }
    for (i, u) in a.upstreams.iter().enumerate() {
        if u.oidc_config.as_ref().is_some_and(|o| o.userinfo_override.is_some()) {
            refused.push(format!("upstreams[{i}].oidc_config.userinfo_override"));
        }
    }
    if !refused.is_empty() {
        return Err(CliConfigError::Unsupported { file: AUTHSERVER_FILE.into(), features: refused });
    }
    if a.issuer.is_empty() {
        return Err(afield("issuer", "required"));
    }
    check_issuer_like(&a.issuer, "issuer", a.insecure_allow_http)?;
    if let Some(b) = &a.authorization_endpoint_base_url {
        check_issuer_like(b, "authorization_endpoint_base_url", a.insecure_allow_http)?;
    }
    if a.upstreams.is_empty() {
        return Err(afield("upstreams", "at least one upstream is required"));
    }
    let name_re =
        regex::Regex::new("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$").map_err(|e| afield("upstreams", e.to_string()))?;
    let mut seen = BTreeSet::new();
    let mut upstreams = Vec::new();
    for (i, u) in a.upstreams.iter().enumerate() {
        let at = format!("upstreams[{i}]");
        let name = upstream_name(&u.name, Some(a));
        if name.is_empty() {
            return Err(afield(format!("{at}.name"), "required when there is more than one upstream"));
        }
        if a.upstreams.len() > 1 && name == "default" {
            return Err(afield(format!("{at}.name"), "`default` is reserved"));
        }
        if !name_re.is_match(&name) {
            return Err(afield(format!("{at}.name"), format!("{name:?} is not a DNS label")));
        }
        if !seen.insert(name.clone()) {
            return Err(afield(format!("{at}.name"), format!("duplicate upstream name {name:?}")));
        }
        let kind = match (u.type_.as_str(), &u.oidc_config, &u.oauth2_config) {
            ("oidc", Some(o), None) => {
                let at = format!("{at}.oidc_config");
                if o.client_id.is_empty() {
                    return Err(afield(format!("{at}.client_id"), "required"));
                }
                if o.redirect_uri.is_empty() {
                    return Err(afield(format!("{at}.redirect_uri"), "required"));
                }
                check_redirect(
                    &o.redirect_uri,
                    &format!("{at}.redirect_uri"),
                    a.insecure_allow_http || o.insecure_allow_http,
                )?;
                UpstreamKind::Oidc(OidcUpstream {
                    issuer_url: o.issuer_url.clone(),
                    client_id: o.client_id.clone(),
                    client_secret: client_secret(&o.secret, &at, dir, env)?,
                    redirect_uri: o.redirect_uri.clone(),
                    scopes: if o.scopes.is_empty() {
                        vec!["openid".into(), "offline_access".into()]
                    } else {
                        o.scopes.clone()
                    },
                    subject_claim: o.subject_claim.clone(),
                    additional_authorization_params: o.additional_authorization_params.clone(),
                })
            }
            ("oauth2", None, Some(o)) => {
                let at = format!("{at}.oauth2_config");
                let dcr = match &o.dcr_config {
                    None => None,
                    Some(d) => {
                        let token = match d.initial_access_token_file.as_deref().filter(|f| !f.is_empty()) {
                            Some(f) => Some(
                                read_secret_file(f, &format!("{at}.dcr_config.initial_access_token_file"), dir)?
                                    .trim()
                                    .to_string(),
                            ),
                            None => env_var(
                                &d.initial_access_token_env_var,
                                &format!("{at}.dcr_config.initial_access_token_env_var"),
                                env,
                            )?,
                        };
                        if d.discovery_url.is_some() == d.registration_endpoint.is_some() {
                            return Err(afield(
                                format!("{at}.dcr_config"),
                                "exactly one of discovery_url and registration_endpoint is required",
                            ));
                        }
                        Some(DcrSettings {
                            discovery_url: d.discovery_url.clone(),
                            registration_endpoint: d.registration_endpoint.clone(),
                            initial_access_token: token,
                            software_id: d.software_id.clone(),
                            software_statement: d.software_statement.clone(),
                        })
                    }
                };
                if dcr.is_none() && o.client_id.is_empty() {
                    return Err(afield(format!("{at}.client_id"), "required (unless dcr_config is set)"));
                }
                let redirect_uri = if o.redirect_uri.is_empty() {
                    if dcr.is_none() {
                        return Err(afield(format!("{at}.redirect_uri"), "required"));
                    }
                    format!("{}/oauth/callback", a.issuer)
                } else {
                    o.redirect_uri.clone()
                };
                check_redirect(
                    &redirect_uri,
                    &format!("{at}.redirect_uri"),
                    a.insecure_allow_http || o.insecure_allow_http,
                )?;
                for (k, v) in
                    [("authorization_endpoint", &o.authorization_endpoint), ("token_endpoint", &o.token_endpoint)]
                {
                    if v.is_empty() {
                        return Err(afield(format!("{at}.{k}"), "required"));
                    }
                }
                UpstreamKind::OAuth2(OAuth2Upstream {
                    authorization_endpoint: o.authorization_endpoint.clone(),
                    token_endpoint: o.token_endpoint.clone(),
                    client_id: o.client_id.clone(),
                    client_secret: client_secret(&o.secret, &at, dir, env)?,
                    redirect_uri,
                    scopes: o.scopes.clone(),
                    userinfo: o.userinfo.as_ref().map(|u| {
                        let d = FieldMapping::default();
                        let m = u.field_mapping.clone().unwrap_or_default();
                        let or = |v: Vec<String>, d: Vec<String>| if v.is_empty() { d } else { v };
                        UserInfoConfig {
                            endpoint_url: u.endpoint_url.clone(),
                            http_method: u
                                .http_method
                                .clone()
                                .filter(|m| !m.is_empty())
                                .unwrap_or_else(|| "GET".into()),
                            additional_headers: u.additional_headers.clone(),
                            field_mapping: FieldMapping {
                                subject_fields: or(m.subject_fields, d.subject_fields),
                                name_fields: or(m.name_fields, d.name_fields),
                                email_fields: or(m.email_fields, d.email_fields),
                            },
                        }
                    }),
                    additional_authorization_params: o.additional_authorization_params.clone(),
                    dcr,
                    token_response_mapping: o.token_response_mapping.as_ref().map(|m| {
                        crate::crd::TokenResponseMapping {
                            access_token_path: m.access_token_path.clone(),
                            scope_path: m.scope_path.clone(),
                            refresh_token_path: m.refresh_token_path.clone(),
                            expires_in_path: m.expires_in_path.clone(),
                        }
                    }),
                    identity_from_token: o.identity_from_token.as_ref().map(|m| crate::crd::IdentityFromToken {
                        subject_path: m.subject_path.clone(),
                        name_path: m.name_path.clone(),
                        email_path: m.email_path.clone(),
                    }),
                })
            }
            ("oidc" | "oauth2", _, _) => {
                return Err(afield(
                    format!("{at}.type"),
                    format!("type {:?} needs exactly its own {}_config", u.type_, u.type_),
                ));
            }
            (other, _, _) => return Err(afield(format!("{at}.type"), format!("{other:?} is not one of oidc, oauth2"))),
        };
        upstreams.push(UpstreamProvider { name, kind });
    }
    if a.allowed_audiences.is_empty() {
        return Err(afield("allowed_audiences", "at least one audience is required"));
    }
    for (i, aud) in a.allowed_audiences.iter().enumerate() {
        let ok = url::Url::parse(aud).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none());
        if !ok {
            return Err(afield(
                format!("allowed_audiences[{i}]"),
                format!("{aud:?} is not an absolute http(s) URI without a fragment"),
            ));
        }
    }
    let scopes_supported = a
        .scopes_supported
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SCOPES_SUPPORTED.iter().map(|s| s.to_string()).collect());
    for (i, s) in a.baseline_client_scopes.iter().enumerate() {
        if !scopes_supported.contains(s) {
            return Err(afield(format!("baseline_client_scopes[{i}]"), format!("{s:?} is not in scopes_supported")));
        }
    }
    let mut signing_keys_pem = Vec::new();
    if let Some(k) = &a.signing_key_config {
        let key_dir = resolve(dir, &k.key_dir);
        for (j, name) in std::iter::once(&k.signing_key_file).chain(&k.fallback_key_files).enumerate() {
            let at = if j == 0 {
                "signing_key_config.signing_key_file".to_string()
            } else {
                format!("signing_key_config.fallback_key_files[{}]", j - 1)
            };
            let path = key_dir.join(name);
            signing_keys_pem.push(
                std::fs::read_to_string(&path)
                    .map_err(|e| afield(at, format!("cannot read {}: {e}", path.display())))?,
            );
        }
    }
    let mut hmac_secrets = Vec::new();
    for (i, f) in a.hmac_secret_files.iter().enumerate() {
        let path = resolve(dir, f);
        // HMAC files are used as written (not trimmed), like ToolHive.
        let bytes = std::fs::read(&path)
            .map_err(|e| afield(format!("hmac_secret_files[{i}]"), format!("cannot read {}: {e}", path.display())))?;
        if bytes.len() < 32 {
            return Err(afield(
                format!("hmac_secret_files[{i}]"),
                format!("{} holds {} bytes; at least 32 are required", path.display(), bytes.len()),
            ));
        }
        hmac_secrets.push(bytes);
    }
    let d = TokenLifespans::default();
    let l = a.token_lifespans.clone().unwrap_or_default();
    let lifespans = TokenLifespans {
        access_token: duration(&l.access_token_lifespan, "token_lifespans.access_token_lifespan", d.access_token)?,
        refresh_token: duration(&l.refresh_token_lifespan, "token_lifespans.refresh_token_lifespan", d.refresh_token)?,
        auth_code: duration(&l.auth_code_lifespan, "token_lifespans.auth_code_lifespan", d.auth_code)?,
    };
    let cimd = match a.cimd.as_ref().filter(|c| c.enabled) {
        None => None,
        Some(c) => {
            let mut s = CimdSettings::default();
            if let Some(n) = c.cache_max_size.filter(|n| *n > 0) {
                s.cache_max_size = n as usize;
            }
            s.cache_fallback_ttl = duration(&c.cache_fallback_ttl, "cimd.cache_fallback_ttl", s.cache_fallback_ttl)?;
            Some(s)
        }
    };
    if let Some(p) = &primary
        && !upstreams.iter().any(|u| &u.name == p)
    {
        return Err(vfield(
            "incomingAuth.authz.primaryUpstreamProvider",
            format!("{p:?} names no upstream of {AUTHSERVER_FILE}"),
        ));
    }
    let config = AuthServerConfig {
        issuer: a.issuer.clone(),
        authorization_endpoint_base_url: a.authorization_endpoint_base_url.clone(),
        signing_keys_pem,
        hmac_secrets,
        lifespans,
        upstreams,
        scopes_supported,
        allowed_audiences: a.allowed_audiences.clone(),
        baseline_client_scopes: a.baseline_client_scopes.clone(),
        insecure_allow_http: a.insecure_allow_http,
        primary_upstream_provider: primary,
        cimd,
    };
    let (storage, prefix) = storage(a.storage.as_ref(), dir, env)?;
    Ok((config, storage, prefix))
}

fn storage(s: Option<&StorageFile>, dir: &Path, env: EnvLookup<'_>) -> Result<(StorageConfig, String), CliConfigError> {
    let Some(s) = s else { return Ok((StorageConfig::Memory, String::new())) };
    match s.type_.as_str() {
        "" | "memory" => return Ok((StorageConfig::Memory, String::new())),
        "redis" => {}
        other => return Err(afield("storage.type", format!("{other:?} is not one of memory, redis"))),
    }
    let r = s.redis_config.as_ref().ok_or_else(|| afield("storage.redis_config", "required when type is redis"))?;
    let mode = match (&r.sentinel_config, &r.addr) {
        (Some(sc), None) => {
            if sc.master_name.is_empty() {
                return Err(afield("storage.redis_config.sentinel_config.master_name", "required"));
            }
            if sc.sentinel_addrs.is_empty() {
                return Err(afield(
                    "storage.redis_config.sentinel_config.sentinel_addrs",
                    "at least one address is required",
                ));
            }
            RedisMode::Sentinel {
                master_name: sc.master_name.clone(),
                sentinel_addrs: sc.sentinel_addrs.clone(),
                db: sc.db,
            }
        }
        (None, Some(addr)) if r.cluster_mode => RedisMode::Cluster { addr: addr.clone() },
        (None, Some(addr)) => RedisMode::Standalone { addr: addr.clone() },
        _ => return Err(afield("storage.redis_config", "exactly one of sentinel_config and addr is required")),
    };
    let acl = r.acl_user_config.clone().unwrap_or_default();
    let username = env_var(&acl.username_env_var, "storage.redis_config.acl_user_config.username_env_var", env)?;
    let password = env_var(&acl.password_env_var, "storage.redis_config.acl_user_config.password_env_var", env)?
        .ok_or_else(|| afield("storage.redis_config.acl_user_config.password_env_var", "required"))?;
    let tls = |t: &Option<RedisTlsFile>, at: &str| -> Result<Option<RedisTlsConfig>, CliConfigError> {
        let Some(t) = t else { return Ok(None) };
        let ca_cert_pem = match t.ca_cert_file.as_deref() {
            Some(f) => Some(read_secret_file(f, &format!("{at}.ca_cert_file"), dir)?),
            None => None,
        };
        Ok(Some(RedisTlsConfig { ca_cert_pem, insecure_skip_verify: t.insecure_skip_verify }))
    };
    let config = RedisConfig {
        mode,
        username,
        password,
        tls: tls(&r.tls, "storage.redis_config.tls")?,
        sentinel_tls: tls(&r.sentinel_tls, "storage.redis_config.sentinel_tls")?,
        dial_timeout: duration(&r.dial_timeout, "storage.redis_config.dial_timeout", Duration::from_secs(5))?,
        read_timeout: duration(&r.read_timeout, "storage.redis_config.read_timeout", Duration::from_secs(3))?,
        write_timeout: duration(&r.write_timeout, "storage.redis_config.write_timeout", Duration::from_secs(3))?,
    };
    let prefix = if r.key_prefix.is_empty() { "thv:auth:".to_string() } else { r.key_prefix.clone() };
    Ok((StorageConfig::Redis(Box::new(config)), prefix))
}

/// The variables a map holds, as an [`EnvLookup`].
pub fn map_env(map: &BTreeMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |k| map.get(k).cloned()
}
