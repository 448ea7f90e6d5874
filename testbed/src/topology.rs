//! `up` and `down`: building the namespaces and boxes, and removing
//! everything again -- by the state file and, for what a crash left behind,
//! by name (tb-* namespaces, the siplat-testbed cgroups, the root veth).

use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{
    STATE_DIR, UpOptions, agent, cgroup, kamailio, netns, proc,
    state::{self, Locked, State},
};

pub fn up(o: &UpOptions) -> Result<()> {
    anyhow::ensure!(o.proxies >= 1, "--proxies must be at least 1");
    let millis = cliconf::parse_cpu_millis(&o.cpu_limit)?;
    // One testbed per machine: refuse to wipe one that is running (someone's
    // experiment); leftovers of a crashed one are swept away.
    if let Some(s) = state::read()?
        && proc::alive(s.agent_pid)
        && proc::alive(s.lb_pid)
    {
        anyhow::bail!(
            "a testbed is already up (agent pid {}); run `siplat-testbed down` first",
            s.agent_pid
        );
    }
    down()?;
    let bin = agent::binary(o.agent.as_ref())?;
    let result = build(o, millis, &bin);
    // SIPLAT_TESTBED_KEEP=1 leaves a failed testbed in place for debugging.
    if result.is_err() && std::env::var_os("SIPLAT_TESTBED_KEEP").is_none() {
        let _ = down();
    }
    result
}

fn build(o: &UpOptions, millis: u32, agent_bin: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(STATE_DIR)?;
    let mut locked = Locked::create(State {
        cpu_limit_millis: millis,
        cfs_period_us: o.cfs_period,
        shm_mb: o.shm_mb,
        max_call_s: o.max_call_s,
        boot_delay_s: o.boot_delay.as_secs_f64(),
        ..State::default()
    })?;
    netns::create_bridge()?;
    for b in [netns::callers(), netns::callees()] {
        netns::create_box(&b)?;
    }
    kamailio::init_db()?;
    locked.state.agent_pid = agent::start(agent_bin).context("start agent")?;
    locked.save()?;
    let first = netns::proxy(1).addr;
    for index in 1..=o.proxies {
        let mut p = kamailio::start_proxy(index, &first, millis, o.cfs_period, o.shm_mb)?;
        locked.state.proxies.push(p.clone());
        locked.save()?;
        kamailio::wait_ready(&p.name, &p.addr, p.pid, Duration::from_secs(30))?;
        p.ready_unix = proc::now_unix();
        *locked.state.proxies.last_mut().context("just pushed")? = p;
    }
    let addrs: Vec<String> = locked
        .state
        .proxies
        .iter()
        .map(|p| p.addr.clone())
        .collect();
    kamailio::write_ds_list(&addrs)?;
    locked.state.lb_pid = kamailio::start_lb(o.shm_mb)?;
    locked.save()?;
    kamailio::wait_ready(
        "sip-loadb",
        &netns::loadb().addr,
        locked.state.lb_pid,
        Duration::from_secs(30),
    )?;
    kamailio::set_destinations(&addrs)?;
    agent::wait_attached(addrs.len() + 1, Duration::from_secs(20))?;
    locked.save()?;
    eprintln!(
        "testbed up: LB {}:5060, {} proxies at {}m CPU (period {} us), boot delay {:.1} s, agent {}",
        netns::loadb().addr,
        o.proxies,
        millis,
        o.cfs_period,
        o.boot_delay.as_secs_f64(),
        agent::url()
    );
    Ok(())
}

/// Idempotent: safe when nothing is up, and after `kill -9` of everything.
#[expect(
    clippy::unnecessary_wraps,
    reason = "same shape as the other commands; cleanup is best effort"
)]
pub fn down() -> Result<()> {
    if let Ok(Some(mut locked)) = Locked::open() {
        let s = &locked.state;
        for pid in s
            .reapers
            .iter()
            .chain(&s.boot_helpers)
            .copied()
            .chain([s.agent_pid, s.lb_pid])
            .chain(s.proxies.iter().map(|p| p.pid))
        {
            proc::stop(pid, Duration::from_secs(3));
        }
        locked.state = State::default();
        let _ = locked.save();
    }
    for name in cgroup::all() {
        cgroup::remove(&name);
    }
    // The bridge namespace last: the boxes' veths end there.
    let mut names = netns::all();
    names.sort_by_key(|n| n == netns::BRIDGE_NS);
    for ns in names {
        netns::delete(&ns);
    }
    netns::delete_root_veth();
    cgroup::remove_parent();
    let _ = std::fs::remove_file(state::path());
    keep_logs();
    let _ = std::fs::remove_dir_all(STATE_DIR);
    Ok(())
}

/// Where `down` keeps the previous testbed's logs (the state dir goes).
pub const LAST_LOGS: &str = "/tmp/siplat-testbed-last-logs";

fn keep_logs() {
    let Ok(entries) = std::fs::read_dir(STATE_DIR) else {
        return;
    };
    let _ = std::fs::remove_dir_all(LAST_LOGS);
    let _ = std::fs::create_dir_all(LAST_LOGS);
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("log"))
        {
            let _ = std::fs::copy(&path, std::path::Path::new(LAST_LOGS).join(&name));
        } else if path.join("kamailio.log").exists() {
            let _ = std::fs::copy(
                path.join("kamailio.log"),
                std::path::Path::new(LAST_LOGS).join(format!("{name}.log")),
            );
        }
    }
}
