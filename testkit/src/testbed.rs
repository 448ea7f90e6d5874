//! The testbed as its acceptance tests drive it: through `siplat-testbed`,
//! as the scaler and the demo do, taken down on drop (also when a test
//! panics, since a test owns the machine's one testbed while it runs), and
//! its result folder read back.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

/// `siplat-testbed` at the path the test gives
/// (`env!("CARGO_BIN_EXE_siplat-testbed")`).
#[derive(Clone, Debug)]
pub struct Cli {
    bin: PathBuf,
}

impl Cli {
    #[must_use]
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self { bin: bin.into() }
    }

    /// The command without arguments, backtraces off (its errors are
    /// assertion messages here).
    #[must_use]
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("RUST_BACKTRACE", "0");
        cmd
    }

    /// Run `siplat-testbed <args>`; panics with its output when it fails.
    #[expect(
        clippy::must_use_candidate,
        reason = "run for its effect as often as for its output"
    )]
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self
            .command()
            .args(args)
            .output()
            .expect("spawn siplat-testbed");
        assert!(
            out.status.success(),
            "siplat-testbed {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `up <args>`, after a `down`: `up` refuses to replace a running
    /// testbed, and a test owns the machine's testbed while it runs.
    #[must_use]
    pub fn up(&self, args: &[&str]) -> Testbed {
        self.run(&["down"]);
        let mut full = vec!["up"];
        full.extend_from_slice(args);
        self.run(&full);
        Testbed { cli: self.clone() }
    }

    /// `status --json`, read through the contract type the scaler reads.
    #[must_use]
    pub fn status(&self) -> testbed::status::Status {
        serde_json::from_slice(&self.run(&["status", "--json"]).stdout).expect("status JSON")
    }

    /// `siplat-testbed run` in the background, its stderr next to `out`.
    #[must_use]
    pub fn start_run(&self, scenario: &Path, out: &Path, extra: &[&str]) -> Child {
        self.command()
            .arg("run")
            .arg(scenario)
            .arg("--out")
            .arg(out)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(out.with_extension("log")).expect("run log"))
            .spawn()
            .expect("spawn siplat-testbed run")
    }
}

/// A testbed that is up; `down` on drop.
pub struct Testbed {
    cli: Cli,
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = self.cli.command().arg("down").output();
    }
}

/// A constant-rate scenario file (report format) in `dir`.
#[must_use]
pub fn constant_scenario(dir: &Path, rate: f64, secs: u64) -> PathBuf {
    let path = dir.join("scenario.csv");
    std::fs::write(&path, scenario::generate::constant(rate, secs).to_csv())
        .expect("write scenario");
    path
}

/// An empty work folder for test `name` (the previous run's removed).
#[must_use]
pub fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("siplat-testbed-test-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

#[must_use]
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

/// The agent samples a run saved in `out`.
#[must_use]
pub fn samples(out: &Path) -> Vec<AgentSample> {
    let text = std::fs::read_to_string(out.join("samples.json")).expect("samples.json");
    parse_samples(&text)
}

fn parse_samples(text: &str) -> Vec<AgentSample> {
    let all: Vec<serde_json::Value> = serde_json::from_str(text).expect("samples JSON");
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

#[must_use]
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_carry_both_ends_of_the_pair() {
        let s = parse_samples(
            r#"[{"unix_ns":2000000000,"latency_ns":500000000,"kind":"response","method":"INVITE","status":407,"iface":"tbv-p1","txn":"ab"}]"#,
        );
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].unix_s, s[0].first_unix_s), (2.0, 1.5));
        assert_eq!((s[0].status, s[0].iface.as_str()), (407, "tbv-p1"));
    }

    #[test]
    fn a_failing_command_fails_the_test_with_its_output() {
        let cli = Cli::new("false");
        let panic = std::panic::catch_unwind(|| cli.run(&["status"])).expect_err("false fails");
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            text.contains("siplat-testbed [\"status\"] failed"),
            "{text}"
        );
    }
}
