//! The per-scenario World: the target, the harness's mocks, and what the scenario observed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use mock_idps::{GithubMock, GoogleMock, MockBackend, MockUser};
use vmcp_conformance::defects::Defects;
use vmcp_conformance::target::reference::ReferenceTarget;
use vmcp_conformance::target::{Deployed, Target};

use super::suite_prelude::*;

/// Which system the scenarios run against (set once per run by the runner).
#[derive(Debug, Clone)]
pub struct HarnessConfig {
    pub target: TargetKind,
    pub defects: Defects,
}

// The remote kinds are built by the CLI (src/main.rs), not by `cargo test --test bdd`.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    Reference,
    /// A process started from this command template (`{config}`, `{port}`, `{host}`, `{dir}`).
    Command(String),
    /// An implementation already running; the harness's mocks on the fixed ports of `mocks`.
    Url {
        options: vmcp_conformance::target::url::UrlOptions,
        mocks: mock_idps::standalone::Layout,
    },
    /// A cluster with the ToolHive operator; the mocks on fixed ports when `mocks` is given.
    Kubernetes {
        options: vmcp_conformance::target::kubernetes::KubernetesOptions,
        mocks: Option<mock_idps::standalone::Layout>,
    },
}

/// Where the scenario's mocks must listen (`--mocks-listen`), `None` for free loopback ports.
pub fn mocks_layout() -> Option<mock_idps::standalone::Layout> {
    match harness().target {
        TargetKind::Url { mocks, .. } => Some(mocks),
        TargetKind::Kubernetes { mocks, .. } => mocks,
        _ => None,
    }
}

static HARNESS: OnceLock<HarnessConfig> = OnceLock::new();

pub fn configure(config: HarnessConfig) {
    // A second configuration in the same process (never happens in practice) keeps the first.
    let _ = HARNESS.set(config);
}

fn harness() -> HarnessConfig {
    HARNESS.get().cloned().unwrap_or(HarnessConfig { target: TargetKind::Reference, defects: Defects::none() })
}

/// The run's defect switches, for step modules that start a further target (a second replica).
pub fn harness_defects() -> Defects {
    harness().defects
}

/// A manifest the scenario will deploy, with where it came from.
#[derive(Debug, Clone)]
pub struct ManifestSource {
    /// `guides-vmcp/embedded-auth-server-vmcp.mdx:757 (backends.yaml)` or `feature docstring`.
    pub origin: String,
    pub yaml: String,
    /// Whether this block is a documented example (counted in the coverage summary).
    pub documented: bool,
}

/// The OAuth client the harness plays, and what its login produced.
#[derive(Debug, Clone, Default)]
pub struct Login {
    pub client_id: String,
    /// Origins the user agent was sent to, in order (the upstream chain, then the client).
    pub hops: Vec<String>,
    pub access_token: String,
    pub token_response: serde_json::Value,
}

/// An HTTP response the scenario wants to assert on.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("the response body is not JSON ({e}): {}", self.body))
    }
}

#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct ConformanceWorld {
    pub target: Box<dyn Target>,
    pub http: reqwest::Client,
    pub manifests: Vec<ManifestSource>,
    /// `(kind, dotted field path, value)` edits applied to the documented manifests.
    pub overrides: Vec<(String, String, String)>,
    pub github_client_id: String,
    pub google_client_id: String,
    pub user: MockUser,
    pub github: Option<GithubMock>,
    pub google: Option<GoogleMock>,
    pub backends: BTreeMap<String, MockBackend>,
    /// The host mapping applied to the manifests (documented value -> reachable value).
    pub substitutions: Vec<(String, String)>,
    pub deployed: Option<Deployed>,
    pub login: Option<Login>,
    pub metadata: Option<serde_json::Value>,
    pub reply: Option<HttpReply>,
    /// The state the client sent and the query it was finally redirected back with.
    pub redirect_query: Option<(Option<String>, std::collections::HashMap<String, String>)>,
    pub tools: Vec<String>,
    pub last_call: Option<rmcp::model::CallToolResult>,
    pub checks: Vec<CheckOutcome>,
    /// Per-domain scenario state owned by one step module (a Redis topology handle, a second
    /// target, …): `w.ext.get_or_insert_default::<MyState>()`. Keeps this struct stable while
    /// step modules grow.
    pub ext: http::Extensions,
    /// Records every request `http` and `mcp_http()` make, with its response (for the report).
    pub recorder: vmcp_conformance::report::recorder::Recorder,
}

impl ConformanceWorld {
    async fn new() -> Result<Self, std::io::Error> {
        let config = harness();
        let target: Box<dyn Target> = match &config.target {
            TargetKind::Reference => {
                Box::new(ReferenceTarget::bind(config.defects.clone()).await.map_err(std::io::Error::other)?)
            }
            TargetKind::Url { options, .. } => {
                Box::new(vmcp_conformance::target::url::UrlTarget::new(options.clone()).map_err(std::io::Error::other)?)
            }
            TargetKind::Kubernetes { options, .. } => Box::new(
                vmcp_conformance::target::kubernetes::KubernetesTarget::connect(options.clone())
                    .await
                    .map_err(std::io::Error::other)?,
            ),
            TargetKind::Command(template) => Box::new(
                vmcp_conformance::target::command::CommandTarget::bind(template.clone())
                    .await
                    .map_err(std::io::Error::other)?,
            ),
        };
        let recorder = vmcp_conformance::report::recorder::Recorder::start().await?;
        Ok(Self {
            target,
            http: http_client_via(Some(&recorder)),
            manifests: Vec::new(),
            overrides: Vec::new(),
            github_client_id: "conformance-github-client".into(),
            google_client_id: "conformance-google-client".into(),
            user: MockUser::named("alice"),
            github: None,
            google: None,
            backends: BTreeMap::new(),
            substitutions: Vec::new(),
            deployed: None,
            login: None,
            metadata: None,
            reply: None,
            redirect_query: None,
            tools: Vec::new(),
            last_call: None,
            checks: Vec::new(),
            ext: http::Extensions::new(),
            recorder,
        })
    }

    /// A client for the MCP SDK's transport (`StreamableHttpClientTransport::with_client`),
    /// recorded like `http`: the SDK's default settings (no idle pool, same-origin 307/308
    /// redirects followed), without `http`'s overall timeout (SSE streams stay open).
    pub fn mcp_http(&self) -> reqwest::Client {
        let same_origin = reqwest::redirect::Policy::custom(|attempt| {
            let origin = |u: &reqwest::Url| (u.scheme().to_string(), u.host_str().map(str::to_string), u.port());
            let same = attempt.previous().first().is_some_and(|first| origin(first) == origin(attempt.url()));
            let status = attempt.status().as_u16();
            if attempt.previous().len() > 10 || !same || !(status == 307 || status == 308) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        reqwest::Client::builder()
            .proxy(self.recorder.proxy())
            .pool_max_idle_per_host(0)
            .redirect(same_origin)
            .build()
            .unwrap_or_default()
    }

    /// The issuer and MCP origin: where the target listens.
    pub fn base_url(&self) -> String {
        self.target.base_url()
    }

    pub fn login(&self) -> Result<&Login, String> {
        self.login.as_ref().ok_or_else(|| "no login has happened yet in this scenario".to_string())
    }

    pub fn reply(&self) -> Result<&HttpReply, String> {
        self.reply.as_ref().ok_or_else(|| "no HTTP response has been received yet in this scenario".to_string())
    }

    pub fn backend(&self, name: &str) -> Result<&MockBackend, String> {
        self.backends.get(name).ok_or_else(|| {
            format!(
                "no mock backend named {name}; the deployed group has {:?}",
                self.backends.keys().collect::<Vec<_>>()
            )
        })
    }

    /// Documented blocks this scenario deployed, for the coverage summary.
    pub fn documented_blocks(&self) -> Vec<String> {
        self.manifests.iter().filter(|m| m.documented).map(|m| m.origin.clone()).collect()
    }
}

impl ConformanceWorld {
    /// Stops the target and hands the scenario's mocks and `ext` (Redis topologies, second
    /// targets) to a teardown thread. The runner calls it when a scenario finishes: cucumber
    /// keeps a failed scenario's World alive for its writers until the feature's output is
    /// flushed, and a topology held that long blocked the next Redis scenario for minutes.
    pub async fn release(&mut self) {
        self.target.stop().await;
        self.release_mocks();
    }

    /// wiremock's `MockServer` verifies its expectations when dropped, blocking on a lock that
    /// tasks of this runtime may hold; dropping many of them on the runtime's few worker threads
    /// at the end of concurrent scenarios can starve the runtime. The mocks (and whatever step
    /// modules keep in `ext`) are therefore dropped on a thread of their own.
    fn release_mocks(&mut self) {
        if self.github.is_none() && self.google.is_none() && self.backends.is_empty() && self.ext.is_empty() {
            return;
        }
        let github = self.github.take();
        let google = self.google.take();
        let backends = std::mem::take(&mut self.backends);
        let ext = std::mem::take(&mut self.ext);
        // Some handles (containers) spawn their clean-up on the current runtime when dropped.
        let runtime = tokio::runtime::Handle::try_current().ok();
        let spawned = std::thread::Builder::new().name("world-teardown".into()).spawn(move || {
            let _context = runtime.as_ref().map(|r| r.enter());
            drop((github, google, backends, ext));
        });
        match spawned {
            Ok(handle) => TEARDOWNS.lock().unwrap_or_else(|p| p.into_inner()).push(handle),
            Err(e) => tracing::warn!("cannot start a teardown thread ({e}); the scenario's mocks leak until exit"),
        }
    }
}

impl Drop for ConformanceWorld {
    fn drop(&mut self) {
        self.release_mocks();
    }
}

/// Teardown threads still running: the runner joins them before the process exits, so that
/// containers and servers of the last scenarios are really removed.
static TEARDOWNS: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Waits (up to a minute) for every scenario's teardown to finish.
pub fn finish_teardowns() {
    let handles = std::mem::take(&mut *TEARDOWNS.lock().unwrap_or_else(|p| p.into_inner()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for handle in handles {
        while !handle.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if handle.is_finished() {
            let _ = handle.join();
        } else {
            eprintln!("a scenario's teardown did not finish within a minute; its mocks or containers may remain");
        }
    }
}

impl fmt::Debug for ConformanceWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConformanceWorld")
            .field("target", &self.target.describe())
            .field("manifests", &self.manifests.iter().map(|m| &m.origin).collect::<Vec<_>>())
            .field("substitutions", &self.substitutions)
            .field("backends", &self.backends.keys().collect::<Vec<_>>())
            .field("deployed", &self.deployed)
            .field("login", &self.login.as_ref().map(|l| (&l.client_id, &l.hops)))
            .field("reply", &self.reply.as_ref().map(|r| r.status))
            .field("tools", &self.tools)
            .finish_non_exhaustive()
    }
}

/// The harness's user agent: it never follows redirects, so every OAuth hop is visible. With a
/// recorder, it sends through the scenario's recording proxy.
pub fn http_client_via(recorder: Option<&vmcp_conformance::report::recorder::Recorder>) -> reqwest::Client {
    let builder = match recorder {
        Some(r) => reqwest::Client::builder().proxy(r.proxy()),
        None => reqwest::Client::builder(),
    };
    builder
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap_or_default()
}
