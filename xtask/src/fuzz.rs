//! `cargo xtask fuzz`: the libFuzzer campaign of `fuzz/` (cargo-fuzz
//! layout, its own workspace), and the short run `cargo xtask test` makes.
//!
//! The target `scanner_vs_reference` feeds every input to the shared SIP
//! scanner and to the reference parser (`sipref`), and to the scanner cut
//! in two; any disagreement is a crash. Built without a sanitizer (the code
//! under test is safe Rust; `AddressSanitizer` would only halve the rate)
//! and with debug assertions, so an arithmetic overflow in the scanner is a
//! crash too.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result};

use crate::process::{exec, render, workspace_root};

pub const TARGET: &str = "scanner_vs_reference";
/// Seconds of fuzzing in `cargo xtask test`: with the libFuzzer build
/// (26 s from clean on the 2-core VM, up to 50 s while other builds run)
/// the step takes 80 to 100 s.
pub const SHORT_SECS: u64 = 50;

#[derive(clap::Args)]
pub struct Options {
    /// How long to fuzz, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub time: u64,
}

/// The long campaign: its corpus (`fuzz/corpus/scanner_vs_reference`,
/// cargo-fuzz's default place, not committed) grows from run to run.
pub fn run(opts: &Options) -> Result<()> {
    crate::setup::cargo_fuzz()?;
    let corpus = workspace_root().join("fuzz/corpus").join(TARGET);
    campaign(opts.time, &corpus)
}

/// The short run of `cargo xtask test`, from the seeds alone (a fresh
/// corpus under `target/`, so the step is the same on every machine).
pub fn short() -> Result<()> {
    let corpus = workspace_root().join("target/fuzz-short-corpus");
    if corpus.exists() {
        std::fs::remove_dir_all(&corpus).with_context(|| format!("remove {}", corpus.display()))?;
    }
    campaign(SHORT_SECS, &corpus)
}

/// `cargo fuzz` on nightly, from `fuzz/`, without the variables of the
/// default toolchain's cargo that would override nightly's.
fn cargo_fuzz(fuzz_dir: &Path) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz"])
        .env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO")
        .current_dir(fuzz_dir);
    cmd
}

fn campaign(secs: u64, corpus: &Path) -> Result<()> {
    let fuzz_dir = workspace_root().join("fuzz");
    let seeds = fuzz_dir.join("seeds/scanner");
    let artifacts = fuzz_dir.join("artifacts").join(TARGET);
    std::fs::create_dir_all(corpus).with_context(|| format!("create {}", corpus.display()))?;
    let crashes_before = count_crashes(&artifacts);

    let build_started = Instant::now();
    exec(cargo_fuzz(&fuzz_dir).args([
        "build",
        "--sanitizer",
        "none",
        "--debug-assertions",
        TARGET,
    ]))?;
    let build_secs = build_started.elapsed().as_secs();

    let mut cmd = cargo_fuzz(&fuzz_dir);
    cmd.args(["run", "--sanitizer", "none", "--debug-assertions", TARGET])
        .arg(corpus)
        .arg(&seeds)
        .args([
            "--",
            &format!("-max_total_time={secs}"),
            "-print_final_stats=1",
        ])
        .stderr(Stdio::piped());
    eprintln!("+ {}", render(&cmd));
    let run_started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("spawn {}", render(&cmd)))?;
    let mut stats = Stats::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("read libFuzzer output")?;
            stats.read(&line);
            // Each new corpus entry is a line; the pulses, the start, the
            // end and any crash report are what a log needs.
            if !(line.contains(" NEW ") || line.contains(" REDUCE ")) {
                eprintln!("{line}");
            }
        }
    }
    let status = child.wait().context("wait for cargo fuzz")?;
    let crashes = count_crashes(&artifacts).saturating_sub(crashes_before);
    eprintln!(
        "fuzz {TARGET}: {} execs in {} s ({} exec/s), corpus {} inputs, coverage {} edges ({} features), crashes {crashes}; build {build_secs} s",
        stats.execs,
        run_started.elapsed().as_secs(),
        stats.exec_per_sec,
        stats.corpus,
        stats.cov,
        stats.ft,
    );
    anyhow::ensure!(
        status.success() && crashes == 0,
        "fuzz target {TARGET} failed ({status}); the input is in {}",
        artifacts.display()
    );
    Ok(())
}

fn count_crashes(artifacts: &Path) -> usize {
    std::fs::read_dir(artifacts).map_or(0, |dir| {
        dir.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                ["crash-", "oom-", "timeout-", "leak-"]
                    .iter()
                    .any(|p| name.starts_with(p))
            })
            .count()
    })
}

/// The last libFuzzer status line: `#312252 DONE cov: 718 ft: 2516 corp:
/// 697/339Kb lim: 4220 exec/s: 5118 rss: 459Mb`.
#[derive(Default)]
struct Stats {
    execs: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
    exec_per_sec: u64,
}

impl Stats {
    fn read(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix('#') else {
            return;
        };
        let mut words = rest.split_whitespace();
        let Some(execs) = words.next().and_then(|n| n.parse().ok()) else {
            return;
        };
        self.execs = execs;
        let words: Vec<&str> = words.collect();
        let after = |key: &str| {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .and_then(|v| v.split('/').next())
                .and_then(|v| v.parse().ok())
        };
        if let Some(cov) = after("cov:") {
            self.cov = cov;
        }
        if let Some(ft) = after("ft:") {
            self.ft = ft;
        }
        if let Some(corpus) = after("corp:") {
            self.corpus = corpus;
        }
        if let Some(rate) = after("exec/s:") {
            self.exec_per_sec = rate;
        }
    }
}
