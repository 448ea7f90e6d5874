//! The live runs: two namespaces joined by a veth (MTU 1500), a client
//! sending paced request/response pairs to a responder in the "proxy"
//! namespace, and on the proxy's veth either the agent, the empty TC
//! program, a dumpcap capture, or nothing.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use agent_common::config::programs;
use anyhow::{Context as _, Result, anyhow};
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType, tc::TcAttachOptions};
use loadgen::{ClosedLoop, ClosedReport, Kind, OpenLoop, OpenReport, Responder, pace::Rate};
use testkit::{
    agent::Agent,
    namespace::{Netns, run_in, veth},
};

use crate::stats::{self, ProgStats};

pub const CLIENT_NS: &str = "slt-bench-client";
pub const PROXY_NS: &str = "slt-bench-proxy";
pub const CLIENT_DEV: &str = "sltb-c0";
pub const PROXY_DEV: &str = "sltb-p0";
const CLIENT_ADDR: [u8; 4] = [198, 18, 100, 1];
const PROXY_ADDR: [u8; 4] = [198, 18, 100, 2];
const AGENT_PORT: u16 = 9760;
/// No run sends more than this, whatever its rate and length.
pub const MAX_COUNT: u64 = 3_000_000;

/// The two namespaces; deleted (with what runs inside) on drop.
pub struct Topology {
    pub _client: Netns,
    pub proxy: Netns,
}

impl Topology {
    pub fn new() -> Self {
        let client = Netns::new(CLIENT_NS);
        let proxy = Netns::new(PROXY_NS);
        veth(
            &client,
            CLIENT_DEV,
            "198.18.100.1/24",
            &proxy,
            PROXY_DEV,
            "198.18.100.2/24",
        );
        client.ip(&["link", "set", CLIENT_DEV, "mtu", "1500"]);
        proxy.ip(&["link", "set", PROXY_DEV, "mtu", "1500"]);
        Self {
            _client: client,
            proxy,
        }
    }
}

/// One paced load.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub kind: Kind,
    pub rate: Rate,
    pub seconds: f64,
}

impl Load {
    fn count(&self) -> u64 {
        loadgen::pace::count_for(self.rate, Duration::from_secs_f64(self.seconds), MAX_COUNT)
    }
}

/// What the generator did in one run.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Sent {
    pub client: OpenReport,
    /// Responses the responder sent (the pairs the proxy's hooks saw).
    pub answered: u64,
}

fn first_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    u64::try_from(nanos >> 8).unwrap_or(0) << 8
}

fn responder(kind: Kind, limit: Duration) -> Result<Responder> {
    let addr = SocketAddr::from((PROXY_ADDR, kind.port()));
    run_in(PROXY_NS, move || Responder::start(addr, kind, limit))
        .join()
        .map_err(|_| anyhow!("responder thread panicked"))?
        .context("start responder")
}

/// Run `load` through the namespaces: responder up, client paced, then
/// the responder stopped once the client has its answers (or gave up).
pub fn send(load: &Load) -> Result<Sent> {
    // A paced run gets a second of slack to send its count; an unpaced
    // one is bounded by its time alone.
    let slack = if load.rate == Rate::Max { 0.0 } else { 1.0 };
    let limit = Duration::from_secs_f64(load.seconds + slack);
    let r = responder(load.kind, limit + Duration::from_secs(2))?;
    let open = OpenLoop {
        kind: load.kind,
        rate: load.rate,
        count: load.count(),
        limit,
        first_id: first_id(),
        to: SocketAddr::from((PROXY_ADDR, load.kind.port())),
        from: SocketAddr::from((CLIENT_ADDR, 0)),
    };
    let client = run_in(CLIENT_NS, move || open.run())
        .join()
        .map_err(|_| anyhow!("client thread panicked"))?
        .context("client")?;
    Ok(Sent {
        client,
        answered: r.stop(),
    })
}

/// `outstanding` round trips of `kind` for `seconds`.
pub fn closed(kind: Kind, outstanding: usize, seconds: f64) -> Result<ClosedReport> {
    let duration = Duration::from_secs_f64(seconds);
    let r = responder(kind, duration + Duration::from_secs(2))?;
    let run = ClosedLoop {
        kind,
        outstanding,
        duration,
        first_id: first_id(),
        to: SocketAddr::from((PROXY_ADDR, kind.port())),
        from: SocketAddr::from((CLIENT_ADDR, 0)),
    };
    let report = run_in(CLIENT_NS, move || run.run())
        .join()
        .map_err(|_| anyhow!("closed-loop thread panicked"))?
        .context("closed loop")?;
    drop(r);
    Ok(report)
}

/// Kernel stats of the hooks, in and out.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Hooks {
    pub in_ns: u64,
    pub in_runs: u64,
    pub out_ns: u64,
    pub out_runs: u64,
}

impl Hooks {
    fn from(ingress: ProgStats, egress: ProgStats) -> Self {
        Self {
            in_ns: ingress.run_ns,
            in_runs: ingress.runs,
            out_ns: egress.run_ns,
            out_runs: egress.runs,
        }
    }
}

/// The agent on the proxy's veth.
pub struct AgentUnderTest {
    agent: Agent,
    ingress: u32,
    egress: u32,
}

/// What the agent counted over one run.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct AgentFigures {
    pub hooks: Hooks,
    pub user_cpu_seconds: f64,
    pub samples: f64,
    pub ringbuf_drops: f64,
}

struct AgentSnapshot {
    ingress: ProgStats,
    egress: ProgStats,
    cpu: f64,
    samples: f64,
    drops: f64,
}

impl AgentUnderTest {
    pub fn start(bin: &Path, topo: &Topology) -> Result<Self> {
        let agent = Agent::start(bin, &topo.proxy, AGENT_PORT, &["--iface", PROXY_DEV]);
        let ids = stats::prog_ids_of(agent.pid());
        let by_name = |want: &str| {
            aya::programs::loaded_programs()
                .flatten()
                .find(|p| ids.contains(&p.id()) && p.name_as_str() == Some(want))
                .map(|p| p.id())
                .ok_or_else(|| anyhow!("agent (pid {}) holds no {want}", agent.pid()))
        };
        let (ingress, egress) = (
            by_name(programs::TC_INGRESS)?,
            by_name(programs::TC_EGRESS)?,
        );
        Ok(Self {
            agent,
            ingress,
            egress,
        })
    }

    fn snapshot(&self) -> AgentSnapshot {
        let m = self.agent.metrics();
        let s = stats::read(&[self.ingress, self.egress]);
        AgentSnapshot {
            ingress: s.get(programs::TC_INGRESS).copied().unwrap_or_default(),
            egress: s.get(programs::TC_EGRESS).copied().unwrap_or_default(),
            cpu: stats::cpu_seconds(self.agent.pid()),
            samples: m.value("siplat_sip_latency_seconds_count", &[]),
            drops: m.value("siplat_dropped_total", &[("reason", "ringbuf_full")]),
        }
    }

    /// Run `load` and return what the generator did and the agent counted.
    /// Waits (at most 3 s) for the agent to drain the samples of the run.
    pub fn measure(&self, load: &Load) -> Result<(Sent, AgentFigures)> {
        let before = self.snapshot();
        let sent = send(load)?;
        let want = if load.kind.is_sip() { sent.answered } else { 0 };
        let start = Instant::now();
        let mut last = -1.0;
        let after = loop {
            let now = self.snapshot();
            let got = now.samples - before.samples;
            if got >= want as f64 && (got == last || start.elapsed() > Duration::from_millis(500))
                || start.elapsed() > Duration::from_secs(3)
            {
                break now;
            }
            last = got;
            std::thread::sleep(Duration::from_millis(100));
        };
        Ok((
            sent,
            AgentFigures {
                hooks: Hooks::from(
                    after.ingress.since(before.ingress),
                    after.egress.since(before.egress),
                ),
                user_cpu_seconds: after.cpu - before.cpu,
                samples: after.samples - before.samples,
                ringbuf_drops: after.drops - before.drops,
            },
        ))
    }
}

/// `sip_tc_empty` attached on the proxy's veth, ingress and egress (two
/// loads of the object, so each direction has its own stats); detached on
/// drop.
pub struct EmptyProgram {
    _objects: Vec<aya::Ebpf>,
    ingress: u32,
    egress: u32,
}

impl EmptyProgram {
    pub fn attach(object: &[u8]) -> Result<Self> {
        let object = object.to_vec();
        run_in(PROXY_NS, move || -> Result<Self> {
            let mut objects = Vec::new();
            let mut ids = Vec::new();
            for hook in [TcAttachType::Ingress, TcAttachType::Egress] {
                let mut ebpf = aya::Ebpf::load(&object).context("load the agent's object")?;
                let prog: &mut SchedClassifier = ebpf
                    .program_mut(programs::TC_EMPTY)
                    .ok_or_else(|| anyhow!("object has no {}", programs::TC_EMPTY))?
                    .try_into()?;
                prog.load()?;
                prog.attach_with_options(
                    PROXY_DEV,
                    hook,
                    TcAttachOptions::TcxOrder(LinkOrder::default()),
                )
                .with_context(|| format!("attach {} ({hook:?})", programs::TC_EMPTY))?;
                ids.push(prog.info()?.id());
                objects.push(ebpf);
            }
            Ok(Self {
                _objects: objects,
                ingress: ids[0],
                egress: ids[1],
            })
        })
        .join()
        .map_err(|_| anyhow!("attach thread panicked"))?
    }

    fn hooks(&self) -> Hooks {
        let s = stats::read(&[self.ingress]);
        let e = stats::read(&[self.egress]);
        let get = |m: &std::collections::BTreeMap<String, ProgStats>| {
            m.values().copied().next().unwrap_or_default()
        };
        Hooks::from(get(&s), get(&e))
    }

    pub fn measure(&self, load: &Load) -> Result<(Sent, Hooks)> {
        let before = self.hooks();
        let sent = send(load)?;
        let after = self.hooks();
        Ok((
            sent,
            Hooks {
                in_ns: after.in_ns - before.in_ns,
                in_runs: after.in_runs - before.in_runs,
                out_ns: after.out_ns - before.out_ns,
                out_runs: after.out_runs - before.out_runs,
            },
        ))
    }
}

/// A dumpcap + tshark pass over one run.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct CaptureFigures {
    pub dumpcap_cpu_seconds: f64,
    pub tshark_cpu_seconds: f64,
    pub frames: u64,
    /// Responses tshark paired with their request (`sip.response-request`).
    pub pairs: u64,
}

/// Run `load` with dumpcap capturing the proxy's veth, then tshark pairing
/// requests and responses over the file (`sip.response-request`).
pub fn capture(load: &Load, dir: &Path) -> Result<(Sent, CaptureFigures)> {
    let file: PathBuf = dir.join("capture.pcapng");
    let _ = std::fs::remove_file(&file);
    let log = std::fs::File::create(dir.join("dumpcap.log"))?;
    let child = netns::command(PROXY_NS, "dumpcap")
        .args(["-q", "-i", PROXY_DEV, "-B", "64", "-w"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .context("spawn dumpcap")?;
    let dumpcap = Reaped::new(child);
    let start = Instant::now();
    while std::fs::metadata(&file).map_or(0, |m| m.len()) == 0 {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(anyhow!("dumpcap did not start capturing {PROXY_DEV}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its first packets: one more moment to be sure it reads the ring.
    std::thread::sleep(Duration::from_millis(200));
    let sent = send(load)?;
    std::thread::sleep(Duration::from_millis(200));
    let dumpcap_cpu_seconds = dumpcap.stop(libc::SIGTERM)?;
    let tshark = std::process::Command::new("tshark")
        // SDP off: with it, tshark sets up RTP tracking for every INVITE's
        // offer and took 3.3 ms a packet on the 534-byte INVITE at 20k/s
        // (2026-12-01); the pairs need only SIP.
        .args(["-n", "--disable-protocol", "sdp", "-r"])
        .arg(&file)
        .args(["-T", "fields", "-e", "sip.response-request"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("spawn tshark")?;
    let mut tshark = Reaped::new(tshark);
    let (mut frames, mut pairs) = (0, 0);
    if let Some(out) = tshark.child.stdout.take() {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(out).lines() {
            frames += 1;
            if !line.unwrap_or_default().trim().is_empty() {
                pairs += 1;
            }
        }
    }
    let tshark_cpu_seconds = tshark.wait()?;
    let _ = std::fs::remove_file(&file);
    Ok((
        sent,
        CaptureFigures {
            dumpcap_cpu_seconds,
            tshark_cpu_seconds,
            frames,
            pairs,
        },
    ))
}

/// A child reaped with `wait4`, for its CPU time (user + system); killed
/// on drop if still running.
struct Reaped {
    child: std::process::Child,
    done: bool,
}

impl Reaped {
    fn new(child: std::process::Child) -> Self {
        Self { child, done: false }
    }

    fn stop(mut self, signal: i32) -> Result<f64> {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(i32::try_from(self.child.id())?, signal) };
        self.wait()
    }

    fn wait(&mut self) -> Result<f64> {
        let pid = i32::try_from(self.child.id())?;
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it for our child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        self.done = true;
        if r != pid {
            return Err(anyhow!("wait4 {pid}: {}", std::io::Error::last_os_error()));
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Ok(secs(usage.ru_utime) + secs(usage.ru_stime))
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
