//! SIPp in the callers/callees namespaces: the callee (register once, then
//! answer), the re-registration load and the caller, both rate-controlled
//! through SIPp's UDP control port (`cset rate N`) while they run.

use std::{
    collections::HashMap,
    fs::File,
    net::UdpSocket,
    os::{fd::AsRawFd as _, unix::process::CommandExt as _},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::netns::{self, Box_};

const CALLER_CP: u16 = 8888;
/// The caller's `-trace_stat` file in a run folder (the driver reads it,
/// whoever started the caller).
pub const CALLER_STAT: &str = "sipp-caller-stat.csv";
const REREG_CP: u16 = 8889;
/// The callee's SIP port (its registered Contact).
pub const CALLEE_PORT: u16 = 5060;
const REREG_PORT: u16 = 5062;

fn scenario(name: &str) -> String {
    super::kamailio::config_dir()
        .join("sipp")
        .join(name)
        .display()
        .to_string()
}

fn lb() -> String {
    format!("{}:5060", netns::loadb().addr)
}

/// A SIPp process; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Sipp {
    child: Child,
    control: Option<UdpSocket>,
    port: u16,
    pub stat_file: Option<PathBuf>,
}

impl Sipp {
    fn spawn(b: &Box_, args: &[String], log: &Path, control_port: Option<u16>) -> Result<Self> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let child = Command::new("ip")
            .args(["netns", "exec", &b.ns, "sipp", "-nostdin", "-i", &b.addr])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .context("spawn sipp")?;
        let control = match control_port {
            Some(_) => Some(socket_in(&b.ns)?),
            None => None,
        };
        Ok(Self {
            child,
            control,
            port: control_port.unwrap_or(0),
            stat_file: None,
        })
    }

    /// SIPp in the caller's own network namespace, bound to `ip` (the
    /// controller's callers: a pod, or a test on loopback).
    pub fn spawn_local(
        ip: &str,
        args: &[String],
        log: &Path,
        control_port: u16,
        stat: PathBuf,
    ) -> Result<Self> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new("sipp");
        cmd.args(["-nostdin", "-i", ip])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl(2) only, between fork and exec. A caller killed
        // outright must not leave its SIPp placing calls.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = cmd
            .spawn()
            .context("spawn sipp (Debian package sip-tester)")?;
        Ok(Self {
            child,
            control: Some(UdpSocket::bind("127.0.0.1:0")?),
            port: control_port,
            stat_file: Some(stat),
        })
    }

    /// `cset rate R` (calls per second; 0 pauses new calls).
    pub fn set_rate(&self, rate: f64) {
        if let Some(sock) = &self.control {
            let _ = sock.send_to(
                format!("cset rate {rate:.3}").as_bytes(),
                ("127.0.0.1", self.port),
            );
        }
    }

    pub fn quit(&self) {
        if let Some(sock) = &self.control {
            let _ = sock.send_to(b"q", ("127.0.0.1", self.port));
        }
    }

    /// Wait up to `timeout`; `None` while still running.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() >= timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if self.running() {
            super::proc::stop(self.child.id(), Duration::from_secs(3));
        }
        let _ = self.child.wait();
    }
}

/// A UDP socket created inside namespace `ns` (a socket keeps the namespace
/// it was created in, whichever thread uses it later).
fn socket_in(ns: &str) -> Result<UdpSocket> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || -> Result<UdpSocket> {
        let file = File::open(&path).with_context(|| format!("open {path}"))?;
        // SAFETY: valid descriptor; setns changes only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        anyhow::ensure!(rc == 0, "setns {path}");
        Ok(UdpSocket::bind("127.0.0.1:0")?)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("setns thread panicked"))?
}

/// The callee's REGISTER scenario (digest auth, Contact on the callee's
/// port), sent from `REREG_PORT` to the LB: both the one-off registration
/// and the refresh load use it.
fn register_args(extra: &[&str]) -> Vec<String> {
    let mut args = strings(&[
        "-sf",
        &scenario("register.xml"),
        "-key",
        "callee_port",
        &CALLEE_PORT.to_string(),
        "-p",
        &REREG_PORT.to_string(),
    ]);
    args.extend(strings(extra));
    args.push(lb());
    args
}

/// SIPp writes its cumulative counters to `stat` once a second.
pub fn stat_args(stat: &Path) -> Vec<String> {
    strings(&[
        "-trace_stat",
        "-fd",
        "1",
        "-stf",
        &stat.display().to_string(),
    ])
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(ToString::to_string).collect()
}

/// Register the callee once (digest auth); fails when it does not get 200.
pub fn register_callee(dir: &Path) -> Result<()> {
    let args = register_args(&["-m", "1", "-timeout", "15s", "-recv_timeout", "5000"]);
    let mut s = Sipp::spawn(
        &netns::callees(),
        &args,
        &dir.join("sipp-register.log"),
        None,
    )?;
    match s.wait(Duration::from_secs(20)) {
        Some(st) if st.success() => Ok(()),
        other => bail!(
            "callee registration failed ({other:?}); see {}",
            dir.join("sipp-register.log").display()
        ),
    }
}

/// The callee: answers every INVITE with 200, then ACK, BYE/200.
pub fn callee(dir: &Path) -> Result<Sipp> {
    let args = strings(&[
        "-sf",
        &scenario("callee.xml"),
        "-p",
        &CALLEE_PORT.to_string(),
        "-recv_timeout",
        "60000",
    ]);
    Sipp::spawn(&netns::callees(), &args, &dir.join("sipp-callee.log"), None)
}

/// Periodic re-REGISTER load (refreshes the callee's binding).
pub fn reregister(dir: &Path, total: u64) -> Result<Sipp> {
    let stat = dir.join("sipp-reregister-stat.csv");
    let mut args = stat_args(&stat);
    args.extend(register_args(&[
        "-cp",
        &REREG_CP.to_string(),
        "-r",
        "0",
        "-m",
        &total.max(1).to_string(),
        "-recv_timeout",
        "32000",
    ]));
    let mut s = Sipp::spawn(
        &netns::callees(),
        &args,
        &dir.join("sipp-reregister.log"),
        Some(REREG_CP),
    )?;
    s.stat_file = Some(stat);
    Ok(s)
}

/// The caller: `total` calls, starting at `rate`, each held `hold_ms`.
/// A call with no answer for 32 s (SIP Timer B) counts as a timeout.
pub fn caller(dir: &Path, total: u64, rate: f64, hold_ms: u64, max_s: u64) -> Result<Sipp> {
    let limits = [
        "-m".to_owned(),
        total.max(1).to_string(),
        "-timeout".to_owned(),
        format!("{max_s}s"),
    ];
    caller_with(dir, rate, hold_ms, &limits)
}

/// The caller under the controller's orders (`siplat-testbed caller
/// --testbed`): paused, no call count or time limit of its own; the
/// assigned rates drive it and its owner stops it.
pub fn controlled_caller(dir: &Path, hold_ms: u64) -> Result<Sipp> {
    caller_with(dir, 0.0, hold_ms, &[])
}

fn caller_with(dir: &Path, rate: f64, hold_ms: u64, limits: &[String]) -> Result<Sipp> {
    let stat = dir.join(CALLER_STAT);
    let mut args = stat_args(&stat);
    args.extend(strings(&[
        "-sf",
        &scenario("caller.xml"),
        "-p",
        "5060",
        "-cp",
        &CALLER_CP.to_string(),
        "-r",
        &format!("{rate:.3}"),
    ]));
    args.extend(limits.iter().cloned());
    args.extend(strings(&[
        "-d",
        &hold_ms.to_string(),
        "-recv_timeout",
        "32000",
        "-trace_err",
        "-error_file",
        &dir.join("sipp-caller-errors.log").display().to_string(),
        &lb(),
    ]));
    let mut s = Sipp::spawn(
        &netns::callers(),
        &args,
        &dir.join("sipp-caller.log"),
        Some(CALLER_CP),
    )?;
    s.stat_file = Some(stat);
    Ok(s)
}

/// Cumulative counters from the newest line of a SIPp `-trace_stat` file.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub created: u64,
    pub successful: u64,
    pub failed: u64,
    /// Non-2xx finals and other unexpected messages.
    pub unexpected: u64,
    /// Retransmission limit reached or nothing received in time.
    pub timeouts: u64,
}

pub fn read_stats(path: &Path) -> Option<Stats> {
    read_series(path).pop().map(|(_, s)| s)
}

/// Every line of a `-trace_stat` file: (Unix time SIPp wrote it, counters).
pub fn read_series(path: &Path) -> Vec<(f64, Stats)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let header: Vec<&str> = header.split(';').collect();
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(';').collect();
            // A line SIPp is still writing has fewer fields: skip it.
            if fields.len() + 1 < header.len() {
                return None;
            }
            let col: HashMap<&str, &str> =
                header.iter().copied().zip(fields.iter().copied()).collect();
            let get = |k: &str| {
                col.get(k)
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0)
            };
            // CurrentTime is "date<TAB>time<TAB>epoch.usec".
            let at = col
                .get("CurrentTime")
                .and_then(|v| v.split('\t').next_back())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            Some((
                at,
                Stats {
                    created: get("OutgoingCall(C)"),
                    successful: get("SuccessfulCall(C)"),
                    failed: get("FailedCall(C)"),
                    unexpected: get("FailedUnexpectedMessage(C)") + get("FailedCallRejected(C)"),
                    timeouts: get("FailedMaxUDPRetrans(C)")
                        + get("FailedTimeoutOnRecv(C)")
                        + get("FailedTimeoutOnSend(C)"),
                },
            ))
        })
        .collect()
}

/// Counters at Unix time `t`, linearly interpolated between SIPp's lines
/// (SIPp writes about once a second on its own clock; sampling its newest
/// line makes per-second rates jump between 0 and twice the rate).
pub fn stats_at(series: &[(f64, Stats)], at: f64) -> [f64; 5] {
    let values =
        |s: &Stats| [s.created, s.successful, s.failed, s.unexpected, s.timeouts].map(|n| n as f64);
    let Some(first) = series.first() else {
        return [0.0; 5];
    };
    if at <= first.0 {
        return if series.len() == 1 {
            values(&first.1)
        } else {
            [0.0; 5]
        };
    }
    for pair in series.windows(2) {
        let ((from, before), (to, after)) = (&pair[0], &pair[1]);
        if at <= *to {
            let frac = if to > from {
                (at - from) / (to - from)
            } else {
                1.0
            };
            let (before, after) = (values(before), values(after));
            return std::array::from_fn(|i| before[i] + (after[i] - before[i]) * frac);
        }
    }
    series.last().map_or([0.0; 5], |(_, s)| values(s))
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats_come_from_the_newest_line_by_column_name() {
        let dir = std::env::temp_dir().join(format!("siplat-sipp-stat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("stat.csv");
        let text = "CurrentTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(C);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(C);FailedTimeoutOnRecv(C);\n\
                    d\tt\t100.0;5;3;0;0;0;0;\n\
                    d\tt\t101.0;10;7;3;1;1;1;\n\
                    d\tt\t102.0;12;7\n";
        std::fs::write(&path, text).expect("write");
        let s = super::read_stats(&path).expect("stats");
        assert_eq!(
            (s.created, s.successful, s.failed, s.unexpected, s.timeouts),
            (10, 7, 3, 1, 2)
        );
        let series = super::read_series(&path);
        assert_eq!(series.len(), 2, "the half-written last line is skipped");
        let mid = super::stats_at(&series, 100.5);
        assert_eq!(mid[0], 7.5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
