//! The url target and `mock-idps` as processes: `vmcp-conformance run --target url` against our
//! own reference started by the test with `vmcp-conformance serve` from the configuration the url
//! target wrote; and `vmcp-conformance mock-idps` started, asked for discovery, stopped by SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vmcp-conformance");
const FEATURE: &str = "features/embedded-auth-server-vmcp/complete-example.feature";

/// A base port with `n` free consecutive ports after it (on 127.0.0.1).
fn free_ports(n: u16) -> u16 {
    for _ in 0..200 {
        let base: u16 = rand::random_range(20_000..60_000);
        let held: Vec<TcpListener> = (0..n).filter_map(|i| TcpListener::bind(("127.0.0.1", base + i)).ok()).collect();
        if held.len() == usize::from(n) {
            return base;
        }
    }
    panic!("no {n} consecutive free ports on 127.0.0.1");
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmcp-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_url(port: u16, mocks: u16, config: &Path, out: &Path, tags: &str) -> Output {
    url_command(port, mocks, config, out, tags).output().unwrap()
}

fn url_command(port: u16, mocks: u16, config: &Path, out: &Path, tags: &str) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--target", "url", "--url", &format!("http://127.0.0.1:{port}")])
        .args(["--mocks-listen", &format!("127.0.0.1:{mocks}")])
        .arg("--url-config")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(["--url-wait", "60", "--tags", tags, FEATURE]);
    c
}

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn wait_for_port(addr: SocketAddr, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the process exited with {status} before listening on {addr}");
        }
        assert!(Instant::now() < deadline, "nothing listens on {addr} after 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn url_target_runs_the_scenarios_of_the_configuration_the_implementation_was_given() {
    let (port, mocks) = (free_ports(1), free_ports(20));
    let dir = temp_dir("url");
    let config = dir.join("config");
    let same_config = "@as-metadata or @as-complete-login";

    // 1. No configuration yet: the run writes the first scenario's, serves the mocks it names,
    //    and waits for the implementation.
    let mut run = url_command(port, mocks, &config, &dir.join("out1"), same_config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !config.join("vmcp/environment").exists() {
        if let Ok(Some(status)) = run.try_wait() {
            panic!(
                "the run ended ({status}) before writing the configuration: {}",
                text(&run.wait_with_output().unwrap())
            );
        }
        assert!(Instant::now() < deadline, "no configuration written within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    for f in ["manifests.yaml", "backends.yaml", "vmcp/vmcp.yaml"] {
        assert!(config.join(f).exists(), "{f} was not written");
    }
    let manifests = std::fs::read_to_string(config.join("manifests.yaml")).unwrap();
    assert!(manifests.contains(&format!("http://127.0.0.1:{port}")), "the issuer is the --url");
    assert!(manifests.contains(&format!("http://127.0.0.1:{mocks}")), "GitHub is the first mock port");

    // 2. The operator starts the implementation (our reference, as a process) with it.
    let env: Vec<(String, String)> = std::fs::read_to_string(config.join("vmcp/environment"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let mut serve = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(config.join("vmcp/vmcp.yaml"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), &mut serve);
    let _serve = Killed(serve);

    // 3. The scenarios deploying that configuration pass against it, mocks on the fixed ports.
    let first = run.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("2 passed"), "{}", text(&first));

    // 4. A scenario deploying something else cannot run there: reported as not claimed, with why.
    let other = run_url(port, mocks, &config, &dir.join("out3"), "@claim-N1");
    let out = text(&other);
    assert!(other.status.success(), "not running it is not a failure:\n{out}");
    assert!(out.contains("needs another configuration") && out.contains("lacks"), "{out}");
    assert!(out.contains("0 passed, 0 failed, 0 skipped, 1 not claimed"), "{out}");
    let yaml = std::fs::read_to_string(dir.join("out3/conformance-report.yaml")).unwrap();
    assert!(yaml.contains("needs another configuration"), "the report says why:\n{yaml}");

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn url_target_without_mocks_listen_is_a_usage_error() {
    let o = Command::new(BIN).args(["run", "--target", "url", "--url", "http://127.0.0.1:9"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--mocks-listen"), "{}", text(&o));
}

#[test]
fn mock_idps_serves_every_mock_and_stops_on_sigterm() {
    let base = free_ports(20);
    let mut child = Command::new(BIN)
        .args(["mock-idps", "--listen", &format!("127.0.0.1:{base}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("mock-idps ready");
        printed.push(line);
        if done {
            break;
        }
    }
    let printed = printed.join("\n");
    assert!(printed.contains(&format!("http://127.0.0.1:{base}")), "GitHub at the base port:\n{printed}");
    assert!(printed.contains("conformance-google-client"), "the test clients are printed:\n{printed}");
    assert!(printed.contains("test user: alice"), "{printed}");
    assert!(printed.contains("MCP backend backend-github"), "{printed}");

    let http = reqwest::blocking_free::client();
    let google = format!("http://127.0.0.1:{}/.well-known/openid-configuration", base + 1);
    let discovery = http.get(&google);
    assert_eq!(discovery["issuer"], format!("http://127.0.0.1:{}", base + 1), "{discovery}");
    let idp = http.get(&format!("http://127.0.0.1:{}/.well-known/openid-configuration", base + 3));
    assert_eq!(idp["issuer"], format!("http://127.0.0.1:{}", base + 3), "{idp}");

    // SIGTERM (not SIGKILL): the process ends cleanly and releases its ports.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "mock-idps did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    assert!(lines.any(|l| l.is_ok_and(|l| l.contains("mock-idps stopped"))));
    assert!(TcpListener::bind(("127.0.0.1", base)).is_ok(), "the base port is free again");
}

/// A tiny blocking JSON GET over a current-thread runtime (reqwest's blocking client is not built).
mod reqwest {
    pub mod blocking_free {
        pub struct Client(tokio::runtime::Runtime, ::reqwest::Client);
        pub fn client() -> Client {
            Client(
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
                ::reqwest::Client::new(),
            )
        }
        impl Client {
            pub fn get(&self, url: &str) -> serde_json::Value {
                self.0.block_on(async {
                    let r = self.1.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
                    r.json().await.unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
                })
            }
        }
    }
}
