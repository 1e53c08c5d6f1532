//! The rules a VirtualMCPServer bundle must satisfy (each reported as a status condition with the
//! reason ToolHive uses where it has one) and the translation into the runtime configuration
//! (docs first; `specs/toolhive-behaviour.md` 9.3 for the operator's conversion rules).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use url::{Host, Url};

use crate::authserver::config::{
    AuthServerConfig, DEFAULT_SCOPES_SUPPORTED, FieldMapping, OAuth2Upstream, OidcUpstream, TokenLifespans,
    UpstreamKind, UpstreamProvider, UserInfoConfig,
};
use crate::crd::{
    BackendAuth, BackendAuthType, ConflictResolution, DEFAULT_KUBERNETES_ISSUER, EmbeddedAuthServerConfig,
    ExternalAuthType, IncomingAuthType, MCPExternalAuthConfigSpec, OidcConfigType, OutgoingAuthSource,
    RedisStorageSpec, RedisTls, StorageType, UpstreamType, UserInfoSpec, VirtualMCPServer,
};
use crate::target::StatusCondition;
use crate::vmcp::config::{
    AggregationConfig, BackendConfig, BackendKind, IncomingAuthConfig, OidcIncoming, OutgoingAuthConfig,
    OutgoingStrategy, VmcpConfig,
};

use super::secrets::SecretResolver;
use super::{
    Bundle, Environment, Reconciled, RedisConfig, RedisMode, RedisTlsConfig, RuntimeConfig, StorageConfig,
    parse_go_duration,
};

// Doc sections cited in condition messages.
const DOC_CA_BUNDLE: &str = "auth-k8s.mdx#use-a-custom-ca-certificate-for-the-oidc-issuer";
const DOC_SESSION_STORAGE: &str = "redis-session-storage.mdx#verify-session-storage-is-working";
const DOC_ISSUER: &str = "embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server";
const DOC_LINKS: &str = "embedded-auth-server-vmcp.mdx#how-the-references-link-by-name";
const DOC_PRIMARY: &str = "embedded-auth-server-vmcp.mdx#select-the-primary-upstream-provider";
const DOC_VALIDATE_JWTS: &str = "embedded-auth-server-vmcp.mdx#validate-the-issued-jwts";
const DOC_HMAC: &str = "embedded-auth-server-k8s.mdx#step-3-create-a-secret-for-hmac-keys";
const DOC_SIGNING: &str = "embedded-auth-server-k8s.mdx#step-2-create-a-secret-for-jwt-signing-keys";
const DOC_UPSTREAMS: &str = "embedded-auth-server-k8s.mdx#configure-upstream-providers";
const DOC_AUTH_PARAMS: &str = "embedded-auth-server-k8s.mdx#upstream-specific-authorization-parameters";
const DOC_STORAGE: &str = "embedded-auth-server-k8s.mdx#configure-session-storage";
const DOC_SENTINEL_ADDRS: &str = "redis-session-storage.mdx#using-explicit-sentinel-addresses";
const DOC_LIFESPANS: &str = "embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server";
const DOC_RESOURCES_CONNECT: &str = "authentication.mdx#how-the-resources-connect";
const DOC_BACKEND_AUTH: &str = "authentication.mdx#backend-authentication";
const DOC_OIDC: &str = "authentication.mdx#oidc-authentication";
const DOC_OIDC_URLS: &str = "auth-k8s.mdx#connect-to-an-external-identity-provider";
const DOC_AUTHZ: &str = "authentication.mdx#authorize-requests";
const DOC_GROUP: &str = "configuration.mdx#create-an-mcpgroup";
const DOC_BACKENDS: &str = "configuration.mdx#add-backends-to-a-group";

/// Authorization parameters the framework sets itself (rejected in `additionalAuthorizationParams`).
const RESERVED_AUTH_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
];

/// The callback path of the embedded authorization server (always at the issuer's host root).
const CALLBACK_PATH: &str = "/oauth/callback";

const REASON_AS_INVALID: &str = "AuthServerConfigInvalid";

/// One rule family: its condition type, the reason when it holds, and what went wrong.
struct Check {
    type_: String,
    ok_reason: &'static str,
    ok_message: String,
    problems: Vec<(String, String)>,
}

impl Check {
    fn new(type_: impl Into<String>, ok_reason: &'static str) -> Self {
        Self { type_: type_.into(), ok_reason, ok_message: String::new(), problems: Vec::new() }
    }

    fn problem(&mut self, reason: &str, message: String) {
        self.problems.push((reason.to_string(), message));
    }
}

/// A strategy reference the vMCP actually uses, for the provider-name rule.
struct UsedConfig<'a> {
    route: String,
    name: String,
    spec: &'a MCPExternalAuthConfigSpec,
}

/// The incoming OIDC settings the auth-server rules compare against.
struct OidcInfo {
    issuer: String,
    audience: String,
    resource_url: Option<String>,
    scopes: Option<Vec<String>>,
}

struct Backend<'a> {
    name: String,
    kind: BackendKind,
    url: Option<String>,
    own_ref: Option<&'a str>,
}

/// Why a backend's strategy cannot be served.
enum StrategyError {
    /// A rule failed (already reported; the VirtualMCPServer fails).
    Invalid,
    /// A documented strategy the reference does not implement yet: the backend is left out.
    NotImplemented(String),
    /// The backend is left out with this condition reason while the rest keeps reconciling
    /// (e.g. `AmbiguousSubjectProvider`, VE:652-658).
    Rejected(&'static str, String),
}

struct Ctx<'a> {
    bundle: &'a Bundle,
    vmcp: &'a VirtualMCPServer,
    ns: &'a str,
    resource: String,
    conditions: Vec<StatusCondition>,
    failed: bool,
    secrets: SecretResolver<'a>,
    unsupported: Vec<String>,
    /// Only for the E4 switch (`skip-external-auth-valid`); other rules get the defects passed in.
    skip_external_auth_valid: bool,
}

pub(super) fn reconcile(bundle: &Bundle, env: &Environment) -> Reconciled {
    let Some(vmcp) = bundle.virtual_mcp_server() else {
        return Reconciled {
            conditions: vec![StatusCondition {
                resource: "Bundle".into(),
                type_: "Valid".into(),
                status: false,
                reason: "NoVirtualMCPServer".into(),
                message: "a bundle must hold exactly one VirtualMCPServer".into(),
            }],
            runtime: None,
        };
    };
    let ns = vmcp.metadata.namespace.as_deref().unwrap_or(super::DEFAULT_NAMESPACE);
    let ctx = Ctx {
        bundle,
        vmcp,
        ns,
        resource: format!("VirtualMCPServer/{}", vmcp.metadata.name.as_deref().unwrap_or_default()),
        conditions: Vec::new(),
        failed: false,
        secrets: SecretResolver::new(bundle, ns),
        unsupported: Vec::new(),
        skip_external_auth_valid: env.defects.is_on(crate::defects::Defect::SkipExternalAuthValid),
    };
    ctx.run(env)
}

impl<'a> Ctx<'a> {
    fn emit(&mut self, check: Check, fatal: bool) {
        let resource = self.resource.clone();
        self.emit_on(resource, check, fatal);
    }

    fn emit_on(&mut self, resource: String, check: Check, fatal: bool) {
        if check.problems.is_empty() {
            self.conditions.push(StatusCondition {
                resource,
                type_: check.type_,
                status: true,
                reason: check.ok_reason.into(),
                message: check.ok_message,
            });
        } else {
            if fatal {
                self.failed = true;
            }
            let reason = check.problems[0].0.clone();
            let message = check.problems.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
            self.conditions.push(StatusCondition { resource, type_: check.type_, status: false, reason, message });
        }
    }

    fn run(mut self, env: &Environment) -> Reconciled {
        let vmcp: &'a VirtualMCPServer = self.vmcp;
        let spec = &vmcp.spec;
        let group = spec.group_ref.name.clone();

        // The MCPGroup must exist.
        let mut check = Check::new("GroupRefValidated", "GroupRefValid");
        if self.bundle.group(self.ns, &group).is_some() {
            check.ok_message = format!("MCPGroup/{group} found");
        } else {
            check.problem(
                "GroupRefNotFound",
                format!("spec.groupRef.name {group:?}: no MCPGroup/{group} in namespace {} ({DOC_GROUP})", self.ns),
            );
        }
        let group_found = check.problems.is_empty();
        self.emit(check, true);
        if group_found && !env.defects.is_on(crate::defects::Defect::SkipGroupCheck) {
            self.group_checked(&group);
        }
        self.session_storage_warning(env.defects.is_on(crate::defects::Defect::IgnoreSessionStorage));

        let backends = self.discover_backends(&group, env);
        let oidc = self.incoming(env.defects.is_on(crate::defects::Defect::SkipFieldAdmissionRules));
        if let Some(r) = &spec.incoming_auth.authz_config_ref {
            self.authz_config_ref(&r.name, env.defects.is_on(crate::defects::Defect::AcceptNonCedarAuthzConfig));
        }
        if !env.defects.is_on(crate::defects::Defect::SkipCaBundleCheck) {
            self.ca_bundle();
        }
        let (introspection, required_subject) = self.incoming_extras();
        let (outgoing, excluded, used) = self.outgoing(&backends, &group);

        let mut provider_refs: Vec<(String, String)> = Vec::new(); // (message prefix, provider name)
        for u in &used {
            if let Some((field, provider)) = u.spec.referenced_provider() {
                provider_refs.push((
                    format!("{} -> MCPExternalAuthConfig/{} spec.{field}", u.route, u.name),
                    provider.to_string(),
                ));
            }
        }
        let (auth_server, auth_storage) = match &spec.auth_server_config {
            Some(asc) => {
                let oidc_info = oidc.as_ref().and_then(|o| o.as_ref());
                let (a, s) = self.auth_server(asc, oidc_info, &provider_refs, &env.defects);
                (a, s)
            }
            None => {
                let mut check = Check::new("AuthServerConfigValidated", "AuthServerConfigValid");
                for (prefix, provider) in &provider_refs {
                    check.problem(
                        REASON_AS_INVALID,
                        format!(
                            "{prefix} {provider:?} needs a stored upstream token, but spec.authServerConfig is not set \
                             ({DOC_LINKS})"
                        ),
                    );
                }
                if !check.problems.is_empty() {
                    self.emit(check, true);
                }
                (None, StorageConfig::Memory)
            }
        };

        // Secrets.
        let mut check = Check::new("SecretRefsValidated", "SecretRefsValid");
        check.ok_message = "every referenced Secret key resolved".into();
        for (problem, message) in self.secrets.problems().to_vec() {
            check.problem(problem.reason(), message);
        }
        self.emit(check, true);

        self.aggregation_support();
        if !self.unsupported.is_empty() {
            let mut check = Check::new("FeaturesSupported", "AllFeaturesSupported");
            let list = self.unsupported.join(", ");
            check.problem("FeatureNotImplemented", format!("the reference does not implement yet (ignored): {list}"));
            self.emit(check, false);
        }

        let timeouts = self.timeouts(&env.defects);
        let incoming = match oidc {
            Some(Some(o)) => Some(IncomingAuthConfig::Oidc(OidcIncoming {
                issuer: o.issuer.clone(),
                audience: o.audience.clone(),
                resource_url: o.resource_url.clone().unwrap_or_else(|| o.audience.clone()),
                scopes: o.scopes.clone().unwrap_or_else(|| vec!["openid".into()]),
                jwks_url: self.jwks_url(),
                introspection,
                required_subject,
            })),
            Some(None) => Some(IncomingAuthConfig::Anonymous),
            None => None,
        };

        if self.failed {
            return Reconciled { conditions: self.conditions, runtime: None };
        }
        let Some(incoming) = incoming else {
            return Reconciled { conditions: self.conditions, runtime: None };
        };
        let served: Vec<BackendConfig> = backends
            .into_iter()
            .filter(|b| !excluded.contains(&b.name))
            .filter_map(|b| Some(BackendConfig { url: b.url?, name: b.name, kind: b.kind }))
            .collect();
        let passthrough_headers = spec
            .passthrough_headers
            .clone()
            .or_else(|| spec.config.as_ref().and_then(|c| c.passthrough_headers.clone()))
            .unwrap_or_default();
        let vmcp = VmcpConfig {
            name: vmcp.metadata.name.clone().unwrap_or_default(),
            backends: served,
            incoming,
            outgoing,
            aggregation: self.aggregation(),
            authz: authz_config(
                vmcp,
                self.bundle,
                env.defects.is_on(crate::defects::Defect::AuthzIgnorePrimaryUpstream),
            ),
            timeouts,
        };
        Reconciled {
            conditions: self.conditions,
            runtime: Some(RuntimeConfig { vmcp, auth_server, auth_storage, passthrough_headers }),
        }
    }

    /// The group's MCPServers and MCPServerEntries, sorted by name.
    fn discover_backends(&mut self, group: &str, env: &Environment) -> Vec<Backend<'a>> {
        let mut backends: Vec<Backend<'a>> = Vec::new();
        let mut check = Check::new("BackendsDiscovered", "BackendsDiscovered");
        for s in self.bundle.mcp_servers(self.ns) {
            if s.spec.group_ref.as_ref().is_some_and(|g| g.name == group) {
                let name = s.metadata.name.clone().unwrap_or_default();
                let url = env.backend_urls.get(&name).cloned();
                if url.is_none() {
                    check.problem(
                        "BackendURLMissing",
                        format!("MCPServer/{name}: the harness environment has no mock backend URL for it"),
                    );
                }
                let own_ref = s.spec.external_auth_config_ref.as_ref().map(|r| r.name.as_str());
                backends.push(Backend { name, kind: BackendKind::McpServer, url, own_ref });
            }
        }
        for e in self.bundle.mcp_server_entries(self.ns) {
            if e.spec.group_ref.name == group {
                let name = e.metadata.name.clone().unwrap_or_default();
                let own_ref = e.spec.external_auth_config_ref.as_ref().map(|r| r.name.as_str());
                backends.push(Backend {
                    name,
                    kind: BackendKind::McpServerEntry,
                    url: Some(e.spec.remote_url.clone()),
                    own_ref,
                });
            }
        }
        backends.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in backends.windows(2) {
            if pair[0].name == pair[1].name {
                check.problem(
                    "DuplicateBackendName",
                    format!(
                        "an MCPServer and an MCPServerEntry of MCPGroup/{group} are both named {:?} ({DOC_BACKENDS})",
                        pair[0].name
                    ),
                );
            }
        }
        let names: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
        check.ok_message = format!("{} backends in MCPGroup/{group}: [{}]", names.len(), names.join(", "));
        self.emit(check, true);
        backends
    }

    /// `None`: incoming auth is unusable (a rule failed). `Some(None)`: anonymous.
    fn incoming(&mut self, lax: bool) -> Option<Option<OidcInfo>> {
        let vmcp: &'a VirtualMCPServer = self.vmcp;
        let inc = &vmcp.spec.incoming_auth;
        if inc.authz_config.is_some() && inc.authz_config_ref.is_some() {
            let mut check = Check::new("IncomingAuthValidated", "IncomingAuthValid");
            check.problem(
                "AuthzConfigConflict",
                format!("spec.incomingAuth.authzConfig and spec.incomingAuth.authzConfigRef are mutually exclusive ({DOC_AUTHZ})"),
            );
            self.emit(check, true);
        }
        if let Some(a) = &inc.authz_config
            && (a.inline.is_none() || a.type_ == Some(crate::crd::common::AuthzConfigType::ConfigMap))
        {
            self.unsupported.push("spec.incomingAuth.authzConfig type configMap (only inline policies)".into());
        }
        if inc.type_ == IncomingAuthType::Anonymous {
            return Some(None);
        }
        let mut check = Check::new("OIDCConfigRefValidated", "OIDCConfigRefValid");
        let Some(r) = &inc.oidc_config_ref else {
            check.problem(
                "OIDCConfigRefMissing",
                format!("spec.incomingAuth.oidcConfigRef is required when type is oidc ({DOC_OIDC})"),
            );
            self.emit(check, true);
            return None;
        };
        let bundle: &'a Bundle = self.bundle;
        let Some(cfg) = bundle.oidc_config(self.ns, &r.name) else {
            check.problem(
                "OIDCConfigRefNotFound",
                format!(
                    "spec.incomingAuth.oidcConfigRef.name {:?}: no MCPOIDCConfig/{} in namespace {} ({DOC_OIDC})",
                    r.name, r.name, self.ns
                ),
            );
            self.emit(check, true);
            return None;
        };
        let mut valid = Check::new("Valid", "Valid");
        valid.ok_message = "issuer and jwksUrl are well-formed".into();
        let issuer = match cfg.spec.type_ {
            OidcConfigType::Inline => match &cfg.spec.inline {
                Some(inline) => {
                    let insecure = inline.insecure_allow_http.unwrap_or(false);
                    let insecure = insecure || lax;
                    if let Err(e) = check_oidc_url(&inline.issuer, insecure) {
                        valid.problem(
                            "InvalidURL",
                            format!("spec.inline.issuer {:?} {e} ({DOC_OIDC_URLS})", inline.issuer),
                        );
                    }
                    if let Some(j) = inline.jwks_url.as_deref().filter(|j| !j.is_empty())
                        && let Err(e) = check_oidc_url(j, insecure)
                    {
                        valid.problem("InvalidURL", format!("spec.inline.jwksUrl {j:?} {e} ({DOC_OIDC_URLS})"));
                    }
                    inline.issuer.clone()
                }
                None => {
                    valid.problem("InvalidConfig", "spec.type is inline but spec.inline is missing".into());
                    String::new()
                }
            },
            OidcConfigType::KubernetesServiceAccount => cfg
                .spec
                .kubernetes_service_account
                .as_ref()
                .and_then(|k| k.issuer.clone())
                .unwrap_or_else(|| DEFAULT_KUBERNETES_ISSUER.into()),
        };
        if !valid.problems.is_empty() {
            let first = valid.problems.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>().join("; ");
            check.problem("OIDCConfigInvalid", format!("MCPOIDCConfig/{} is not valid: {first}", r.name));
        }
        check.ok_message = format!("MCPOIDCConfig/{} (issuer {issuer})", r.name);
        self.emit_on(format!("MCPOIDCConfig/{}", r.name), valid, false);
        let ok = check.problems.is_empty();
        self.emit(check, true);
        ok.then(|| {
            Some(OidcInfo {
                issuer,
                audience: r.audience.clone(),
                resource_url: r.resource_url.clone().filter(|u| !u.is_empty()),
                scopes: r.scopes.clone().filter(|s| !s.is_empty()),
            })
        })
    }

    /// J10: `incomingAuth.authzConfigRef` names an MCPAuthzConfig in the namespace whose type is
    /// `cedarv1` (the vMCP runs Cedar only) and whose policies load (authentication.mdx#authorize-requests;
    /// the CRD description: another type fails reconciliation). Condition names: DECISIONS.md.
    fn authz_config_ref(&mut self, name: &str, accept_any_type: bool) {
        let mut check = Check::new("AuthzConfigRefValidated", "AuthzConfigRefValid");
        match self.bundle.authz_config(self.ns, name) {
            // Defect `accept-non-cedar-authz-config`: another type is accepted and not enforced.
            Some(a) if a.spec.type_ != crate::crd::CEDAR_V1 && accept_any_type => {
                check.ok_message = format!("MCPAuthzConfig/{name} ({})", a.spec.type_);
            }
            None => check.problem(
                "AuthzConfigRefNotFound",
                format!("spec.incomingAuth.authzConfigRef.name {name:?}: no MCPAuthzConfig/{name} in namespace {} ({DOC_AUTHZ})", self.ns),
            ),
            Some(a) if a.spec.type_ != crate::crd::CEDAR_V1 => check.problem(
                "AuthzConfigRefUnsupportedType",
                format!(
                    "spec.incomingAuth.authzConfigRef.name {name:?}: MCPAuthzConfig/{name} has spec.type {:?}; a \
                     VirtualMCPServer supports only {:?} MCPAuthzConfig resources ({DOC_AUTHZ})",
                    a.spec.type_,
                    crate::crd::CEDAR_V1
                ),
            ),
            Some(a) => match a.spec.cedar().and_then(|c| {
                crate::vmcp::authz::Authz::new(crate::vmcp::authz::AuthzConfig {
                    policies: c.policies,
                    entities_json: c.entities_json,
                    group_claim_name: None,
                    role_claim_name: None,
                    claims_provider: None,
                })
                .map(|_| ())
                .map_err(|e| format!("spec.config: {e}"))
            }) {
                Ok(()) => check.ok_message = format!("MCPAuthzConfig/{name} (cedarv1)"),
                Err(e) => check.problem(
                    "AuthzConfigRefInvalid",
                    format!("spec.incomingAuth.authzConfigRef.name {name:?}: MCPAuthzConfig/{name} {e} ({DOC_AUTHZ})"),
                ),
            },
        }
        self.emit(check, true);
    }

    /// Issue 4: RFC 7662 introspection (an inline MCPOIDCConfig with `clientSecretRef`, VA:187-188)
    /// and the service-account restriction of `kubernetesServiceAccount` (KA:285-286).
    fn incoming_extras(&mut self) -> (Option<crate::vmcp::config::IntrospectionConfig>, Option<String>) {
        let Some(r) = self.vmcp.spec.incoming_auth.oidc_config_ref.as_ref() else { return (None, None) };
        let bundle: &'a Bundle = self.bundle;
        let Some(cfg) = bundle.oidc_config(self.ns, &r.name) else { return (None, None) };
        match cfg.spec.type_ {
            OidcConfigType::Inline => {
                let Some(inline) = cfg.spec.inline.as_ref() else { return (None, None) };
                let Some(secret_ref) = inline.client_secret_ref.as_ref() else { return (None, None) };
                let field = format!("MCPOIDCConfig/{} spec.inline.clientSecretRef", r.name);
                let secret = self.secrets.string(secret_ref, &field);
                let introspection = secret.map(|client_secret| crate::vmcp::config::IntrospectionConfig {
                    url: inline.introspection_url.clone().filter(|u| !u.is_empty()),
                    client_id: inline.client_id.clone().unwrap_or_default(),
                    client_secret,
                });
                (introspection, None)
            }
            OidcConfigType::KubernetesServiceAccount => {
                let Some(k) = cfg.spec.kubernetes_service_account.as_ref() else { return (None, None) };
                let subject = k.service_account.as_ref().filter(|s| !s.is_empty()).map(|sa| {
                    let ns = k
                        .namespace
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .unwrap_or(cfg.metadata.namespace.as_deref().unwrap_or(self.ns));
                    format!("system:serviceaccount:{ns}:{sa}")
                });
                (None, subject)
            }
        }
    }

    fn jwks_url(&self) -> Option<String> {
        let r = self.vmcp.spec.incoming_auth.oidc_config_ref.as_ref()?;
        let cfg = self.bundle.oidc_config(self.ns, &r.name)?;
        match cfg.spec.type_ {
            OidcConfigType::Inline => cfg.spec.inline.as_ref()?.jwks_url.clone().filter(|j| !j.is_empty()),
            OidcConfigType::KubernetesServiceAccount => {
                cfg.spec.kubernetes_service_account.as_ref()?.jwks_url.clone().filter(|j| !j.is_empty())
            }
        }
    }

    /// Resolves every backend's strategy. Returns the outgoing config, the backends left out of
    /// the served set, and the MCPExternalAuthConfigs in use.
    fn outgoing(
        &mut self,
        backends: &[Backend<'a>],
        group: &str,
    ) -> (OutgoingAuthConfig, BTreeSet<String>, Vec<UsedConfig<'a>>) {
        let out = self.vmcp.spec.outgoing_auth.clone().unwrap_or_default();
        let source = out.source.unwrap_or(OutgoingAuthSource::Discovered);
        let map = out.backends.clone().unwrap_or_default();
        let names: BTreeSet<&str> = backends.iter().map(|b| b.name.as_str()).collect();

        let mut keys = Check::new("OutgoingAuthValidated", "OutgoingAuthValid");
        keys.ok_message = format!(
            "outgoing auth source {}",
            if source == OutgoingAuthSource::Inline { "inline" } else { "discovered" }
        );
        for (key, entry) in &map {
            if !names.contains(key.as_str()) {
                keys.problem(
                    "BackendNotInGroup",
                    format!(
                        "spec.outgoingAuth.backends.{key} names no backend of MCPGroup/{group} [{}] ({DOC_RESOURCES_CONNECT})",
                        names.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if entry.type_ == BackendAuthType::ExternalAuthConfigRef && entry.external_auth_config_ref.is_none() {
                keys.problem(
                    "ExternalAuthConfigRefMissing",
                    format!("spec.outgoingAuth.backends.{key}: type externalAuthConfigRef needs externalAuthConfigRef.name ({DOC_BACKEND_AUTH})"),
                );
            }
        }
        if let Some(BackendAuth { type_: BackendAuthType::ExternalAuthConfigRef, external_auth_config_ref: None }) =
            &out.default
        {
            keys.problem(
                "ExternalAuthConfigRefMissing",
                format!("spec.outgoingAuth.default: type externalAuthConfigRef needs externalAuthConfigRef.name ({DOC_BACKEND_AUTH})"),
            );
        }
        self.emit(keys, true);

        let mut eac_check = Check::new("ExternalAuthConfigValidated", "ExternalAuthConfigValid");
        eac_check.ok_message = "every referenced MCPExternalAuthConfig found".into();
        let mut used: Vec<UsedConfig<'a>> = Vec::new();
        let mut config = OutgoingAuthConfig::default();
        let mut excluded = BTreeSet::new();
        let mut per_backend: Vec<Check> = Vec::new();

        // The default strategy (`type: discovered` as a default means "the backend's own ref").
        let default_route = "spec.outgoingAuth.default".to_string();
        let default_discovers = matches!(&out.default, Some(d) if d.type_ == BackendAuthType::Discovered);
        let default_result = match &out.default {
            Some(BackendAuth { type_: BackendAuthType::ExternalAuthConfigRef, external_auth_config_ref: Some(r) }) => {
                Some(self.resolve(&default_route, &r.name, &mut eac_check, &mut used))
            }
            _ => None,
        };
        match &default_result {
            Some(Ok(s)) => config.default = Some(s.clone()),
            Some(Err(StrategyError::NotImplemented(why))) => {
                let mut c = Check::new("DefaultAuthConfig", "StrategyResolved");
                c.problem("StrategyNotImplemented", format!("{why}; backends relying on the default are left out"));
                per_backend.push(c);
            }
            Some(Err(StrategyError::Rejected(reason, why))) => {
                let mut c = Check::new("DefaultAuthConfig", "StrategyResolved");
                c.problem(reason, format!("{why}; backends relying on the default are left out"));
                per_backend.push(c);
            }
            _ => {}
        }

        for b in backends {
            let discovered_ref = b.own_ref.map(|n| (format!("MCPServer/{} spec.externalAuthConfigRef", b.name), n));
            let discovered_ref = match b.kind {
                BackendKind::McpServerEntry => {
                    b.own_ref.map(|n| (format!("MCPServerEntry/{} spec.externalAuthConfigRef", b.name), n))
                }
                BackendKind::McpServer => discovered_ref,
            };
            let explicit: Option<(String, &str)> = match map.get(&b.name) {
                Some(BackendAuth { type_: BackendAuthType::ExternalAuthConfigRef, external_auth_config_ref }) => {
                    external_auth_config_ref
                        .as_ref()
                        .map(|r| (format!("spec.outgoingAuth.backends.{}", b.name), r.name.as_str()))
                }
                Some(BackendAuth { type_: BackendAuthType::Discovered, .. }) => discovered_ref.clone(),
                None if source == OutgoingAuthSource::Discovered => discovered_ref.clone(),
                None => None,
            };
            let explicit = explicit.or(if default_discovers { discovered_ref } else { None });
            match explicit {
                Some((route, name)) => match self.resolve(&route, name, &mut eac_check, &mut used) {
                    Ok(s) => {
                        config.backends.insert(b.name.clone(), s);
                    }
                    Err(StrategyError::NotImplemented(why)) => {
                        excluded.insert(b.name.clone());
                        let mut c = Check::new(format!("BackendAuthConfig-{}", b.name), "StrategyResolved");
                        c.problem("StrategyNotImplemented", format!("{why}; backend {} is left out", b.name));
                        per_backend.push(c);
                    }
                    Err(StrategyError::Rejected(reason, why)) => {
                        excluded.insert(b.name.clone());
                        let mut c = Check::new(format!("BackendAuthConfig-{}", b.name), "StrategyResolved");
                        c.problem(reason, format!("{why}; backend {} is left out", b.name));
                        per_backend.push(c);
                    }
                    Err(StrategyError::Invalid) => {}
                },
                None => {
                    if matches!(default_result, Some(Err(_))) {
                        excluded.insert(b.name.clone());
                    }
                }
            }
        }
        self.emit(eac_check, true);
        for c in per_backend {
            self.emit(c, false);
        }
        // Gateway-wide outgoing settings (issue 4): passthroughHeaders and the
        // disableUpstreamTokenInjection flag (the gateway refuses it with tokenExchange at start-up).
        let spec = &self.vmcp.spec;
        config.passthrough_headers = spec
            .passthrough_headers
            .clone()
            .or_else(|| spec.config.as_ref().and_then(|c| c.passthrough_headers.clone()))
            .unwrap_or_default();
        config.disable_upstream_token_injection =
            spec.auth_server_config.as_ref().and_then(|a| a.disable_upstream_token_injection) == Some(true);
        (config, excluded, used)
    }

    /// Finds and converts an MCPExternalAuthConfig referenced from `route`.
    /// E4 (KE:912-927): what the consumer reports as `ExternalAuthConfigValidated=False` is the
    /// MCPExternalAuthConfig's own `Valid=False`, with the same reason and message.
    fn resolve(
        &mut self,
        route: &str,
        name: &str,
        check: &mut Check,
        used: &mut Vec<UsedConfig<'a>>,
    ) -> Result<OutgoingStrategy, StrategyError> {
        let before = check.problems.len();
        let result = self.resolve_ref(route, name, check, used);
        let resource = format!("MCPExternalAuthConfig/{name}");
        let exists = self.bundle.external_auth_config(self.ns, name).is_some();
        let reported = self.conditions.iter().any(|c| c.resource == resource && c.type_ == "Valid");
        if exists && !reported && !self.skip_external_auth_valid {
            let mut valid = Check::new("Valid", "Valid");
            valid.ok_message = "the configuration is valid".into();
            valid.problems = check.problems[before..].to_vec();
            self.emit_on(resource, valid, false);
        }
        result
    }

    fn resolve_ref(
        &mut self,
        route: &str,
        name: &str,
        check: &mut Check,
        used: &mut Vec<UsedConfig<'a>>,
    ) -> Result<OutgoingStrategy, StrategyError> {
        let bundle: &'a Bundle = self.bundle;
        let Some(eac) = bundle.external_auth_config(self.ns, name) else {
            check.problem(
                "ExternalAuthConfigNotFound",
                format!(
                    "{route} -> MCPExternalAuthConfig/{name} not found in namespace {} ({DOC_BACKEND_AUTH})",
                    self.ns
                ),
            );
            return Err(StrategyError::Invalid);
        };
        let spec = &eac.spec;
        used.push(UsedConfig { route: route.to_string(), name: name.to_string(), spec });
        let present: Vec<&str> = [
            ("tokenExchange", spec.token_exchange.is_some()),
            ("headerInjection", spec.header_injection.is_some()),
            ("bearerToken", spec.bearer_token.is_some()),
            ("embeddedAuthServer", spec.embedded_auth_server.is_some()),
            ("awsSts", spec.aws_sts.is_some()),
            ("upstreamInject", spec.upstream_inject.is_some()),
            ("obo", spec.obo.is_some()),
            ("xaa", spec.xaa.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.then_some(n))
        .collect();
        let want = spec.type_.as_str();
        let mut invalid = false;
        if spec.type_ != ExternalAuthType::Unauthenticated && !present.contains(&want) {
            check.problem(
                "ExternalAuthConfigInvalid",
                format!(
                    "MCPExternalAuthConfig/{name}: spec.type is {want} but spec.{want} is missing ({DOC_BACKEND_AUTH})"
                ),
            );
            invalid = true;
        }
        for other in present.iter().filter(|p| **p != want) {
            check.problem(
                "ExternalAuthConfigInvalid",
                format!(
                    "MCPExternalAuthConfig/{name}: spec.{other} is set but spec.type is {want} ({DOC_BACKEND_AUTH})"
                ),
            );
            invalid = true;
        }
        if invalid {
            return Err(StrategyError::Invalid);
        }
        match spec.type_ {
            ExternalAuthType::Unauthenticated => Ok(OutgoingStrategy::Unauthenticated),
            ExternalAuthType::UpstreamInject => match &spec.upstream_inject {
                Some(u) => Ok(OutgoingStrategy::UpstreamInject { provider_name: u.provider_name.clone() }),
                None => Err(StrategyError::Invalid),
            },
            ExternalAuthType::HeaderInjection => {
                let Some(h) = &spec.header_injection else { return Err(StrategyError::Invalid) };
                let field = format!("MCPExternalAuthConfig/{name} spec.headerInjection.valueSecretRef");
                match self.secrets.string(&h.value_secret_ref, &field) {
                    Some(value) => Ok(OutgoingStrategy::HeaderInjection {
                        header_name: h.header_name.clone(),
                        header_value: value,
                    }),
                    None => Err(StrategyError::Invalid),
                }
            }
            ExternalAuthType::Xaa => {
                let Some(x) = &spec.xaa else { return Err(StrategyError::Invalid) };
                let upstreams: Vec<String> = self
                    .vmcp
                    .spec
                    .auth_server_config
                    .as_ref()
                    .map(|a| a.upstream_providers.iter().map(|u| u.name.clone()).collect())
                    .unwrap_or_default();
                let provider = match (x.subject_provider_name.clone().filter(|p| !p.is_empty()), upstreams.as_slice()) {
                    (Some(p), _) => p,
                    (None, [only]) => only.clone(),
                    (None, _) => {
                        return Err(StrategyError::Rejected(
                            "AmbiguousSubjectProvider",
                            format!(
                                "{route} -> MCPExternalAuthConfig/{name}: spec.xaa.subjectProviderName is unset and \
                                 spec.authServerConfig has {} upstream providers [{}]; name one \
                                 (embedded-auth-server-vmcp.mdx#bridge-separate-trust-domains-cross-application-access)",
                                upstreams.len(),
                                upstreams.join(", ")
                            ),
                        ));
                    }
                };
                let mut secret =
                    |r: &Option<crate::crd::SecretKeyRef>, field: &str| -> Result<Option<String>, StrategyError> {
                        match r {
                            Some(r) => {
                                let field = format!("MCPExternalAuthConfig/{name} spec.xaa.{field}");
                                Ok(Some(self.secrets.string(r, &field).ok_or(StrategyError::Invalid)?))
                            }
                            None => Ok(None),
                        }
                    };
                let idp_client_secret = secret(&x.idp_client_secret_ref, "idpClientSecretRef")?;
                let target_client_secret = secret(&x.target_client_secret_ref, "targetClientSecretRef")?;
                Ok(OutgoingStrategy::Xaa(crate::vmcp::config::XaaConfig {
                    name: name.to_string(),
                    idp_token_url: x.idp_token_url.clone(),
                    idp_client_id: x.idp_client_id.clone().filter(|c| !c.is_empty()),
                    idp_client_secret,
                    target_token_url: x.target_token_url.clone(),
                    target_client_id: x.target_client_id.clone().filter(|c| !c.is_empty()),
                    target_client_secret,
                    target_audience: x.target_audience.clone(),
                    target_resource: x.target_resource.clone().filter(|r| !r.is_empty()),
                    scopes: x.scopes.clone().unwrap_or_default(),
                    subject_provider_name: provider,
                    subject_token_type: x
                        .subject_token_type
                        .clone()
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "urn:ietf:params:oauth:token-type:id_token".into()),
                }))
            }
            ExternalAuthType::Obo => {
                // KE:924-927 and VA:509-514: `obo` is a Stacklok Enterprise type; an upstream build
                // reports EnterpriseRequired on the consumer.
                check.problem(
                    "EnterpriseRequired",
                    format!(
                        "{route} -> MCPExternalAuthConfig/{name}: type obo requires Stacklok Enterprise \
                         (authentication.mdx#federate-identity-with-token-exchange)"
                    ),
                );
                Err(StrategyError::Invalid)
            }
            ExternalAuthType::TokenExchange => {
                let Some(t) = &spec.token_exchange else { return Err(StrategyError::Invalid) };
                let client_secret = match &t.client_secret_ref {
                    Some(r) => {
                        let field = format!("MCPExternalAuthConfig/{name} spec.tokenExchange.clientSecretRef");
                        Some(self.secrets.string(r, &field).ok_or(StrategyError::Invalid)?)
                    }
                    None => None,
                };
                Ok(OutgoingStrategy::TokenExchange(crate::vmcp::config::TokenExchangeConfig {
                    name: name.to_string(),
                    token_url: t.token_url.clone(),
                    audience: t.audience.clone(),
                    client_id: t.client_id.clone().filter(|c| !c.is_empty()),
                    client_secret,
                    scopes: t.scopes.clone().unwrap_or_default(),
                    subject_provider_name: t.subject_provider_name.clone().filter(|p| !p.is_empty()),
                    subject_token_type: crate::vmcp::config::token_type_urn(t.subject_token_type.as_deref()),
                    external_token_header_name: t.external_token_header_name.clone().filter(|h| !h.is_empty()),
                }))
            }
            other => Err(StrategyError::NotImplemented(format!(
                "{route} -> MCPExternalAuthConfig/{name}: strategy type {other} is not implemented by the reference yet"
            ))),
        }
    }

    /// Validates `spec.authServerConfig` and translates it.
    fn auth_server(
        &mut self,
        asc: &EmbeddedAuthServerConfig,
        oidc: Option<&OidcInfo>,
        provider_refs: &[(String, String)],
        defects: &crate::defects::Defects,
    ) -> (Option<AuthServerConfig>, StorageConfig) {
        use crate::defects::Defect;
        let mut check = Check::new("AuthServerConfigValidated", "AuthServerConfigValid");
        check.ok_message = format!("embedded authorization server at {}", asc.issuer);
        // Test-only: the field-shape rules (CRD patterns and CEL) are not enforced.
        let lax = defects.is_on(Defect::SkipFieldAdmissionRules);
        let insecure = asc.insecure_allow_http.unwrap_or(false) && !defects.is_on(Defect::IgnoreInsecureAllowHttp);

        let allow_http = insecure || defects.is_on(Defect::AllowHttpIssuer);
        if let Err(e) = check_issuer(&asc.issuer, allow_http) {
            check.problem(
                REASON_AS_INVALID,
                format!("spec.authServerConfig.issuer {:?} {e} ({DOC_ISSUER})", asc.issuer),
            );
        }
        if let Some(base) = &asc.authorization_endpoint_base_url
            && let Err(e) = check_issuer(base, true)
        {
            check.problem(
                REASON_AS_INVALID,
                format!("spec.authServerConfig.authorizationEndpointBaseUrl {base:?} {e} ({DOC_ISSUER})"),
            );
        }

        // Incoming auth must validate this server's tokens.
        match (self.vmcp.spec.incoming_auth.type_, oidc) {
            (IncomingAuthType::Anonymous, _) if !lax => check.problem(
                REASON_AS_INVALID,
                format!(
                    "spec.incomingAuth.type is anonymous, but an embedded auth server requires type oidc with an \
                     oidcConfigRef carrying issuer {:?} ({DOC_VALIDATE_JWTS})",
                    asc.issuer
                ),
            ),
            (IncomingAuthType::Oidc, Some(o))
                if o.issuer != asc.issuer && !defects.is_on(Defect::IgnoreIssuerMismatch) =>
            {
                check.problem(
                REASON_AS_INVALID,
                format!(
                    "spec.incomingAuth.oidcConfigRef -> MCPOIDCConfig issuer {:?} differs from spec.authServerConfig.issuer \
                     {:?} ({DOC_LINKS})",
                    o.issuer, asc.issuer
                ),
            )
            }
            _ => {}
        }
        let audience = oidc.map(|o| o.resource_url.clone().unwrap_or_else(|| o.audience.clone()));
        if let (Some(o), Some(aud)) = (oidc, &audience)
            && &o.audience != aud
        {
            check.problem(
                REASON_AS_INVALID,
                format!(
                    "spec.incomingAuth.oidcConfigRef.audience {:?} is not the auth server's audience (oidcConfigRef.resourceUrl \
                     {aud:?}): tokens it issues would be rejected ({DOC_VALIDATE_JWTS})",
                    o.audience
                ),
            );
        }

        // Upstreams.
        let names: Vec<&str> = asc.upstream_providers.iter().map(|u| u.name.as_str()).collect();
        if names.is_empty() {
            check.problem(
                REASON_AS_INVALID,
                format!("spec.authServerConfig.upstreamProviders is empty; at least one upstream is required ({DOC_UPSTREAMS})"),
            );
        }
        let mut seen = BTreeSet::new();
        let mut upstreams = Vec::new();
        for (i, up) in asc.upstream_providers.iter().enumerate() {
            let at = format!("spec.authServerConfig.upstreamProviders[{i}]");
            if !is_dns_label(&up.name) && !lax {
                check.problem(
                    REASON_AS_INVALID,
                    format!("{at}.name {:?} is not a DNS label (lowercase alphanumerics and '-', at most 63) ({DOC_ISSUER})", up.name),
                );
            }
            if !seen.insert(up.name.as_str()) {
                check.problem(REASON_AS_INVALID, format!("{at}.name {:?} is used twice ({DOC_ISSUER})", up.name));
            }
            // Docs KE:791-795: the default callback is `{resourceUrl}/oauth/callback`; without a
            // resourceUrl the issuer's (DECISIONS.md, "Upstream redirectUri default").
            let callback_base = match oidc.and_then(|o| o.resource_url.as_deref()) {
                Some(r) if !defects.is_on(Defect::CallbackDefaultFromIssuer) => r,
                _ => asc.issuer.as_str(),
            };
            if let Some(u) = self.upstream(up, &at, callback_base, &mut check, lax) {
                upstreams.push(u);
            }
        }

        // Docs KE:565-571: an OAuth 2.0 upstream with neither userInfo nor identityFromToken runs
        // in synthesis mode; ToolHive reports it as a condition (not an error).
        for up in &asc.upstream_providers {
            if let Some(c) = &up.oauth2_config
                && c.user_info.is_none()
                && c.identity_from_token.is_none()
                && !defects.is_on(Defect::OmitIdentitySynthesized)
            {
                let mut synth = Check::new("IdentitySynthesized", "OAuth2UpstreamWithoutUserInfo");
                synth.ok_message = format!(
                    "upstream {:?} has neither userInfo nor identityFromToken: subjects are synthesized from the \
                     access token, name and email stay empty",
                    up.name
                );
                self.emit(synth, false);
            }
        }

        // Stored-token references by name.
        for (prefix, provider) in provider_refs {
            if !names.contains(&provider.as_str()) {
                check.problem(
                    REASON_AS_INVALID,
                    format!(
                        "{prefix} {provider:?} names no upstream in spec.authServerConfig.upstreamProviders [{}] ({DOC_LINKS})",
                        names.join(", ")
                    ),
                );
            }
        }

        // Keys.
        let mut signing_keys_pem = Vec::new();
        for (i, r) in asc.signing_key_secret_refs.iter().flatten().enumerate() {
            let at = format!("spec.authServerConfig.signingKeySecretRefs[{i}]");
            if let Some(pem) = self.secrets.string(r, &at) {
                let is_pem = pem.contains("-----BEGIN") && pem.contains("PRIVATE KEY-----");
                if !is_pem && !lax {
                    check.problem(
                        REASON_AS_INVALID,
                        format!(
                            "{at} -> Secret/{} key {:?} is not a PEM-encoded private key ({DOC_SIGNING})",
                            r.name, r.key
                        ),
                    );
                }
                signing_keys_pem.push(pem);
            }
        }
        let mut hmac_secrets = Vec::new();
        for (i, r) in asc.hmac_secret_refs.iter().flatten().enumerate() {
            let at = format!("spec.authServerConfig.hmacSecretRefs[{i}]");
            if let Some(bytes) = self.secrets.bytes(r, &at) {
                if bytes.len() < 32 && !defects.is_on(Defect::AcceptShortHmacSecret) {
                    check.problem(
                        REASON_AS_INVALID,
                        format!(
                            "{at} -> Secret/{} key {:?} holds {} bytes; an HMAC secret must be at least 32 bytes ({DOC_HMAC})",
                            r.name,
                            r.key,
                            bytes.len()
                        ),
                    );
                }
                hmac_secrets.push(bytes);
            }
        }

        // Lifespans.
        let mut lifespans = TokenLifespans::default();
        if let Some(l) = &asc.token_lifespans {
            for (field, value, slot) in [
                ("accessTokenLifespan", &l.access_token_lifespan, &mut lifespans.access_token),
                ("refreshTokenLifespan", &l.refresh_token_lifespan, &mut lifespans.refresh_token),
                ("authCodeLifespan", &l.auth_code_lifespan, &mut lifespans.auth_code),
            ] {
                if let Some(v) = value {
                    match parse_go_duration(v) {
                        Ok(d) => *slot = d,
                        Err(_) if lax => {}
                        Err(e) => check.problem(
                            REASON_AS_INVALID,
                            format!("spec.authServerConfig.tokenLifespans.{field}: {e} ({DOC_LIFESPANS})"),
                        ),
                    }
                }
            }
        }

        let storage = self.storage(asc, &mut check, defects);
        self.auth_server_support(asc);

        // Docs VE:322-324: every baseline scope must be a supported scope (oidcConfigRef.scopes,
        // else the documented defaults).
        let supported: Vec<String> = oidc
            .and_then(|o| o.scopes.clone())
            .unwrap_or_else(|| DEFAULT_SCOPES_SUPPORTED.iter().map(|s| s.to_string()).collect());
        for (i, b) in asc.baseline_client_scopes.iter().flatten().enumerate() {
            if !supported.contains(b) && !defects.is_on(Defect::AcceptUnsupportedBaselineScopes) {
                check.problem(
                    REASON_AS_INVALID,
                    format!(
                        "spec.authServerConfig.baselineClientScopes[{i}] {b:?} is not a supported scope [{}] \
                         (embedded-auth-server-vmcp.mdx#enable-baseline-scopes-for-dcr-clients)",
                        supported.join(", ")
                    ),
                );
            }
        }

        // Primary upstream (checked last so that a config problem takes the reason first).
        if let Some(p) = &asc.primary_upstream_provider
            && !names.contains(&p.as_str())
            && !lax
        {
            check.problem(
                "AuthzUpstreamUnknown",
                format!(
                    "spec.authServerConfig.primaryUpstreamProvider {p:?} names no upstream in \
                     spec.authServerConfig.upstreamProviders [{}] ({DOC_PRIMARY})",
                    names.join(", ")
                ),
            );
        }
        let ok = check.problems.is_empty();
        self.emit(check, true);
        if !ok {
            return (None, storage);
        }

        if defects.is_on(Defect::OidcDefaultScopesOpenidOnly) {
            for (u, spec) in upstreams.iter_mut().zip(&asc.upstream_providers) {
                if let (UpstreamKind::Oidc(c), Some(s)) = (&mut u.kind, &spec.oidc_config)
                    && s.scopes.as_ref().is_none_or(|v| v.is_empty())
                {
                    c.scopes = vec!["openid".into()];
                }
            }
        }
        let scopes_supported = oidc
            .and_then(|o| o.scopes.clone())
            .unwrap_or_else(|| DEFAULT_SCOPES_SUPPORTED.iter().map(|s| s.to_string()).collect());
        let config = AuthServerConfig {
            issuer: asc.issuer.clone(),
            authorization_endpoint_base_url: asc.authorization_endpoint_base_url.clone(),
            signing_keys_pem,
            hmac_secrets,
            lifespans,
            upstreams,
            scopes_supported,
            allowed_audiences: audience.into_iter().collect(),
            baseline_client_scopes: asc.baseline_client_scopes.clone().unwrap_or_default(),
            insecure_allow_http: insecure,
            primary_upstream_provider: asc.primary_upstream_provider.clone(),
            cimd: asc.cimd.as_ref().filter(|c| c.enabled).map(|c| {
                let mut s = crate::authserver::cimd::CimdSettings::default();
                if let Some(n) = c.cache_max_size.filter(|n| *n > 0) {
                    s.cache_max_size = n as usize;
                }
                if let Some(ttl) = c.cache_fallback_ttl.as_deref().and_then(|t| parse_go_duration(t).ok()) {
                    s.cache_fallback_ttl = ttl;
                }
                s
            }),
        };
        (Some(config), storage)
    }

    fn upstream(
        &mut self,
        up: &crate::crd::UpstreamProviderSpec,
        at: &str,
        callback_base: &str,
        check: &mut Check,
        lax: bool,
    ) -> Option<UpstreamProvider> {
        // DECISION: the docs' complete example sets neither redirectUri nor resourceUrl, and the
        // callback is only served at the issuer's host root, so `<issuer>/oauth/callback` is the
        // default then; with a resourceUrl it is `<resourceUrl>/oauth/callback` as documented.
        let default_redirect = format!("{}{CALLBACK_PATH}", callback_base.trim_end_matches('/'));
        let wrong_block = |check: &mut Check, want: &str, other: &str| {
            check.problem(
                REASON_AS_INVALID,
                format!("{at}: type {want} requires {want}Config and forbids {other}Config ({DOC_UPSTREAMS})"),
            );
        };
        let kind = match up.type_ {
            UpstreamType::Oidc => {
                let c = match (&up.oidc_config, &up.oauth2_config) {
                    (Some(c), None) => c,
                    (Some(c), Some(_)) if lax => c,
                    _ => {
                        wrong_block(check, "oidc", "oauth2");
                        return None;
                    }
                };
                // Docs KE:501-504 and the CRD pattern: issuerUrl is https (loopback: see DECISIONS.md).
                if let Err(e) = check_upstream_url(&c.issuer_url)
                    && !lax
                {
                    check.problem(
                        REASON_AS_INVALID,
                        format!("{at}.oidcConfig.issuerUrl {:?} {e} ({DOC_UPSTREAMS})", c.issuer_url),
                    );
                }
                // Docs VE:265-266: a single top-level claim name.
                if let Some(sc) = c.subject_claim.as_deref().filter(|s| !s.is_empty())
                    && !is_claim_name(sc)
                    && !lax
                {
                    check.problem(
                        REASON_AS_INVALID,
                        format!(
                            "{at}.oidcConfig.subjectClaim {sc:?} must be one top-level claim name: letters, digits \
                             and '_', not starting with a digit, at most 128 (embedded-auth-server-vmcp.mdx#stable-subject-for-oidc-upstreams)"
                        ),
                    );
                }
                self.check_auth_params(c.additional_authorization_params.as_ref(), &format!("{at}.oidcConfig"), check);
                let client_secret = c
                    .client_secret_ref
                    .as_ref()
                    .and_then(|r| self.secrets.string(r, &format!("{at}.oidcConfig.clientSecretRef")));
                UpstreamKind::Oidc(OidcUpstream {
                    issuer_url: c.issuer_url.clone(),
                    client_id: c.client_id.clone(),
                    client_secret,
                    redirect_uri: c.redirect_uri.clone().filter(|r| !r.is_empty()).unwrap_or(default_redirect),
                    scopes: c
                        .scopes
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| vec!["openid".into(), "offline_access".into()]),
                    subject_claim: c.subject_claim.clone().filter(|s| !s.is_empty()),
                    additional_authorization_params: c.additional_authorization_params.clone().unwrap_or_default(),
                })
            }
            UpstreamType::OAuth2 => {
                let c = match (&up.oauth2_config, &up.oidc_config) {
                    (Some(c), None) => c,
                    (Some(c), Some(_)) if lax => c,
                    _ => {
                        wrong_block(check, "oauth2", "oidc");
                        return None;
                    }
                };
                // Docs KE:728-729: namePath/emailPath are omitted, never empty.
                if let Some(ift) = &c.identity_from_token
                    && !lax
                {
                    for (f, v) in [("namePath", &ift.name_path), ("emailPath", &ift.email_path)] {
                        if v.as_deref() == Some("") {
                            check.problem(
                                REASON_AS_INVALID,
                                format!(
                                    "{at}.oauth2Config.identityFromToken.{f} is empty: omit it instead \
                                     (embedded-auth-server-k8s.mdx#extract-identity-from-the-token-response)"
                                ),
                            );
                        }
                    }
                }
                self.check_auth_params(
                    c.additional_authorization_params.as_ref(),
                    &format!("{at}.oauth2Config"),
                    check,
                );
                match (&c.client_id, &c.dcr_config) {
                    (Some(_), None) | (None, Some(_)) => {}
                    _ if lax => {}
                    _ => check.problem(
                        REASON_AS_INVALID,
                        format!(
                            "{at}.oauth2Config: exactly one of clientId and dcrConfig must be set ({DOC_UPSTREAMS})"
                        ),
                    ),
                }
                let client_secret = c
                    .client_secret_ref
                    .as_ref()
                    .and_then(|r| self.secrets.string(r, &format!("{at}.oauth2Config.clientSecretRef")));
                let dcr = c.dcr_config.as_ref().map(|d| {
                    let dat = format!("{at}.oauth2Config.dcrConfig");
                    for (f, v) in
                        [("discoveryUrl", &d.discovery_url), ("registrationEndpoint", &d.registration_endpoint)]
                    {
                        if let Some(v) = v
                            && let Err(e) = check_upstream_url(v)
                            && !lax
                        {
                            check.problem(REASON_AS_INVALID, format!("{dat}.{f} {v:?} {e} ({DOC_UPSTREAMS})"));
                        }
                    }
                    if d.discovery_url.is_some() == d.registration_endpoint.is_some() && !lax {
                        check.problem(
                            REASON_AS_INVALID,
                            format!(
                                "{dat}: set exactly one of discoveryUrl and registrationEndpoint ({DOC_UPSTREAMS})"
                            ),
                        );
                    }
                    if c.client_secret_ref.is_some() && !lax {
                        check.problem(
                            REASON_AS_INVALID,
                            format!(
                                "{at}.oauth2Config: clientSecretRef must not be set with dcrConfig ({DOC_UPSTREAMS})"
                            ),
                        );
                    }
                    crate::authserver::config::DcrSettings {
                        discovery_url: d.discovery_url.clone(),
                        registration_endpoint: d.registration_endpoint.clone(),
                        initial_access_token: d
                            .initial_access_token_ref
                            .as_ref()
                            .and_then(|r| self.secrets.string(r, &format!("{dat}.initialAccessTokenRef"))),
                        software_id: d.software_id.clone(),
                        software_statement: d.software_statement.clone(),
                    }
                });
                UpstreamKind::OAuth2(OAuth2Upstream {
                    authorization_endpoint: c.authorization_endpoint.clone(),
                    token_endpoint: c.token_endpoint.clone(),
                    client_id: c.client_id.clone().unwrap_or_default(),
                    client_secret,
                    redirect_uri: c.redirect_uri.clone().filter(|r| !r.is_empty()).unwrap_or(default_redirect),
                    scopes: c.scopes.clone().unwrap_or_default(),
                    userinfo: c.user_info.as_ref().map(userinfo),
                    additional_authorization_params: c.additional_authorization_params.clone().unwrap_or_default(),
                    dcr,
                    token_response_mapping: c.token_response_mapping.clone(),
                    identity_from_token: c.identity_from_token.clone(),
                })
            }
        };
        Some(UpstreamProvider { name: up.name.clone(), kind })
    }

    fn check_auth_params(&self, params: Option<&BTreeMap<String, String>>, at: &str, check: &mut Check) {
        let Some(params) = params else { return };
        for key in params.keys() {
            if RESERVED_AUTH_PARAMS.contains(&key.as_str()) {
                check.problem(
                    REASON_AS_INVALID,
                    format!("{at}.additionalAuthorizationParams.{key}: {key} is set by the auth server itself ({DOC_AUTH_PARAMS})"),
                );
            }
        }
        if params.len() > 16 {
            check.problem(
                REASON_AS_INVALID,
                format!(
                    "{at}.additionalAuthorizationParams has {} entries, at most 16 ({DOC_AUTH_PARAMS})",
                    params.len()
                ),
            );
        }
    }

    fn storage(
        &mut self,
        asc: &EmbeddedAuthServerConfig,
        check: &mut Check,
        defects: &crate::defects::Defects,
    ) -> StorageConfig {
        let Some(storage) = &asc.storage else { return StorageConfig::Memory };
        if storage.type_ != Some(StorageType::Redis) {
            return StorageConfig::Memory;
        }
        let at = "spec.authServerConfig.storage.redis";
        let Some(redis) = &storage.redis else {
            check.problem(
                REASON_AS_INVALID,
                format!("spec.authServerConfig.storage.type is redis but {at} is missing ({DOC_STORAGE})"),
            );
            return StorageConfig::Memory;
        };
        // Test-only: conflicting connection modes are silently narrowed instead of refused.
        let mut narrowed;
        let mut redis = redis;
        if defects.is_on(crate::defects::Defect::RedisAcceptConflictingModes) {
            narrowed = redis.clone();
            if narrowed.addr.is_some() {
                narrowed.sentinel_config = None;
            }
            if let Some(s) = narrowed.sentinel_config.as_mut()
                && s.sentinel_addrs.is_some()
            {
                s.sentinel_service = None;
            }
            redis = &narrowed;
        }
        match self.redis(redis, at, check) {
            Some(r) => StorageConfig::Redis(Box::new(r)),
            None => StorageConfig::Memory,
        }
    }

    fn redis(&mut self, redis: &RedisStorageSpec, at: &str, check: &mut Check) -> Option<RedisConfig> {
        let before = check.problems.len();
        let cluster = redis.cluster_mode.unwrap_or(false);
        let mode = match (&redis.addr, &redis.sentinel_config) {
            (Some(addr), None) if cluster => Some(RedisMode::Cluster { addr: addr.clone() }),
            (Some(addr), None) => Some(RedisMode::Standalone { addr: addr.clone() }),
            (None, Some(s)) => {
                if cluster {
                    check.problem(REASON_AS_INVALID, format!("{at}.clusterMode requires {at}.addr ({DOC_STORAGE})"));
                }
                let addrs = match (&s.sentinel_addrs, &s.sentinel_service) {
                    (Some(a), None) if !a.is_empty() => a.clone(),
                    (None, Some(svc)) => {
                        let ns = svc.namespace.as_deref().unwrap_or(self.ns);
                        vec![format!("{}.{ns}.svc.cluster.local:{}", svc.name, svc.port.unwrap_or(26379))]
                    }
                    (Some(_), Some(_)) => {
                        check.problem(
                            REASON_AS_INVALID,
                            format!("{at}.sentinelConfig: sentinelAddrs and sentinelService are mutually exclusive ({DOC_SENTINEL_ADDRS})"),
                        );
                        Vec::new()
                    }
                    _ => {
                        check.problem(
                            REASON_AS_INVALID,
                            format!(
                                "{at}.sentinelConfig needs sentinelAddrs or sentinelService ({DOC_SENTINEL_ADDRS})"
                            ),
                        );
                        Vec::new()
                    }
                };
                Some(RedisMode::Sentinel {
                    master_name: s.master_name.clone(),
                    sentinel_addrs: addrs,
                    db: i64::from(s.db.unwrap_or(0)),
                })
            }
            _ => {
                check.problem(
                    REASON_AS_INVALID,
                    format!("{at}: set exactly one of addr (standalone or cluster) and sentinelConfig ({DOC_STORAGE})"),
                );
                None
            }
        };
        let acl = &redis.acl_user_config;
        let username = acl
            .username_secret_ref
            .as_ref()
            .and_then(|r| self.secrets.string(r, &format!("{at}.aclUserConfig.usernameSecretRef")));
        let password = self.secrets.string(&acl.password_secret_ref, &format!("{at}.aclUserConfig.passwordSecretRef"));
        let tls = redis.tls.as_ref().map(|t| self.tls(t, &format!("{at}.tls")));
        let sentinel_tls = redis.sentinel_tls.as_ref().map(|t| self.tls(t, &format!("{at}.sentinelTls")));
        let mut timeout = |field: &str, value: &Option<String>, default: u64| match value {
            None => Duration::from_secs(default),
            Some(v) => parse_go_duration(v).unwrap_or_else(|e| {
                check.problem(REASON_AS_INVALID, format!("{at}.{field}: {e} ({DOC_STORAGE})"));
                Duration::from_secs(default)
            }),
        };
        let dial_timeout = timeout("dialTimeout", &redis.dial_timeout, 5);
        let read_timeout = timeout("readTimeout", &redis.read_timeout, 3);
        let write_timeout = timeout("writeTimeout", &redis.write_timeout, 3);
        if check.problems.len() > before {
            return None;
        }
        Some(RedisConfig {
            mode: mode?,
            username,
            password: password?,
            tls,
            sentinel_tls,
            dial_timeout,
            read_timeout,
            write_timeout,
        })
    }

    fn tls(&mut self, t: &RedisTls, at: &str) -> RedisTlsConfig {
        RedisTlsConfig {
            ca_cert_pem: t
                .ca_cert_secret_ref
                .as_ref()
                .and_then(|r| self.secrets.string(r, &format!("{at}.caCertSecretRef"))),
            insecure_skip_verify: t.insecure_skip_verify.unwrap_or(false),
        }
    }

    /// Fields the runtime configuration cannot carry yet.
    fn auth_server_support(&mut self, asc: &EmbeddedAuthServerConfig) {
        let p = "spec.authServerConfig";
        let mut note = |set: bool, what: String| {
            if set {
                self.unsupported.push(what);
            }
        };
        note(asc.delegate_clients.as_ref().is_some_and(|d| !d.is_empty()), format!("{p}.delegateClients"));
        note(asc.trusted_issuers.as_ref().is_some_and(|d| !d.is_empty()), format!("{p}.trustedIssuers"));
        note(
            asc.allow_confidential_client_registration == Some(true),
            format!("{p}.allowConfidentialClientRegistration"),
        );
        for (i, up) in asc.upstream_providers.iter().enumerate() {
            let at = format!("{p}.upstreamProviders[{i}]");
            if let Some(c) = &up.oidc_config {
                note(c.user_info_override.is_some(), format!("{at}.oidcConfig.userInfoOverride"));
            }
        }
    }

    /// E9 (VC:136-138): the MCPGroup reports `MCPServersChecked=True` once its members are listed;
    /// the vMCP starts only after that.
    fn group_checked(&mut self, group: &str) {
        let members = self
            .bundle
            .mcp_servers(self.ns)
            .filter(|s| s.spec.group_ref.as_ref().is_some_and(|g| g.name == group))
            .count();
        let mut check = Check::new("MCPServersChecked", "AllServersChecked");
        check.ok_message = format!("{members} MCPServer(s) reference the group");
        self.emit_on(format!("MCPGroup/{group}"), check, false);
    }

    /// E7 (RS:895-915): `SessionStorageWarning` is False (reason `SessionStorageConfigured`) when
    /// `spec.sessionStorage` names Redis with an address, True otherwise. A warning: never fatal.
    fn session_storage_warning(&mut self, ignore: bool) {
        let redis = self
            .vmcp
            .spec
            .session_storage
            .as_ref()
            .filter(|s| s.provider == crate::crd::common::SessionStorageProvider::Redis)
            .filter(|_| !ignore);
        let condition = match redis {
            Some(s) if s.address.as_deref().is_some_and(|a| !a.trim().is_empty()) => (
                false,
                "SessionStorageConfigured",
                format!("MCP sessions are shared through Redis at {}", s.address.as_deref().unwrap_or_default()),
            ),
            Some(_) => (
                true,
                "SessionStorageInvalid",
                format!("spec.sessionStorage.address is required for provider redis ({DOC_SESSION_STORAGE})"),
            ),
            None => (
                true,
                "SessionStorageNotConfigured",
                format!(
                    "MCP sessions stay in each replica's memory: configure spec.sessionStorage with Redis ({DOC_SESSION_STORAGE})"
                ),
            ),
        };
        self.conditions.push(StatusCondition {
            resource: self.resource.clone(),
            type_: "SessionStorageWarning".into(),
            status: condition.0,
            reason: condition.1.into(),
            message: condition.2,
        });
    }

    /// E6 (KA:216-227): the CA bundle of an MCPOIDCConfig, `CABundleRefValidated` on the workload
    /// that references it. A missing ConfigMap is `CABundleRefNotFound`; a missing key or a value
    /// holding no PEM certificate is `CABundleRefInvalid`.
    fn ca_bundle(&mut self) {
        let bundle: &'a Bundle = self.bundle;
        let Some(oidc) = self.vmcp.spec.incoming_auth.oidc_config_ref.as_ref().map(|r| r.name.as_str()) else {
            return;
        };
        let Some(ca) = bundle
            .oidc_config(self.ns, oidc)
            .and_then(|c| c.spec.inline.as_ref())
            .and_then(|i| i.ca_bundle_ref.as_ref())
        else {
            return;
        };
        let mut check = Check::new("CABundleRefValidated", "CABundleRefValid");
        let at = format!("MCPOIDCConfig/{oidc} spec.inline.caBundleRef.configMapRef");
        match ca.config_map_ref.as_ref() {
            None => check.problem("CABundleRefInvalid", format!("{at} is required ({DOC_CA_BUNDLE})")),
            Some(r) => {
                let name = r.name.clone().unwrap_or_default();
                let map = self.bundle.documents.iter().find_map(|d| match &d.resource {
                    crate::bundle::Resource::ConfigMap(m)
                        if m.metadata.name.as_deref() == Some(name.as_str())
                            && m.metadata.namespace.as_deref().unwrap_or(crate::bundle::DEFAULT_NAMESPACE)
                                == self.ns =>
                    {
                        Some(m)
                    }
                    _ => None,
                });
                match map {
                    None => check.problem(
                        "CABundleRefNotFound",
                        format!("{at}.name {name:?}: no ConfigMap/{name} in namespace {} ({DOC_CA_BUNDLE})", self.ns),
                    ),
                    Some(m) => match m.data.as_ref().and_then(|d| d.get(&r.key)) {
                        None => check.problem(
                            "CABundleRefInvalid",
                            format!("{at}.key {:?}: ConfigMap/{name} has no such key ({DOC_CA_BUNDLE})", r.key),
                        ),
                        Some(v) if !v.contains("-----BEGIN CERTIFICATE-----") => check.problem(
                            "CABundleRefInvalid",
                            format!(
                                "{at}.key {:?}: ConfigMap/{name} holds no PEM certificate there ({DOC_CA_BUNDLE})",
                                r.key
                            ),
                        ),
                        Some(_) => check.ok_message = format!("ConfigMap/{name} key {:?} holds a PEM CA bundle", r.key),
                    },
                }
            }
        }
        // The IdP cannot be trusted without its CA: the vMCP stops here, like an invalid MCPOIDCConfig.
        self.emit(check, true);
    }

    fn aggregation_support(&mut self) {
        let Some(agg) = self.vmcp.spec.config.as_ref().and_then(|c| c.aggregation.as_ref()) else { return };
        if matches!(agg.conflict_resolution, Some(ConflictResolution::Priority | ConflictResolution::Manual)) {
            self.unsupported.push("spec.config.aggregation.conflictResolution other than prefix".into());
        }
        if agg.tools.as_ref().is_some_and(|t| !t.is_empty()) || agg.exclude_all_tools.is_some() {
            self.unsupported.push("spec.config.aggregation tool filters".into());
        }
    }

    /// `spec.config.operational.timeouts` (configuration.mdx#timeouts); a value that is not a Go
    /// duration fails the VirtualMCPServer naming the field.
    fn timeouts(&mut self, defects: &crate::defects::Defects) -> crate::vmcp::config::BackendTimeouts {
        let mut out = crate::vmcp::config::BackendTimeouts::default();
        let spec =
            self.vmcp.spec.config.as_ref().and_then(|c| c.operational.as_ref()).and_then(|o| o.timeouts.as_ref());
        let Some(spec) = spec else { return out };
        let mut check = Check::new("TimeoutsValidated", "TimeoutsValid");
        let base = "spec.config.operational.timeouts";
        let mut parse = |field: String, value: &str| match parse_go_duration(value) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                check.problem(
                    "InvalidTimeout",
                    format!("{field} {value:?} must be positive (configuration.mdx#timeouts)"),
                );
                None
            }
            Err(e) => {
                check.problem("InvalidTimeout", format!("{field} {value:?}: {e} (configuration.mdx#timeouts)"));
                None
            }
        };
        if let Some(d) = spec.default.as_deref().and_then(|v| parse(format!("{base}.default"), v)) {
            out.default = d;
        }
        for (backend, value) in spec.per_workload.iter().flatten() {
            if let Some(d) = parse(format!("{base}.perWorkload.{backend}"), value) {
                out.per_workload.insert(backend.clone(), d);
            }
        }
        if !check.problems.is_empty() && !defects.is_on(crate::defects::Defect::AcceptInvalidTimeout) {
            self.emit(check, true);
        }
        out
    }

    fn aggregation(&self) -> AggregationConfig {
        let prefix = self
            .vmcp
            .spec
            .config
            .as_ref()
            .and_then(|c| c.aggregation.as_ref())
            .and_then(|a| a.conflict_resolution_config.as_ref())
            .and_then(|c| c.prefix_format.clone());
        match prefix {
            Some(prefix_format) => AggregationConfig { prefix_format },
            None => AggregationConfig::default(),
        }
    }
}

fn userinfo(u: &UserInfoSpec) -> UserInfoConfig {
    let defaults = FieldMapping::default();
    let fm = u.field_mapping.as_ref();
    let pick = |v: Option<&Vec<String>>, d: Vec<String>| v.filter(|v| !v.is_empty()).cloned().unwrap_or(d);
    UserInfoConfig {
        endpoint_url: u.endpoint_url.clone(),
        http_method: u.http_method.map(|m| m.as_str()).unwrap_or("GET").to_string(),
        additional_headers: u.additional_headers.clone().unwrap_or_default(),
        field_mapping: FieldMapping {
            subject_fields: pick(fm.and_then(|f| f.subject_fields.as_ref()), defaults.subject_fields),
            name_fields: pick(fm.and_then(|f| f.name_fields.as_ref()), defaults.name_fields),
            email_fields: pick(fm.and_then(|f| f.email_fields.as_ref()), defaults.email_fields),
        },
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `oidcConfig.subjectClaim`: `^[a-zA-Z_][a-zA-Z0-9_]*$`, at most 128 characters.
fn is_claim_name(s: &str) -> bool {
    s.len() <= 128
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Upstream URLs the CRD requires to be `https://` (issuerUrl, dcrConfig URLs). DECISION: loopback
/// hosts may use http://, as for issuers, because the harness runs every provider mock on loopback.
fn check_upstream_url(value: &str) -> Result<(), String> {
    let url = Url::parse(value).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err("must be an https:// URL".into()),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The embedded auth server's issuer rules: an absolute http(s) URL without query, fragment or
/// trailing slash (CRD pattern `^https?://[^\s?#]+[^/\s?#]$`); `http://` only on localhost /
/// loopback IPs unless `insecureAllowHTTP`.
fn check_issuer(value: &str, insecure_allow_http: bool) -> Result<(), String> {
    if value.chars().any(char::is_whitespace) {
        return Err("must not contain whitespace".into());
    }
    if value.contains('?') || value.contains('#') {
        return Err("must not have a query or fragment".into());
    }
    if value.ends_with('/') {
        return Err("must not end with a slash".into());
    }
    let url = Url::parse(value).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if url.host().is_none() {
        return Err("has no host".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) || insecure_allow_http => Ok(()),
        "http" => Err(format!(
            "uses http:// on the non-loopback host {}; use https:// or set insecureAllowHTTP: true",
            url.host_str().unwrap_or_default()
        )),
        other => Err(format!("must use https:// (found {other}://)")),
    }
}

/// MCPOIDCConfig URL rules: a well-formed http(s) URL with a host; HTTPS unless
/// `insecureAllowHTTP`. DECISION: loopback hosts may also use http:// (as for the embedded
/// server's issuer), because the harness maps every issuer to the target's loopback address.
fn check_oidc_url(value: &str, insecure_allow_http: bool) -> Result<(), String> {
    let url = Url::parse(value).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if url.host().is_none() {
        return Err("has no host".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) || insecure_allow_http => Ok(()),
        "http" => Err("uses http:// without insecureAllowHTTP: true".into()),
        other => Err(format!("must use https:// (found {other}://)")),
    }
}

/// `incomingAuth.authzConfig` with inline policies, or the `cedarv1` MCPAuthzConfig that
/// `authzConfigRef` names, as the gateway runs it (configMap is reported unsupported). With an embedded authorization server, claims come from the primary upstream
/// provider: `primaryUpstreamProvider` (or its deprecated inline location), else the first upstream
/// (authentication.mdx#authorize-requests; embedded-auth-server-vmcp.mdx#select-the-primary-upstream-provider).
fn authz_config(
    vmcp: &VirtualMCPServer,
    bundle: &Bundle,
    ignore_primary: bool,
) -> Option<crate::vmcp::authz::AuthzConfig> {
    let Some(a) = vmcp.spec.incoming_auth.authz_config.as_ref() else {
        // J10: a cedarv1 MCPAuthzConfig runs like inline policies (validated in `incoming`).
        let name = &vmcp.spec.incoming_auth.authz_config_ref.as_ref()?.name;
        let ns = vmcp.metadata.namespace.as_deref().unwrap_or(super::DEFAULT_NAMESPACE);
        let c = bundle.authz_config(ns, name)?.spec.cedar().ok()?;
        let claims_provider = claims_provider(vmcp, c.primary_upstream_provider.clone(), ignore_primary);
        return Some(crate::vmcp::authz::AuthzConfig {
            policies: c.policies,
            entities_json: c.entities_json,
            group_claim_name: c.group_claim_name,
            role_claim_name: None,
            claims_provider,
        });
    };
    let inline = a.inline.as_ref().filter(|_| a.type_ != Some(crate::crd::common::AuthzConfigType::ConfigMap))?;
    Some(crate::vmcp::authz::AuthzConfig {
        policies: inline.policies.clone(),
        entities_json: inline.entities_json.clone(),
        group_claim_name: a.group_claim_name.clone(),
        role_claim_name: a.role_claim_name.clone(),
        claims_provider: claims_provider(vmcp, inline.primary_upstream_provider.clone(), ignore_primary),
    })
}

/// With an embedded authorization server: `authServerConfig.primaryUpstreamProvider`, else the
/// deprecated location `deprecated`, else the first upstream.
fn claims_provider(vmcp: &VirtualMCPServer, deprecated: Option<String>, ignore_primary: bool) -> Option<String> {
    vmcp.spec.auth_server_config.as_ref().and_then(|asc| {
        let pinned = asc.primary_upstream_provider.clone().or(deprecated);
        // Defect `authz-ignore-primary-upstream`: the pin is dropped.
        pinned.filter(|_| !ignore_primary).or_else(|| asc.upstream_providers.first().map(|u| u.name.clone()))
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(check_issuer("https://auth.example.com", false).is_ok());
        assert!(check_issuer("https://auth.example.com/tenant", false).is_ok());
        assert!(check_issuer("http://localhost:8080", false).is_ok());
        assert!(check_issuer("http://127.0.0.1:4483", false).is_ok());
        assert!(check_issuer("http://[::1]:4483", false).is_ok());
        assert!(check_issuer("http://auth.svc.cluster.local", true).is_ok());
        assert!(check_issuer("http://auth.svc.cluster.local", false).unwrap_err().contains("non-loopback"));
        assert!(check_issuer("https://auth.example.com/", false).unwrap_err().contains("slash"));
        assert!(check_issuer("https://auth.example.com?x=1", false).unwrap_err().contains("query"));
        assert!(check_issuer("https://auth.example.com#f", false).unwrap_err().contains("fragment"));
        assert!(check_issuer("ftp://auth.example.com", true).is_err());
        assert!(check_issuer("auth.example.com", true).is_err());
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("github"));
        assert!(is_dns_label("okta-2"));
        assert!(!is_dns_label("GitHub"));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
