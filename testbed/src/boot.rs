//! Scale-out with a boot delay (`up --boot-delay 20s`). On Kubernetes a new
//! pod takes its Service's traffic only after the image pull, the start and
//! the readiness probe, tens of seconds; a local Kamailio is ready in about
//! one. With a delay, `scale` starts the new proxies at once, records them
//! as booting and returns, so the scaler's control loop goes on (it sees
//! fewer ready replicas than it asked for, as it would on a cluster). A
//! detached `siplat-testbed boot` process adds each one to the LB set once
//! its delay has passed, it answers /ready and holds the registrations.
//!
//! The state lock is taken only to decide and to promote, never across a
//! wait, so `scale`, `resize` and the reaper are not held up. One helper
//! runs at a time: it decides to exit under the lock, and `scale` decides
//! under the same lock whether a new one is needed, so a proxy added while
//! the helper is leaving is never left booting.

use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{
    STATE_DIR, kamailio, proc,
    scale::{dmq_notify_addr, start_next_proxy, stop_proxy, wait_synced},
    state::{self, Locked, ProxyState},
};

/// A booting proxy that still does not answer /ready this long after its
/// delay is stopped and forgotten (as a scale-out without a delay gives up).
const READY_TIMEOUT_S: f64 = 30.0;

/// How often the helper looks at the booting proxies.
const POLL: Duration = Duration::from_millis(100);

/// Start `add` proxies as booting and make sure a helper will promote them.
pub fn start(locked: &mut Locked, add: usize) -> Result<()> {
    let delay = locked.state.boot_delay_s;
    let notify = dmq_notify_addr(&locked.state);
    for _ in 0..add {
        let mut p = start_next_proxy(&locked.state, &notify)?;
        p.state = ProxyState::Booting;
        p.boot_until_unix = Some(p.started_unix + delay);
        eprintln!(
            "{} booting: takes calls in {delay:.1} s at the earliest",
            p.name
        );
        locked.state.proxies.push(p);
        locked.save()?;
    }
    locked.state.boot_helpers.retain(|pid| proc::alive(*pid));
    if locked.state.boot_helpers.is_empty() {
        let exe = std::env::current_exe().context("own path")?;
        let args = vec![exe.display().to_string(), "boot".into()];
        let log =
            std::path::PathBuf::from(STATE_DIR).join(format!("boot-{}.log", std::process::id()));
        let pid = proc::spawn(None, &[], &args, &log)?;
        locked.state.boot_helpers.push(pid);
    }
    locked.save()
}

/// What the helper does with a booting proxy now.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Its delay has not passed.
    Wait,
    /// Delay over: probe /ready and promote when it answers.
    Probe,
    /// Exited, or not ready long after its delay: stop it.
    GiveUp,
}

fn step(now: f64, boot_until: f64, alive: bool) -> Step {
    if !alive || now > boot_until + READY_TIMEOUT_S {
        Step::GiveUp
    } else if now >= boot_until {
        Step::Probe
    } else {
        Step::Wait
    }
}

/// The hidden `boot` command: promote booting proxies until none is left.
pub fn run() -> Result<()> {
    loop {
        let Some(s) = state::read()? else {
            return Ok(());
        };
        let reference = s.active().next().map(|p| p.name.clone());
        let now = proc::now_unix();
        for p in s.proxies.iter().filter(|p| p.state == ProxyState::Booting) {
            let until = p.boot_until_unix.unwrap_or(p.started_unix);
            match step(now, until, proc::alive(p.pid)) {
                Step::Wait => {}
                Step::GiveUp => give_up(&p.name)?,
                Step::Probe => {
                    if kamailio::is_ready(&p.addr) {
                        wait_synced(&p.name, reference.as_deref());
                        promote(&p.name, now - p.started_unix)?;
                    }
                }
            }
        }
        if done()? {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// Under the lock: no proxy is booting any more, so this helper leaves the
/// list (and a later `scale` starts a new one).
fn done() -> Result<bool> {
    let Some(mut locked) = Locked::open()? else {
        return Ok(true);
    };
    if locked
        .state
        .proxies
        .iter()
        .any(|p| p.state == ProxyState::Booting)
    {
        return Ok(false);
    }
    let me = std::process::id();
    locked.state.boot_helpers.retain(|pid| *pid != me);
    locked.save()?;
    Ok(true)
}

/// Add a booting proxy to the LB set, unless a scale-in stopped it while
/// it was being probed.
fn promote(name: &str, booted_s: f64) -> Result<()> {
    let Some(mut locked) = Locked::open()? else {
        return Ok(());
    };
    let Some(p) = locked
        .state
        .proxies
        .iter_mut()
        .find(|p| p.name == name && p.state == ProxyState::Booting)
    else {
        return Ok(());
    };
    p.state = ProxyState::Active;
    p.ready_unix = proc::now_unix();
    let addrs: Vec<String> = locked.state.active().map(|p| p.addr.clone()).collect();
    // Saved only once the LB has it: a failed reload leaves it booting and
    // the next round tries again.
    kamailio::set_destinations(&addrs)?;
    locked.save()?;
    eprintln!("{name} in the LB set {booted_s:.1} s after it started");
    Ok(())
}

fn give_up(name: &str) -> Result<()> {
    let Some(mut locked) = Locked::open()? else {
        return Ok(());
    };
    let Some(p) = locked
        .state
        .proxies
        .iter()
        .find(|p| p.name == name && p.state == ProxyState::Booting)
        .cloned()
    else {
        return Ok(());
    };
    eprintln!(
        "error: {name} exited or was not ready {READY_TIMEOUT_S} s after its boot delay; stopped, see {}",
        kamailio::run_dir(name).join("kamailio.log").display()
    );
    stop_proxy(&p);
    locked.state.proxies.retain(|q| q.name != name);
    locked.save()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_is_probed_only_after_its_delay_and_given_up_long_after() {
        assert_eq!(step(100.0, 120.0, true), Step::Wait);
        assert_eq!(step(119.99, 120.0, true), Step::Wait);
        assert_eq!(step(120.0, 120.0, true), Step::Probe);
        assert_eq!(step(150.0, 120.0, true), Step::Probe);
        assert_eq!(step(150.1, 120.0, true), Step::GiveUp);
        assert_eq!(step(100.0, 120.0, false), Step::GiveUp, "it exited");
    }
}
