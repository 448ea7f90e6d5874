//! Child processes of a test. Each guard stops its process (and what that
//! forked) on drop, so a failing assertion does not leave a Kamailio or a
//! `SIPp` running into the next test.

use std::{
    os::unix::process::CommandExt as _,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use crate::namespace::Netns;

/// Run `args`; panics when it fails (a set-up step).
pub fn sh(args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("spawn");
    assert!(status.success(), "{args:?} failed: {status}");
}

/// Stdout then stderr of `args`, whatever its exit status.
#[must_use]
pub fn sh_out(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A process started in a namespace in its own process group; the whole
/// group is stopped (SIGTERM, then SIGKILL) on drop.
pub struct Proc {
    pub child: Option<Child>,
    pub name: String,
}

impl Proc {
    /// `args` in `ns`, stdout and stderr to `log`.
    #[must_use]
    pub fn spawn(ns: &Netns, args: &[&str], log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let err = file.try_clone().expect("clone log");
        let child = ::netns::command(&ns.name, args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        Self {
            child: Some(child),
            name: args[0].to_owned(),
        }
    }

    /// Wait for exit up to `timeout`; `None` if it is still running.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// `signal` to the whole process group.
    pub fn signal(&self, signal: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on the process group we created.
            unsafe { libc::kill(-i32::try_from(c.id()).unwrap_or(0), signal) };
        }
    }

    pub fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        self.signal(libc::SIGTERM);
        if self.wait(Duration::from_secs(5)).is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.wait(Duration::from_secs(5));
        }
        self.child = None;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wait for `child` to exit; panics after `timeout`.
pub fn wait_child(child: &mut Child, timeout: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            start.elapsed() < timeout,
            "child {} did not finish within {timeout:?}",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// CPU seconds (user + system) a process has used.
#[must_use]
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat_cpu_seconds(&stat, clock_ticks())
}

/// CPU seconds (user + system) the thread of `pid` named `name` (its
/// `comm`) has used; `None` when the process has no such thread.
#[must_use]
pub fn thread_cpu_seconds(pid: u32, name: &str) -> Option<f64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        (comm.trim_end() == name).then(|| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            stat_cpu_seconds(&stat, clock_ticks())
        })
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

fn stat_cpu_seconds(stat: &str, hz: f64) -> f64 {
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, r)| r.split(' ').collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / hz
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_reads_utime_and_stime() {
        // A command name with spaces and a parenthesis must not shift fields.
        let stat = "42 (a b) c) S 1 1 1 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0";
        assert_eq!(stat_cpu_seconds(stat, 100.0), 2.0);
        assert_eq!(stat_cpu_seconds("", 100.0), 0.0);
        assert!(cpu_seconds(std::process::id()) >= 0.0);
    }

    #[test]
    fn thread_cpu_seconds_finds_a_thread_by_name() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
        // The name is set as the thread starts: wait for it to run.
        let t = std::thread::Builder::new()
            .name("testkit-named".into())
            .spawn(move || {
                let _ = ready_tx.send(());
                rx.recv()
            })
            .expect("spawn");
        ready.recv().expect("thread started");
        let pid = std::process::id();
        assert!(thread_cpu_seconds(pid, "testkit-named").is_some_and(|s| s >= 0.0));
        assert_eq!(thread_cpu_seconds(pid, "no-such-thread"), None);
        drop(tx);
        let _ = t.join();
    }

    #[test]
    fn shell_helpers_report_output() {
        assert_eq!(
            sh_out(&["sh", "-c", "echo out; echo err >&2"]),
            "out\nerr\n"
        );
        sh(&["true"]);
    }
}
