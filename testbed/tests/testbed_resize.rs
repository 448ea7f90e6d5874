//! In-place resize on the real testbed: one proxy resized 30m -> 90m ->
//! 30m. Each time the proxy's cgroup `cpu.cfs_quota_us` changes to the new
//! share of its period, the Kamailio processes in the group are the same
//! ones (no restart), the proxy still answers an OPTIONS, and `status`
//! reports the limit. A proxy added by `scale` meanwhile starts at the base
//! limit of `up`, and bad requests (0, unknown proxy) are refused with a
//! clear message.

use std::{
    net::UdpSocket,
    time::{Duration, Instant},
};

use testkit::{
    namespace::run_in,
    privileged, sip,
    testbed::{Cli, Testbed},
};

/// `siplat-testbed` as the scaler and the demo run it.
fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_siplat-testbed"))
}

/// The testbed's cgroup v1 CPU group of a proxy.
fn cpu_group(proxy: &str) -> String {
    format!("/sys/fs/cgroup/cpu/siplat-testbed/{proxy}")
}

fn quota_us(proxy: &str) -> i64 {
    let path = format!("{}/cpu.cfs_quota_us", cpu_group(proxy));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .parse()
        .expect("quota")
}

/// Every process in the proxy's group, sorted: Kamailio's main process and
/// its forked workers.
fn pids(proxy: &str) -> Vec<u32> {
    let path = format!("{}/cgroup.procs", cpu_group(proxy));
    let mut pids: Vec<u32> = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// One OPTIONS from the callers' box to the proxy; its status line. The
/// Via names the socket's port: the proxy answers there (no `rport`).
fn options(to: &str, call_id: &'static str) -> String {
    let to = format!("{to}:5060");
    run_in("tb-callers", move || {
        let s = UdpSocket::bind("198.19.2.1:5099").expect("bind");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        s.send_to(
            sip::request("OPTIONS", call_id, 1, "198.19.2.1:5099").as_bytes(),
            &to,
        )
        .expect("send");
        let mut buf = [0u8; 2048];
        let (n, _) = s.recv_from(&mut buf).expect("an answer to OPTIONS");
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    })
    .join()
    .expect("options thread")
}

fn limit_in_status(tb: &Cli, proxy: &str) -> u32 {
    tb.status()
        .proxies
        .iter()
        .find(|p| p.name == proxy)
        .unwrap_or_else(|| panic!("{proxy} in status"))
        .cpu_limit_millis
}

/// `resize` with `args`; how long the command took.
fn resize(tb: &Cli, args: &[&str]) -> Duration {
    let started = Instant::now();
    let mut full = vec!["resize"];
    full.extend_from_slice(args);
    tb.run(&full);
    started.elapsed()
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn resize_changes_the_quota_in_place() {
    if !privileged("resize_changes_the_quota_in_place") {
        return;
    }
    let tb = cli();
    let _up: Testbed = tb.up(&["--proxies", "1", "--cpu-limit", "30m"]);
    let proxy = "sip-proxy-1";
    let addr = tb.status().proxies[0].addr.clone();
    assert_eq!(quota_us(proxy), 3000, "30m of a 100 ms period");
    assert_eq!(limit_in_status(&tb, proxy), 30);
    let before = pids(proxy);
    assert!(before.len() > 1, "Kamailio and its workers: {before:?}");
    assert!(options(&addr, "resize-0").starts_with("SIP/2.0 200"));

    let took = resize(&tb, &["--cpu-limit", "90m"]);
    eprintln!(
        "resize 30m -> 90m took {:.1} ms",
        took.as_secs_f64() * 1000.0
    );
    assert_eq!(quota_us(proxy), 9000, "90m of a 100 ms period");
    assert_eq!(pids(proxy), before, "same Kamailio processes after resize");
    assert_eq!(limit_in_status(&tb, proxy), 90);
    assert!(options(&addr, "resize-1").starts_with("SIP/2.0 200"));

    // A proxy added now starts at the base limit, not the resized one.
    tb.run(&["scale", "2"]);
    assert_eq!(limit_in_status(&tb, "sip-proxy-2"), 30);
    assert_eq!(quota_us("sip-proxy-2"), 3000);

    let took = resize(&tb, &["--cpu-limit", "30m", "--proxy", proxy]);
    eprintln!(
        "resize 90m -> 30m took {:.1} ms",
        took.as_secs_f64() * 1000.0
    );
    assert_eq!(quota_us(proxy), 3000);
    assert_eq!(pids(proxy), before, "same Kamailio processes after resize");
    assert_eq!(limit_in_status(&tb, proxy), 30);
    assert!(options(&addr, "resize-2").starts_with("SIP/2.0 200"));

    for (args, says) in [
        (&["--cpu-limit", "0"][..], "lift the limit"),
        (&["--cpu-limit", "64"][..], "above the ceiling"),
        (
            &["--cpu-limit", "60m", "--proxy", "sip-proxy-9"][..],
            "no proxy named sip-proxy-9",
        ),
    ] {
        let out = tb
            .command()
            .arg("resize")
            .args(args)
            .output()
            .expect("spawn");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "resize {args:?} must fail");
        assert!(err.contains(says), "resize {args:?}: {err}");
    }
    assert_eq!(quota_us(proxy), 3000, "a refused resize changes nothing");
}
