//! Shared by the testbed acceptance tests: run siplat-testbed as the
//! scaler and the demo do, take the testbed down on drop (also when a test
//! panics), read the result folder.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output},
    time::Duration,
};

/// Returns false (after a loud message) when the test cannot run here.
pub fn privileged(test: &str) -> bool {
    // SAFETY: no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!(
            "\n!!!!!!!! SKIPPED {test}: needs root (namespaces, cgroups, BPF, Kamailio, SIPp); run `sudo -E cargo xtask test` !!!!!!!!\n"
        );
    }
    root
}

pub fn siplat_testbed() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siplat-testbed"));
    cmd.env("RUST_BACKTRACE", "0");
    cmd
}

/// Run `siplat-testbed <args>`; panics with its output when it fails.
pub fn testbed(args: &[&str]) -> Output {
    let out = siplat_testbed().args(args).output().expect("spawn siplat-testbed");
    assert!(
        out.status.success(),
        "siplat-testbed {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `up` on creation, `down` on drop.
pub struct Testbed;

impl Testbed {
    /// `down` first: `up` refuses to replace a running testbed, and a test
    /// owns the machine's testbed while it runs.
    pub fn up(args: &[&str]) -> Self {
        testbed(&["down"]);
        let mut full = vec!["up"];
        full.extend_from_slice(args);
        testbed(&full);
        Self
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = siplat_testbed().arg("down").output();
    }
}

pub fn status() -> serde_json::Value {
    serde_json::from_slice(&testbed(&["status", "--json"]).stdout).expect("status JSON")
}

/// A constant-rate scenario file (report format) in `dir`.
pub fn constant_scenario(dir: &Path, rate: f64, secs: u64) -> PathBuf {
    let path = dir.join("scenario.csv");
    std::fs::write(
        &path,
        scenario::generate::constant(rate, secs).to_csv(),
    )
    .expect("write scenario");
    path
}

pub fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("siplat-testbed-test-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// `siplat-testbed run` in the background.
pub fn start_run(scenario: &Path, out: &Path, extra: &[&str]) -> Child {
    siplat_testbed()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(out.with_extension("log")).expect("run log"))
        .spawn()
        .expect("spawn siplat-testbed run")
}

pub fn wait_child(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            start.elapsed() < timeout,
            "siplat-testbed run did not finish within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn summary(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary JSON")
}

/// One raw agent sample (the fields the tests look at).
#[derive(Debug, Clone)]
pub struct AgentSample {
    /// When the second packet of the pair crossed the interface.
    pub unix_s: f64,
    /// When the first one did (e.g. the request that was answered).
    pub first_unix_s: f64,
    pub kind: String,
    pub method: String,
    pub status: u64,
    pub iface: String,
    pub txn: String,
}

pub fn samples(out: &Path) -> Vec<AgentSample> {
    let text = std::fs::read_to_string(out.join("samples.json")).expect("samples.json");
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("samples JSON");
    all.iter()
        .map(|s| AgentSample {
            unix_s: s["unix_ns"].as_f64().unwrap_or_default() / 1e9,
            first_unix_s: (s["unix_ns"].as_f64().unwrap_or_default()
                - s["latency_ns"].as_f64().unwrap_or_default())
                / 1e9,
            kind: s["kind"].as_str().unwrap_or_default().to_owned(),
            method: s["method"].as_str().unwrap_or_default().to_owned(),
            status: s["status"].as_u64().unwrap_or_default(),
            iface: s["iface"].as_str().unwrap_or_default().to_owned(),
            txn: s["txn"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// GET from the agent (reachable from the root namespace).
pub fn agent_get(url: &str, path: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect agent");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    buf.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}
