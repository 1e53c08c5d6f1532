//! The url target: an implementation that is already running somewhere, configured by its
//! operator. It has one configuration, so it can run exactly the scenarios whose deployment is
//! that configuration; every other scenario is reported as needing another configuration.
//!
//! The configuration lives in a folder (`--url-config DIR`): `manifests.yaml` (the bundle to give
//! the implementation, with the harness's mocks and the implementation's URL already written in)
//! and `backends.yaml` (which MCPServer is served by which of the harness's mock backends). When
//! the folder is empty, the first scenario's deployment is written there for the operator, with
//! the same configuration in ToolHive's non-Kubernetes form under `vmcp/` (`vmcp.yaml`,
//! `authserver-config.yaml`, and `vmcp/environment` for the secrets passed by environment).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{Deployed, Deployment, Target, TargetError};

/// File names inside the configuration folder.
pub const MANIFESTS_FILE: &str = "manifests.yaml";
pub const BACKENDS_FILE: &str = "backends.yaml";
/// The same configuration in ToolHive's non-Kubernetes form (`thv vmcp serve --config`).
pub const CLI_DIR: &str = "vmcp";
/// `KEY=VALUE` lines: the environment variables the non-Kubernetes form reads secrets from.
pub const CLI_ENV_FILE: &str = "vmcp/environment";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlOptions {
    /// The running implementation's origin (its issuer and MCP origin).
    pub url: String,
    /// The folder holding the configuration the implementation was given.
    pub config_dir: PathBuf,
    /// How long to wait for the implementation to answer (the operator may start it once the
    /// configuration is written).
    pub wait: Duration,
}

pub struct UrlTarget {
    options: UrlOptions,
    http: reqwest::Client,
    logs: Arc<Mutex<Vec<String>>>,
}

impl UrlTarget {
    pub fn new(options: UrlOptions) -> Result<Self, TargetError> {
        let parsed =
            url::Url::parse(&options.url).map_err(|e| TargetError::Start(format!("--url {:?}: {e}", options.url)))?;
        if parsed.path() != "/" || parsed.query().is_some() {
            return Err(TargetError::Start(format!(
                "--url {:?} must be an origin (scheme, host and port; the scenarios add the paths)",
                options.url
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TargetError::Start(format!("HTTP client: {e}")))?;
        Ok(Self { options, http, logs: Arc::default() })
    }

    /// Any HTTP answer shows something listens; nothing within `wait` is a setup error.
    async fn wait_for_answer(&self) -> Result<(), TargetError> {
        let deadline = std::time::Instant::now() + self.options.wait;
        let mut told = false;
        loop {
            match self.http.get(self.base_url()).send().await {
                Ok(_) => return Ok(()),
                Err(e) if std::time::Instant::now() >= deadline => {
                    return Err(TargetError::Start(format!(
                        "nothing answers at {} after {:?} ({e}); is the implementation running?",
                        self.options.url, self.options.wait
                    )));
                }
                Err(_) => {
                    if !told {
                        eprintln!(
                            "url target: waiting up to {:?} for {} to answer",
                            self.options.wait, self.options.url
                        );
                        told = true;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    fn log(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(target: "url", "{line}");
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
}

/// Writes a deployment as the configuration folder's two files.
pub fn write_config(dir: &Path, deployment: &Deployment, url: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let manifests = format!(
        "# The configuration the implementation at {url} must run with (written by vmcp-conformance).\n\
         # The MCPServers' images are replaced by the harness's mock backends listed in {BACKENDS_FILE}.\n{}",
        deployment.manifests
    );
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))
    };
    write(MANIFESTS_FILE, &manifests)?;
    let backends = serde_saphyr::to_string(&deployment.backend_urls).map_err(|e| e.to_string())?;
    write(BACKENDS_FILE, &format!("# MCPServer name -> the harness's mock backend serving it\n{backends}"))?;
    // The non-Kubernetes form is a convenience: when it cannot be made, say why in its place.
    if let Err(e) = write_cli_form(&dir.join(CLI_DIR), deployment) {
        std::fs::create_dir_all(dir.join(CLI_DIR)).map_err(|e| e.to_string())?;
        write(&format!("{CLI_DIR}/NOT-WRITTEN.txt"), &format!("{e}\n"))?;
    }
    Ok(())
}

/// The deployment as `vmcp.yaml` + `authserver-config.yaml` (+ secret files and environment),
/// reconciled the way the reference's operator rules do. A bundle those rules refuse gets no
/// such form (the manifests still say what was asked).
fn write_cli_form(dir: &Path, deployment: &Deployment) -> Result<(), String> {
    use crate::bundle::{Bundle, Environment};
    use crate::cliconfig::{WriteOptions, to_files};
    let bundle = Bundle::from_yaml(&deployment.manifests).map_err(|e| format!("the manifests: {e}"))?;
    let reconciled = bundle.reconcile(&Environment {
        backend_urls: deployment.backend_urls.clone(),
        defects: crate::defects::Defects::none(),
    });
    let Some(runtime) = reconciled.runtime else {
        return Ok(());
    };
    let options = WriteOptions::from_bundle(&bundle)?;
    let files = to_files(&runtime, &options, dir).map_err(|e| format!("the vmcp.yaml form: {e}"))?;
    let written = files.write_to(dir).map_err(|e| format!("the vmcp.yaml form: {e}"))?;
    let env: String = written.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let env_path = dir.parent().unwrap_or(dir).join(CLI_ENV_FILE);
    std::fs::write(&env_path, env).map_err(|e| format!("cannot write {}: {e}", env_path.display()))
}

/// Reads the configuration folder; `None` when it holds no configuration yet.
pub fn read_config(dir: &Path) -> Result<Option<Deployment>, String> {
    let manifests_path = dir.join(MANIFESTS_FILE);
    if !manifests_path.exists() {
        return Ok(None);
    }
    let manifests = std::fs::read_to_string(&manifests_path)
        .map_err(|e| format!("cannot read {}: {e}", manifests_path.display()))?;
    let backends_path = dir.join(BACKENDS_FILE);
    let backend_urls: BTreeMap<String, String> = match std::fs::read_to_string(&backends_path) {
        Ok(text) => serde_saphyr::from_str::<Option<BTreeMap<String, String>>>(&text)
            .map_err(|e| format!("{} is not a map of MCPServer name -> URL: {e}", backends_path.display()))?
            .unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", backends_path.display())),
    };
    Ok(Some(Deployment { manifests, backend_urls }))
}

/// Where two deployments differ (`None` when they are the same configuration): documents are
/// compared as data, so formatting, key order and comments do not matter.
pub fn difference(given: &Deployment, wanted: &Deployment) -> Result<Option<String>, String> {
    let parse = |text: &str, what: &str| -> Result<Vec<Value>, String> {
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(text).map_err(|e| format!("the {what} manifests are not valid YAML: {e}"))?;
        Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
    };
    let given_docs = parse(&given.manifests, "configured")?;
    let wanted_docs = parse(&wanted.manifests, "scenario's")?;
    let label = |d: &Value| {
        let kind = d.get("kind").and_then(Value::as_str).unwrap_or("?");
        let name = d.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
        format!("{kind}/{name}")
    };
    let given_by: BTreeMap<String, &Value> = given_docs.iter().map(|d| (label(d), d)).collect();
    let wanted_by: BTreeMap<String, &Value> = wanted_docs.iter().map(|d| (label(d), d)).collect();
    for (name, doc) in &wanted_by {
        match given_by.get(name) {
            None => return Ok(Some(format!("the scenario deploys {name}, which the configuration lacks"))),
            Some(given) => {
                if let Some(at) = first_difference(given, doc, String::new()) {
                    return Ok(Some(format!("{name} differs at {at}")));
                }
            }
        }
    }
    if let Some(extra) = given_by.keys().find(|k| !wanted_by.contains_key(*k)) {
        return Ok(Some(format!("the configuration has {extra}, which the scenario does not deploy")));
    }
    if given.backend_urls != wanted.backend_urls {
        return Ok(Some(format!(
            "the scenario's mock backends {:?} are not the configured {:?}",
            wanted.backend_urls, given.backend_urls
        )));
    }
    Ok(None)
}

/// The JSON pointer of the first difference, with both values.
fn first_difference(given: &Value, wanted: &Value, at: String) -> Option<String> {
    match (given, wanted) {
        (Value::Object(g), Value::Object(w)) => {
            let keys: std::collections::BTreeSet<&String> = g.keys().chain(w.keys()).collect();
            keys.into_iter().find_map(|k| {
                let path = format!("{at}/{k}");
                match (g.get(k), w.get(k)) {
                    (Some(a), Some(b)) => first_difference(a, b, path),
                    (a, b) => Some(format!("{path} (configured {a:?}, scenario {b:?})")),
                }
            })
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            g.iter().zip(w).enumerate().find_map(|(i, (a, b))| first_difference(a, b, format!("{at}/{i}")))
        }
        _ if given == wanted => None,
        _ => Some(format!("{} (configured {given}, scenario {wanted})", if at.is_empty() { "/" } else { &at })),
    }
}

#[async_trait]
impl Target for UrlTarget {
    fn describe(&self) -> String {
        format!("url ({}, configured from {})", self.options.url, self.options.config_dir.display())
    }

    fn base_url(&self) -> String {
        self.options.url.trim_end_matches('/').to_string()
    }

    async fn start(&mut self, deployment: Deployment) -> Result<Deployed, TargetError> {
        let dir = &self.options.config_dir;
        let given = match read_config(dir).map_err(TargetError::Start)? {
            Some(given) => given,
            None => {
                write_config(dir, &deployment, &self.options.url).map_err(TargetError::Start)?;
                eprintln!(
                    "url target: no configuration in {0}; this scenario's is now written there ({MANIFESTS_FILE}, \
                     {BACKENDS_FILE}, and {CLI_DIR}/ for `thv vmcp serve --config {0}/{CLI_DIR}/vmcp.yaml`). \
                     Start the implementation at {1} with it; the mocks it names are up while this run lasts.",
                    dir.display(),
                    self.options.url
                );
                deployment.clone()
            }
        };
        if let Some(diff) = difference(&given, &deployment).map_err(TargetError::Manifests)? {
            return Err(TargetError::NeedsOtherConfiguration(format!(
                "the implementation at {} runs the configuration in {}; {diff}",
                self.options.url,
                dir.display()
            )));
        }
        self.wait_for_answer().await?;
        self.log(format!("{} runs this scenario's configuration", self.options.url));
        // A running implementation shows no status conditions: a scenario asserting them fails
        // with an empty list rather than passing on conditions nobody reported.
        Ok(Deployed { ready: true, conditions: Vec::new() })
    }

    async fn restart(&mut self) -> Result<Deployed, TargetError> {
        Err(TargetError::Unsupported(format!(
            "the url target cannot restart the implementation at {} (it is not started by the harness)",
            self.options.url
        )))
    }

    async fn stop(&mut self) {}

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(issuer: &str) -> Deployment {
        Deployment {
            manifests: format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n---\nkind: VirtualMCPServer\nmetadata: {{name: v}}\nspec: {{issuer: {issuer}, list: [1, 2]}}\n"
            ),
            backend_urls: BTreeMap::from([("b".to_string(), "http://127.0.0.1:1/mcp".to_string())]),
        }
    }

    #[test]
    fn same_configuration_in_another_layout_is_the_same() {
        let a = deployment("http://x");
        let b = Deployment {
            manifests: "# comment\nkind: VirtualMCPServer\nspec:\n  list: [1, 2]\n  issuer: http://x\nmetadata:\n  name: v\n---\nmetadata: {name: s}\nkind: Secret\napiVersion: v1\n".into(),
            backend_urls: a.backend_urls.clone(),
        };
        assert_eq!(difference(&a, &b).unwrap(), None);
    }

    #[test]
    fn a_changed_field_is_named_by_its_path() {
        let diff = difference(&deployment("http://x"), &deployment("http://y")).unwrap().unwrap();
        assert!(diff.contains("VirtualMCPServer/v differs at /spec/issuer"), "{diff}");
    }

    #[test]
    fn config_folder_round_trips() {
        let dir = std::env::temp_dir().join(format!("vmcp-url-{}", uuid::Uuid::new_v4().simple()));
        assert!(read_config(&dir).unwrap().is_none());
        let d = deployment("http://x");
        write_config(&dir, &d, "http://127.0.0.1:9").unwrap();
        let back = read_config(&dir).unwrap().unwrap();
        assert_eq!(difference(&back, &d).unwrap(), None);
        // Not a loadable bundle: no vmcp.yaml, and a note saying why.
        let note = std::fs::read_to_string(dir.join(CLI_DIR).join("NOT-WRITTEN.txt")).unwrap();
        assert!(note.contains("the manifests"), "{note}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
