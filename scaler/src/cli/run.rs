//! `siplat-scaler run`: the control loop against a real source and actuator.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tracing::{info, warn};

use crate::{
    actuator::{
        Actuator,
        kubernetes::{Kubernetes, TargetKind},
        local::LocalTestbed,
        sim::SimActuator,
    },
    config::{ActuatorKind, RunConfig, SourceKind, TargetKindArg},
    control::Controller,
    http::{Heartbeat, router, serve},
    metrics::ScalerMetrics,
    policy::{
        safety::Safety,
        spec::{BuildContext, PolicySpec},
    },
    source::{
        Source,
        agents::{Agents, AgentsConfig},
        prometheus::{Prometheus, PrometheusConfig},
    },
};

fn build_source(cfg: &RunConfig) -> anyhow::Result<Box<dyn Source>> {
    Ok(match cfg.source {
        SourceKind::Prometheus => Box::new(Prometheus::new(PrometheusConfig {
            url: cfg.prometheus_url.clone(),
            window: cfg.query_window.clone(),
            selector: cfg.selector.clone(),
            rate_metric: cfg.rate_metric.clone(),
            rate_selector: cfg.rate_selector.clone(),
            cpu_query: cfg.cpu_query.clone(),
            timeout: cfg.http_timeout,
        })),
        SourceKind::Agents => Box::new(Agents::new(AgentsConfig {
            urls: cfg.agents.clone(),
            selector: cfg.selector.clone(),
            rate_metric: cfg.rate_metric.clone(),
            rate_selector: cfg.rate_selector.clone(),
            timeout: cfg.http_timeout,
        })?),
    })
}

async fn build_actuator(cfg: &RunConfig) -> anyhow::Result<Box<dyn Actuator>> {
    Ok(match cfg.actuator {
        ActuatorKind::Sim => Box::new(SimActuator::new(cfg.min_replicas.max(1), cfg.boot_delay)),
        ActuatorKind::Local => Box::new(LocalTestbed::new(&cfg.testbed_cmd)?),
        ActuatorKind::Kubernetes => {
            let client = kube::Client::try_default()
                .await
                .context("kubernetes client")?;
            let namespace = cfg
                .target_namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_owned());
            let kind = match cfg.target_kind {
                TargetKindArg::Statefulset => TargetKind::StatefulSet,
                TargetKindArg::Deployment => TargetKind::Deployment,
            };
            Box::new(Kubernetes::new(client, kind, &namespace, &cfg.target_name))
        }
    })
}

pub async fn run(cfg: RunConfig) -> anyhow::Result<()> {
    let specs = PolicySpec::parse_list(&cfg.policy)?;
    let [spec] = specs.as_slice() else {
        anyhow::bail!("run takes exactly one --policy, got {}", specs.len());
    };
    if spec.params.contains_key("interval") {
        anyhow::bail!(
            "`{}`: the policy key `interval` is the simulator's; the run loop decides every --interval",
            spec.text
        );
    }
    let ctx = BuildContext {
        min_replicas: cfg.min_replicas,
        max_replicas: cfg.max_replicas,
        p99_target_s: cfg.p99_target.as_secs_f64(),
        interval_s: cfg.interval.as_secs_f64(),
        boot_s: cfg.boot_delay.as_secs_f64(),
    };
    let (policy, mut safety) = spec.build(&ctx)?;
    safety.min_replicas = safety.min_replicas.max(cfg.min_replicas);
    safety.max_replicas = safety.max_replicas.min(cfg.max_replicas);
    safety.stale_after = cfg.stale_after;
    let metrics = ScalerMetrics::new();
    let heartbeat = Heartbeat::default();
    let app = router(
        metrics.clone(),
        heartbeat.clone(),
        cfg.interval * 4 + cfg.http_timeout * 4,
    );
    let listen = cfg.listen;
    let server = tokio::spawn(async move { serve(listen, app).await });
    let mut controller = Controller {
        source: build_source(&cfg)?,
        policy,
        safety: Safety::new(safety),
        actuator: build_actuator(&cfg).await?,
        metrics,
        stale_after: cfg.stale_after,
    };
    info!(
        policy = %spec.text,
        source = %controller.source.describe(),
        actuator = %controller.actuator.describe(),
        listen = %cfg.listen,
        interval_s = cfg.interval.as_secs_f64(),
        "siplat-scaler running"
    );
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("install SIGTERM handler")?;
    let start = Instant::now();
    let mut ticker = tokio::time::interval(cfg.interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => {
                info!("interrupted");
                break;
            }
            _ = sigterm.recv() => {
                info!("terminated");
                break;
            }
        }
        if server.is_finished() {
            anyhow::bail!("HTTP server on {} stopped (address in use?)", cfg.listen);
        }
        controller.tick(start.elapsed().as_secs_f64()).await;
        heartbeat.beat();
        if !cfg.duration.is_zero() && start.elapsed() >= cfg.duration {
            info!("duration reached");
            break;
        }
    }
    server.abort();
    if let Err(e) = server.await
        && !e.is_cancelled()
    {
        warn!(error = %e, "HTTP server task");
    }
    Ok(())
}
