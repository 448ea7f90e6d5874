//! siplat-agent: loads the SIP latency program, follows interfaces, and
//! serves Prometheus metrics and raw samples.

use std::{
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use agent::{
    ageing, config::Config, events, expiry, http, ifaces, loader::Loader, metrics, pods, retire,
    samples, samples_api,
};
use agent_common::config::maps;
use anyhow::Context as _;
use aya::maps::{HashMap as BpfHashMap, PerCpuArray, RingBuf};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/agent"));

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIPLAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = match Config::load() {
        Ok(config) => config,
        // --help, --version and usage errors print and exit as clap does.
        Err(agent::config::ConfigError::Cli(e)) => e.exit(),
        Err(e) => return Err(e.into()),
    };
    init_tracing();
    run(config).await
}

/// The sweeper over the kernel's state maps: pending transactions, the
/// per-CPU counters, and the reassembly maps it ages on the same beat.
fn sweeper(
    loader: &mut Loader,
    config: &Config,
    metrics: &Arc<metrics::Metrics>,
) -> anyhow::Result<expiry::Sweeper> {
    let counters = PerCpuArray::try_from(loader.take_map(maps::COUNTERS)?)?;
    let pending = BpfHashMap::try_from(loader.take_map(maps::PENDING)?)?;
    let ageing = ageing::Ageing::new(
        BpfHashMap::try_from(loader.take_map(maps::FRAGS)?)?,
        BpfHashMap::try_from(loader.take_map(maps::STREAMS)?)?,
        u64::try_from(config.txn_timeout().as_nanos()).unwrap_or(u64::MAX),
    );
    Ok(
        expiry::Sweeper::new(pending, counters, metrics.clone(), config.txn_timeout())
            .with_ageing(ageing),
    )
}

async fn run(config: Config) -> anyhow::Result<()> {
    let metrics = Arc::new(metrics::Metrics::new(
        config.bucket_factor,
        config.iface_label,
        config.pod_labels,
        config.window.as_secs(),
    )?);
    let store = Arc::new(samples::SampleStore::new(config.samples_capacity));
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen on {}", config.listen))?;
    let app = http::router(http::AppState {
        metrics: metrics.clone(),
        ready: ready.clone(),
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    // Serves until the process ends.
    let samples = samples_api::SamplesState::new(store.clone(), metrics.samples_rejected.clone());
    samples_api::spawn(config.samples_listen, samples)
        .await
        .with_context(|| format!("listen on {} (--samples-listen)", config.samples_listen))?;

    let mut loader = Loader::load(OBJECT, &config).context("load agent-ebpf")?;
    let ring = RingBuf::try_from(loader.take_map(maps::SAMPLES)?)?;
    let sweeper = sweeper(&mut loader, &config, &metrics)?;

    let pods = match (config.pod_labels, &config.node_name) {
        (true, Some(node)) => {
            let client = kube::Client::try_default()
                .await
                .context("Kubernetes client for --pod-labels (in-cluster or KUBECONFIG)")?;
            let directory = Arc::new(pods::Directory::default());
            tokio::spawn(pods::run(
                directory.clone(),
                client,
                node.clone(),
                config.pod_refresh(),
                metrics.pod_list_errors.clone(),
            ));
            info!(node = %node, "labelling series with the pods of this node");
            Some(directory)
        }
        _ => None,
    };
    let names = Arc::new(RwLock::new(std::collections::HashMap::new()));
    let sink = Arc::new(events::Sink {
        metrics: metrics.clone(),
        store,
        names: names.clone(),
        mono_to_unix_ns: samples::mono_to_unix_offset_ns(),
        pods: pods.clone(),
    });
    let reader = tokio::spawn(events::run(ring, sink));

    let stop = Arc::new(AtomicBool::new(false));
    let sweeper = sweeper
        .spawn(config.rescan_interval(), stop.clone())
        .context("spawn the sweeper thread")?;

    let mut retire = retire::Retirements::new(config.forget_after);
    let mut term = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(config.rescan_interval());
    info!(listen = %config.listen, samples_listen = %config.samples_listen, ifaces = ?config.iface, ports = ?config.sip_port, "siplat agent running");
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if loader.sync(&ifaces::list(), &config.iface) {
                    let now = loader.names();
                    if let Some(pods) = &pods {
                        pods.retain_ifaces(&now);
                    }
                    let mut attached = names.write().unwrap_or_else(PoisonError::into_inner);
                    retire.note_gone(&attached, &now, Instant::now());
                    *attached = now;
                }
                let due = {
                    let attached = names.read().unwrap_or_else(PoisonError::into_inner);
                    retire.due(&attached, Instant::now())
                };
                for iface in due {
                    let series = metrics.forget_iface(&iface);
                    info!(%iface, series, "removed the series of a gone interface");
                }
                metrics.attached.set(i64::try_from(loader.attached_count()).unwrap_or(i64::MAX));
                metrics.attach_errors.inc_by(loader.take_attach_errors());
                // Not ready while an interface we were asked to watch is
                // not watched: its traffic would be missing from the metrics.
                ready.store(loader.failing_count() == 0, Ordering::Relaxed);
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    info!("shutting down");
    loader.detach_all();
    stop.store(true, Ordering::Relaxed);
    reader.abort();
    server.abort();
    if sweeper.join().is_err() {
        warn!("sweeper thread panicked");
    }
    Ok(())
}
