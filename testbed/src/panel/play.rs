//! The thread that plays one run of the slot ([`super::runs`]): the
//! child processes in order, the driver's live rows forwarded to the page,
//! a stop passed on as the driver's stop file, and `down` at the end
//! whatever happened, so a failed run leaves nothing behind.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::broadcast;

use super::runs::{Event, Inner, Local, Outcome, Phase, RunSpec, lock};
use crate::live;

/// The thread that plays one run.
pub(super) struct Runner {
    pub(super) id: String,
    pub(super) dir: PathBuf,
    pub(super) rates: Vec<f64>,
    pub(super) local: Local,
    pub(super) spec: RunSpec,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) inner: Arc<Mutex<Inner>>,
    pub(super) events: broadcast::Sender<Event>,
}

/// How long a stopped run may take to write its results before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(60);

impl Runner {
    pub(super) fn run(self) {
        let result = self.play();
        self.phase(Phase::Cleaning, "taking the testbed down".into());
        let down = self.testbed(&["down"], "down.log");
        let stopped = self.stop.load(Ordering::SeqCst);
        let error = match (result, down) {
            (Err(e), _) | (Ok(()), Err(e)) => Some(e),
            (Ok(()), Ok(())) => None,
        };
        let outcome = Outcome {
            outcome: match (&error, stopped) {
                (Some(_), _) => "failed",
                (None, true) => "stopped",
                (None, false) => "done",
            }
            .to_owned(),
            error,
            finished_unix: crate::proc::unix_secs(),
        };
        if let Some(e) = &outcome.error {
            tracing::warn!(run = %self.id, "run failed: {e}");
        }
        let _ = std::fs::write(
            self.dir.join(super::history::OUTCOME),
            serde_json::to_string_pretty(&outcome).unwrap_or_default(),
        );
        lock(&self.inner).current = None;
        let _ = self.events.send(Event::Finished {
            id: self.id.clone(),
            outcome,
        });
    }

    fn phase(&self, phase: Phase, message: String) {
        if let Some(c) = lock(&self.inner).current.as_mut() {
            c.snap.phase = phase;
            c.snap.message.clone_from(&message);
        }
        let _ = self.events.send(Event::Phase {
            id: self.id.clone(),
            phase,
            message,
        });
    }

    fn exe() -> Result<PathBuf, String> {
        std::env::current_exe().map_err(|e| format!("own binary: {e}"))
    }

    /// `siplat-testbed <args>` to completion, output in `log`; the error
    /// carries the log's last lines (what the page shows).
    fn testbed(&self, args: &[&str], log: &str) -> Result<(), String> {
        let path = self.dir.join(log);
        let file = std::fs::File::create(&path).map_err(|e| format!("create {log}: {e}"))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let status = Command::new(Self::exe()?)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .status()
            .map_err(|e| format!("siplat-testbed {}: {e}", args.join(" ")))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "siplat-testbed {} failed ({status}): {}",
                args.join(" "),
                tail(&path)
            ))
        }
    }

    fn play(&self) -> Result<(), String> {
        let s = &self.spec;
        self.testbed(&["down"], "down-before.log")?;
        let proxies = crate::scaler::static_replicas(&s.policy)
            .unwrap_or(s.proxies)
            .to_string();
        self.testbed(
            &["up", "--proxies", &proxies, "--cpu-limit", &s.cpu_limit],
            "up.log",
        )?;
        if self.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let target = Duration::from_millis(s.p99_target_ms);
        let _scaler = if crate::scaler::static_replicas(&s.policy).is_some() {
            None
        } else {
            Some(self.scaler(target)?)
        };
        let pool = format!("testbed-{}", crate::proc::unix_secs());
        let _caller = self.caller(&pool)?;
        let target_arg = format!("{}ms", s.p99_target_ms);
        let log = std::fs::File::create(self.dir.join("run.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(Self::exe()?)
            .arg("run")
            .arg(self.dir.join("scenario.csv"))
            .arg("--out")
            .arg(&self.dir)
            .args(["--p99-target", &target_arg, "--external-caller"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start siplat-testbed run: {e}"))?;
        // The driver samples from its first second on; the controller plays
        // the same rates from that moment.
        let started = Instant::now();
        while !self.dir.join(live::STARTED_FILE).exists() {
            if let Ok(Some(st)) = child.try_wait() {
                return Err(format!(
                    "siplat-testbed run failed before playing ({st}): {}",
                    tail(&self.dir.join("run.log"))
                ));
            }
            if started.elapsed() > Duration::from_secs(60) {
                crate::proc::stop(child.id(), Duration::from_secs(3));
                return Err("siplat-testbed run did not start playing within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Err(e) = self
            .local
            .controller
            .play(&self.local.rt, &pool, self.rates.clone())
        {
            crate::proc::stop(child.id(), Duration::from_secs(3));
            let _ = child.wait();
            return Err(format!("controller: {e}"));
        }
        self.phase(Phase::Playing, "playing".into());
        let status = self.follow(&mut child);
        let _ = self.local.controller.stop(&pool);
        match status {
            Some(st) if st.success() => Ok(()),
            Some(st) => Err(format!(
                "siplat-testbed run failed ({st}): {}",
                tail(&self.dir.join("run.log"))
            )),
            None => Err("the run did not end within a minute of its stop; killed".into()),
        }
    }

    /// Tail the live rows until the driver exits; forward a stop to it.
    fn follow(&self, child: &mut Child) -> Option<std::process::ExitStatus> {
        let mut tail = live::Tail::new(&self.dir);
        let mut stop_since: Option<Instant> = None;
        loop {
            let rows = tail.read_new();
            if !rows.is_empty() {
                if let Some(c) = lock(&self.inner).current.as_mut() {
                    c.snap.rows.extend(rows.iter().cloned());
                }
                for row in rows {
                    let _ = self.events.send(Event::Second {
                        id: self.id.clone(),
                        row,
                    });
                }
            }
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if self.stop.load(Ordering::SeqCst) && stop_since.is_none() {
                let _ = std::fs::write(self.dir.join(live::STOP_FILE), b"");
                stop_since = Some(Instant::now());
                self.phase(Phase::Stopping, "stopping: writing the results".into());
            }
            if stop_since.is_some_and(|t| t.elapsed() > STOP_GRACE) {
                crate::proc::stop(child.id(), Duration::from_secs(3));
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The testbed's caller under this panel's controller, in `pool`.
    fn caller(&self, pool: &str) -> Result<ChildGuard, String> {
        let log = std::fs::File::create(self.dir.join("caller.log")).map_err(|e| e.to_string())?;
        let ws = format!("ws://{}{}", self.local.addr, super::protocol::PATH);
        let child = Command::new(Self::exe()?)
            .args(["caller", "--testbed", "--controller", &ws, "--pool", pool])
            .args(["--name", "local testbed", "--out"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start siplat-testbed caller: {e}"))?;
        let mut guard = ChildGuard(child);
        let start = Instant::now();
        while self.local.controller.callers(pool) == 0 {
            if let Ok(Some(st)) = guard.0.try_wait() {
                return Err(format!(
                    "the testbed's caller exited ({st}): {}",
                    tail(&self.dir.join("caller.log"))
                ));
            }
            if start.elapsed() > Duration::from_secs(20) {
                return Err("the testbed's caller did not join the controller within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(guard)
    }

    fn scaler(&self, target: Duration) -> Result<ChildGuard, String> {
        let exe = Self::exe()?;
        let bin = exe.with_file_name("siplat-scaler");
        if !bin.exists() {
            return Err(format!(
                "policy {} needs {} (cargo build -p scaler)",
                self.spec.policy,
                bin.display()
            ));
        }
        let out = crate::proc::output(Command::new(&exe).args(["status", "--json"]))
            .map_err(|e| e.to_string())?;
        let status: crate::status::Status =
            serde_json::from_str(&out).map_err(|e| format!("testbed status: {e}"))?;
        let log = std::fs::File::create(self.dir.join("scaler.log")).map_err(|e| e.to_string())?;
        let policy = crate::scaler::with_cpu_limit(&self.spec.policy, &self.spec.cpu_limit);
        let mut child = crate::scaler::command(
            &bin,
            &exe,
            &policy,
            &status.agent_url,
            target,
            Duration::from_secs(3),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start siplat-scaler: {e}"))?;
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!(
                "siplat-scaler exited at once ({st}): {}",
                tail(&self.dir.join("scaler.log"))
            ));
        }
        Ok(ChildGuard(child))
    }
}

/// The scaler or the caller beside a run; stopped on drop (also when the
/// run failed).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        crate::proc::stop(self.0.id(), Duration::from_secs(5));
        let _ = self.0.wait();
    }
}

/// The last lines of a log, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}
