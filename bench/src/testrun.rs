//! The second method: `BPF_PROG_TEST_RUN` on the agent's programs, one run
//! per frame (repeat = 1) over N distinct transactions, so every INVITE
//! inserts a pending entry and every 200 closes it and emits a sample (the
//! kernel's own repeat would run one frame N times: one insert, then hits).
//! The empty program runs on the same frames as the baseline. Fragmented
//! INVITEs are left to the live method (a frame here is one packet).

use std::path::Path;

use agent::{config::Config, loader::Loader};
use agent_common::config::programs;
use anyhow::{Context as _, Result, anyhow};
use aya::programs::{SchedClassifier, TestRun as _, TestRunOptions};
use loadgen::{Kind, payload::Template};

use crate::perf::PerfProfile;

/// Mean ns per frame of one method on one payload.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct TestRunFigures {
    pub kind: Kind,
    pub frames: u64,
    pub in_ns: f64,
    pub out_ns: f64,
    pub empty_ns: f64,
}

/// Ethernet + IPv4 + UDP around `payload` (198.18.100.1 -> .2).
fn frame(payload: &[u8], sport: u16, dport: u16, reply: bool) -> Vec<u8> {
    let (src, dst) = if reply { (2, 1) } else { (1, 2) };
    let mut f = vec![0x02, 0, 0, 0, 0, dst, 0x02, 0, 0, 0, 0, src, 0x08, 0x00];
    let total = u16::try_from(20 + 8 + payload.len()).unwrap_or(u16::MAX);
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend([
        0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 100, src, 198, 18, 100, dst,
    ]);
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend((total - 20).to_be_bytes());
    f.extend([0, 0]);
    f.extend_from_slice(payload);
    f
}

fn stamped(t: &Template, id: u64) -> Vec<u8> {
    let mut b = t.bytes.clone();
    t.stamp(&mut b, id);
    b
}

fn run_one(prog: &SchedClassifier, data: &[u8]) -> Result<u64> {
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(data),
            repeat: 1,
            ..TestRunOptions::new()
        })
        .context("BPF_PROG_TEST_RUN")?;
    Ok(u64::try_from(r.duration.as_nanos()).unwrap_or(u64::MAX))
}

/// The agent's two programs and the empty one, loaded once for a method.
struct Programs {
    loader: Loader,
    empty: aya::Ebpf,
}

impl Programs {
    fn load(object: &[u8]) -> Result<Self> {
        let config = Config::load_from(["siplat-bench", "--iface", "none"])?;
        let mut loader = Loader::load(object, &config).context("load the agent's object")?;
        loader.watch_without_attaching(1)?;
        let mut empty = aya::Ebpf::load(object).context("load the agent's object")?;
        let prog: &mut SchedClassifier = empty
            .program_mut(programs::TC_EMPTY)
            .ok_or_else(|| anyhow!("object has no {}", programs::TC_EMPTY))?
            .try_into()?;
        prog.load()?;
        Ok(Self { loader, empty })
    }

    /// Mean ns in, out and on the empty program over `frames` transactions
    /// of one request/response pair, ids from `id_base` up.
    fn pairs(
        &mut self,
        (req, resp): (&Template, &Template),
        port: u16,
        frames: u64,
        id_base: u64,
    ) -> Result<(f64, f64, f64)> {
        let empty: &SchedClassifier = self
            .empty
            .program(programs::TC_EMPTY)
            .ok_or_else(|| anyhow!("object has no {}", programs::TC_EMPTY))?
            .try_into()?;
        let (mut in_ns, mut out_ns, mut empty_ns) = (0, 0, 0);
        for i in 0..frames {
            let id = id_base | i;
            let request = frame(&stamped(req, id), 5070, port, false);
            let response = frame(&stamped(resp, id), port, 5070, true);
            in_ns += run_one(self.loader.tc(programs::TC_INGRESS)?, &request)?;
            out_ns += run_one(self.loader.tc(programs::TC_EGRESS)?, &response)?;
            empty_ns += run_one(empty, &request)?;
        }
        let mean = |ns: u64| ns as f64 / frames.max(1) as f64;
        Ok((mean(in_ns), mean(out_ns), mean(empty_ns)))
    }
}

/// `frames` transactions of each of `kinds` (fragmented ones skipped).
pub fn run(object: &[u8], kinds: &[Kind], frames: u64) -> Result<Vec<TestRunFigures>> {
    let mut progs = Programs::load(object)?;
    let mut out = Vec::new();
    for (k, &kind) in kinds.iter().enumerate() {
        if kind == Kind::InviteFrag {
            continue;
        }
        let (req, resp) = (kind.request(), kind.response());
        let (in_ns, out_ns, empty_ns) =
            progs.pairs((&req, &resp), kind.port(), frames, (k as u64 + 1) << 48)?;
        out.push(TestRunFigures {
            kind,
            frames,
            in_ns,
            out_ns,
            empty_ns,
        });
    }
    Ok(out)
}

/// One long INVITE shape of the profile.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct ProfilePoint {
    pub vias: usize,
    pub bytes: usize,
    pub in_ns: f64,
    pub out_ns: f64,
}

/// Where a SIP packet's time goes, from two sweeps of the long INVITE
/// (the Call-ID last, so the scan reads every line): its length alone
/// (one Via, a longer padding header: ns per skipped 8-byte word, and the
/// intercept, what a packet costs before any byte is scanned: parsing the
/// headers, the map operations, the clock, the sample) and its Vias alone
/// (1,400 bytes each: ns per header line beyond the bytes it holds).
/// Meanwhile `perf` samples where the time goes by function
/// ([`crate::perf`]).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Profile {
    pub frames: u64,
    pub points: Vec<ProfilePoint>,
    /// The INVITE: per skipped word, before the varied part (intercept),
    /// per header line beyond its bytes.
    pub in_ns_per_word: f64,
    pub in_fixed_ns: f64,
    pub in_ns_per_line: f64,
    /// The 200 does not change in the length sweep (its mean there), and
    /// grows by a whole Via line, bytes and all, in the Via sweep.
    pub out_one_via_ns: f64,
    pub out_ns_per_via: f64,
    /// `None` when perf could not run (said on stderr).
    pub perf: Option<PerfProfile>,
}

/// Lengths of the length sweep (one Via) and Vias of the line sweep.
const PROFILE_BYTES: [usize; 4] = [500, 800, 1100, 1400];
const PROFILE_VIAS: [usize; 4] = [1, 4, 8, 11];

/// The sweeps, sampled by perf into `perf_data`.
#[expect(clippy::print_stderr, reason = "a profile without perf says so")]
pub fn profile(object: &[u8], frames: u64, perf_data: &Path) -> Result<Profile> {
    let mut progs = Programs::load(object)?;
    let recording = crate::perf::Recording::start(perf_data)
        .inspect_err(|e| eprintln!("!!!!!!!! perf profile unavailable: {e:#}"))
        .ok();
    // Warm up through the whole pending map: until every preallocated
    // entry has been used once, the response path is slower (1.5x in the
    // first 30,000) and each shape would pay for the one before it.
    let (req, resp) = loadgen::payload::long_invite(1, PROFILE_BYTES[0]);
    let warm = u64::from(agent_common::config::PENDING_MAX_ENTRIES);
    progs.pairs((&req, &resp), 5060, warm, 15 << 48)?;
    let mut points = Vec::new();
    let shapes = PROFILE_BYTES
        .iter()
        .map(|&b| (1, b))
        .chain(PROFILE_VIAS.iter().skip(1).map(|&v| (v, 1400)));
    for (n, (vias, bytes)) in shapes.enumerate() {
        let (req, resp) = loadgen::payload::long_invite(vias, bytes);
        let (in_ns, out_ns, _) = progs.pairs((&req, &resp), 5060, frames, (n as u64 + 16) << 48)?;
        points.push(ProfilePoint {
            vias,
            bytes,
            in_ns,
            out_ns,
        });
    }
    let perf = recording.and_then(|r| {
        r.finish()
            .inspect_err(|e| eprintln!("!!!!!!!! perf profile failed: {e:#}"))
            .ok()
    });
    let by_len: Vec<&ProfilePoint> = points.iter().filter(|p| p.vias == 1).collect();
    let by_vias: Vec<&ProfilePoint> = points.iter().filter(|p| p.bytes == 1400).collect();
    let words = |p: &ProfilePoint| p.bytes as f64 / 8.0;
    let lines = |p: &ProfilePoint| p.vias as f64;
    let (in_ns_per_word, in_fixed_ns) = fit(&by_len, words, |p| p.in_ns);
    let (in_ns_per_line, _) = fit(&by_vias, lines, |p| p.in_ns);
    let (out_ns_per_via, _) = fit(&by_vias, lines, |p| p.out_ns);
    let out_one_via_ns = by_len.iter().map(|p| p.out_ns).sum::<f64>() / by_len.len().max(1) as f64;
    Ok(Profile {
        frames,
        points,
        in_ns_per_word,
        in_fixed_ns,
        in_ns_per_line,
        out_one_via_ns,
        out_ns_per_via,
        perf,
    })
}

/// Least-squares slope and intercept of `y` against `x`.
fn fit<T>(points: &[&T], x: impl Fn(&T) -> f64, y: impl Fn(&T) -> f64) -> (f64, f64) {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + x(p), b + y(p)));
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), p| {
        (a + (x(p) - mx) * (y(p) - my), b + (x(p) - mx).powi(2))
    });
    let slope = if sxx > 0.0 { sxy / sxx } else { f64::NAN };
    (slope, my - slope * mx)
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn fit_recovers_a_line() {
        let pts: Vec<(f64, f64)> = [1.0, 2.0, 4.0]
            .iter()
            .map(|&x| (x, 3.0 * x + 5.0))
            .collect();
        let refs: Vec<&(f64, f64)> = pts.iter().collect();
        let (slope, icpt) = fit(&refs, |p| p.0, |p| p.1);
        assert!((slope - 3.0).abs() < 1e-9 && (icpt - 5.0).abs() < 1e-9);
    }
}
