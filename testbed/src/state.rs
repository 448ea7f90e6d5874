//! The testbed's shared state: one JSON file, read and rewritten under an
//! exclusive lock because `scale`, the background reaper and `down` can run
//! at the same time.

use std::{
    fs::{File, OpenOptions},
    os::fd::AsRawFd as _,
    path::PathBuf,
};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::STATE_DIR;
pub use crate::status::ProxyState;

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Proxy {
    pub name: String,
    pub index: u32,
    pub addr: String,
    /// Host-side veth in the bridge namespace = the agent's `iface` label.
    pub iface: String,
    pub state: ProxyState,
    pub pid: u32,
    /// This proxy's CPU limit in millicores (0 = none): the base limit it
    /// started with until `resize` changes it.
    pub cpu_limit_millis: u32,
    /// Unix seconds: process started, answered /ready, left the LB set.
    pub started_unix: f64,
    pub ready_unix: f64,
    pub drain_since_unix: Option<f64>,
    /// Unix seconds before which a booting proxy is not added to the LB
    /// set, however soon it answers /ready (the boot delay).
    #[serde(default)]
    pub boot_until_unix: Option<f64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct State {
    /// The base CPU limit new proxies start with (`up --cpu-limit`); an
    /// in-place `resize` changes running proxies only, as a pod resize
    /// leaves the pod template alone.
    pub cpu_limit_millis: u32,
    pub cfs_period_us: u64,
    pub shm_mb: u32,
    pub max_call_s: u64,
    /// Seconds a proxy added by `scale` waits before it may take calls
    /// (`up --boot-delay`; 0 = as soon as it is ready, the old behaviour).
    #[serde(default)]
    pub boot_delay_s: f64,
    pub agent_pid: u32,
    pub lb_pid: u32,
    pub proxies: Vec<Proxy>,
    /// Detached `testbed reap` processes (root namespace, so no netns sweep finds them).
    pub reapers: Vec<u32>,
    /// Detached `testbed boot` processes that add booting proxies to the
    /// LB set once their delay passed (`down` stops them like the reapers).
    #[serde(default)]
    pub boot_helpers: Vec<u32>,
}

impl State {
    pub fn active(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies
            .iter()
            .filter(|p| p.state == ProxyState::Active)
    }

    /// Proxies asked for: the active ones and the booting ones.
    pub fn wanted(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies
            .iter()
            .filter(|p| matches!(p.state, ProxyState::Active | ProxyState::Booting))
    }
}

pub fn path() -> PathBuf {
    PathBuf::from(STATE_DIR).join("state.json")
}

fn lock_path() -> PathBuf {
    PathBuf::from(STATE_DIR).join("state.lock")
}

/// Writers hold `flock(LOCK_EX)` on a separate lock file; the state file is
/// replaced atomically (write + rename), so readers never need the lock and
/// never wait for a `scale` that is starting proxies.
pub struct Locked {
    _lock: File,
    pub state: State,
}

fn lock() -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path())?;
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    anyhow::ensure!(rc == 0, "lock {}", lock_path().display());
    Ok(file)
}

impl Locked {
    /// Lock and read; `None` when the testbed is not up.
    pub fn open() -> Result<Option<Self>> {
        if !path().exists() {
            return Ok(None);
        }
        let lock = lock()?;
        Ok(read()?.map(|state| Self { _lock: lock, state }))
    }

    /// Create a fresh state file (by `up`).
    pub fn create(state: State) -> Result<Self> {
        std::fs::create_dir_all(STATE_DIR)?;
        let mut locked = Self {
            _lock: lock()?,
            state,
        };
        locked.save()?;
        Ok(locked)
    }

    pub fn save(&mut self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.state)?;
        let tmp = path().with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path())?;
        Ok(())
    }
}

/// Read without the lock (status, the driver's per-second poll).
pub fn read() -> Result<Option<State>> {
    let Ok(text) = std::fs::read_to_string(path()) else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(
        serde_json::from_str(&text).with_context(|| format!("parse {}", path().display()))?,
    ))
}
