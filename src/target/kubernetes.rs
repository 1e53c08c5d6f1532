//! The kubernetes target: the scenario's bundle applied to a cluster with server-side apply into a
//! namespace created for the scenario, the VirtualMCPServer's status conditions read back, and the
//! vMCP reached through a URL the user gives (an Ingress, a LoadBalancer, a port-forward).
//!
//! The operator running in the cluster does the work the reference's bundle rules do in process;
//! this target only applies, waits, reads and cleans up.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use super::{Deployed, Deployment, StatusCondition, Target, TargetError};

/// The field manager of every server-side apply: the objects are this suite's.
pub const FIELD_MANAGER: &str = "vmcp-conformance";

/// How the kubernetes target reaches the cluster and the vMCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesOptions {
    /// A kubeconfig file; `None` infers the configuration the standard way (`KUBECONFIG`,
    /// `~/.kube/config`, the in-cluster service account).
    pub kubeconfig: Option<PathBuf>,
    /// Where the deployed vMCP answers (its issuer and MCP origin), e.g. `https://vmcp.example.org`.
    pub url: String,
    /// An existing namespace every scenario is applied into (neither created nor deleted);
    /// `None` creates `<namespace_prefix>-<random>` per scenario and deletes it afterwards.
    pub namespace: Option<String>,
    /// The prefix of the namespace created for each scenario.
    pub namespace_prefix: String,
    /// How long the VirtualMCPServer may take to leave `Pending`.
    pub ready_timeout: Duration,
    /// How often its status is read while waiting.
    pub poll_interval: Duration,
}

impl KubernetesOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            kubeconfig: None,
            url: url.into(),
            namespace: None,
            namespace_prefix: "vmcp-conformance".into(),
            ready_timeout: Duration::from_secs(180),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// An object this target applied, to read its status and delete it.
#[derive(Clone)]
struct Applied {
    resource: ApiResource,
    name: String,
}

pub struct KubernetesTarget {
    config: kube::Config,
    client: kube::Client,
    options: KubernetesOptions,
    /// The namespace of the next (or current) scenario: chosen ahead so that a URL holding
    /// `{namespace}` is known before the manifests are written.
    namespace: String,
    applied: Vec<Applied>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl KubernetesTarget {
    /// Connects to the cluster (no request is made until the first `start`).
    pub async fn connect(options: KubernetesOptions) -> Result<Self, TargetError> {
        let config = match &options.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| TargetError::Start(format!("--kubeconfig {}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| TargetError::Start(format!("--kubeconfig {}: {e}", path.display())))?
            }
            None => kube::Config::infer().await.map_err(|e| {
                TargetError::Start(format!(
                    "no Kubernetes configuration found (KUBECONFIG, ~/.kube/config, in-cluster): {e}"
                ))
            })?,
        };
        let client = kube::Client::try_from(config.clone())
            .map_err(|e| TargetError::Start(format!("cannot build the Kubernetes client: {e}")))?;
        url::Url::parse(&options.url.replace("{namespace}", "ns"))
            .map_err(|e| TargetError::Start(format!("--kube-url {:?}: {e}", options.url)))?;
        let namespace = next_namespace(&options);
        Ok(Self { config, client, options, namespace, applied: Vec::new(), logs: Arc::default() })
    }

    /// The namespace the current (or next) scenario is applied to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn log(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(target: "kubernetes", "{line}");
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn api(&self, resource: &ApiResource) -> Api<DynamicObject> {
        api(&self.client, &self.namespace, resource)
    }

    async fn apply(&mut self, resource: ApiResource, name: &str, body: &Value) -> Result<(), TargetError> {
        let object: DynamicObject = serde_json::from_value(body.clone())
            .map_err(|e| TargetError::Manifests(format!("{}/{name}: {e}", resource.kind)))?;
        // Recorded first: a half-applied object is still deleted at clean-up.
        self.applied.push(Applied { resource: resource.clone(), name: name.to_string() });
        self.api(&resource)
            .patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&object))
            .await
            .map_err(|e| TargetError::Start(format!("server-side apply of {}/{name}: {e}", resource.kind)))?;
        self.log(format!("applied {}/{name}", resource.kind));
        Ok(())
    }

    /// The status conditions of every applied object, and the VirtualMCPServer's phase.
    async fn read_status(&self, vmcp: &str) -> Result<(Vec<StatusCondition>, Option<String>), TargetError> {
        let mut conditions = Vec::new();
        let mut phase = None;
        for applied in &self.applied {
            if applied.resource.kind == "Namespace" {
                continue;
            }
            let object = self.api(&applied.resource).get_opt(&applied.name).await.map_err(|e| {
                TargetError::Start(format!("cannot read {}/{}: {e}", applied.resource.kind, applied.name))
            })?;
            let Some(object) = object else { continue };
            let label = format!("{}/{}", applied.resource.kind, applied.name);
            let status = object.data.get("status");
            if applied.resource.kind == "VirtualMCPServer" && applied.name == vmcp {
                phase = status.and_then(|s| s.get("phase")).and_then(Value::as_str).map(str::to_string);
            }
            conditions.extend(conditions_of(&label, status));
        }
        Ok((conditions, phase))
    }
}

fn api(client: &kube::Client, namespace: &str, resource: &ApiResource) -> Api<DynamicObject> {
    if resource.kind == "Namespace" {
        Api::all_with(client.clone(), resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, resource)
    }
}

fn next_namespace(options: &KubernetesOptions) -> String {
    if let Some(fixed) = &options.namespace {
        return fixed.clone();
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", options.namespace_prefix, &suffix[..8])
}

/// Deletes what was applied, newest first (the namespace, applied first, goes last). Returns
/// what could not be deleted.
async fn delete_applied(client: &kube::Client, namespace: &str, applied: Vec<Applied>) -> Vec<String> {
    let mut problems = Vec::new();
    for a in applied.into_iter().rev() {
        match api(client, namespace, &a.resource).delete(&a.name, &DeleteParams::default()).await {
            Ok(_) => {}
            // Already gone is what we want.
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => problems.push(format!("cannot delete {}/{}: {e}", a.resource.kind, a.name)),
        }
    }
    problems
}

/// `status.conditions` as [`StatusCondition`]s (`status: "True"` is the only true value).
pub fn conditions_of(resource: &str, status: Option<&Value>) -> Vec<StatusCondition> {
    let Some(list) = status.and_then(|s| s.get("conditions")).and_then(Value::as_array) else {
        return Vec::new();
    };
    let text = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    list.iter()
        .map(|c| StatusCondition {
            resource: resource.to_string(),
            type_: text(c, "type"),
            status: text(c, "status") == "True",
            reason: text(c, "reason"),
            message: text(c, "message"),
        })
        .collect()
}

/// `group/version` or `v1` -> the API resource of `kind` (plural by kube's English rules).
fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

/// The documents of a deployment, each with `metadata.namespace` set to `namespace` and any
/// `status` dropped (status is the controller's to write).
fn documents(manifests: &str, namespace: &str) -> Result<Vec<(ApiResource, String, Value)>, TargetError> {
    let parsed: Vec<Value> = serde_saphyr::from_multiple(manifests)
        .map_err(|e| TargetError::Manifests(format!("the manifests are not valid YAML: {e}")))?;
    let mut out = Vec::new();
    for (i, mut doc) in parsed.into_iter().filter(|d| !d.is_null()).enumerate() {
        let field = |doc: &Value, pointer: &str| doc.pointer(pointer).and_then(Value::as_str).map(str::to_string);
        let (Some(api_version), Some(kind), Some(name)) =
            (field(&doc, "/apiVersion"), field(&doc, "/kind"), field(&doc, "/metadata/name"))
        else {
            return Err(TargetError::Manifests(format!("document {} has no apiVersion, kind or metadata.name", i + 1)));
        };
        if let Some(object) = doc.as_object_mut() {
            object.remove("status");
        }
        if let Some(metadata) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("namespace".into(), Value::String(namespace.to_string()));
        }
        out.push((api_resource(&api_version, &kind), name, doc));
    }
    Ok(out)
}

#[async_trait]
impl Target for KubernetesTarget {
    fn describe(&self) -> String {
        format!("kubernetes (server-side apply, vMCP at {})", self.options.url)
    }

    fn base_url(&self) -> String {
        self.options.url.replace("{namespace}", &self.namespace).trim_end_matches('/').to_string()
    }

    async fn start(&mut self, deployment: Deployment) -> Result<Deployed, TargetError> {
        self.stop().await;
        let namespace = self.namespace.clone();
        let documents = documents(&deployment.manifests, &namespace)?;
        let vmcp = documents
            .iter()
            .find(|(r, _, _)| r.kind == "VirtualMCPServer")
            .map(|(_, name, _)| name.clone())
            .ok_or_else(|| TargetError::Manifests("the manifests have no VirtualMCPServer".into()))?;
        if self.options.namespace.is_none() {
            let ns_body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
            self.apply(api_resource("v1", "Namespace"), &namespace, &ns_body).await?;
        }
        if !deployment.backend_urls.is_empty() {
            self.log("the cluster runs the MCPServers' own images; the harness's mock backends are not used");
        }
        for (resource, name, body) in documents {
            self.apply(resource, &name, &body).await?;
        }
        let deadline = Instant::now() + self.options.ready_timeout;
        loop {
            let (conditions, phase) = self.read_status(&vmcp).await?;
            match phase.as_deref() {
                // Degraded still serves (some backends are missing).
                Some("Ready" | "Degraded") => return Ok(Deployed { ready: true, conditions }),
                Some("Failed") => return Ok(Deployed { ready: false, conditions }),
                _ if Instant::now() >= deadline => {
                    let seen: Vec<String> = conditions.iter().map(ToString::to_string).collect();
                    return Err(TargetError::Start(format!(
                        "VirtualMCPServer/{vmcp} did not reach phase Ready or Failed within {:?} (phase {phase:?}); last conditions: {seen:?}",
                        self.options.ready_timeout
                    )));
                }
                _ => tokio::time::sleep(self.options.poll_interval).await,
            }
        }
    }

    async fn restart(&mut self) -> Result<Deployed, TargetError> {
        Err(TargetError::Unsupported(
            "restarting the vMCP pods is not implemented for the kubernetes target (delete the pods by hand)".into(),
        ))
    }

    async fn stop(&mut self) {
        if self.applied.is_empty() {
            return;
        }
        let applied = std::mem::take(&mut self.applied);
        for problem in delete_applied(&self.client, &self.namespace, applied).await {
            self.log(problem);
        }
        self.log(format!("deleted the objects and the namespace {}", self.namespace));
        self.namespace = next_namespace(&self.options);
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for KubernetesTarget {
    /// Scenarios end by dropping their World: clean up the cluster there, on a thread with its own
    /// runtime (the dropping thread may be a worker of a runtime that is shutting down).
    fn drop(&mut self) {
        if self.applied.is_empty() {
            return;
        }
        let applied = std::mem::take(&mut self.applied);
        let (config, namespace) = (self.config.clone(), self.namespace.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
                let problems = delete_applied(&client, &namespace, applied).await;
                if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
            })
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("kubernetes target: clean-up of namespace {}: {e}", self.namespace),
            Err(_) => eprintln!("kubernetes target: the clean-up of namespace {} panicked", self.namespace),
        }
    }
}
