//! The testbed end to end: LB + 2 proxies + SIPp, 20 s of
//! constant traffic. Every call completes (SIPp counts a call successful
//! only after 200 to the authenticated INVITE and 200 to BYE; the agent's
//! samples show the same 200s relayed), both proxies carried calls (the
//! Call-ID hash spreads them), and the agent exported series and samples
//! for both proxies' interfaces.

#![allow(clippy::doc_markdown, reason = "SIPp is a name, not code")]

use std::time::Duration;

use testkit::{
    http, privileged,
    process::wait_child,
    testbed::{Cli, constant_scenario, samples, summary, work_dir},
};

/// `siplat-testbed` as the scaler and the demo run it.
fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_siplat-testbed"))
}

const RATE: u32 = 10;
const SECS: u64 = 20;

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn two_proxies_carry_every_call() {
    if !privileged("two_proxies_carry_every_call") {
        return;
    }
    let dir = work_dir("two-proxies");
    let tb = cli();
    let _up = tb.up(&["--proxies", "2"]);
    let st = tb.status();
    let ifaces: Vec<String> = st.proxies.iter().map(|p| p.iface.clone()).collect();
    assert_eq!(ifaces.len(), 2, "{st:?}");
    let out = dir.join("run");
    let mut run = tb.start_run(
        &constant_scenario(&dir, f64::from(RATE), SECS),
        &out,
        &["--hold-ms", "1000", "--reg-users", "20"],
    );
    let exit = wait_child(&mut run, Duration::from_secs(SECS + 90));
    assert!(
        exit.success(),
        "run failed; see {}",
        out.with_extension("log").display()
    );

    let sum = summary(&out);
    let calls = u64::from(RATE) * SECS;
    assert_eq!(sum["calls_offered"], calls, "{sum:#}");
    assert_eq!(
        sum["calls_successful"], calls,
        "every call completes: {sum:#}"
    );
    assert_eq!(sum["calls_failed"], 0, "{sum:#}");

    let samples = samples(&out);
    let count = |iface: &str, method: &str| {
        samples
            .iter()
            .filter(|s| {
                s.iface == iface
                    && s.kind == "relay_response"
                    && s.method == method
                    && s.status == 200
            })
            .count()
    };
    let invite_200: Vec<usize> = ifaces.iter().map(|i| count(i, "INVITE")).collect();
    let bye_200: Vec<usize> = ifaces.iter().map(|i| count(i, "BYE")).collect();
    eprintln!("200 OK to INVITE relayed per proxy {invite_200:?}, to BYE {bye_200:?}");
    assert_eq!(
        invite_200.iter().sum::<usize>(),
        usize::try_from(calls).expect("calls"),
        "200 to INVITE through the proxies"
    );
    assert_eq!(
        bye_200.iter().sum::<usize>(),
        usize::try_from(calls).expect("calls"),
        "200 to BYE through the proxies"
    );
    for (iface, n) in ifaces.iter().zip(&invite_200) {
        assert!(
            *n > 0,
            "proxy {iface} carried no call: hashing sent everything elsewhere"
        );
    }

    let metrics = http::get(&st.agent_url, "/metrics");
    for iface in &ifaces {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("siplat_sip_latency_seconds_count")
                    && l.contains(&format!("iface=\"{iface}\""))),
            "agent exports no latency series for {iface}"
        );
    }
}
