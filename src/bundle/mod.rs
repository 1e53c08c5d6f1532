//! Multi-document manifest bundles as the docs write them: load (strictly, like `kubectl apply`
//! against ToolHive's CRDs), resolve Secret references, apply the admission and reconcile rules
//! the docs state (each reported as a status condition), and translate the one VirtualMCPServer
//! into the reference's runtime configuration.

mod duration;
mod reconcile;
mod secrets;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::Value;

use crate::authserver::config::AuthServerConfig;
use crate::crd::{
    self, MCPAuthzConfig, MCPExternalAuthConfig, MCPGroup, MCPOIDCConfig, MCPServer, MCPServerEntry, StrictDecodeError,
    VirtualMCPServer,
};
use crate::target::StatusCondition;
use crate::vmcp::config::VmcpConfig;

pub use duration::parse_go_duration;
pub use secrets::{SecretProblem, SecretResolver};

/// The namespace of a manifest without `metadata.namespace`.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One decoded document of a bundle.
#[derive(Debug, Clone)]
pub enum Resource {
    VirtualMCPServer(Box<VirtualMCPServer>),
    MCPExternalAuthConfig(Box<MCPExternalAuthConfig>),
    MCPOIDCConfig(Box<MCPOIDCConfig>),
    MCPAuthzConfig(Box<MCPAuthzConfig>),
    MCPServer(Box<MCPServer>),
    MCPServerEntry(Box<MCPServerEntry>),
    MCPGroup(Box<MCPGroup>),
    Secret(Box<Secret>),
    ConfigMap(Box<ConfigMap>),
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::VirtualMCPServer(_) => "VirtualMCPServer",
            Resource::MCPExternalAuthConfig(_) => "MCPExternalAuthConfig",
            Resource::MCPOIDCConfig(_) => "MCPOIDCConfig",
            Resource::MCPAuthzConfig(_) => "MCPAuthzConfig",
            Resource::MCPServer(_) => "MCPServer",
            Resource::MCPServerEntry(_) => "MCPServerEntry",
            Resource::MCPGroup(_) => "MCPGroup",
            Resource::Secret(_) => "Secret",
            Resource::ConfigMap(_) => "ConfigMap",
        }
    }

    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Resource::VirtualMCPServer(r) => &r.metadata,
            Resource::MCPExternalAuthConfig(r) => &r.metadata,
            Resource::MCPOIDCConfig(r) => &r.metadata,
            Resource::MCPAuthzConfig(r) => &r.metadata,
            Resource::MCPServer(r) => &r.metadata,
            Resource::MCPServerEntry(r) => &r.metadata,
            Resource::MCPGroup(r) => &r.metadata,
            Resource::Secret(r) => &r.metadata,
            Resource::ConfigMap(r) => &r.metadata,
        }
    }

    /// `metadata.name` (always set: documents without one are refused by [`Bundle::from_yaml`]).
    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// `metadata.namespace`, or [`DEFAULT_NAMESPACE`].
    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}

/// A document with where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    /// 1-based position among the bundle's non-empty documents.
    pub index: usize,
    /// 1-based line of the document's first node (0 when unknown).
    pub line: u64,
    pub resource: Resource,
}

/// A set of manifests holding exactly one VirtualMCPServer.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub documents: Vec<Document>,
}

/// Why a bundle cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the manifests are not valid YAML: {0}")]
    Yaml(String),
    #[error("document {index} (line {line}): {message}")]
    Malformed { index: usize, line: u64, message: String },
    #[error(
        "document {index} (line {line}): unsupported kind `{kind}` (apiVersion `{api_version}`); a bundle holds \
         VirtualMCPServer, MCPExternalAuthConfig, MCPOIDCConfig, MCPAuthzConfig, MCPServer, MCPServerEntry, MCPGroup, \
         Secret and ConfigMap"
    )]
    UnknownKind { index: usize, line: u64, api_version: String, kind: String },
    #[error("document {index} (line {line}) {kind}/{name}: {source}")]
    Decode { index: usize, line: u64, kind: String, name: String, source: StrictDecodeError },
    #[error("document {index} (line {line}): {kind}/{name} in namespace {namespace} is defined twice")]
    Duplicate { index: usize, line: u64, kind: String, name: String, namespace: String },
    #[error("a bundle must hold exactly one VirtualMCPServer, found {found}{names}")]
    VirtualMcpServerCount { found: usize, names: String },
}

/// What the harness provides beside the manifests.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// MCPServer name -> URL of the harness's mock backend (an MCPServer's `image` cannot run here).
    /// An MCPServerEntry uses its own `remoteUrl`.
    pub backend_urls: BTreeMap<String, String>,
    /// Test-only defect switches that bend admission rules (empty in every normal run).
    pub defects: crate::defects::Defects,
}

/// The outcome of reconciling a bundle.
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// Every rule's verdict, as status conditions on the resources they concern.
    pub conditions: Vec<StatusCondition>,
    /// `None` when a rule failed: the VirtualMCPServer would be in phase `Failed`.
    pub runtime: Option<RuntimeConfig>,
}

impl Reconciled {
    /// The condition of `type_` on `resource` (`Kind/name`), if reported.
    pub fn condition(&self, resource: &str, type_: &str) -> Option<&StatusCondition> {
        self.conditions.iter().find(|c| c.resource == resource && c.type_ == type_)
    }

    /// The conditions whose status is False. `…Warning` conditions are not failures whatever
    /// their status (`SessionStorageWarning=False` is the good state).
    pub fn failures(&self) -> impl Iterator<Item = &StatusCondition> {
        self.conditions.iter().filter(|c| !c.status && !c.type_.ends_with("Warning"))
    }
}

/// The reference's runtime configuration for one VirtualMCPServer.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub vmcp: VmcpConfig,
    /// The embedded authorization server (`spec.authServerConfig`), Secrets resolved.
    pub auth_server: Option<AuthServerConfig>,
    /// `spec.authServerConfig.storage`, Secrets resolved (memory when absent).
    pub auth_storage: StorageConfig,
    /// `spec.passthroughHeaders` (or else `spec.config.passthroughHeaders`).
    pub passthrough_headers: Vec<String>,
}

/// Where the embedded authorization server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StorageConfig {
    #[default]
    Memory,
    Redis(Box<RedisConfig>),
}

/// `storage.redis` with Secrets resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub mode: RedisMode,
    /// `aclUserConfig.usernameSecretRef`; `None` means password-only `AUTH`.
    pub username: Option<String>,
    pub password: String,
    /// `tls` (presence enables TLS).
    pub tls: Option<RedisTlsConfig>,
    /// `sentinelTls`; when `None` and `tls` is set, Sentinel connections use `tls`.
    pub sentinel_tls: Option<RedisTlsConfig>,
    pub dial_timeout: std::time::Duration,
    pub read_timeout: std::time::Duration,
    pub write_timeout: std::time::Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("mode", &self.mode)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("tls", &self.tls)
            .field("sentinel_tls", &self.sentinel_tls)
            .field("dial_timeout", &self.dial_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisMode {
    Standalone {
        addr: String,
    },
    Cluster {
        addr: String,
    },
    /// `sentinelAddrs` as written, or `sentinelService` resolved to
    /// `<name>.<namespace>.svc.cluster.local:<port>` (the harness maps such names to endpoints).
    Sentinel {
        master_name: String,
        sentinel_addrs: Vec<String>,
        db: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTlsConfig {
    pub ca_cert_pem: Option<String>,
    pub insecure_skip_verify: bool,
}

impl Bundle {
    /// Parses `---`-separated manifests and decodes each document strictly by `apiVersion`/`kind`.
    pub fn from_yaml(text: &str) -> Result<Bundle, BundleError> {
        let docs: Vec<serde_saphyr::Spanned<Value>> =
            serde_saphyr::from_multiple(text).map_err(|e| BundleError::Yaml(e.to_string()))?;
        let mut documents = Vec::with_capacity(docs.len());
        for (i, doc) in docs.into_iter().enumerate() {
            let index = i + 1;
            let line = doc.referenced.line();
            let resource = decode_document(doc.value, index, line)?;
            documents.push(Document { index, line, resource });
        }
        let mut seen = BTreeMap::new();
        for d in &documents {
            let r = &d.resource;
            if seen.insert((r.kind(), r.namespace().to_string(), r.name().to_string()), d.index).is_some() {
                return Err(BundleError::Duplicate {
                    index: d.index,
                    line: d.line,
                    kind: r.kind().into(),
                    name: r.name().into(),
                    namespace: r.namespace().into(),
                });
            }
        }
        let vmcps: Vec<&Document> =
            documents.iter().filter(|d| matches!(d.resource, Resource::VirtualMCPServer(_))).collect();
        if vmcps.len() != 1 {
            let names = vmcps.iter().map(|d| d.resource.name()).collect::<Vec<_>>().join(", ");
            return Err(BundleError::VirtualMcpServerCount {
                found: vmcps.len(),
                names: if names.is_empty() { String::new() } else { format!(" ({names})") },
            });
        }
        Ok(Bundle { documents })
    }

    /// The bundle's VirtualMCPServer (always present in a bundle from [`Bundle::from_yaml`]).
    pub fn virtual_mcp_server(&self) -> Option<&VirtualMCPServer> {
        self.documents.iter().find_map(|d| match &d.resource {
            Resource::VirtualMCPServer(v) => Some(v.as_ref()),
            _ => None,
        })
    }

    fn find(&self, kind: &str, namespace: &str, name: &str) -> Option<&Resource> {
        self.documents
            .iter()
            .map(|d| &d.resource)
            .find(|r| r.kind() == kind && r.namespace() == namespace && r.name() == name)
    }

    pub fn group(&self, namespace: &str, name: &str) -> Option<&MCPGroup> {
        match self.find("MCPGroup", namespace, name)? {
            Resource::MCPGroup(g) => Some(g),
            _ => None,
        }
    }

    pub fn oidc_config(&self, namespace: &str, name: &str) -> Option<&MCPOIDCConfig> {
        match self.find("MCPOIDCConfig", namespace, name)? {
            Resource::MCPOIDCConfig(o) => Some(o),
            _ => None,
        }
    }

    pub fn authz_config(&self, namespace: &str, name: &str) -> Option<&MCPAuthzConfig> {
        match self.find("MCPAuthzConfig", namespace, name)? {
            Resource::MCPAuthzConfig(a) => Some(a),
            _ => None,
        }
    }

    pub fn external_auth_config(&self, namespace: &str, name: &str) -> Option<&MCPExternalAuthConfig> {
        match self.find("MCPExternalAuthConfig", namespace, name)? {
            Resource::MCPExternalAuthConfig(e) => Some(e),
            _ => None,
        }
    }

    /// The VirtualMCPServer's `spec.sessionStorage` (horizontal scaling) when it names Redis
    /// with an address, its `passwordRef` resolved. Read by the reference and by the writer of
    /// ToolHive's `vmcp.yaml` alike.
    pub fn session_storage(&self) -> Result<Option<crate::storage::session_store::SessionStorageConfig>, String> {
        use crate::crd::common::SessionStorageProvider;
        let Some(v) = self.virtual_mcp_server() else { return Ok(None) };
        let Some(s) = v.spec.session_storage.as_ref().filter(|s| s.provider == SessionStorageProvider::Redis) else {
            return Ok(None);
        };
        let Some(address) = s.address.clone() else { return Ok(None) };
        let namespace = v.metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
        let password = match &s.password_ref {
            None => None,
            Some(r) => {
                let mut secrets = secrets::SecretResolver::new(self, namespace);
                let value = secrets.string(r, "spec.sessionStorage.passwordRef");
                match (value, secrets.problems().first()) {
                    (Some(value), _) => Some(value),
                    (None, problem) => {
                        return Err(format!(
                            "{} (redis-session-storage.mdx#configure-virtualmcpserver-session-storage)",
                            problem.map(|(_, m)| m.as_str()).unwrap_or("spec.sessionStorage.passwordRef")
                        ));
                    }
                }
            }
        };
        Ok(Some(crate::storage::session_store::SessionStorageConfig {
            address,
            db: i64::from(s.db.unwrap_or(0)),
            key_prefix: s.key_prefix.clone(),
            password,
        }))
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        match self.find("Secret", namespace, name)? {
            Resource::Secret(s) => Some(s),
            _ => None,
        }
    }

    /// MCPServers in `namespace`.
    pub fn mcp_servers<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a MCPServer> + 'a {
        self.documents.iter().filter_map(move |d| match &d.resource {
            Resource::MCPServer(s) if d.resource.namespace() == namespace => Some(s.as_ref()),
            _ => None,
        })
    }

    /// MCPServerEntries in `namespace`.
    pub fn mcp_server_entries<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a MCPServerEntry> + 'a {
        self.documents.iter().filter_map(move |d| match &d.resource {
            Resource::MCPServerEntry(s) if d.resource.namespace() == namespace => Some(s.as_ref()),
            _ => None,
        })
    }

    /// Applies the rules and translates the VirtualMCPServer into the runtime configuration.
    pub fn reconcile(&self, env: &Environment) -> Reconciled {
        reconcile::reconcile(self, env)
    }
}

fn decode_document(doc: Value, index: usize, line: u64) -> Result<Resource, BundleError> {
    let malformed = |message: String| BundleError::Malformed { index, line, message };
    if !doc.is_object() {
        return Err(malformed("a manifest must be a mapping with apiVersion and kind".into()));
    }
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(kind) = doc.get("kind").and_then(Value::as_str).map(str::to_string) else {
        return Err(malformed("`kind` is missing or not a string".into()));
    };
    let name = doc.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).map(str::to_string);
    let decode_err = |source: StrictDecodeError| BundleError::Decode {
        index,
        line,
        kind: kind.clone(),
        name: name.clone().unwrap_or_else(|| "<unnamed>".into()),
        source,
    };
    let resource = match kind.as_str() {
        "VirtualMCPServer" => Resource::VirtualMCPServer(Box::new(crd::decode_resource(doc).map_err(decode_err)?)),
        "MCPExternalAuthConfig" => {
            Resource::MCPExternalAuthConfig(Box::new(crd::decode_resource(doc).map_err(decode_err)?))
        }
        "MCPOIDCConfig" => Resource::MCPOIDCConfig(Box::new(crd::decode_resource(doc).map_err(decode_err)?)),
        "MCPAuthzConfig" => Resource::MCPAuthzConfig(Box::new(crd::decode_resource(doc).map_err(decode_err)?)),
        "MCPServer" => Resource::MCPServer(Box::new(crd::decode_resource(doc).map_err(decode_err)?)),
        "MCPServerEntry" => Resource::MCPServerEntry(Box::new(crd::decode_resource(doc).map_err(decode_err)?)),
        "MCPGroup" => Resource::MCPGroup(Box::new(crd::decode_resource(doc).map_err(decode_err)?)),
        "Secret" if api_version == "v1" => {
            crd::check_manifest_keys(
                &doc,
                &["apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"],
            )
            .map_err(decode_err)?;
            Resource::Secret(Box::new(crd::decode_strict(doc).map_err(decode_err)?))
        }
        "ConfigMap" if api_version == "v1" => {
            crd::check_manifest_keys(&doc, &["apiVersion", "kind", "metadata", "data", "binaryData", "immutable"])
                .map_err(decode_err)?;
            Resource::ConfigMap(Box::new(crd::decode_strict(doc).map_err(decode_err)?))
        }
        _ => return Err(BundleError::UnknownKind { index, line, api_version, kind }),
    };
    if resource.meta().name.as_deref().is_none_or(str::is_empty) {
        return Err(decode_err(StrictDecodeError {
            path: "metadata.name".into(),
            message: "missing field `name`".into(),
        }));
    }
    Ok(resource)
}
