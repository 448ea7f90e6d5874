//! A boot delay on the real testbed (`up --boot-delay 4s`): during traffic,
//! `scale 2` returns at once; the new proxy is reported booting (the scaler
//! then sees fewer ready replicas than it asked for, as on Kubernetes), it
//! gets no call before the delay has passed (no initial INVITE -- the one
//! answered 407 -- on its interface), then it is active and carries calls
//! within a few seconds, and no call fails.

#![allow(clippy::doc_markdown, reason = "SIPp is a name, not code")]

use std::time::{Duration, Instant};

use testbed::status::ProxyState;
use testkit::{
    privileged,
    process::wait_child,
    testbed::{Cli, constant_scenario, now_unix, samples, summary, work_dir},
};

const RATE: u32 = 10;
const SECS: u64 = 20;
const DELAY_S: f64 = 4.0;

/// `siplat-testbed` as the scaler and the demo run it.
fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_siplat-testbed"))
}

fn state_of(tb: &Cli, proxy: &str) -> Option<ProxyState> {
    tb.status()
        .proxies
        .iter()
        .find(|p| p.name == proxy)
        .map(|p| p.state)
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn a_booting_proxy_takes_calls_only_after_its_delay() {
    if !privileged("a_booting_proxy_takes_calls_only_after_its_delay") {
        return;
    }
    let dir = work_dir("boot-delay");
    let tb = cli();
    let _up = tb.up(&["--proxies", "1", "--boot-delay", "4s", "--max-call-s", "6"]);
    let out = dir.join("run");
    let mut run = tb.start_run(
        &constant_scenario(&dir, f64::from(RATE), SECS),
        &out,
        &["--hold-ms", "1000", "--reg-users", "10"],
    );
    std::thread::sleep(Duration::from_secs(4));

    let asked_unix = now_unix();
    let asked = Instant::now();
    tb.run(&["scale", "2"]);
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "scale must not wait out the boot delay: took {took:?}"
    );
    let st = tb.status();
    assert_eq!(st.active().count(), 1, "{st:?}");
    assert_eq!(
        st.booting().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        vec!["sip-proxy-2"],
        "{st:?}"
    );
    let new_iface = st
        .booting()
        .next()
        .expect("the booting proxy")
        .iface
        .clone();
    // Asking again for the same count starts nothing more.
    tb.run(&["scale", "2"]);
    assert_eq!(tb.status().proxies.len(), 2);

    let active_unix = loop {
        match state_of(&tb, "sip-proxy-2") {
            Some(ProxyState::Active) => break now_unix(),
            Some(ProxyState::Booting) => {}
            other => panic!("sip-proxy-2 is {other:?}"),
        }
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "sip-proxy-2 still booting after 15 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "sip-proxy-2 active {:.2} s after `scale 2` (delay {DELAY_S} s)",
        active_unix - asked_unix
    );
    assert!(
        active_unix - asked_unix >= DELAY_S,
        "active after {:.2} s, before its {DELAY_S} s delay",
        active_unix - asked_unix
    );

    let exit = wait_child(&mut run, Duration::from_secs(SECS + 60));
    assert!(
        exit.success(),
        "run failed; see {}",
        out.with_extension("log").display()
    );
    let sum = summary(&out);
    assert_eq!(sum["calls_failed"], 0, "no call may fail: {sum:#}");
    assert_eq!(sum["calls_successful"], u64::from(RATE) * SECS, "{sum:#}");

    let first_new = samples(&out)
        .iter()
        .filter(|s| {
            s.iface == new_iface && s.kind == "response" && s.method == "INVITE" && s.status == 407
        })
        .map(|s| s.first_unix_s)
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "sip-proxy-2's first call {:.2} s after `scale 2`",
        first_new - asked_unix
    );
    assert!(
        first_new >= asked_unix + DELAY_S,
        "sip-proxy-2 got a call {:.2} s after `scale 2`, within its {DELAY_S} s delay",
        first_new - asked_unix
    );
    assert!(
        first_new <= active_unix + 3.0,
        "sip-proxy-2 got its first call {:.2} s after it was reported active",
        first_new - active_unix
    );
}
