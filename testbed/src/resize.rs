//! `resize --cpu-limit L [--proxy NAME]`: in-place vertical scaling. The
//! running proxies' cgroup quota changes under the state lock (as `scale`
//! changes the set), Kamailio keeps running with the same processes, and
//! the new limit is recorded per proxy so `status` reports it. The base
//! limit new proxies start with stays what `up` set, as a pod resize
//! leaves its `StatefulSet`'s template alone.

use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use super::{
    cgroup,
    state::{Locked, State},
};

#[derive(clap::Args)]
pub struct ResizeOptions {
    /// New CPU limit, Kubernetes notation ("60m" = 0.06 CPU, "0.1").
    #[arg(long)]
    pub cpu_limit: String,
    /// Only this proxy (e.g. sip-proxy-2); every proxy when left out.
    #[arg(long)]
    pub proxy: Option<String>,
}

pub fn resize(o: &ResizeOptions) -> Result<()> {
    let millis = cliconf::parse_cpu_millis(&o.cpu_limit)?;
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    check_limit(millis, u32::try_from(cpus)?.saturating_mul(1000))?;
    let mut locked = Locked::open()?.context("the testbed is not up (siplat-testbed up)")?;
    let period = locked.state.cfs_period_us;
    cgroup::quota_us(millis, period)?;
    for name in targets(&locked.state, o.proxy.as_deref())? {
        let p = locked
            .state
            .proxies
            .iter_mut()
            .find(|p| p.name == name)
            .context("proxy in state")?;
        let started = Instant::now();
        cgroup::set_limit(&p.name, millis, period)?;
        eprintln!(
            "{}: cpu limit {}m -> {millis}m (quota {} us per {period} us) in {:.2} ms, pid {} kept",
            p.name,
            p.cpu_limit_millis,
            cgroup::quota_us(millis, period)?,
            started.elapsed().as_secs_f64() * 1000.0,
            p.pid
        );
        p.cpu_limit_millis = millis;
        // Saved per proxy: a failure on the next one leaves the state
        // saying what each cgroup really has.
        locked.save()?;
    }
    Ok(())
}

/// A resize sets a limit, it does not lift one (0 is "no limit" for `up`),
/// and more CPU than the machine has would be no limit either.
fn check_limit(millis: u32, ceiling: u32) -> Result<()> {
    if millis == 0 {
        bail!(
            "cpu limit 0 would lift the limit; resize needs at least 1m (`up --cpu-limit 0` starts proxies without one)"
        );
    }
    if millis > ceiling {
        bail!("cpu limit {millis}m is above the ceiling of {ceiling}m (every CPU of this machine)");
    }
    Ok(())
}

/// The proxies to resize: the one named, or all of them.
fn targets(state: &State, name: Option<&str>) -> Result<Vec<String>> {
    let names: Vec<String> = state.proxies.iter().map(|p| p.name.clone()).collect();
    match name {
        None if names.is_empty() => bail!("the testbed has no proxy to resize"),
        None => Ok(names),
        Some(n) if names.iter().any(|p| p == n) => Ok(vec![n.to_owned()]),
        Some(n) => bail!("no proxy named {n} (proxies: {})", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Proxy, ProxyState};

    fn state(names: &[&str]) -> State {
        State {
            proxies: names
                .iter()
                .enumerate()
                .map(|(i, n)| Proxy {
                    name: (*n).to_owned(),
                    index: u32::try_from(i).expect("index") + 1,
                    addr: format!("198.19.10.{}", i + 1),
                    iface: format!("tbv-p{}", i + 1),
                    state: ProxyState::Active,
                    pid: 1,
                    cpu_limit_millis: 30,
                    started_unix: 0.0,
                    ready_unix: 0.0,
                    drain_since_unix: None,
                    boot_until_unix: None,
                })
                .collect(),
            ..State::default()
        }
    }

    #[test]
    fn limits_outside_one_millicore_to_the_ceiling_are_refused() {
        let zero = check_limit(0, 2000).expect_err("0");
        assert!(zero.to_string().contains("lift the limit"), "{zero}");
        let high = check_limit(2001, 2000).expect_err("above");
        assert!(high.to_string().contains("ceiling of 2000m"), "{high}");
        check_limit(1, 2000).expect("1m");
        check_limit(2000, 2000).expect("every CPU");
    }

    #[test]
    fn no_name_is_every_proxy_and_an_unknown_name_is_an_error() {
        let s = state(&["sip-proxy-1", "sip-proxy-2"]);
        assert_eq!(
            targets(&s, None).expect("all"),
            vec!["sip-proxy-1", "sip-proxy-2"]
        );
        assert_eq!(
            targets(&s, Some("sip-proxy-2")).expect("one"),
            vec!["sip-proxy-2"]
        );
        let err = targets(&s, Some("sip-proxy-7")).expect_err("unknown");
        assert!(
            err.to_string()
                .contains("no proxy named sip-proxy-7 (proxies: sip-proxy-1, sip-proxy-2)"),
            "{err}"
        );
        assert!(targets(&state(&[]), None).is_err());
    }
}
