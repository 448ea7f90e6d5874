//! `siplat-testbed down` after `kill -9` of
//! every process (agent, Kamailio, SIPp, the driver) leaves no namespace,
//! cgroup, qdisc, veth or process behind, and is idempotent. The agent runs
//! in netlink mode here so it has a clsact qdisc to leave behind when killed.

#![allow(clippy::doc_markdown, reason = "qdisc, clsact are kernel names")]

use std::{process::Command, time::Duration};

use testkit::{
    privileged,
    testbed::{Cli, constant_scenario, work_dir},
};

/// `siplat-testbed` as the scaler and the demo run it.
fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_siplat-testbed"))
}

fn netns_list() -> Vec<String> {
    netns::list()
        .into_iter()
        .filter(|n| n.starts_with("tb-"))
        .collect()
}

fn ns_pids(ns: &str) -> Vec<i32> {
    netns::pids(ns)
        .into_iter()
        .map(|p| i32::try_from(p).expect("pid"))
        .collect()
}

/// Processes of this testbed: their command line names its state dir (Kamailio
/// `-Y`) or its 198.19/16 addresses (agent, SIPp). Other people's Kamailio
/// using the same configs elsewhere must not count.
fn testbed_processes() -> Vec<String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| {
            std::fs::read(e.path().join("cmdline"))
                .ok()
                .map(|c| (e.file_name(), c))
        })
        .map(|(pid, c)| {
            (
                pid.to_string_lossy().into_owned(),
                String::from_utf8_lossy(&c).replace('\0', " "),
            )
        })
        .filter(|(_, c)| c.contains("/run/siplat-testbed") || c.contains("198.19."))
        .map(|(pid, c)| format!("{pid}: {c}"))
        .collect()
}

fn cgroups() -> Vec<String> {
    ["cpu", "cpuacct"]
        .iter()
        .map(|c| format!("/sys/fs/cgroup/{c}/siplat-testbed"))
        .filter(|p| std::path::Path::new(p).exists())
        .collect()
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
#[expect(clippy::too_many_lines, reason = "one scenario, checked step by step")]
fn down_after_kill_9_leaves_nothing() {
    if !privileged("down_after_kill_9_leaves_nothing") {
        return;
    }
    let dir = work_dir("down");
    let tb = cli();
    tb.run(&["down"]);
    let up = tb
        .command()
        .args(["up", "--proxies", "2"])
        .env("SIPLAT_TC_MODE", "netlink")
        .output()
        .expect("spawn up");
    assert!(
        up.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let qdiscs = String::from_utf8_lossy(
        &Command::new("tc")
            .args(["-n", "tb-net", "qdisc", "show"])
            .output()
            .expect("tc")
            .stdout,
    )
    .into_owned();
    assert!(
        qdiscs.contains("clsact"),
        "the agent in netlink mode should have added clsact qdiscs:\n{qdiscs}"
    );

    // Traffic running, a scale-in draining in the background: everything alive.
    let out = dir.join("run");
    let mut run = tb.start_run(
        &constant_scenario(&dir, 10.0, 60),
        &out,
        &["--hold-ms", "5000"],
    );
    std::thread::sleep(Duration::from_secs(4));
    tb.run(&["scale", "1"]);
    std::thread::sleep(Duration::from_secs(1));

    let mut victims: Vec<i32> = netns_list().iter().flat_map(|ns| ns_pids(ns)).collect();
    assert!(
        victims.len() >= 6,
        "expected agent, LB, 2 proxies (with children) and SIPp running: {victims:?}"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("/run/siplat-testbed/state.json").expect("state file"),
    )
    .expect("state JSON");
    victims.extend(
        state["reapers"]
            .as_array()
            .expect("reapers")
            .iter()
            .filter_map(serde_json::Value::as_i64)
            .map(|p| i32::try_from(p).expect("pid")),
    );
    victims.push(i32::try_from(run.id()).expect("pid"));
    for pid in &victims {
        // SAFETY: kill(2) on processes of the testbed this test started.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    let _ = run.wait();
    std::thread::sleep(Duration::from_millis(300));
    let alive = |pid: &i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    };
    assert!(
        !netns_list().is_empty(),
        "namespaces should still be there before down"
    );

    tb.run(&["down"]);
    assert_eq!(netns_list(), Vec::<String>::new(), "namespaces left");
    assert_eq!(cgroups(), Vec::<String>::new(), "cgroups left");
    assert_eq!(testbed_processes(), Vec::<String>::new(), "processes left");
    let survivors: Vec<&i32> = victims.iter().filter(|p| alive(p)).collect();
    assert!(
        survivors.is_empty(),
        "killed processes still alive: {survivors:?}"
    );
    let links = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .expect("ip link")
            .stdout,
    )
    .into_owned();
    assert!(!links.contains("tb-root"), "root veth left:\n{links}");
    let root_qdiscs = String::from_utf8_lossy(
        &Command::new("tc")
            .args(["qdisc", "show"])
            .output()
            .expect("tc")
            .stdout,
    )
    .into_owned();
    assert!(
        !root_qdiscs.contains("tb-") && !root_qdiscs.contains("tbv-"),
        "qdisc left:\n{root_qdiscs}"
    );

    // Idempotent, and the testbed now reports itself down.
    tb.run(&["down"]);
    let st = tb
        .command()
        .args(["status", "--json"])
        .output()
        .expect("status");
    assert!(
        !st.status.success(),
        "status must fail when the testbed is down"
    );
}
