//! `siplat-testbed panel`: the web panel of the report's scenario
//! controller (report 3.3.2-3.4.3). One page, served from this binary with
//! its assets compiled in (no CDN, no fetch beyond the listener), to pick a
//! scenario, start and stop one run on the local testbed, watch it live,
//! and compare finished runs; plus the controller's WebSocket that SIPp
//! caller clients (`siplat-testbed caller`) join to receive their share of
//! the rate, and a read-only view of a Prometheus.
//!
//! Why inside the testbed crate: a run here is `siplat-testbed down/up/run`
//! and the testbed's own result files, and `siplat-testbed panel` is the
//! command the issue names, so a crate of its own would have to depend on
//! the testbed and be depended on by its binary (a cycle). The module tree
//! keeps the parts apart: `catalog` (scenarios), `runs` (the one run slot),
//! `play` (a run's child processes), `history` (finished runs), `controller` and
//! `protocol` (the caller protocol), `caller` (its client), `prom`
//! (Prometheus), `api` (HTTP routes), `assets` (the page).
//!
//! The server is async (axum on a small tokio runtime); everything that
//! runs the testbed is the testbed's blocking code on threads of its own.

mod api;
mod assets;
pub mod caller;
mod catalog;
mod controller;
mod history;
mod play;
mod prom;
pub mod protocol;
mod runs;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context as _, Result, bail};
use thiserror::Error;

/// Options of `siplat-testbed panel`: flags, `SIPLAT_PANEL_*` and the
/// `--config` TOML file (cliconf's layering, as the other binaries).
#[derive(clap::Args, Clone, Debug)]
pub struct PanelOptions {
    /// Address to serve the panel and the controller's WebSocket on.
    /// Loopback unless `--allow-remote`: the panel starts load and runs
    /// the testbed as root, and has no authentication.
    #[arg(long, env = "SIPLAT_PANEL_LISTEN", default_value = "127.0.0.1:9670")]
    pub listen: SocketAddr,
    /// Accept a non-loopback `--listen` (caller pods on a cluster reach the
    /// controller this way; put it behind your own access control).
    #[arg(long, env = "SIPLAT_PANEL_ALLOW_REMOTE")]
    pub allow_remote: bool,
    /// Folder for uploaded scenarios (`scenarios/`) and runs (`runs/`);
    /// default results/panel in the workspace.
    #[arg(long, env = "SIPLAT_PANEL_DATA")]
    pub data: Option<PathBuf>,
    /// Prometheus base URL (http://host:port) for the read-only view of a
    /// real deployment; the page can also enter one.
    #[arg(long, env = "SIPLAT_PANEL_PROMETHEUS")]
    pub prometheus: Option<String>,
    /// Largest scenario CSV an upload may be, in bytes.
    #[arg(long, env = "SIPLAT_PANEL_MAX_UPLOAD", default_value_t = 8 << 20)]
    pub max_upload: usize,
    /// Longest run the panel starts, as played (after squeezing), in seconds.
    #[arg(long, env = "SIPLAT_PANEL_MAX_RUN_S", default_value_t = 3600)]
    pub max_run_s: u64,
    /// Highest rate any second of a run may ask for, calls/s (bounded load:
    /// one machine carries ~1,000 calls/s through one uncapped proxy).
    #[arg(long, env = "SIPLAT_PANEL_MAX_RATE", default_value_t = 500.0)]
    pub max_rate: f64,
    /// TOML file with any of these options (keys are the long flag names).
    #[arg(long, env = "SIPLAT_PANEL_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Errors the panel's API answers with; each maps to one HTTP status and
/// its message is what the page shows.
#[derive(Debug, Error)]
pub enum PanelError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("a run is already in progress ({0}); stop it or wait for it to end")]
    Busy(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl PanelError {
    fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Limits every input is checked against.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_upload: usize,
    pub max_run_s: u64,
    pub max_rate: f64,
}

/// What every handler shares.
pub struct App {
    pub data: PathBuf,
    pub limits: Limits,
    pub prometheus: Option<String>,
    pub runs: runs::Slot,
    pub controller: controller::Controller,
}

impl App {
    /// Inside the runtime, once the listener is bound: a local run's
    /// caller joins the controller at `addr` and its plays tick on the
    /// runtime.
    fn new(opts: &PanelOptions, addr: SocketAddr) -> Result<Arc<Self>> {
        let data = opts
            .data
            .clone()
            .unwrap_or_else(|| crate::proc::workspace_root().join("results/panel"));
        for sub in ["scenarios", "runs"] {
            std::fs::create_dir_all(data.join(sub))
                .with_context(|| format!("create {}", data.join(sub).display()))?;
        }
        if let Some(url) = &opts.prometheus {
            prom::Target::parse(url).map_err(|e| anyhow::anyhow!("--prometheus: {e}"))?;
        }
        let controller = controller::Controller::default();
        let local = runs::Local {
            controller: controller.clone(),
            rt: tokio::runtime::Handle::current(),
            addr,
        };
        Ok(Arc::new(Self {
            runs: runs::Slot::new(data.join("runs"), Some(local)),
            data,
            limits: Limits {
                max_upload: opts.max_upload,
                max_run_s: opts.max_run_s,
                max_rate: opts.max_rate,
            },
            prometheus: opts.prometheus.clone(),
            controller,
        }))
    }
}

/// Serve until SIGINT/SIGTERM; a run in progress is stopped and the
/// testbed taken down before the process exits.
pub fn serve(opts: &PanelOptions) -> Result<()> {
    if !opts.listen.ip().is_loopback() && !opts.allow_remote {
        bail!(
            "--listen {}: not a loopback address; the panel runs the testbed as root without authentication, pass --allow-remote to serve it there anyway",
            opts.listen
        );
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("bind {}", opts.listen))?;
        let addr = listener.local_addr()?;
        let app = App::new(opts, addr)?;
        // The line tests and scripts wait for: the address actually bound
        // (`--listen 127.0.0.1:0` picks a free port).
        eprintln!("panel listening on http://{addr}");
        let router = api::router(Arc::clone(&app));
        // Not a graceful shutdown: event streams and callers' sockets never
        // end by themselves. The connections keep being served on the
        // runtime while the run in progress stops (its caller talks to the
        // controller until then) and the testbed is taken down.
        tokio::select! {
            served = axum::serve(listener, router) => served.context("serve")?,
            () = shutdown() => {}
        }
        let slot = Arc::clone(&app);
        tokio::task::spawn_blocking(move || slot.runs.shutdown())
            .await
            .context("stop the run")?;
        anyhow::Ok(())
    })
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
    tracing::info!("shutting down");
}
