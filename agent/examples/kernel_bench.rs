//! Cost of the kernel program per packet, measured with `BPF_PROG_TEST_RUN`
//! (the kernel runs the program N times on one frame and reports the mean).
//! Figures are ratios to a non-SIP UDP packet measured in the same run, so
//! they compare across machines. Needs root. Run via `cargo xtask bench`.

use std::fmt::Write as _;

use agent::{config::Config, loader::Loader};
use agent_common::config::programs;
use anyhow::Context as _;
use aya::programs::{TestRun as _, TestRunOptions};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/agent"));

const REPEAT: u32 = 200_000;

fn frame(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = u16::try_from(20 + 8 + payload.len()).expect("small frame");
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend([0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 30, 1, 198, 18, 30, 2]);
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend((total - 20).to_be_bytes());
    f.extend([0, 0]);
    f.extend_from_slice(payload);
    f
}

fn sip(first: &str, vias: usize, cseq: &str) -> Vec<u8> {
    let mut m = format!("{first}\r\n");
    for i in 0..vias {
        let _ = write!(
            m,
            "Via: SIP/2.0/UDP 198.18.30.{i}:5060;branch=z9hG4bK-bench-{i:04}-padding-padding-padding\r\n"
        );
    }
    m += "From: <sip:alice@198.18.0.1>;tag=1\r\nTo: <sip:bob@198.18.0.1>\r\nCall-ID: bench-call@198.18.0.1\r\n";
    let _ = write!(
        m,
        "CSeq: {cseq}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    m.into_bytes()
}

fn main() -> anyhow::Result<()> {
    let config = Config::load_from(["kernel_bench", "--iface", "none"])?;
    let mut loader = Loader::load(OBJECT, &config).context("load (needs root)")?;
    loader.watch_without_attaching(1)?;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "udp, not a SIP port",
            programs::TC_INGRESS,
            frame(b"hello", 4000, 4001),
        ),
        (
            "not SIP on 5060",
            programs::TC_INGRESS,
            frame(b"\x16\x03\x01 binary", 5070, 5060),
        ),
        (
            "INVITE in (pending hit)",
            programs::TC_INGRESS,
            frame(
                &sip("INVITE sip:bob@198.18.0.1 SIP/2.0", 1, "1 INVITE"),
                5070,
                5060,
            ),
        ),
        (
            "100 Trying out (answer)",
            programs::TC_EGRESS,
            frame(&sip("SIP/2.0 100 Trying", 1, "1 INVITE"), 5060, 5070),
        ),
        (
            "INVITE, 20 Vias (1.4 kB) before Call-ID",
            programs::TC_INGRESS,
            frame(
                &sip("INVITE sip:bob@198.18.0.1 SIP/2.0", 20, "1 INVITE"),
                5070,
                5060,
            ),
        ),
    ];
    let mut base = None;
    println!(
        "{:<42} {:>10} {:>8} {:>8}",
        "packet", "ns/packet", "bytes", "ratio"
    );
    for (name, prog, data) in cases {
        let p = loader.tc(prog)?;
        let result = p.test_run(TestRunOptions {
            data_in: Some(&data),
            repeat: REPEAT,
            ..TestRunOptions::new()
        })?;
        #[expect(clippy::cast_precision_loss, reason = "ns figures")]
        let ns = result.duration.as_nanos() as f64;
        let base_ns = *base.get_or_insert(ns);
        println!(
            "{name:<42} {ns:>10.0} {:>8} {:>7.1}x",
            data.len(),
            ns / base_ns
        );
    }
    println!("(mean of {REPEAT} runs each, BPF_PROG_TEST_RUN; ratio to the first row)");
    Ok(())
}
