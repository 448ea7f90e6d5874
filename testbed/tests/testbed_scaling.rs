//! Scaling the testbed: scale 2 -> 3 -> 1 proxies during
//! traffic. No call fails, also the calls in flight on the removed proxies
//! (they leave the LB set at once but keep serving their dialogs, which
//! the agent sees as in-dialog traffic on their interfaces after the
//! removal); the new proxy carries calls within 5 s of `scale` returning;
//! no call created after the removal reaches a removed proxy (no initial
//! INVITE -- the one answered 407 -- arrives on its interface after
//! `scale 1` returned, i.e. after the LB reload); drained proxies
//! stop by themselves.

#![allow(clippy::doc_markdown, reason = "SIPp is a name, not code")]

use std::time::{Duration, Instant};

use testbed::status::{ProxyState, Status};
use testkit::{
    privileged,
    process::wait_child,
    testbed::{Cli, constant_scenario, now_unix, samples, summary, work_dir},
};

const RATE: u32 = 10;
const SECS: u64 = 30;
const HOLD_MS: &str = "3000";

/// `siplat-testbed` as the scaler and the demo run it.
fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_siplat-testbed"))
}

/// (name, iface, state) of every proxy.
fn ifaces_by_name(st: &Status) -> Vec<(String, String, ProxyState)> {
    st.proxies
        .iter()
        .map(|p| (p.name.clone(), p.iface.clone(), p.state))
        .collect()
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
#[expect(clippy::too_many_lines, reason = "one scenario, checked step by step")]
fn scale_out_and_in_during_traffic_loses_no_call() {
    if !privileged("scale_out_and_in_during_traffic_loses_no_call") {
        return;
    }
    let dir = work_dir("scaling");
    let tb = cli();
    let _up = tb.up(&["--proxies", "2", "--max-call-s", "8"]);
    let out = dir.join("run");
    let mut run = tb.start_run(
        &constant_scenario(&dir, f64::from(RATE), SECS),
        &out,
        &["--hold-ms", HOLD_MS, "--reg-users", "20"],
    );
    let t_start = Instant::now();

    std::thread::sleep(Duration::from_secs(8));
    let scale_out = tb.run(&["scale", "3"]);
    let scaled_out = now_unix();
    // The new proxy is given calls only once DMQ gave it the callee's
    // contacts (else its first calls get 404): the check must have read
    // real counts, not waited for nothing.
    let said = String::from_utf8_lossy(&scale_out.stderr);
    let synced = said.lines().find_map(|l| {
        let rest = l.strip_prefix("sip-proxy-3 holds ")?;
        let (have, rest) = rest.split_once(" of ")?;
        let want = rest.split_whitespace().next()?;
        Some((have.parse::<u64>().ok()?, want.parse::<u64>().ok()?))
    });
    assert!(
        synced.is_some_and(|(have, want)| want >= 1 && have >= want),
        "no completed DMQ sync for sip-proxy-3 in `scale 3`: {said}"
    );
    let st = tb.status();
    let before_in = ifaces_by_name(&st);
    assert_eq!(
        before_in
            .iter()
            .filter(|p| p.2 == ProxyState::Active)
            .count(),
        3,
        "{st:?}"
    );
    let new_iface = before_in
        .iter()
        .find(|p| p.0 == "sip-proxy-3")
        .expect("sip-proxy-3")
        .1
        .clone();

    std::thread::sleep(Duration::from_secs(10));
    let asked = Instant::now();
    tb.run(&["scale", "1"]);
    let removed = now_unix();
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "scale-in must not wait for the drain"
    );
    let st = tb.status();
    let after_in = ifaces_by_name(&st);
    let removed_ifaces: Vec<String> = after_in
        .iter()
        .filter(|p| p.2 == ProxyState::Draining)
        .map(|p| p.1.clone())
        .collect();
    assert_eq!(removed_ifaces.len(), 2, "two proxies draining: {st:?}");
    assert!(
        t_start.elapsed() < Duration::from_secs(SECS - 5),
        "the scale-in must happen during traffic"
    );

    let exit = wait_child(&mut run, Duration::from_secs(SECS + 90));
    assert!(
        exit.success(),
        "run failed; see {}",
        out.with_extension("log").display()
    );
    let sum = summary(&out);
    let calls = u64::from(RATE) * SECS;
    assert_eq!(sum["calls_failed"], 0, "no call may fail: {sum:#}");
    assert_eq!(sum["calls_successful"], calls, "{sum:#}");

    let samples = samples(&out);
    // New proxy: its first initial INVITE (407 challenge) soon after scale-out.
    let first_new = samples
        .iter()
        .filter(|s| s.iface == new_iface && s.kind == "response" && s.method == "INVITE")
        .map(|s| s.first_unix_s)
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "new proxy's first call {:.2} s after `scale 3` returned",
        first_new - scaled_out
    );
    assert!(
        first_new - scaled_out <= 5.0,
        "new proxy got its first call {:.2} s after scale-out",
        first_new - scaled_out
    );

    for iface in &removed_ifaces {
        let new_calls = samples
            .iter()
            .filter(|s| {
                &s.iface == iface
                    && s.kind == "response"
                    && s.method == "INVITE"
                    && s.status == 407
                    && s.first_unix_s > removed
            })
            .count();
        assert_eq!(
            new_calls, 0,
            "{new_calls} calls created after the removal reached removed proxy {iface}"
        );
    }
    let drained = samples
        .iter()
        .filter(|s| removed_ifaces.contains(&s.iface) && s.method == "BYE" && s.unix_s > removed)
        .count();
    eprintln!("{drained} BYE transactions served by the removed proxies after their removal");
    assert!(
        drained > 0,
        "no call was in flight on a removed proxy: the drain was not exercised"
    );

    // Drained proxies stop by themselves (max call 8 s + empty tm table).
    let start = Instant::now();
    loop {
        let left = ifaces_by_name(&tb.status()).len();
        if left == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "{left} proxies still there after the drain"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
