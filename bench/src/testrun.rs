//! The second method: `BPF_PROG_TEST_RUN` on the agent's programs, one run
//! per frame (repeat = 1) over N distinct transactions, so every INVITE
//! inserts a pending entry and every 200 closes it and emits a sample (the
//! kernel's own repeat would run one frame N times: one insert, then hits).
//! The empty program runs on the same frames as the baseline. Fragmented
//! INVITEs are left to the live method (a frame here is one packet).

use agent::{config::Config, loader::Loader};
use agent_common::config::programs;
use anyhow::{Context as _, Result, anyhow};
use aya::programs::{SchedClassifier, TestRun as _, TestRunOptions};
use loadgen::{Kind, payload::Template};

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

/// `frames` transactions of each of `kinds` (fragmented ones skipped).
pub fn run(object: &[u8], kinds: &[Kind], frames: u64) -> Result<Vec<TestRunFigures>> {
    let config = Config::load_from(["siplat-bench", "--iface", "none"])?;
    let mut loader = Loader::load(object, &config).context("load the agent's object")?;
    loader.watch_without_attaching(1)?;
    let mut empty_obj = aya::Ebpf::load(object).context("load the agent's object")?;
    let empty: &mut SchedClassifier = empty_obj
        .program_mut(programs::TC_EMPTY)
        .ok_or_else(|| anyhow!("object has no {}", programs::TC_EMPTY))?
        .try_into()?;
    empty.load()?;
    let mut out = Vec::new();
    for (k, &kind) in kinds.iter().enumerate() {
        if kind == Kind::InviteFrag {
            continue;
        }
        let (req, resp) = (kind.request(), kind.response());
        let port = kind.port();
        let (mut in_ns, mut out_ns, mut empty_ns) = (0, 0, 0);
        for i in 0..frames {
            let id = ((k as u64 + 1) << 48) | i;
            let request = frame(&stamped(&req, id), 5070, port, false);
            let response = frame(&stamped(&resp, id), port, 5070, true);
            in_ns += run_one(loader.tc(programs::TC_INGRESS)?, &request)?;
            out_ns += run_one(loader.tc(programs::TC_EGRESS)?, &response)?;
            empty_ns += run_one(empty, &request)?;
        }
        let mean = |ns: u64| ns as f64 / frames.max(1) as f64;
        out.push(TestRunFigures {
            kind,
            frames,
            in_ns: mean(in_ns),
            out_ns: mean(out_ns),
            empty_ns: mean(empty_ns),
        });
    }
    Ok(out)
}
