//! The HTML report renders in a real browser: a small run (two passing scenarios and one made to
//! fail with a defect switch) writes its report folder, and Debian's headless Chromium loads
//! `report.html` from disk; the rendered DOM must hold the summary table, the failing check with
//! its expected and actual values, and the scenarios' HTTP exchanges.
//!
//! The test prepares Chromium itself: when `chromium` is missing it installs Debian's package
//! (`apt-get install -y chromium`, as root or through passwordless sudo) and fails with a how-to
//! when it cannot. It never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Two quick scenarios that pass and the complete login, which the defect switch makes fail on
/// `lifespan.access-token` after a dozen recorded exchanges (the suite's own AS checks also carry
/// `@claim-W1`; they are left out so the counts stay fixed).
const TAGS: &str = "(@claim-W1 or @claim-W4 or @as-complete-login) and not @mcp-conformance-as";
const DEFECT: &str = "double-access-token-lifespan";
const FAILING_CHECK: &str = "lifespan.access-token";

fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let start = Instant::now();
    // Drain output on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = std::io::Read::read_to_end(&mut s, &mut b);
            b
        })
    });
    let mut err = child.stderr.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = std::io::Read::read_to_end(&mut s, &mut b);
            b
        })
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("waiting for {cmd:?}: {e}")) {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.take().and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.take().and_then(|h| h.join().ok()).unwrap_or_default();
    Output { status, stdout, stderr }
}

fn has_chromium() -> bool {
    Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs Debian's `chromium` when it is missing; panics with a how-to when that is impossible.
fn ensure_chromium() {
    if has_chromium() {
        return;
    }
    let how_to = "install Debian's Chromium (`sudo apt-get install -y chromium`) so that `chromium` is on PATH, \
                  then rerun `cargo test --test html_report`";
    let prefix: Vec<&str> = if is_root() {
        vec![]
    } else if Command::new("sudo").args(["-n", "true"]).status().is_ok_and(|s| s.success()) {
        vec!["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    } else {
        panic!("`chromium` is missing, and this user is neither root nor allowed passwordless sudo: {how_to}");
    };
    let apt = |args: &[&str]| {
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg("apt-get");
                c
            }
            None => Command::new("apt-get"),
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        run_with_timeout(&mut cmd, Duration::from_secs(900))
    };
    let started = Instant::now();
    let mut install = apt(&["install", "-y", "--no-install-recommends", "chromium"]);
    if !install.status.success() {
        // A fresh machine may have no package lists yet.
        let update = apt(&["update"]);
        assert!(
            update.status.success(),
            "`apt-get update` failed ({}): {how_to}",
            String::from_utf8_lossy(&update.stderr)
        );
        install = apt(&["install", "-y", "--no-install-recommends", "chromium"]);
    }
    assert!(
        install.status.success() && has_chromium(),
        "installing chromium failed ({}): {how_to}",
        String::from_utf8_lossy(&install.stderr)
    );
    eprintln!("installed chromium in {:.1} s", started.elapsed().as_secs_f64());
}

fn chromium(args: &[&str], page: &Path) -> Output {
    let url = format!("file://{}", page.display());
    let mut cmd = Command::new("chromium");
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]).args(args).arg(&url);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert!(out.status.success(), "chromium {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn html_report_renders_in_headless_chromium() {
    ensure_chromium();
    let out: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    let _ = std::fs::remove_dir_all(&out);
    let run = run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_vmcp-conformance"))
            .args(["run", "--tags", TAGS, "--defect", DEFECT, "--out"])
            .arg(&out)
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        Duration::from_secs(600),
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "the defect switch must fail the run:\n{stdout}");
    assert!(stdout.contains("2 passed, 1 failed, 0 skipped"), "unexpected selection:\n{stdout}");
    for file in ["junit.xml", "cucumber.json", "report.html", "conformance-report.yaml"] {
        let path = out.join(file);
        assert!(path.metadata().is_ok_and(|m| m.len() > 0), "{} was not written", path.display());
    }

    let yaml: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(out.join("conformance-report.yaml")).unwrap()).unwrap();
    assert_eq!(yaml["kind"], "ConformanceReport");
    assert_eq!(yaml["result"], "failure");
    assert_eq!(yaml["mode"], format!("defects-on: {DEFECT}"));
    assert_eq!(yaml["statistics"]["passed"], 2);
    assert_eq!(yaml["statistics"]["failed"], 1);

    let page = std::fs::canonicalize(out.join("report.html")).unwrap();
    let dom = String::from_utf8_lossy(&chromium(&["--dump-dom"], &page).stdout).into_owned();
    assert!(dom.contains("id=\"summary-table\""), "no summary table in the rendered DOM");
    assert!(dom.contains("<span class=\"badge failed\">failed</span></td><td class=\"n\">1</td>"), "summary counts");
    assert!(dom.contains(FAILING_CHECK), "the failing check is not shown");
    assert!(dom.contains("3600"), "the check's expected value is not shown");
    assert!(dom.contains("class=\"ex\""), "no HTTP exchange in the rendered DOM");
    assert!(dom.contains("POST http://127.0.0.1:"), "no recorded POST in the rendered DOM");
    assert!(dom.contains("access_token") && dom.contains("code=") && dom.contains('…'), "no redacted token");
    let jwt = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}").unwrap();
    assert!(jwt.find(&dom).is_none(), "a JWT survived redaction: {:?}", jwt.find(&dom));
    assert!(dom.contains("id=\"coverage\""), "no doc-coverage table");

    // A screenshot for people to look at (target/tmp/html-report/report.png).
    let png = out.join("report.png");
    chromium(&[&format!("--screenshot={}", png.display()), "--window-size=1280,1600"], &page);
    assert!(png.metadata().is_ok_and(|m| m.len() > 10_000), "no screenshot at {}", png.display());
}
