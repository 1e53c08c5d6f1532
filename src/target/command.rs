//! The `command` target: any implementation started as a process from a command template
//! (`thv vmcp serve --config {config} --port {port}`). The harness plays the operator: it
//! reconciles the bundle, writes ToolHive's non-Kubernetes files (`vmcp.yaml` +
//! `authserver-config.yaml`, secrets as files and env vars) into a directory of its own, and
//! starts the command on a port it reserved.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::{Deployed, Deployment, StatusCondition, Target, TargetError};
use crate::bundle::{Bundle, Environment};
use crate::cliconfig::{WriteOptions, Written, to_files};
use crate::defects::Defects;

/// How long a started command may take to answer HTTP on its port.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping process gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Lines of output kept per target (the tail is what a failing report shows).
const LOG_LINES: usize = 2000;

pub struct CommandTarget {
    template: String,
    host: String,
    port: u16,
    /// Holds the port while no process runs, so that nothing else takes it in between.
    reserved: Option<std::net::TcpListener>,
    dir: PathBuf,
    deployment: Option<Deployment>,
    written: Option<Written>,
    /// The harness's reconcile of the deployment (the operator's part), reported on every start.
    conditions: Vec<StatusCondition>,
    child: Option<Child>,
    logs: Arc<Mutex<VecDeque<String>>>,
}

/// `'…'`-quotes `value` for `sh -c`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

impl CommandTarget {
    /// Reserves a loopback port and a private directory for the files.
    pub async fn bind(template: impl Into<String>) -> Result<Self, TargetError> {
        let template = template.into();
        if !template.contains("{config}") || !template.contains("{port}") {
            return Err(TargetError::Start(format!(
                "the command template must contain {{config}} and {{port}} (it is `{template}`)"
            )));
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| TargetError::Start(format!("reserve a port on 127.0.0.1: {e}")))?;
        let port = listener.local_addr().map_err(|e| TargetError::Start(e.to_string()))?.port();
        let dir = std::env::temp_dir().join(format!("vmcp-conformance-{}", uuid::Uuid::new_v4()));
        Ok(Self {
            template,
            host: "127.0.0.1".into(),
            port,
            reserved: Some(listener),
            dir,
            deployment: None,
            written: None,
            conditions: Vec::new(),
            child: None,
            logs: Arc::default(),
        })
    }

    fn log(&self, line: impl Into<String>) {
        push(&self.logs, line.into());
    }

    /// The command line with its placeholders filled.
    pub fn command_line(&self, config: &std::path::Path) -> String {
        self.template
            .replace("{config}", &shell_quote(&config.display().to_string()))
            .replace("{dir}", &shell_quote(&self.dir.display().to_string()))
            .replace("{host}", &self.host)
            .replace("{port}", &self.port.to_string())
    }

    /// Reconciles the bundle as the operator would and writes the files.
    fn write_files(&mut self, deployment: &Deployment) -> Result<Result<Written, Deployed>, TargetError> {
        let bundle = Bundle::from_yaml(&deployment.manifests).map_err(|e| TargetError::Manifests(e.to_string()))?;
        let reconciled =
            bundle.reconcile(&Environment { backend_urls: deployment.backend_urls.clone(), defects: Defects::none() });
        for condition in &reconciled.conditions {
            self.log(format!("condition {condition}"));
        }
        self.conditions = reconciled.conditions.clone();
        let Some(runtime) = reconciled.runtime else {
            return Ok(Err(Deployed { ready: false, conditions: reconciled.conditions }));
        };
        let options = WriteOptions::from_bundle(&bundle).map_err(TargetError::Manifests)?;
        let files = to_files(&runtime, &options, &self.dir).map_err(|e| TargetError::Start(e.to_string()))?;
        let _ = std::fs::remove_dir_all(&self.dir);
        let written = files.write_to(&self.dir).map_err(|e| TargetError::Start(e.to_string()))?;
        self.log(format!("wrote {}", written.vmcp_path.display()));
        Ok(Ok(written))
    }

    async fn spawn(&mut self) -> Result<(), TargetError> {
        let written = self.written.clone().ok_or(TargetError::NotRunning)?;
        let line = self.command_line(&written.vmcp_path);
        self.log(format!("$ {line}"));
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("exec {line}"))
            .current_dir(&self.dir)
            .envs(&written.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let dns = crate::storage::redis::cluster_dns_mappings();
        if !dns.is_empty() {
            // The harness's explicit mapping of cluster DNS names (Redis, Sentinel) to loopback
            // endpoints; `vmcp-conformance serve` applies it, other implementations need their own.
            let json = serde_json::to_string(&dns).unwrap_or_default();
            self.log(format!("{}={json}", crate::serve::CLUSTER_DNS_ENV));
            command.env(crate::serve::CLUSTER_DNS_ENV, json);
        }
        // Released only now, for the command to bind (the readiness wait reports its bind error if
        // another process took the port in this instant).
        drop(self.reserved.take());
        let mut child = command.spawn().map_err(|e| TargetError::Start(format!("cannot start `{line}`: {e}")))?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, "stdout", self.logs.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, "stderr", self.logs.clone()));
        }
        self.child = Some(child);
        self.wait_ready(&line).await
    }

    /// Ready when anything answers HTTP on the port; fails when the process exits first.
    async fn wait_ready(&mut self, line: &str) -> Result<(), TargetError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| TargetError::Start(e.to_string()))?;
        let url = format!("{}/", self.base_url());
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                // Let the output pumps catch up with the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(TargetError::Start(format!(
                    "`{line}` exited ({status}) before answering on {url}{}",
                    self.stderr_tail()
                )));
            }
            if http.get(&url).send().await.is_ok() {
                self.log(format!("ready on {url}"));
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop().await;
                return Err(TargetError::Start(format!(
                    "`{line}` did not answer HTTP on {url} within {}s{}",
                    READY_TIMEOUT.as_secs(),
                    self.stderr_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr_tail(&self) -> String {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let tail: Vec<&String> = logs.iter().filter(|l| l.starts_with("stderr: ")).rev().take(20).collect();
        if tail.is_empty() {
            return "; it wrote nothing to stderr".into();
        }
        let lines: Vec<&str> = tail.iter().rev().map(|l| l.as_str()).collect();
        format!("; stderr tail:\n{}", lines.join("\n"))
    }
}

fn push(logs: &Mutex<VecDeque<String>>, line: String) {
    tracing::debug!(target: "command", "{line}");
    let mut logs = logs.lock().unwrap_or_else(|p| p.into_inner());
    if logs.len() == LOG_LINES {
        logs.pop_front();
    }
    logs.push_back(line);
}

async fn pump(stream: impl AsyncRead + Unpin, name: &'static str, logs: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        push(&logs, format!("{name}: {line}"));
    }
}

/// Signals the process group `pid` leads.
fn signal_group(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

#[async_trait]
impl Target for CommandTarget {
    fn describe(&self) -> String {
        format!("command (`{}`)", self.template)
    }

    fn base_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    async fn start(&mut self, deployment: Deployment) -> Result<Deployed, TargetError> {
        self.stop().await;
        self.deployment = Some(deployment.clone());
        self.written = None;
        let written = match self.write_files(&deployment)? {
            Ok(w) => w,
            Err(not_ready) => return Ok(not_ready),
        };
        self.written = Some(written);
        self.spawn().await?;
        Ok(Deployed { ready: true, conditions: self.conditions.clone() })
    }

    async fn restart(&mut self) -> Result<Deployed, TargetError> {
        let deployment = self.deployment.clone().ok_or(TargetError::NotRunning)?;
        if self.written.is_none() {
            return self.start(deployment).await;
        }
        self.stop().await;
        self.spawn().await?;
        Ok(Deployed { ready: true, conditions: self.conditions.clone() })
    }

    async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Some(pid) = child.id() {
            signal_group(pid, libc::SIGTERM);
            match tokio::time::timeout(STOP_GRACE, child.wait()).await {
                Ok(Ok(status)) => self.log(format!("stopped ({status})")),
                _ => {
                    signal_group(pid, libc::SIGKILL);
                    let _ = child.wait().await;
                    self.log(format!("killed after {}s without exiting on SIGTERM", STOP_GRACE.as_secs()));
                }
            }
        }
        // Hold the port again until the next start (a restart reuses it).
        self.reserved = std::net::TcpListener::bind((self.host.as_str(), self.port)).ok();
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

impl Drop for CommandTarget {
    fn drop(&mut self) {
        if let Some(child) = self.child.take()
            && let Some(pid) = child.id()
        {
            signal_group(pid, libc::SIGKILL);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
