//! Manifests: documented blocks read from the docs at run time, the harness's prerequisites,
//! the host mapping to the harness's mocks, and deployment to the target.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use mock_idps::{GithubMock, GoogleMock, MockBackend, MockUser};
use vmcp_conformance::docs;
use vmcp_conformance::target::Deployment;

use super::suite_prelude::*;
use super::world::{ConformanceWorld, ManifestSource};

/// Secrets the GitHub and Google mocks expect, matching fixtures/secrets/embedded-auth-server.yaml.
const GITHUB_CLIENT_SECRET: &str = "conformance-github-secret";
pub const GOOGLE_CLIENT_SECRET: &str = "conformance-google-secret";

#[given(expr = "the documented manifests {string} from {string} section {string}")]
async fn documented_manifests(
    w: &mut ConformanceWorld,
    titles: String,
    page: String,
    section: String,
) -> Result<(), String> {
    let blocks = page_blocks(&page)?;
    for title in titles.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let block = blocks
            .iter()
            .find(|b| b.heading_anchor == section && b.title.as_deref() == Some(title))
            .ok_or_else(|| {
                let found: Vec<String> = blocks
                    .iter()
                    .filter(|b| b.heading_anchor == section)
                    .map(|b| format!("line {} {:?}", b.line, b.title))
                    .collect();
                format!("{page} has no block titled {title:?} under #{section}; blocks there: {found:?}")
            })?;
        w.manifests.push(ManifestSource {
            origin: format!("{page}:{} ({title})", block.line),
            yaml: block.content.clone(),
            documented: true,
        });
    }
    Ok(())
}

#[given(expr = "the prerequisite Secrets from {string}")]
async fn prerequisite_secrets(w: &mut ConformanceWorld, file: String) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&file);
    let yaml = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    w.manifests.push(ManifestSource { origin: file, yaml, documented: false });
    Ok(())
}

#[given("the scenario adds these manifests:")]
async fn scenario_manifests(w: &mut ConformanceWorld, step: &Step) -> Result<(), String> {
    let raw = step.docstring.as_deref().ok_or("this step needs a docstring with the manifests")?;
    w.manifests.push(ManifestSource {
        origin: "feature docstring".into(),
        yaml: docstring_text(raw),
        documented: false,
    });
    Ok(())
}

#[given(expr = "the {word} field {string} is set to {string}")]
async fn override_field(w: &mut ConformanceWorld, kind: String, path: String, value: String) {
    w.overrides.push((kind, path, value));
}

#[given(expr = "the user {string} has accounts at GitHub and Google")]
async fn user_accounts(w: &mut ConformanceWorld, login: String) {
    w.user = MockUser::named(&login);
}

#[when("the vMCP is deployed")]
async fn deploy(w: &mut ConformanceWorld) -> Result<(), String> {
    deploy_manifests(w).await?;
    let deployed = w.deployed.as_ref().ok_or("no deployment outcome")?;
    if !deployed.ready {
        let conditions: Vec<String> = deployed.conditions.iter().map(ToString::to_string).collect();
        return Err(format!("the target refused the deployment:\n  {}", conditions.join("\n  ")));
    }
    Ok(())
}

#[when("the manifests are applied")]
async fn apply(w: &mut ConformanceWorld) -> Result<(), String> {
    deploy_manifests(w).await
}

#[then(expr = "the VirtualMCPServer reports {word}={word} with reason {word}")]
async fn condition_reported(
    w: &mut ConformanceWorld,
    type_: String,
    status: String,
    reason: String,
) -> Result<(), String> {
    let deployed = w.deployed.as_ref().ok_or("nothing was deployed")?;
    let want = status.eq_ignore_ascii_case("true");
    let found = deployed.conditions.iter().find(|c| {
        c.resource.starts_with("VirtualMCPServer/") && c.type_ == type_ && c.status == want && c.reason == reason
    });
    let all: Vec<String> = deployed.conditions.iter().map(ToString::to_string).collect();
    verify(
        &mut w.checks,
        Check::must("bundle.status-condition", "embedded-auth-server-vmcp.mdx#configure-the-embedded-auth-server"),
        found.is_some(),
        format!("{type_}={status} reason {reason}"),
        format!("{all:?}"),
    )
}

/// Starts the mocks the manifests need, maps documented hosts and placeholders to them, and
/// deploys to the target.
pub(crate) async fn deploy_manifests(w: &mut ConformanceWorld) -> Result<(), String> {
    start_identity_providers(w).await?;
    let mut documents = Vec::new();
    for source in &w.manifests {
        let parsed: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.yaml)
            .map_err(|e| format!("{} is not valid YAML: {e}", source.origin))?;
        documents.extend(parsed.into_iter().filter(|d| !d.is_null()));
    }
    start_backends(w, &documents).await?;
    w.substitutions = substitutions(w);
    let mut rendered = Vec::new();
    for mut doc in documents {
        substitute(&mut doc, &w.substitutions);
        for (kind, path, value) in &w.overrides {
            if doc.get("kind").and_then(|k| k.as_str()) == Some(kind.as_str()) {
                set_path(&mut doc, path, value)?;
            }
        }
        rendered.push(serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?);
    }
    let backend_urls = w.backends.iter().map(|(name, b)| (name.clone(), b.url())).collect();
    let deployment = Deployment { manifests: rendered.join("\n---\n"), backend_urls };
    for (from, to) in &w.substitutions {
        tracing::info!("host mapping: {from} -> {to}");
    }
    let deployed = w.target.start(deployment).await.map_err(|e| e.to_string())?;
    w.deployed = Some(deployed);
    Ok(())
}

/// The run's mocks on the fixed ports of `--mocks-listen` (url and kubernetes targets): started
/// once and kept for the whole run, because the implementation is configured with them once (and
/// may read their discovery documents and keys only at its start).
#[derive(Default)]
struct FixedMocks {
    github: Option<GithubMock>,
    google: Option<GoogleMock>,
    backends: BTreeMap<String, MockBackend>,
}

static FIXED_MOCKS: tokio::sync::Mutex<FixedMocks> =
    tokio::sync::Mutex::const_new(FixedMocks { github: None, google: None, backends: BTreeMap::new() });

fn fixed(addr: std::net::SocketAddr) -> Result<Option<std::net::TcpListener>, String> {
    mock_idps::standalone::bind_fixed(addr).map(Some)
}

async fn start_identity_providers(w: &mut ConformanceWorld) -> Result<(), String> {
    if let Some(layout) = super::world::mocks_layout() {
        let mut mocks = FIXED_MOCKS.lock().await;
        if mocks.github.is_none() {
            let listener = fixed(layout.github())?;
            mocks.github = Some(GithubMock::start_on(listener, &w.github_client_id, GITHUB_CLIENT_SECRET).await);
        }
        if mocks.google.is_none() {
            let listener = fixed(layout.google())?;
            mocks.google = Some(GoogleMock::start_on(listener, &w.google_client_id, GOOGLE_CLIENT_SECRET).await);
        }
        // Shared with earlier scenarios: clear what a scenario may have switched on.
        if w.github.is_none() {
            w.github = mocks.github.clone().inspect(|g| g.set_fault(mock_idps::Fault::None));
        }
        if w.google.is_none() {
            w.google = mocks.google.clone().inspect(|g| {
                g.set_fault(mock_idps::Fault::None);
                g.set_entra_claims(false);
            });
        }
    }
    if w.github.is_none() {
        w.github = Some(GithubMock::start(&w.github_client_id, GITHUB_CLIENT_SECRET).await);
    }
    if w.google.is_none() {
        w.google = Some(GoogleMock::start(&w.google_client_id, GOOGLE_CLIENT_SECRET).await);
    }
    for idp in [w.github.as_ref().map(|g| g as &dyn SetUser), w.google.as_ref().map(|g| g as &dyn SetUser)]
        .into_iter()
        .flatten()
    {
        idp.set(w.user.clone());
    }
    Ok(())
}

trait SetUser {
    fn set(&self, user: MockUser);
}
impl SetUser for GithubMock {
    fn set(&self, user: MockUser) {
        self.set_user(user);
    }
}
impl SetUser for GoogleMock {
    fn set(&self, user: MockUser) {
        self.set_user(user);
    }
}

/// One mock MCP backend per MCPServer in the manifests (an image cannot run here), serving the
/// tools fixtures/backends.yaml lists for it.
async fn start_backends(w: &mut ConformanceWorld, documents: &[serde_json::Value]) -> Result<(), String> {
    let catalogue = backend_tools()?;
    let names: Vec<String> = documents
        .iter()
        .filter(|d| d.get("kind").and_then(|k| k.as_str()) == Some("MCPServer"))
        .filter_map(|d| d.pointer("/metadata/name").and_then(|n| n.as_str()).map(String::from))
        .collect();
    for doc in documents {
        if doc.get("kind").and_then(|k| k.as_str()) != Some("MCPServer") {
            continue;
        }
        let Some(name) = doc.pointer("/metadata/name").and_then(|n| n.as_str()) else { continue };
        if w.backends.contains_key(name) {
            continue;
        }
        let tools = catalogue.get(name).or_else(|| catalogue.get("default")).cloned().unwrap_or_default();
        let tool_refs: Vec<&str> = tools.iter().map(String::as_str).collect();
        let backend = match super::world::mocks_layout() {
            Some(layout) => {
                let mut mocks = FIXED_MOCKS.lock().await;
                if !mocks.backends.contains_key(name) {
                    let index = vmcp_conformance::mocks::backend_index(catalogue, &names, name);
                    let started = MockBackend::start_on(fixed(layout.backend(index)?)?, name, &tool_refs).await;
                    mocks.backends.insert(name.to_string(), started);
                }
                let shared = mocks.backends[name].clone();
                shared.set_fault(mock_idps::Fault::None);
                shared
            }
            None => MockBackend::start(name, &tool_refs).await,
        };
        w.backends.insert(name.to_string(), backend);
    }
    Ok(())
}

/// fixtures/backends.yaml, read once per run.
fn backend_tools() -> Result<&'static BTreeMap<String, Vec<String>>, String> {
    static CATALOGUE: std::sync::LazyLock<Result<BTreeMap<String, Vec<String>>, String>> =
        std::sync::LazyLock::new(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/backends.yaml");
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_saphyr::from_str(&text)
                .map_err(|e| format!("{} is not a map of backend -> tools: {e}", path.display()))
        });
    CATALOGUE.as_ref().map_err(Clone::clone)
}

/// The fenced blocks of a docs page, read and extracted once per run (every scenario's
/// Background asks for the same pages).
pub(crate) fn page_blocks(page: &str) -> Result<Arc<Vec<docs::CodeBlock>>, String> {
    static PAGES: std::sync::LazyLock<std::sync::Mutex<BTreeMap<String, Arc<Vec<docs::CodeBlock>>>>> =
        std::sync::LazyLock::new(Default::default);
    if let Some(blocks) = PAGES.lock().unwrap_or_else(|p| p.into_inner()).get(page) {
        return Ok(Arc::clone(blocks));
    }
    let (_, text) = docs::read_page(page)?;
    let blocks = Arc::new(docs::extract_blocks(&text));
    PAGES.lock().unwrap_or_else(|p| p.into_inner()).insert(page.to_string(), Arc::clone(&blocks));
    Ok(blocks)
}

/// Documented hosts and placeholders -> what this scenario can reach. Printed with each run.
fn substitutions(w: &ConformanceWorld) -> Vec<(String, String)> {
    let base = w.base_url();
    let github = w.github.as_ref().map(|g| g.base_url()).unwrap_or_default();
    let google = w.google.as_ref().map(|g| g.issuer()).unwrap_or_default();
    vec![
        ("https://auth.example.com".into(), base.clone()),
        ("https://mcp.example.com".into(), base),
        ("https://api.github.com".into(), github.clone()),
        ("https://github.com".into(), github),
        ("https://accounts.google.com".into(), google),
        ("<YOUR_GITHUB_CLIENT_ID>".into(), w.github_client_id.clone()),
        ("<YOUR_GOOGLE_CLIENT_ID>".into(), w.google_client_id.clone()),
    ]
}

fn substitute(value: &mut serde_json::Value, map: &[(String, String)]) {
    match value {
        serde_json::Value::String(s) => {
            for (from, to) in map {
                if s.contains(from.as_str()) {
                    *s = s.replace(from.as_str(), to);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, map)),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(|v| substitute(v, map)),
        _ => {}
    }
}

/// Sets a dotted path (`spec.authServerConfig.tokenLifespans.accessTokenLifespan`), creating
/// objects on the way.
fn set_path(doc: &mut serde_json::Value, path: &str, value: &str) -> Result<(), String> {
    let mut cursor = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let object =
            cursor.as_object_mut().ok_or_else(|| format!("{path}: `{}` is not an object", parts[..i].join(".")))?;
        if i + 1 == parts.len() {
            object.insert((*part).to_string(), serde_json::Value::String(value.to_string()));
            return Ok(());
        }
        cursor = object.entry((*part).to_string()).or_insert_with(|| serde_json::json!({}));
    }
    Ok(())
}

/// The docstring's text: gherkin 0.16 keeps the content type (`"""yaml`) as the first line and
/// the feature file's indentation on every line; drop both.
pub(crate) fn docstring_text(raw: &str) -> String {
    let mut lines: Vec<&str> = raw.lines().collect();
    if lines.first().is_some_and(|l| !l.trim().is_empty() && l.trim().chars().all(|c| c.is_ascii_alphanumeric())) {
        lines.remove(0);
    }
    let indent =
        lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    lines.iter().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect::<Vec<_>>().join("\n")
        + "\n"
}
