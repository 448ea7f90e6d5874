//! `siplat-testbed regcost`: what a REGISTER costs a proxy against a call,
//! measured on the real proxies (the simulator assumes a REGISTER at 0.6
//! of a call's CPU and its DMQ replication at 0.2 on every other proxy).
//! Per proxy count (1, then `--proxies`) a fresh testbed without CPU limit
//! (the cost is wanted, not the throttling) runs three phases of equal
//! length and reads every proxy's cgroup `cpuacct.usage` around each:
//! nothing (the idle floor: timers, DMQ keep-alives), a constant REGISTER
//! load (401 challenge, authenticated REGISTER, usrloc save, DMQ
//! replication to the others), and a constant call load (the demo's
//! call, held 1 s). Cost per message = (phase CPU - idle floor) / completed.
//! With one proxy nothing is replicated, so the replication share is the
//! difference per REGISTER between the two runs over the peers it reached.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::{UpOptions, cgroup, proc, sipp, state, topology};

#[derive(clap::Args)]
pub struct RegCostOptions {
    /// REGISTERs per second in the REGISTER phase (each one a 401 challenge
    /// and an authenticated REGISTER).
    #[arg(long, default_value_t = 50.0)]
    pub register_rate: f64,
    /// Calls per second in the call phase.
    #[arg(long, default_value_t = 25.0)]
    pub call_rate: f64,
    /// Seconds per phase.
    #[arg(long, default_value_t = 20)]
    pub secs: u64,
    /// Proxies of the second run (the first has one: no replication).
    #[arg(long, default_value_t = 2)]
    pub proxies: u32,
    /// Result folder (default results/regcost-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One run's readings (every figure summed over the proxies).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Reading {
    pub proxies: u32,
    pub idle_cpu_per_s: f64,
    pub registers: u64,
    pub register_cpu_s: f64,
    pub calls: u64,
    pub call_cpu_s: f64,
}

impl Reading {
    /// CPU seconds per REGISTER over every proxy, the idle floor removed.
    pub fn per_register(&self) -> f64 {
        self.register_cpu_s / self.registers.max(1) as f64
    }

    pub fn per_call(&self) -> f64 {
        self.call_cpu_s / self.calls.max(1) as f64
    }
}

/// The figures the simulator's calibration takes: a REGISTER on the proxy
/// it reaches and its replication on each other proxy, both over a call.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Costs {
    pub call_cpu_s: f64,
    pub register_cpu_s: f64,
    pub replication_cpu_s: f64,
    pub register_per_call: f64,
    pub replication_per_call: f64,
}

/// `single` has one proxy, `many` has `many.proxies`: each REGISTER there
/// also reached `many.proxies - 1` peers by DMQ.
pub fn costs(single: &Reading, many: &Reading) -> Costs {
    let call = single.per_call();
    let register = single.per_register();
    let peers = f64::from(many.proxies.saturating_sub(1).max(1));
    let replication = (many.per_register() - register) / peers;
    Costs {
        call_cpu_s: call,
        register_cpu_s: register,
        replication_cpu_s: replication,
        register_per_call: register / call,
        replication_per_call: replication / call,
    }
}

pub fn run(o: &RegCostOptions) -> Result<()> {
    let out = o.out.clone().unwrap_or_else(|| {
        proc::workspace_root().join(format!("results/regcost-{}", proc::unix_secs()))
    });
    std::fs::create_dir_all(&out)?;
    let mut readings = Vec::new();
    for n in [1, o.proxies.max(2)] {
        let dir = out.join(format!("proxies-{n}"));
        std::fs::create_dir_all(&dir)?;
        topology::up(&UpOptions {
            proxies: n,
            cpu_limit: "0".into(),
            cfs_period: 100_000,
            shm_mb: 256,
            max_call_s: 10,
            boot_delay: Duration::ZERO,
            agent: None,
        })?;
        let reading = measure(o, n, &dir);
        topology::down()?;
        readings.push(reading?);
    }
    let c = costs(&readings[0], &readings[1]);
    let text = report(o, &readings, &c);
    std::fs::write(out.join("regcost.md"), &text)?;
    std::fs::write(
        out.join("regcost.json"),
        serde_json::to_string_pretty(&serde_json::json!({ "readings": readings, "costs": c }))?,
    )?;
    eprintln!("{text}\nresults: {}", out.display());
    Ok(())
}

/// CPU seconds over every proxy now.
fn cpu_now() -> Result<f64> {
    let s = state::read()?.context("testbed state")?;
    Ok(s.proxies
        .iter()
        .map(|p| cgroup::usage_seconds(&p.name))
        .sum())
}

/// CPU used while `f` runs, and how long it ran.
fn cpu_during(f: impl FnOnce() -> Result<u64>) -> Result<(f64, f64, u64)> {
    let (cpu0, t0) = (cpu_now()?, Instant::now());
    let done = f()?;
    Ok((cpu_now()? - cpu0, t0.elapsed().as_secs_f64(), done))
}

fn measure(o: &RegCostOptions, n: u32, dir: &Path) -> Result<Reading> {
    let secs = Duration::from_secs(o.secs);
    // The callee's binding first (the calls need it, and a REGISTER phase
    // then refreshes a binding every proxy holds, as re-registration does).
    sipp::register_callee(dir)?;
    std::thread::sleep(Duration::from_secs(3));
    let (idle, idle_s, _) = cpu_during(|| {
        std::thread::sleep(secs);
        Ok(0)
    })?;
    let floor = idle / idle_s;

    let registers = (o.register_rate * o.secs as f64).round() as u64;
    let (reg_cpu, reg_s, reg_done) = cpu_during(|| {
        let r = sipp::reregister(dir, registers)?;
        // Every second, as the driver does: the first may reach SIPp
        // before its control port listens.
        for _ in 0..o.secs {
            r.set_rate(o.register_rate);
            std::thread::sleep(Duration::from_secs(1));
        }
        // The last REGISTERs' answers and replication.
        std::thread::sleep(Duration::from_secs(2));
        r.quit();
        std::thread::sleep(Duration::from_millis(1200));
        Ok(sipp::read_stats(&dir.join("sipp-reregister-stat.csv")).map_or(0, |s| s.successful))
    })?;

    let _callee = sipp::callee(dir)?;
    std::thread::sleep(Duration::from_millis(300));
    let calls = (o.call_rate * o.secs as f64).round() as u64;
    let (call_cpu, call_s, calls_done) = cpu_during(|| {
        let mut c = sipp::caller(dir, calls, o.call_rate, 1000, o.secs + 40)?;
        let _ = c.wait(secs + Duration::from_secs(40));
        Ok(sipp::read_stats(&dir.join("sipp-caller-stat.csv")).map_or(0, |s| s.successful))
    })?;
    anyhow::ensure!(
        reg_done >= registers * 9 / 10 && calls_done >= calls * 9 / 10,
        "too few completed: {reg_done} of {registers} REGISTERs, {calls_done} of {calls} calls; see {}",
        dir.display()
    );
    Ok(Reading {
        proxies: n,
        idle_cpu_per_s: floor,
        registers: reg_done,
        register_cpu_s: (reg_cpu - floor * reg_s).max(0.0),
        calls: calls_done,
        call_cpu_s: (call_cpu - floor * call_s).max(0.0),
    })
}

fn report(o: &RegCostOptions, readings: &[Reading], c: &Costs) -> String {
    let mut t = format!(
        "# REGISTER cost on the testbed: {} REGISTER/s and {} calls/s for {} s each, proxies without CPU limit\n\n\
         | proxies | idle (mCPU, all proxies) | REGISTERs | CPU per REGISTER, all proxies (ms) | calls | CPU per call (ms) |\n|---|---|---|---|---|---|\n",
        o.register_rate, o.call_rate, o.secs
    );
    for r in readings {
        let _ = writeln!(
            t,
            "| {} | {:.1} | {} | {:.3} | {} | {:.3} |",
            r.proxies,
            r.idle_cpu_per_s * 1000.0,
            r.registers,
            r.per_register() * 1000.0,
            r.calls,
            r.per_call() * 1000.0
        );
    }
    let _ = write!(
        t,
        "\nA call costs {:.3} ms of CPU; a REGISTER {:.3} ms on the proxy it reaches ({:.2}x a call) and {:.3} ms on each other proxy for its DMQ replication ({:.2}x a call).\n",
        c.call_cpu_s * 1000.0,
        c.register_cpu_s * 1000.0,
        c.register_per_call,
        c.replication_cpu_s * 1000.0,
        c.replication_per_call
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_is_the_extra_per_register_over_the_peers() {
        let single = Reading {
            proxies: 1,
            idle_cpu_per_s: 0.002,
            registers: 1000,
            register_cpu_s: 0.6,
            calls: 500,
            call_cpu_s: 0.5,
        };
        let many = Reading {
            proxies: 3,
            registers: 1000,
            register_cpu_s: 1.0,
            ..single.clone()
        };
        let c = costs(&single, &many);
        assert!((c.call_cpu_s - 0.001).abs() < 1e-12);
        assert!((c.register_per_call - 0.6).abs() < 1e-9);
        // 0.4 ms more per REGISTER, spread over two peers.
        assert!((c.replication_cpu_s - 0.0002).abs() < 1e-12);
        assert!((c.replication_per_call - 0.2).abs() < 1e-9);
    }
}
