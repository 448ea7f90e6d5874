//! `scale N`, `status` and the background reaper. Scale-out returns once
//! the new proxies answer /ready, hold the registrations (DMQ sync) and are
//! in the LB set; with a boot delay (`up --boot-delay`) it returns at once
//! and a detached helper adds them later (`boot.rs`). Scale-in takes
//! proxies out of the LB set at once and leaves them running: a detached
//! `siplat-testbed reap` process stops each one after the longest call has
//! had time to end and its transaction table is empty, so calls in flight
//! (whose ACK/BYE are loose-routed to it) finish. Booting proxies count as
//! asked for (N is active + booting, a Deployment's replicas) and are the
//! first to go on a scale-in: they never had a call, so they stop at once.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::{
    STATE_DIR, agent, boot, cgroup, kamailio, netns, proc,
    state::{self, Locked, Proxy, ProxyState, State},
    status::{ProxyStatus, Status},
};

/// A draining proxy is stopped at the latest this long after the longest
/// call: two SIP Timer B periods for transactions stuck in retransmission.
const DRAIN_EXTRA_S: f64 = 64.0;

pub fn scale(n: u32) -> Result<()> {
    anyhow::ensure!(n >= 1, "at least one proxy must stay active");
    let mut locked = Locked::open()?.context("the testbed is not up (siplat-testbed up)")?;
    let wanted = locked.state.wanted().count();
    let want = usize::try_from(n)?;
    if want > wanted && locked.state.boot_delay_s > 0.0 {
        boot::start(&mut locked, want - wanted)?;
    } else if want > wanted {
        scale_out(&mut locked, want - wanted)?;
    } else if want < wanted {
        scale_in(&mut locked, wanted - want)?;
    }
    let booting = locked
        .state
        .proxies
        .iter()
        .filter(|p| p.state == ProxyState::Booting)
        .count();
    eprintln!(
        "{} proxies active, {booting} booting",
        locked.state.active().count()
    );
    Ok(())
}

/// The DMQ peer a new proxy announces itself to: an active proxy, else the
/// first proxy's address.
pub(super) fn dmq_notify_addr(s: &State) -> String {
    s.active()
        .map(|p| p.addr.clone())
        .next()
        .unwrap_or_else(|| netns::proxy(1).addr)
}

/// Start one more proxy at the lowest free index, with the testbed's limit.
pub(super) fn start_next_proxy(s: &State, notify: &str) -> Result<Proxy> {
    let index = (1..=u32::MAX)
        .find(|i| !s.proxies.iter().any(|p| p.index == *i))
        .context("index")?;
    kamailio::start_proxy(index, notify, s.cpu_limit_millis, s.cfs_period_us, s.shm_mb)
}

fn scale_out(locked: &mut Locked, add: usize) -> Result<()> {
    let notify = dmq_notify_addr(&locked.state);
    let reference = locked.state.active().next().map(|p| p.name.clone());
    let mut new = Vec::new();
    for _ in 0..add {
        let p = start_next_proxy(&locked.state, &notify)?;
        locked.state.proxies.push(p.clone());
        locked.save()?;
        new.push(p);
    }
    for i in 0..new.len() {
        let p = &new[i];
        if let Err(e) = kamailio::wait_ready(&p.name, &p.addr, p.pid, Duration::from_secs(30)) {
            // Never leave a proxy that is not in the LB set marked active.
            for q in &new {
                stop_proxy(q);
            }
            locked
                .state
                .proxies
                .retain(|q| !new.iter().any(|n| n.name == q.name));
            locked.save()?;
            return Err(e);
        }
        wait_synced(&p.name, reference.as_deref());
        new[i].ready_unix = proc::now_unix();
    }
    for p in new {
        let slot = locked
            .state
            .proxies
            .iter_mut()
            .find(|q| q.name == p.name)
            .context("new proxy in state")?;
        *slot = p;
    }
    let addrs: Vec<String> = locked.state.active().map(|p| p.addr.clone()).collect();
    kamailio::set_destinations(&addrs)?;
    locked.save()
}

/// DMQ `usrloc` sync: the new proxy should hold as many contacts as a
/// running one before it gets calls (a call to an unknown `AoR` gets 404).
/// Bounded: a registration racing the check must not block scaling, hence
/// the bound and the warning. (Until the proxies loaded `kex`, this check
/// read nothing and never waited: the rare 404s of the demo's scale-outs.)
pub fn wait_synced(name: &str, reference: Option<&str>) {
    let Some(reference) = reference else { return };
    // A throttled reference proxy may not answer its control socket at
    // once; taking "no answer" for "no contacts" would skip the wait.
    let want = (0..20)
        .find_map(|attempt| {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            kamailio::registered(reference)
        })
        .unwrap_or_else(|| {
            eprintln!(
                "warning: {reference} did not report its contacts; {name} is added without waiting for DMQ sync"
            );
            0
        });
    let start = Instant::now();
    let mut have = kamailio::registered(name).unwrap_or(0);
    while have < want && start.elapsed() < SYNC_TIMEOUT {
        std::thread::sleep(Duration::from_millis(100));
        have = kamailio::registered(name).unwrap_or(0);
    }
    if have < want {
        eprintln!(
            "warning: {name} holds {have} of {want} contacts after {SYNC_TIMEOUT:?}; adding it anyway"
        );
    } else {
        eprintln!(
            "{name} holds {have} of {want} contacts after {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
}

const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

/// Which proxies a scale-in by `remove` takes: booting ones first (to
/// stop at once), then active ones to drain, newest first in both.
fn scale_in_plan(state: &State, remove: usize) -> (Vec<String>, Vec<String>) {
    let newest_first = |st: ProxyState| {
        let mut v: Vec<&Proxy> = state.proxies.iter().filter(|p| p.state == st).collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.index));
        v.into_iter().map(|p| p.name.clone()).collect::<Vec<_>>()
    };
    let cancel: Vec<String> = newest_first(ProxyState::Booting)
        .into_iter()
        .take(remove)
        .collect();
    let drain = newest_first(ProxyState::Active)
        .into_iter()
        .take(remove - cancel.len())
        .collect();
    (cancel, drain)
}

fn scale_in(locked: &mut Locked, remove: usize) -> Result<()> {
    let (cancel, drain) = scale_in_plan(&locked.state, remove);
    for p in locked
        .state
        .proxies
        .iter()
        .filter(|p| cancel.contains(&p.name))
    {
        stop_proxy(p);
        eprintln!("stopped booting {}", p.name);
    }
    locked.state.proxies.retain(|p| !cancel.contains(&p.name));
    if drain.is_empty() {
        return locked.save();
    }
    let now = proc::now_unix();
    for p in locked
        .state
        .proxies
        .iter_mut()
        .filter(|p| drain.contains(&p.name))
    {
        p.state = ProxyState::Draining;
        p.drain_since_unix = Some(now);
    }
    let addrs: Vec<String> = locked.state.active().map(|p| p.addr.clone()).collect();
    kamailio::set_destinations(&addrs)?;
    let exe = std::env::current_exe().context("own path")?;
    let args = vec![exe.display().to_string(), "reap".into()];
    let pid = proc::spawn(
        None,
        &[],
        &args,
        &std::path::PathBuf::from(STATE_DIR).join(format!("reaper-{}.log", std::process::id())),
    )?;
    locked.state.reapers.retain(|r| proc::alive(*r));
    locked.state.reapers.push(pid);
    locked.save()
}

/// Stop draining proxies whose calls are over; returns how many still drain.
fn reap_once() -> Result<usize> {
    let Some(mut locked) = Locked::open()? else {
        return Ok(0);
    };
    let now = proc::now_unix();
    let max_call = locked.state.max_call_s as f64;
    let mut done = Vec::new();
    for p in locked
        .state
        .proxies
        .iter()
        .filter(|p| p.state == ProxyState::Draining)
    {
        let since = now - p.drain_since_unix.unwrap_or(now);
        let idle = kamailio::tm_current(&p.name).is_none_or(|n| n == 0);
        if !proc::alive(p.pid) || (since >= max_call && idle) || since >= max_call + DRAIN_EXTRA_S {
            done.push(p.clone());
        }
    }
    for p in &done {
        stop_proxy(p);
        eprintln!("stopped drained {}", p.name);
    }
    locked
        .state
        .proxies
        .retain(|p| !done.iter().any(|d| d.name == p.name));
    let left = locked
        .state
        .proxies
        .iter()
        .filter(|p| p.state == ProxyState::Draining)
        .count();
    locked.save()?;
    Ok(left)
}

pub fn stop_proxy(p: &Proxy) {
    proc::stop(p.pid, Duration::from_secs(3));
    cgroup::remove(&p.name);
    netns::delete(&netns::proxy(p.index).ns);
    let _ = std::fs::remove_dir_all(kamailio::run_dir(&p.name));
}

pub fn reap() -> Result<()> {
    while reap_once()? > 0 {
        std::thread::sleep(Duration::from_millis(500));
    }
    if let Some(mut locked) = Locked::open()? {
        let me = std::process::id();
        locked.state.reapers.retain(|r| *r != me);
        locked.save()?;
    }
    Ok(())
}

pub fn status(as_json: bool) -> Result<()> {
    let Some(s) = state::read()? else {
        bail!("the testbed is not up")
    };
    if s.lb_pid == 0 || !proc::alive(s.lb_pid) || !proc::alive(s.agent_pid) {
        bail!(
            "the testbed is not (fully) up: load balancer or agent not running; run `siplat-testbed down`"
        );
    }
    let doc = Status {
        agent_url: agent::url(),
        lb: format!("{}:5060", netns::loadb().addr),
        proxies: s
            .proxies
            .iter()
            .map(|p| ProxyStatus {
                name: p.name.clone(),
                addr: p.addr.clone(),
                iface: p.iface.clone(),
                state: p.state,
                cpu_usage_seconds: cgroup::usage_seconds(&p.name),
                cpu_limit_millis: p.cpu_limit_millis,
            })
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    if as_json {
        let text = serde_json::to_string(&doc)?;
        std::io::Write::write_all(&mut out, format!("{text}\n").as_bytes())?;
    } else {
        let mut text = format!("agent {}  LB {}:5060\n", agent::url(), netns::loadb().addr);
        for p in &s.proxies {
            let _ = writeln!(
                text,
                "{:<14} {:<14} {:<8} {:<9} cpu {:.2} s (limit {}m)",
                p.name,
                p.addr,
                p.iface,
                format!("{:?}", p.state).to_lowercase(),
                cgroup::usage_seconds(&p.name),
                p.cpu_limit_millis
            );
        }
        std::io::Write::write_all(&mut out, text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(index: u32, state: ProxyState) -> Proxy {
        Proxy {
            name: format!("sip-proxy-{index}"),
            index,
            addr: format!("198.19.10.{index}"),
            iface: format!("tbv-p{index}"),
            state,
            pid: 1,
            cpu_limit_millis: 30,
            started_unix: 0.0,
            ready_unix: 0.0,
            drain_since_unix: None,
            boot_until_unix: None,
        }
    }

    #[test]
    fn scale_in_stops_booting_proxies_before_draining_active_ones() {
        let s = State {
            proxies: vec![
                proxy(1, ProxyState::Active),
                proxy(2, ProxyState::Active),
                proxy(3, ProxyState::Draining),
                proxy(4, ProxyState::Booting),
                proxy(5, ProxyState::Booting),
            ],
            ..State::default()
        };
        assert_eq!(s.wanted().count(), 4, "active and booting are asked for");
        let names = |v: &[&str]| v.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            scale_in_plan(&s, 1),
            (names(&["sip-proxy-5"]), vec![]),
            "the newest booting one first"
        );
        assert_eq!(
            scale_in_plan(&s, 3),
            (
                names(&["sip-proxy-5", "sip-proxy-4"]),
                names(&["sip-proxy-2"])
            ),
            "then the newest active one drains; a draining one is not counted"
        );
    }
}
