//! Real traffic: real `SIPp` calls (digest-authenticated REGISTER, INVITE,
//! 180 then 200 after 300 ms of ringing, ACK, BYE) through a real Kamailio
//! registrar/proxy (the testbed's and the manifests' `proxy.cfg`), each in
//! its own namespace. The pairs the agent exports must be exactly the pairs
//! found in a tshark capture of the same interfaces, each latency within
//! 100 us, and the ringing must be in the round trip, never in `response`.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use testkit::{
    Agent, Netns, Proc,
    capture::{Packet, TstampAtReceive, sip_packets},
    cpu_seconds, privileged, veth,
};

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

const CALLS: u32 = 200;
const RATE: u32 = 20;
/// How long the callee rings before it answers (fixtures/callee.xml).
const RINGING_S: f64 = 0.3;
const UAC: &str = "198.18.40.1";
const PROXY_FRONT: &str = "198.18.40.2";
const PROXY_BACK: &str = "198.18.41.2";
const UAS: &str = "198.18.41.1";
/// Largest allowed difference between the agent's latency and the capture's.
const MAX_ERROR_S: f64 = 100e-6;
/// The capture and the agent look at a packet at different points of the
/// stack: the tap before TC on ingress, after it on egress, 1-2 us apart. So
/// the agent's latency is always the shorter one, and a CPU stall (hardirq,
/// vCPU preemption) that lands between a hook and its tap adds to the
/// difference. On this 2-vCPU VM the median is ~3 us and the max 30-100 us,
/// but 6 runs of 39 had one pair of 2,202 off by 120-345 us. At most
/// this many per thousand may exceed `MAX_ERROR_S`...
const OUTLIERS_PER_MILLE: usize = 1;
/// ...and none may exceed this.
const MAX_OUTLIER_S: f64 = 1e-3;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// (kind, method, status, call hash, CSeq): what identifies one pair.
type PairKey = (String, String, u16, u64, u32);

/// The pairing rules of the README, reimplemented over the capture: what a
/// correct agent must report.
fn reference_pairs(packets: &[Packet]) -> BTreeMap<PairKey, Vec<f64>> {
    #[derive(Default)]
    struct Pending {
        t: f64,
        relayed: bool,
        classes: u8,
    }
    let mut requests: BTreeMap<(u64, u32, String), Pending> = BTreeMap::new();
    let mut responses: BTreeMap<(u64, u32, String, u16), f64> = BTreeMap::new();
    let mut pairs: BTreeMap<PairKey, Vec<f64>> = BTreeMap::new();
    let mut add = |kind: &str, p: &Packet, latency: f64| {
        pairs
            .entry((
                kind.to_owned(),
                p.cseq_method.clone(),
                p.status,
                p.call_hash,
                p.cseq,
            ))
            .or_default()
            .push(latency);
    };
    for p in packets {
        let key = (p.call_hash, p.cseq, p.cseq_method.clone());
        match (p.status == 0, p.inbound) {
            (true, true) => {
                requests.entry(key).or_insert(Pending {
                    t: p.t,
                    ..Pending::default()
                });
            }
            (true, false) => {
                if let Some(r) = requests.get_mut(&key) {
                    if !r.relayed {
                        r.relayed = true;
                        add("relay_request", p, p.t - r.t);
                    }
                    if p.cseq_method == "ACK" {
                        requests.remove(&key);
                    }
                }
            }
            (false, true) => {
                responses
                    .entry((p.call_hash, p.cseq, p.cseq_method.clone(), p.status))
                    .or_insert(p.t);
            }
            (false, false) => {
                let seen_arriving =
                    responses.remove(&(p.call_hash, p.cseq, p.cseq_method.clone(), p.status));
                if let Some(t) = seen_arriving {
                    add("relay_response", p, p.t - t);
                }
                if let Some(r) = requests.get_mut(&key) {
                    if r.relayed || seen_arriving.is_some() {
                        // Downstream's answer: the final one is the round trip.
                        if p.status >= 200 {
                            add("round_trip", p, p.t - r.t);
                        }
                    } else {
                        let bit = 1u8 << (p.status / 100);
                        if r.classes & bit == 0 {
                            r.classes |= bit;
                            add("response", p, p.t - r.t);
                        }
                    }
                    if p.status >= 200 {
                        requests.remove(&key);
                    }
                }
            }
        }
    }
    pairs
}

/// One sample of the agent's `/samples`, the fields the comparison uses.
struct Sample {
    kind: String,
    method: String,
    status: u16,
    txn: u64,
    cseq: u32,
    latency_s: f64,
    /// When the second packet crossed the hook (Unix seconds).
    out_s: f64,
}

/// The agent's samples; the raw JSON is kept beside the capture for
/// whoever needs to look at single packets.
fn fetch_samples(agent: &Agent, dir: &Path) -> Vec<Sample> {
    let text = agent.samples(100_000);
    std::fs::write(dir.join("samples.json"), &text).expect("write samples");
    let samples: Vec<serde_json::Value> = serde_json::from_str(&text).expect("samples json");
    samples
        .iter()
        .map(|s| Sample {
            kind: s["kind"].as_str().unwrap_or_default().to_owned(),
            method: s["method"].as_str().unwrap_or_default().to_owned(),
            status: u16::try_from(s["status"].as_u64().unwrap_or_default()).unwrap_or_default(),
            txn: u64::from_str_radix(s["txn"].as_str().unwrap_or_default(), 16).unwrap_or_default(),
            cseq: u32::try_from(s["cseq"].as_u64().unwrap_or_default()).unwrap_or_default(),
            latency_s: s["latency_ns"].as_f64().unwrap_or_default() / 1e9,
            #[expect(clippy::cast_precision_loss, reason = "epoch seconds to 0.2 us")]
            out_s: s["unix_ns"].as_u64().unwrap_or_default() as f64 / 1e9,
        })
        .collect()
}

fn agent_pairs(samples: &[Sample]) -> BTreeMap<PairKey, Vec<f64>> {
    let mut pairs: BTreeMap<PairKey, Vec<f64>> = BTreeMap::new();
    for s in samples {
        let key = (s.kind.clone(), s.method.clone(), s.status, s.txn, s.cseq);
        pairs.entry(key).or_default().push(s.latency_s);
    }
    pairs
}

/// Where the agent's and the capture's latencies part: for every sample,
/// the gap between the agent's hook and the capture's tap on each side of
/// the pair (egress: hook, then tap; ingress: tap, then hook). A difference
/// between the two latencies is the sum of these two gaps, so this says
/// which side of the stack a large one came from. Printed, not asserted:
/// the capture's clock is the realtime one.
fn print_hook_tap_gaps(packets: &[Packet], samples: &[Sample]) {
    type Key = (u64, u32, String, u16, bool);
    let mut seen: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for p in packets {
        let key = (
            p.call_hash,
            p.cseq,
            p.cseq_method.clone(),
            p.status,
            p.inbound,
        );
        seen.entry(key).or_default().push(p.t);
    }
    let nearest = |key: &Key, t: f64| {
        seen.get(key)?
            .iter()
            .copied()
            .min_by(|a, b| (a - t).abs().total_cmp(&(b - t).abs()))
            .filter(|x| (x - t).abs() < 5e-3)
    };
    let (mut egress, mut ingress) = (Vec::new(), Vec::new());
    for s in samples {
        let arrived = s.out_s - s.latency_s;
        let status_in = if s.kind == "relay_response" {
            s.status
        } else {
            0
        };
        let key = |status, inbound| (s.txn, s.cseq, s.method.clone(), status, inbound);
        if let Some(t) = nearest(&key(s.status, false), s.out_s) {
            egress.push((t - s.out_s) * 1e6);
        }
        if let Some(t) = nearest(&key(status_in, true), arrived) {
            ingress.push((arrived - t) * 1e6);
        }
    }
    for (side, gaps) in [
        ("egress (tap - hook)", &mut egress),
        ("ingress (hook - tap)", &mut ingress),
    ] {
        gaps.sort_by(f64::total_cmp);
        if let (Some(min), Some(max)) = (gaps.first(), gaps.last()) {
            eprintln!(
                "hook-to-tap gap, {side}: {} packets, min {min:.1} us, median {:.1} us, p99 {:.1} us, max {max:.1} us",
                gaps.len(),
                gaps[gaps.len() / 2],
                gaps[gaps.len() * 99 / 100]
            );
        }
    }
}

fn sipp(ns: &Netns, log: &Path, args: &[&str]) -> Proc {
    let mut full = vec!["sipp", "-nostdin", "-timeout", "60s", "-p", "5060"];
    full.extend_from_slice(args);
    Proc::spawn(ns, &full, log)
}

#[test]
#[ignore = "needs root: BPF, namespaces, Kamailio, SIPp, tshark (cargo xtask test runs it)"]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario read top to bottom: topology, load, comparison"
)]
fn real_calls_match_the_capture() {
    if !privileged("real_calls_match_the_capture") {
        return;
    }
    let dir = std::env::temp_dir().join("siplat-real-traffic");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    let uac = Netns::new("slt-real-uac");
    let proxy = Netns::new("slt-real-proxy");
    let uas = Netns::new("slt-real-uas");
    veth(
        &uac,
        "c0",
        &format!("{UAC}/24"),
        &proxy,
        "p0",
        &format!("{PROXY_FRONT}/24"),
    );
    veth(
        &proxy,
        "p1",
        &format!("{PROXY_BACK}/24"),
        &uas,
        "s0",
        &format!("{UAS}/24"),
    );

    let _tstamp = TstampAtReceive::set();
    let pcap = dir.join("proxy.pcapng");
    let mut tshark = Proc::spawn(
        &proxy,
        &[
            "tshark",
            "-i",
            "p0",
            "-i",
            "p1",
            "-f",
            "udp port 5060",
            "-w",
            pcap.to_str().expect("utf8"),
            "-q",
        ],
        &dir.join("tshark.log"),
    );
    let agent = Agent::start(AGENT, &proxy, 9572, &["--iface", "p*"]);
    agent.wait_attached(2, Duration::from_secs(30));
    // The proxy runs the deployed config (manifests/testbed/config), one
    // node of its DMQ bus, subscribers in SQLite as the testbed has them.
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/testbed/config");
    let db = dir.join("subscribers.db");
    let sql = std::fs::File::open(config.join("subscribers.sql")).expect("subscribers.sql");
    let status = Command::new("sqlite3")
        .arg(&db)
        .stdin(sql)
        .status()
        .expect("run sqlite3");
    assert!(status.success(), "sqlite3 < subscribers.sql: {status}");
    // One advertised address (the config's): the UAS reaches it through
    // the proxy's back interface.
    uas.ip(&[
        "route",
        "add",
        &format!("{PROXY_FRONT}/32"),
        "via",
        PROXY_BACK,
    ]);
    let work = dir.to_str().expect("utf8").to_owned();
    let defines = [
        "LISTEN_IP=0.0.0.0".to_owned(),
        format!("ADVERTISE_IP={PROXY_FRONT}"),
        format!("DMQ_SERVER=\"sip:{PROXY_FRONT}:5061\""),
        format!("DMQ_NOTIFY=\"sip:{PROXY_FRONT}:5061\""),
        "AUTH_SECRET=\"siplat-real-traffic-test\"".to_owned(),
        format!("DB_URL=\"sqlite:///{}\"", db.display()),
        format!("CTL_SOCKET=\"unix:{work}/kamailio_ctl\""),
    ];
    let cfg = config.join("kamailio/proxy.cfg");
    let mut args = vec![
        "kamailio".to_owned(),
        "-f".to_owned(),
        cfg.to_str().expect("utf8").to_owned(),
        "-DD".to_owned(),
        "-E".to_owned(),
        "-P".to_owned(),
        format!("{work}/kamailio.pid"),
        "-Y".to_owned(),
        work.clone(),
        "-w".to_owned(),
        work.clone(),
        "-m".to_owned(),
        "64".to_owned(),
    ];
    for d in defines {
        args.push("-A".to_owned());
        args.push(d);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _kamailio = Proc::spawn(&proxy, &args, &dir.join("kamailio.log"));
    // tshark and Kamailio are up when they say so.
    let started = Instant::now();
    while !(std::fs::read_to_string(dir.join("tshark.log"))
        .unwrap_or_default()
        .contains("Capturing on")
        && std::fs::read_to_string(dir.join("kamailio.log"))
            .unwrap_or_default()
            .contains("Listening on"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "tshark or Kamailio did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));

    let fx = fixtures();
    let xml = |name: &str| fx.join(name).to_str().expect("utf8").to_owned();
    let proxy_back = format!("{PROXY_BACK}:5060");
    let status = sipp(
        &uas,
        &dir.join("register.log"),
        &[
            "-sf",
            &xml("callee_register.xml"),
            "-i",
            UAS,
            "-m",
            "1",
            &proxy_back,
        ],
    )
    .wait(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "callee registration failed: {status:?}"
    );
    let mut callee = sipp(
        &uas,
        &dir.join("callee.log"),
        &[
            "-sf",
            &xml("callee.xml"),
            "-i",
            UAS,
            "-m",
            &CALLS.to_string(),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));

    let cpu_before = cpu_seconds(agent.pid());
    let load_start = Instant::now();
    let proxy_front = format!("{PROXY_FRONT}:5060");
    let status = sipp(
        &uac,
        &dir.join("caller.log"),
        &[
            "-sf",
            &xml("caller.xml"),
            "-i",
            UAC,
            "-r",
            &RATE.to_string(),
            "-m",
            &CALLS.to_string(),
            &proxy_front,
        ],
    )
    .wait(Duration::from_secs(60));
    let load_secs = load_start.elapsed().as_secs_f64();
    let agent_cpu = (cpu_seconds(agent.pid()) - cpu_before) / load_secs;
    assert!(
        status.is_some_and(|s| s.success()),
        "caller SIPp failed ({status:?}); see {}",
        dir.display()
    );
    let status = callee.wait(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "callee SIPp failed ({status:?})"
    );
    std::thread::sleep(Duration::from_secs(1));
    tshark.signal(libc::SIGINT);
    assert!(
        tshark.wait(Duration::from_secs(10)).is_some(),
        "tshark did not stop"
    );

    let packets = sip_packets(&pcap, &[PROXY_FRONT, PROXY_BACK]);
    let reference = reference_pairs(&packets);
    let samples = fetch_samples(&agent, &dir);
    let measured = agent_pairs(&samples);
    print_hook_tap_gaps(&packets, &samples);
    let count = |m: &BTreeMap<PairKey, Vec<f64>>| m.values().map(Vec::len).sum::<usize>();
    let mut by_kind: BTreeMap<(String, String, u16), (usize, usize)> = BTreeMap::new();
    for (k, v) in &reference {
        by_kind
            .entry((k.0.clone(), k.1.clone(), k.2))
            .or_default()
            .0 += v.len();
    }
    for (k, v) in &measured {
        by_kind
            .entry((k.0.clone(), k.1.clone(), k.2))
            .or_default()
            .1 += v.len();
    }
    let table = by_kind.iter().fold(String::new(), |mut t, (k, (r, m))| {
        let _ = writeln!(t, "  {k:?}: capture {r}, agent {m}");
        t
    });
    eprintln!("pairs by kind/method/status:\n{table}");
    assert_eq!(
        count(&measured),
        count(&reference),
        "pair counts differ:\n{table}"
    );
    // The three pairs of the report are all there, for every call.
    let n = usize::try_from(CALLS).expect("calls");
    assert_eq!(
        by_kind
            .get(&("response".into(), "INVITE".into(), 407))
            .map(|c| c.1),
        Some(n),
        "{table}"
    );
    assert_eq!(
        by_kind
            .get(&("relay_request".into(), "INVITE".into(), 0))
            .map(|c| c.1),
        Some(n),
        "{table}"
    );
    assert_eq!(
        by_kind
            .get(&("relay_response".into(), "INVITE".into(), 200))
            .map(|c| c.1),
        Some(n),
        "{table}"
    );
    // The callee's 200 is the authenticated INVITE's round trip, never a
    // `response` of the proxy.
    assert_eq!(
        by_kind
            .get(&("round_trip".into(), "INVITE".into(), 200))
            .map(|c| c.1),
        Some(n),
        "{table}"
    );
    assert!(
        !by_kind.contains_key(&("response".into(), "INVITE".into(), 200)),
        "{table}"
    );
    // The callee rings 300 ms: the relayed 180 is a relay, the ringing is in
    // the round trip and in no `response` sample.
    assert_eq!(
        by_kind
            .get(&("relay_response".into(), "INVITE".into(), 180))
            .map(|c| c.1),
        Some(n),
        "{table}"
    );
    let latencies = |kind: &str| -> Vec<f64> {
        measured
            .iter()
            .filter(|(k, _)| k.0 == kind && k.1 == "INVITE")
            .flat_map(|(_, v)| v.iter().copied())
            .collect()
    };
    assert!(
        latencies("round_trip").iter().all(|l| *l >= RINGING_S),
        "a round trip shorter than the ringing"
    );
    assert!(
        latencies("response").iter().all(|l| *l < RINGING_S),
        "the ringing leaked into `response`"
    );

    let mut errors = Vec::new();
    for (key, want) in &reference {
        let got = measured
            .get(key)
            .unwrap_or_else(|| panic!("agent lacks pair {key:?}"));
        assert_eq!(got.len(), want.len(), "pair {key:?}");
        let (mut got, mut want) = (got.clone(), want.clone());
        got.sort_by(f64::total_cmp);
        want.sort_by(f64::total_cmp);
        errors.extend(
            got.iter()
                .zip(&want)
                .map(|(g, w)| (g - w, &key.0, &key.1, key.2)),
        );
    }
    errors.sort_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
    // Signed (agent minus capture): the agent's hooks sit inside the
    // capture's taps (tap, then TC on ingress; TC, then tap on egress), so a
    // stall between a hook and its tap makes the agent's latency shorter.
    let worst: Vec<String> = errors
        .iter()
        .rev()
        .take(5)
        .map(|(e, kind, method, status)| format!("{:+.1} us {kind} {method} {status}", e * 1e6))
        .collect();
    eprintln!("largest errors (agent - capture): {worst:?}");
    let errors: Vec<f64> = errors.into_iter().map(|e| e.0.abs()).collect();
    let max_error = errors.last().copied().unwrap_or_default();
    eprintln!(
        "{} pairs matched the capture; latency error median {:.1} us, p99 {:.1} us, max {:.1} us; agent CPU {:.2} % of one core at {RATE} calls/s",
        count(&reference),
        errors[errors.len() / 2] * 1e6,
        errors[errors.len() * 99 / 100] * 1e6,
        max_error * 1e6,
        agent_cpu * 100.0
    );
    let outliers = errors.iter().filter(|e| **e > MAX_ERROR_S).count();
    let allowed = errors.len().div_ceil(1000) * OUTLIERS_PER_MILLE;
    assert!(
        outliers <= allowed,
        "{outliers} pairs off by more than {MAX_ERROR_S} s (allowed {allowed}): {worst:?}"
    );
    assert!(
        max_error <= MAX_OUTLIER_S,
        "max latency error {max_error} s > {MAX_OUTLIER_S} s"
    );
    let m = agent.metrics();
    assert_eq!(m.value("siplat_dropped_total", &[]), 0.0, "{}", m.text);
}
