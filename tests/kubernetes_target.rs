//! The kubernetes target against a mocked Kubernetes API server: an axum server answering the
//! paths kube uses (server-side apply PATCH, GET, DELETE for namespaces, Secrets and the ToolHive
//! kinds), whose "operator" writes status conditions by running this crate's bundle rules. The
//! test points kube at it through a generated kubeconfig and asserts the calls kube made and the
//! conditions read back. No real cluster is involved.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vmcp_conformance::bundle::{Bundle, Environment};
use vmcp_conformance::target::kubernetes::{FIELD_MANAGER, KubernetesOptions, KubernetesTarget};
use vmcp_conformance::target::{Deployment, Target, TargetError};

#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    query: String,
    content_type: String,
}

#[derive(Default)]
struct ApiServer {
    /// `(namespace, plural, name)` -> object; namespaces themselves under `("", "namespaces", name)`.
    objects: BTreeMap<(String, String, String), Value>,
    calls: Vec<Call>,
    /// The operator does nothing (a cluster without the ToolHive operator).
    operator_off: bool,
    /// GETs of each VirtualMCPServer so far: the first one still shows `Pending`.
    vmcp_reads: BTreeMap<String, usize>,
}

type Shared = Arc<Mutex<ApiServer>>;

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
        "reason": reason, "code": code.as_u16()});
    (code, axum::Json(body)).into_response()
}

/// `/api/v1/namespaces/NAME`, `/api/v1/namespaces/NS/PLURAL/NAME` or
/// `/apis/GROUP/VERSION/namespaces/NS/PLURAL/NAME` -> `(namespace, plural, name)`.
fn key(path: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", "v1", "namespaces", name] => Some((String::new(), "namespaces".into(), (*name).into())),
        ["api", "v1", "namespaces", ns, plural, name] | ["apis", _, _, "namespaces", ns, plural, name] => {
            Some(((*ns).into(), (*plural).into(), (*name).into()))
        }
        _ => None,
    }
}

async fn handle(State(s): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = s.lock().unwrap();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    s.calls.push(Call {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        content_type: content_type.clone(),
    });
    let Some(k) = key(uri.path()) else {
        return status(StatusCode::NOT_FOUND, "NotFound", format!("no route {}", uri.path()));
    };
    match method {
        Method::PATCH => {
            if content_type != "application/apply-patch+yaml" {
                return status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", content_type);
            }
            if !k.0.is_empty() && !s.objects.contains_key(&(String::new(), "namespaces".into(), k.0.clone())) {
                return status(StatusCode::NOT_FOUND, "NotFound", format!("namespaces \"{}\" not found", k.0));
            }
            // An apply body is YAML; JSON is YAML.
            let Ok(mut object) = serde_json::from_slice::<Value>(&body) else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "the apply body is not JSON".into());
            };
            if object.get("kind").and_then(Value::as_str) == Some("VirtualMCPServer") {
                object["status"] = json!({"phase": "Pending"});
            }
            s.objects.insert(k.clone(), object.clone());
            (StatusCode::OK, axum::Json(object)).into_response()
        }
        Method::GET => {
            if k.1 == "virtualmcpservers" {
                let reads = s.vmcp_reads.entry(k.2.clone()).or_default();
                *reads += 1;
                if *reads > 1 && !s.operator_off {
                    reconcile(&mut s, &k.0);
                }
            }
            match s.objects.get(&k) {
                Some(o) => (StatusCode::OK, axum::Json(o.clone())).into_response(),
                None => status(StatusCode::NOT_FOUND, "NotFound", format!("{} \"{}\" not found", k.1, k.2)),
            }
        }
        Method::DELETE => match s.objects.remove(&k) {
            Some(o) => {
                if k.0.is_empty() {
                    s.objects.retain(|(ns, _, _), _| *ns != k.2);
                }
                (StatusCode::OK, axum::Json(o)).into_response()
            }
            None => status(StatusCode::NOT_FOUND, "NotFound", format!("{} \"{}\" not found", k.1, k.2)),
        },
        _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", method.to_string()),
    }
}

/// The mock operator: the bundle rules over everything in the namespace, written back as status.
fn reconcile(s: &mut ApiServer, namespace: &str) {
    let in_ns: Vec<(String, String, String)> = s.objects.keys().filter(|(ns, _, _)| ns == namespace).cloned().collect();
    let mut docs = Vec::new();
    let mut backend_urls = BTreeMap::new();
    for k in &in_ns {
        let mut doc = s.objects[k].clone();
        if let Some(o) = doc.as_object_mut() {
            o.remove("status");
        }
        if k.1 == "mcpservers" {
            backend_urls.insert(k.2.clone(), format!("http://{}.{namespace}.svc.cluster.local:8080/mcp", k.2));
        }
        docs.push(doc.to_string());
    }
    let (conditions, ready) = match Bundle::from_yaml(&docs.join("\n---\n")) {
        Ok(bundle) => {
            let r = bundle.reconcile(&Environment { backend_urls, defects: Default::default() });
            (r.conditions, r.runtime.is_some())
        }
        Err(e) => panic!("the mock operator cannot load what was applied: {e}"),
    };
    for k in in_ns {
        let object = s.objects.get_mut(&k).unwrap();
        let label = format!("{}/{}", object["kind"].as_str().unwrap_or_default(), k.2);
        let mine: Vec<Value> = conditions
            .iter()
            .filter(|c| c.resource == label)
            .map(|c| {
                json!({"type": c.type_, "status": if c.status { "True" } else { "False" }, "reason": c.reason,
                    "message": c.message, "lastTransitionTime": "2026-01-01T00:00:00Z"})
            })
            .collect();
        let mut status = json!({"conditions": mine});
        if k.1 == "virtualmcpservers" {
            status["phase"] = json!(if ready { "Ready" } else { "Failed" });
        }
        object["status"] = status;
    }
}

struct Harness {
    api: Shared,
    _server: tokio::task::JoinHandle<()>,
    kubeconfig: tempdir::Dir,
}

mod tempdir {
    /// A folder removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn api_server() -> Harness {
    let api: Shared = Arc::default();
    let router = axum::Router::new().fallback(handle).with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    let dir = std::env::temp_dir().join(format!("vmcp-kube-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: http://{addr}\n\
         users:\n- name: tester\n  user:\n    token: mock-token\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: tester\n\
         current-context: mock\n"
    );
    std::fs::write(dir.join("kubeconfig"), kubeconfig).unwrap();
    Harness { api, _server: server, kubeconfig: tempdir::Dir(dir) }
}

async fn target(h: &Harness) -> KubernetesTarget {
    let mut options = KubernetesOptions::new("http://vmcp-{namespace}.example.test:4483");
    options.kubeconfig = Some(h.kubeconfig.0.join("kubeconfig"));
    options.poll_interval = Duration::from_millis(20);
    options.ready_timeout = Duration::from_secs(2);
    KubernetesTarget::connect(options).await.unwrap()
}

/// The docs' complete example with the suite's prerequisite Secrets.
fn documented_bundle() -> String {
    let page = "guides-vmcp/embedded-auth-server-vmcp.mdx";
    let (_, text) = vmcp_conformance::docs::read_page(page).unwrap();
    let blocks = vmcp_conformance::docs::extract_blocks(&text);
    let mut out = Vec::new();
    for title in ["backends.yaml", "auth-configs.yaml", "virtualmcpserver.yaml"] {
        let b = blocks
            .iter()
            .find(|b| b.heading_anchor == "complete-example" && b.title.as_deref() == Some(title))
            .unwrap_or_else(|| panic!("{page} has no block {title} under #complete-example"));
        out.push(b.content.clone());
    }
    let secrets =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/secrets/embedded-auth-server.yaml"))
            .unwrap();
    out.push(secrets);
    out.join("\n---\n")
}

fn calls(h: &Harness) -> Vec<Call> {
    h.api.lock().unwrap().calls.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_server_side_waits_for_the_conditions_and_cleans_up() {
    let h = api_server().await;
    let mut t = target(&h).await;
    let namespace = t.namespace().to_string();
    assert_eq!(t.base_url(), format!("http://vmcp-{namespace}.example.test:4483"));
    let manifests = documented_bundle();
    let objects =
        serde_saphyr::from_multiple::<Value>(&manifests).unwrap().into_iter().filter(|d| !d.is_null()).count();

    let deployed = t.start(Deployment { manifests, backend_urls: BTreeMap::new() }).await.unwrap();

    assert!(deployed.ready, "conditions: {:?}", deployed.conditions);
    let validated = deployed
        .conditions
        .iter()
        .find(|c| c.resource.starts_with("VirtualMCPServer/") && c.type_ == "AuthServerConfigValidated")
        .unwrap_or_else(|| panic!("no AuthServerConfigValidated in {:?}", deployed.conditions));
    assert!(validated.status && validated.reason == "AuthServerConfigValid", "{validated}");

    let patches: Vec<Call> = calls(&h).into_iter().filter(|c| c.method == "PATCH").collect();
    assert_eq!(patches.len(), objects + 1, "the namespace and every object: {patches:?}");
    assert_eq!(patches[0].path, format!("/api/v1/namespaces/{namespace}"), "the namespace is applied first");
    for p in &patches {
        assert_eq!(p.content_type, "application/apply-patch+yaml", "{p:?}");
        assert!(p.query.contains(&format!("fieldManager={FIELD_MANAGER}")), "{p:?}");
        assert!(p.query.contains("force=true"), "{p:?}");
    }
    assert!(patches[1..].iter().all(|p| p.path.contains(&format!("/namespaces/{namespace}/"))), "{patches:?}");
    assert!(patches.iter().any(|p| p.path.starts_with("/apis/toolhive.stacklok.dev/v1beta1/namespaces/")
        && p.path.contains("/virtualmcpservers/")));
    let vmcp_gets = calls(&h).iter().filter(|c| c.method == "GET" && c.path.contains("/virtualmcpservers/")).count();
    assert!(vmcp_gets >= 2, "the target polls past Pending ({vmcp_gets} reads)");

    t.stop().await;
    let deletes: Vec<Call> = calls(&h).into_iter().filter(|c| c.method == "DELETE").collect();
    assert_eq!(deletes.len(), objects + 1, "{deletes:?}");
    assert_eq!(deletes.last().unwrap().path, format!("/api/v1/namespaces/{namespace}"), "the namespace goes last");
    assert!(h.api.lock().unwrap().objects.is_empty(), "everything applied is deleted");
    assert_ne!(t.namespace(), namespace, "the next scenario gets a fresh namespace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bundle_reads_back_as_not_ready_with_the_failed_condition() {
    let h = api_server().await;
    let mut t = target(&h).await;
    let manifests = documented_bundle().replace("https://auth.example.com", "http://auth.internal.example.com");

    let deployed = t.start(Deployment { manifests, backend_urls: BTreeMap::new() }).await.unwrap();

    assert!(!deployed.ready);
    assert!(
        deployed
            .conditions
            .iter()
            .any(|c| c.type_ == "AuthServerConfigValidated" && !c.status && c.reason == "AuthServerConfigInvalid"),
        "{:?}",
        deployed.conditions
    );
    drop(t); // a dropped target cleans up too
    assert!(h.api.lock().unwrap().objects.is_empty(), "the drop deletes what was applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_operator_times_out_with_the_last_conditions_seen() {
    let h = api_server().await;
    h.api.lock().unwrap().operator_off = true;
    let mut t = target(&h).await;

    let err = t.start(Deployment { manifests: documented_bundle(), backend_urls: BTreeMap::new() }).await.unwrap_err();

    let text = err.to_string();
    assert!(
        matches!(err, TargetError::Start(_)) && text.contains("last conditions") && text.contains("Pending"),
        "{text}"
    );
    assert!(matches!(t.restart().await, Err(TargetError::Unsupported(_))));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_without_a_name_is_a_manifest_error() {
    let h = api_server().await;
    let mut t = target(&h).await;
    let err = t
        .start(Deployment {
            manifests: "apiVersion: v1\nkind: Secret\nmetadata: {}\n".into(),
            backend_urls: BTreeMap::new(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TargetError::Manifests(ref m) if m.contains("document 1")), "{err}");
    assert!(calls(&h).is_empty(), "nothing is applied from a broken bundle");
}
