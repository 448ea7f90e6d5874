//! The panel's one run slot. A run is what `cargo xtask demo` plays for one
//! policy, as child processes ([`super::play`]): `siplat-testbed down`,
//! `up`, the scaler (none for `static`), the testbed's caller joining the
//! controller, `siplat-testbed run` writing its result folder, and `down`
//! again whatever happened. The driver's `live.jsonl` is pushed to the page.
//!
//! One at a time because the machine has one testbed: a second start is
//! refused while the slot is taken, not queued.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::{Limits, PanelError, catalog, controller::Controller};
use crate::live::LiveSecond;

/// What the page asks to run.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    #[serde(flatten)]
    pub choice: catalog::Choice,
    /// A `siplat-scaler` policy spec (`qos:cooldown=10`), or
    /// `static:replicas=N` for a fixed tier without a scaler.
    pub policy: String,
    /// Proxies at the start (a static policy starts with its own count).
    #[serde(default = "two")]
    pub proxies: u32,
    /// CPU limit per proxy, Kubernetes notation.
    #[serde(default = "thirty_m")]
    pub cpu_limit: String,
    /// P99 target, milliseconds (the line on the chart, the scaler's target).
    #[serde(default = "second_ms")]
    pub p99_target_ms: u64,
    /// Seconds at the start that are shown but not judged.
    #[serde(default)]
    pub warmup_s: u64,
}

fn two() -> u32 {
    2
}

fn thirty_m() -> String {
    "30m".to_owned()
}

fn second_ms() -> u64 {
    1000
}

/// The policies `siplat-scaler` knows; their parameters it checks itself.
const POLICIES: &[&str] = &[
    "static",
    "qos",
    "hpa-cpu",
    "capacity",
    "predictive",
    "hybrid",
];
/// The scaler's `--max-replicas` beside a testbed play.
const MAX_PROXIES: u32 = 8;

impl RunSpec {
    /// Everything but the scenario (see [`catalog::rates`]).
    pub fn check(&self) -> Result<(), PanelError> {
        let p = &self.policy;
        let name = p.split(':').next().unwrap_or_default();
        if p.len() > 200
            || !p.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, ':' | '=' | ',' | '.' | '-' | '_')
            })
            || !POLICIES.contains(&name)
        {
            return Err(PanelError::invalid(format!(
                "policy `{p}`: one of {} with `:key=value,...` parameters",
                POLICIES.join(", ")
            )));
        }
        if name == "static" {
            match crate::scaler::static_replicas(p) {
                Some(n) if (1..=MAX_PROXIES).contains(&n) => {}
                _ => {
                    return Err(PanelError::invalid(format!(
                        "policy `{p}`: static:replicas=N with N from 1 to {MAX_PROXIES}"
                    )));
                }
            }
        }
        if !(1..=MAX_PROXIES).contains(&self.proxies) {
            return Err(PanelError::invalid(format!(
                "proxies {}: from 1 to {MAX_PROXIES}",
                self.proxies
            )));
        }
        match cliconf::parse_cpu_millis(&self.cpu_limit) {
            Ok(m) if m > 0 => {}
            _ => {
                return Err(PanelError::invalid(format!(
                    "CPU limit `{}`: Kubernetes notation above zero (\"30m\", \"0.5\")",
                    self.cpu_limit
                )));
            }
        }
        if !(10..=60_000).contains(&self.p99_target_ms) {
            return Err(PanelError::invalid(format!(
                "P99 target {} ms: from 10 to 60000",
                self.p99_target_ms
            )));
        }
        Ok(())
    }
}

/// Where a run is.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Starting,
    Playing,
    Stopping,
    Cleaning,
}

/// How a run ended (`outcome.json` of its folder).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[expect(
    clippy::struct_field_names,
    reason = "`outcome.outcome` is the JSON field the page reads"
)]
pub struct Outcome {
    /// `done`, `stopped` or `failed`.
    pub outcome: String,
    pub error: Option<String>,
    pub finished_unix: u64,
}

/// What the page is pushed.
#[derive(Serialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    Phase {
        id: String,
        phase: Phase,
        message: String,
    },
    Second {
        id: String,
        row: LiveSecond,
    },
    Finished {
        id: String,
        outcome: Outcome,
    },
}

/// The run in the slot, as a page that connects late sees it.
#[derive(Serialize, Debug, Clone)]
pub struct Snapshot {
    pub id: String,
    pub spec: RunSpec,
    pub phase: Phase,
    pub message: String,
    pub rows: Vec<LiveSecond>,
}

pub(super) struct Current {
    pub(super) snap: Snapshot,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) current: Option<Current>,
    thread: Option<JoinHandle<()>>,
}

pub struct Slot {
    dir: PathBuf,
    inner: Arc<Mutex<Inner>>,
    events: broadcast::Sender<Event>,
    /// A local run's calls go through the caller protocol like a
    /// deployment's: its caller joins this controller on `addr`.
    local: Option<Local>,
}

/// What a run needs to play through the panel's own controller.
#[derive(Clone)]
pub struct Local {
    pub controller: Controller,
    pub rt: tokio::runtime::Handle,
    pub addr: std::net::SocketAddr,
}

impl Slot {
    pub fn new(dir: PathBuf, local: Option<Local>) -> Self {
        Self {
            dir,
            inner: Arc::default(),
            events: broadcast::channel(1024).0,
            local,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn snapshot(&self) -> Option<Snapshot> {
        lock(&self.inner).current.as_ref().map(|c| c.snap.clone())
    }

    /// Start `spec` on the testbed; refused while another run holds the slot.
    pub fn start(
        &self,
        spec: RunSpec,
        scenarios: &Path,
        limits: &Limits,
    ) -> Result<Snapshot, PanelError> {
        spec.check()?;
        let rates = catalog::rates(scenarios, &spec.choice, limits)?;
        let mut inner = lock(&self.inner);
        if let Some(c) = &inner.current {
            return Err(PanelError::Busy(c.snap.id.clone()));
        }
        if !::netns::is_root() {
            return Err(PanelError::Unavailable(
                "runs need root (network namespaces, cgroups, BPF): start the panel with sudo -E"
                    .into(),
            ));
        }
        let local = self
            .local
            .clone()
            .ok_or_else(|| PanelError::Unavailable("the panel has no controller".into()))?;
        if let Some(t) = inner.thread.take() {
            let _ = t.join();
        }
        let id = format!(
            "{}-{}",
            crate::proc::unix_secs(),
            scenario::run::file_name(&spec.policy)
        );
        let dir = self.dir.join(&id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| PanelError::io(format!("create {}", dir.display()), e))?;
        let meta = super::history::Meta {
            id: id.clone(),
            spec: spec.clone(),
            started_unix: crate::proc::unix_secs(),
            duration_s: rates.len() as u64,
        };
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text)
                .map_err(|e| PanelError::io(format!("write {name}"), e))
        };
        write(
            "scenario.csv",
            scenario::Scenario::from_rates(&rates).to_csv(),
        )?;
        write(
            "meta.json",
            serde_json::to_string_pretty(&meta).unwrap_or_default(),
        )?;
        let snap = Snapshot {
            id: id.clone(),
            spec,
            phase: Phase::Starting,
            message: format!("starting the testbed for {} s of load", rates.len()),
            rows: Vec::new(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        inner.current = Some(Current {
            snap: snap.clone(),
            stop: Arc::clone(&stop),
        });
        let ctx = super::play::Runner {
            id,
            dir,
            rates,
            local,
            spec: snap.spec.clone(),
            stop,
            inner: Arc::clone(&self.inner),
            events: self.events.clone(),
        };
        inner.thread = Some(std::thread::spawn(move || ctx.run()));
        let _ = self.events.send(Event::Phase {
            id: snap.id.clone(),
            phase: snap.phase,
            message: snap.message.clone(),
        });
        Ok(snap)
    }

    /// Ask the run in the slot to stop; it still writes its results.
    pub fn stop(&self) -> Result<String, PanelError> {
        let inner = lock(&self.inner);
        let c = inner
            .current
            .as_ref()
            .ok_or_else(|| PanelError::NotFound("no run in progress".into()))?;
        c.stop.store(true, Ordering::SeqCst);
        Ok(c.snap.id.clone())
    }

    /// Stop what runs and wait for its cleanup (the panel is exiting).
    pub fn shutdown(&self) {
        let _ = self.stop();
        let thread = lock(&self.inner).thread.take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

pub(super) fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(policy: &str) -> RunSpec {
        RunSpec {
            choice: catalog::Choice {
                scenario: "family:step".into(),
                seed: 1,
                compress: 60.0,
                rate_scale: 1.0,
            },
            policy: policy.into(),
            proxies: 2,
            cpu_limit: "30m".into(),
            p99_target_ms: 1000,
            warmup_s: 0,
        }
    }

    #[test]
    fn specs_are_checked_before_anything_starts() {
        assert!(spec("static:replicas=2").check().is_ok());
        assert!(spec("qos:cooldown=10").check().is_ok());
        for bad in [
            "static:replicas=0",
            "static",
            "rm -rf",
            "sine:x=1",
            "qos;ls",
        ] {
            assert!(spec(bad).check().is_err(), "{bad}");
        }
        let mut s = spec("qos");
        s.cpu_limit = "lots".into();
        assert!(s.check().is_err());
        s.cpu_limit = "30m".into();
        s.proxies = 50;
        assert!(s.check().is_err());
        let json = r#"{"scenario":"family:step","policy":"qos","compress":60,"extra":1}"#;
        assert!(
            serde_json::from_str::<RunSpec>(json).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn a_second_start_is_refused_while_the_slot_is_taken() {
        let dir = std::env::temp_dir().join(format!("siplat-slot-{}", std::process::id()));
        let slot = Slot::new(dir.clone(), None);
        lock(&slot.inner).current = Some(Current {
            snap: Snapshot {
                id: "first".into(),
                spec: spec("qos"),
                phase: Phase::Playing,
                message: String::new(),
                rows: Vec::new(),
            },
            stop: Arc::default(),
        });
        let limits = Limits {
            max_upload: 1,
            max_run_s: 3600,
            max_rate: 500.0,
        };
        let err = slot
            .start(spec("static:replicas=1"), &dir, &limits)
            .expect_err("busy");
        assert!(
            matches!(err, PanelError::Busy(ref id) if id == "first"),
            "{err}"
        );
        assert!(err.to_string().contains("already in progress"), "{err}");
        assert_eq!(slot.stop().expect("stop"), "first");
    }
}
