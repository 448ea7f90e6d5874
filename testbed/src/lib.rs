//! `siplat-testbed`: the report's SIP testbed on one machine. Every box
//! (callers, callees, load balancer, each proxy) is a network namespace on
//! one bridge, the proxies run under a cgroup CPU quota, and the real siplat
//! agent measures them from the bridge namespace (`--placement host`).
//!
//! ```text
//!  root ns ── tb-root ─┐        tb-net: br0 198.19.0.1 (agent :9660)
//!                      ├─ tbv-callers ── tb-callers    198.19.2.1  SIPp caller (+ control port)
//!                      ├─ tbv-callees ── tb-callees    198.19.3.1  SIPp callee, re-REGISTER load
//!                      ├─ tbv-lb ─────── tb-sip-loadb  198.19.1.1  Kamailio dispatcher (transaction-stateful)
//!                      └─ tbv-pN ─────── tb-sip-proxy-N 198.19.10.N Kamailio registrar/relay, CPU quota
//! ```
//!
//! Commands are separate processes (the scaler calls `siplat-testbed scale N`),
//! so everything they share lives in a state file under /run/siplat-testbed.
//!
//! Design choices:
//! - CFS period 100 ms by default: what a Kubernetes pod with a CPU limit
//!   gets, so the per-proxy capacity found here holds for the manifests.
//!   Latency then rises in ~100 ms steps once a proxy is throttled. The
//!   shortest period 30 mCPU allows is 33.4 ms (the kernel's smallest quota
//!   is 1 ms); measured with `sweep`, it did not help: same capacity
//!   (35 calls/s), higher P99 below it (0.53 s vs 0.21 s at 30 calls/s).
//! - Scale-in drain: a detached `testbed reap` process per scale-in stops a
//!   removed proxy once `--max-call-s` has passed and its transaction table
//!   is empty (at the latest 64 s later); `down` kills reapers too.
//! - Resize in place changes a proxy's `cfs_quota_us` only (same period,
//!   same processes); proxies that `scale` adds later start at the base
//!   limit of `up`, as new pods start from their template.
//! - The LB has no CPU quota and no probing: it must not be what saturates,
//!   and the testbed (or scaler) owns the destination set.
#![allow(
    clippy::doc_markdown,
    reason = "SIPp, DMQ, AoR, cpuacct are names of things, not code"
)]
#![allow(
    clippy::must_use_candidate,
    reason = "the library is the siplat-testbed binary's inside; its getters are not APIs whose results get dropped"
)]
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "proxy counts and per-second call counts are small non-negative numbers"
)]

pub mod agent;
mod boot;
mod cgroup;
mod driver;
pub mod kamailio;
pub mod live;
pub mod metrics;
mod netns;
pub mod panel;
pub mod proc;
mod regcost;
mod resize;
pub mod results;
mod scale;
pub mod scaler;
mod sipp;
mod state;
pub mod status;
mod sweep;
mod topology;

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

/// Where the state file, per-box run dirs and logs live.
pub const STATE_DIR: &str = "/run/siplat-testbed";

/// The local Kamailio/SIPp testbed in network namespaces (needs root).
#[derive(Parser)]
#[command(name = "siplat-testbed")]
pub struct Options {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the namespaces, start the agent, the load balancer and N proxies.
    Up(UpOptions),
    /// Make N proxies active (scale-out waits for readiness, or with a boot delay returns and adds them later; scale-in drains in the background).
    Scale(ScaleOptions),
    /// Change the proxies' CPU limit in place (same Kamailio processes; new proxies keep the base limit).
    Resize(resize::ResizeOptions),
    /// Print the testbed's state (exit code 1 when it is not up).
    Status(StatusOptions),
    /// Replay a scenario CSV (report 3.3.3) against the testbed and write a result folder.
    Run(driver::RunOptions),
    /// Constant-rate sweep with one proxy: the highest rate with P99 under the target.
    Sweep(sweep::SweepOptions),
    /// CPU a REGISTER costs the proxies (with its DMQ replication) against a call; brings its own testbed up and down.
    Regcost(regcost::RegCostOptions),
    /// Remove everything the testbed made (also after a crash or kill -9); idempotent.
    Down,
    /// The web panel: scenarios, start/stop a run, live charts, history, the
    /// callers' controller and a Prometheus view (runs need root, the rest not).
    Panel(panel::PanelOptions),
    /// One SIPp caller following the panel's controller (the protocol caller pods use).
    Caller(panel::caller::CallerOptions),
    /// Internal: finish draining proxies (started detached by `scale`).
    #[command(hide = true)]
    Reap,
    /// Internal: add booting proxies to the LB set once their boot delay
    /// passed (started detached by `scale`).
    #[command(hide = true)]
    Boot,
}

#[derive(Args, Clone)]
pub struct UpOptions {
    /// Proxies to start.
    #[arg(long, env = "SIPLAT_TESTBED_PROXIES", default_value_t = 1)]
    pub proxies: u32,
    /// CPU limit per proxy, Kubernetes notation ("30m" = 0.03 CPU, "1" = one core, "0" = none).
    #[arg(long, env = "SIPLAT_TESTBED_CPU_LIMIT", default_value = "30m")]
    pub cpu_limit: String,
    /// CFS period in microseconds. 100 ms is what Kubernetes gives a pod, so
    /// capacity found here transfers to the cluster; shorter periods smooth
    /// latency (30 mCPU needs >= 33.4 ms: the kernel's minimum quota is 1 ms).
    #[arg(long, env = "SIPLAT_TESTBED_CFS_PERIOD", default_value_t = 100_000)]
    pub cfs_period: u64,
    /// Kamailio shared memory per instance in MB (64 lost calls at ~500 calls/s).
    #[arg(long, env = "SIPLAT_TESTBED_SHM_MB", default_value_t = 256)]
    pub shm_mb: u32,
    /// Longest call (setup + hold) a draining proxy waits out before it may stop.
    #[arg(long, env = "SIPLAT_TESTBED_MAX_CALL_S", default_value_t = 10)]
    pub max_call_s: u64,
    /// Time a proxy added by `scale` waits before it takes calls ("20s"):
    /// what image pull, start and readiness take a pod on Kubernetes. It
    /// is reported booting meanwhile and `scale` returns at once. 0 keeps
    /// the local behaviour (in the LB set once ready, ~1 s).
    #[arg(long, env = "SIPLAT_TESTBED_BOOT_DELAY", default_value = "0s", value_parser = cliconf::parse_duration)]
    pub boot_delay: std::time::Duration,
    /// The siplat agent binary (default: target/debug/siplat-agent, built if missing).
    #[arg(long, env = "SIPLAT_TESTBED_AGENT")]
    pub agent: Option<PathBuf>,
}

#[derive(Args)]
pub struct ScaleOptions {
    /// Active proxies wanted (>= 1).
    pub proxies: u32,
}

#[derive(Args)]
pub struct StatusOptions {
    /// One JSON object (the contract the scaler and the demo read).
    #[arg(long)]
    pub json: bool,
}

pub fn run(opts: &Options) -> Result<()> {
    match &opts.command {
        Cmd::Panel(o) => return panel::serve(o),
        Cmd::Caller(o) => return panel::caller::run(o),
        _ => {}
    }
    if !::netns::is_root() {
        bail!("the testbed needs root (network namespaces, cgroups, BPF)");
    }
    match &opts.command {
        Cmd::Up(o) => topology::up(o),
        Cmd::Scale(o) => scale::scale(o.proxies),
        Cmd::Resize(o) => resize::resize(o),
        Cmd::Status(o) => scale::status(o.json),
        Cmd::Run(o) => driver::run(o).map(|_| ()),
        Cmd::Sweep(o) => sweep::run(o),
        Cmd::Regcost(o) => regcost::run(o),
        Cmd::Down => topology::down(),
        Cmd::Reap => scale::reap(),
        Cmd::Boot => boot::run(),
        Cmd::Panel(_) | Cmd::Caller(_) => unreachable!("served above, without the root check"),
    }
}
