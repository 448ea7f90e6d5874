//! Configuration of `siplat-scaler run`: flags, `SIPLAT_SCALER_*`
//! environment variables and a TOML file share one set of names (the long
//! flag names), flag > env > file > default, as in the agent.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};
use cliconf::parse_duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// `PromQL` over the agents' series in Prometheus.
    Prometheus,
    /// Scrape the agents' /metrics directly.
    Agents,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActuatorKind {
    /// Patch the scale subresource of a `StatefulSet` or `Deployment`.
    Kubernetes,
    /// The local testbed (`<testbed-cmd> scale N`).
    Local,
    /// Dry run: decide and log, touch nothing.
    Sim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKindArg {
    Statefulset,
    Deployment,
}

/// `--selector`'s default: the INVITE's pairs that time the proxy's own
/// work. `round_trip` is left out: it holds the callee's ringing time, which
/// no number of proxies makes shorter.
pub const DEFAULT_SELECTOR: &str = r#"method="INVITE",kind!="round_trip""#;

/// `siplat-scaler run`: keep the P99 under target with as few proxies as possible.
#[derive(Debug, Clone, Args)]
pub struct RunConfig {
    /// TOML file with any of these options (same names as the long flags).
    #[arg(long, env = "SIPLAT_SCALER_CONFIG")]
    pub config: Option<PathBuf>,

    /// Where P99 and arrival rate come from.
    #[arg(
        long,
        env = "SIPLAT_SCALER_SOURCE",
        value_enum,
        default_value = "prometheus"
    )]
    pub source: SourceKind,

    /// Prometheus base URL.
    #[arg(
        long,
        env = "SIPLAT_SCALER_PROMETHEUS_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub prometheus_url: String,

    /// Agent base URLs (comma separated); empty with the local actuator
    /// means the testbed's advertised agent.
    #[arg(long, env = "SIPLAT_SCALER_AGENTS", value_delimiter = ',')]
    pub agents: Vec<String>,

    /// Label matchers selecting the latency histogram series.
    #[arg(long, env = "SIPLAT_SCALER_SELECTOR", default_value = DEFAULT_SELECTOR)]
    pub selector: String,

    /// Counter whose growth is the INVITE arrival rate. On the local testbed
    /// `siplat_sip_latency_seconds_count` with `kind="relay_request"` at the
    /// proxies' interfaces counts calls once (the message counter has no
    /// `iface` label, so it also counts the load balancer's INVITEs).
    #[arg(
        long,
        env = "SIPLAT_SCALER_RATE_METRIC",
        default_value = "siplat_sip_messages_total"
    )]
    pub rate_metric: String,

    /// Label matchers selecting the arrival counter series.
    #[arg(
        long,
        env = "SIPLAT_SCALER_RATE_SELECTOR",
        default_value = "direction=\"in\",type=\"request\",method=\"INVITE\""
    )]
    pub rate_selector: String,

    /// `rate()` window of the `PromQL` queries.
    #[arg(long, env = "SIPLAT_SCALER_QUERY_WINDOW", default_value = "1m")]
    pub query_window: String,

    /// `PromQL` giving CPU cores per pod (for hpa-cpu with Prometheus).
    #[arg(long, env = "SIPLAT_SCALER_CPU_QUERY")]
    pub cpu_query: Option<String>,

    /// What the decisions act on.
    #[arg(
        long,
        env = "SIPLAT_SCALER_ACTUATOR",
        value_enum,
        default_value = "sim"
    )]
    pub actuator: ActuatorKind,

    /// Kind of the proxies' workload.
    #[arg(
        long,
        env = "SIPLAT_SCALER_TARGET_KIND",
        value_enum,
        default_value = "statefulset"
    )]
    pub target_kind: TargetKindArg,

    /// Name of the proxies' workload.
    #[arg(long, env = "SIPLAT_SCALER_TARGET_NAME", default_value = "sip-proxy")]
    pub target_name: String,

    /// Namespace of the proxies' workload (default: the client's namespace).
    #[arg(long, env = "SIPLAT_SCALER_TARGET_NAMESPACE")]
    pub target_namespace: Option<String>,

    /// Testbed command for the local actuator (`scale N`, `status --json` are appended).
    #[arg(
        long,
        env = "SIPLAT_SCALER_TESTBED_CMD",
        default_value = "cargo xtask testbed"
    )]
    pub testbed_cmd: String,

    /// Policy with parameters, e.g. `qos`, `hpa-cpu:target=20m`, `static:replicas=5`.
    #[arg(long, env = "SIPLAT_SCALER_POLICY", default_value = "qos")]
    pub policy: String,

    /// The operator's P99 target.
    #[arg(long, env = "SIPLAT_SCALER_P99_TARGET", default_value = "1s", value_parser = parse_duration)]
    pub p99_target: Duration,

    /// Fewest replicas.
    #[arg(long, env = "SIPLAT_SCALER_MIN_REPLICAS", default_value = "1")]
    pub min_replicas: u32,

    /// Most replicas.
    #[arg(long, env = "SIPLAT_SCALER_MAX_REPLICAS", default_value = "10")]
    pub max_replicas: u32,

    /// Time between decisions.
    #[arg(long, env = "SIPLAT_SCALER_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Time a new replica needs before it takes traffic (forecast lead, sim actuator).
    #[arg(long, env = "SIPLAT_SCALER_BOOT_DELAY", default_value = "30s", value_parser = parse_duration)]
    pub boot_delay: Duration,

    /// Inputs older than this are stale (never scale down on them).
    #[arg(long, env = "SIPLAT_SCALER_STALE_AFTER", default_value = "2m", value_parser = parse_duration)]
    pub stale_after: Duration,

    /// Timeout of each HTTP request to Prometheus or an agent.
    #[arg(long, env = "SIPLAT_SCALER_HTTP_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub http_timeout: Duration,

    /// Address of the HTTP server (/metrics, /healthz).
    #[arg(long, env = "SIPLAT_SCALER_LISTEN", default_value = "0.0.0.0:9561")]
    pub listen: SocketAddr,

    /// Stop after this long (0: run until interrupted).
    #[arg(long, env = "SIPLAT_SCALER_DURATION", default_value = "0s", value_parser = parse_duration)]
    pub duration: Duration,
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use cliconf::ConfigError;

    use super::*;
    use crate::cli::{Cli, Command};

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        run: RunConfig,
    }

    fn load(args: &[&str]) -> Result<RunConfig, ConfigError> {
        cliconf::parse_from::<Wrapper, _, _>(args).map(|w| w.run)
    }

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "siplat-scaler-config-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("scaler.toml");
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn file_fills_defaults_but_flags_win() {
        let path = write(
            "ok",
            "source = \"agents\"\nrate-metric = \"siplat_sip_latency_seconds_count\"\npolicy = \"hpa-cpu:target=20m\"\ninterval = \"5s\"\nmax-replicas = 7\ntarget-namespace = \"ims\"\n",
        );
        let cfg = load(&[
            "x",
            "--config",
            path.to_str().expect("utf8"),
            "--max-replicas",
            "3",
        ])
        .expect("load");
        assert_eq!(cfg.source, SourceKind::Agents);
        assert_eq!(cfg.rate_metric, "siplat_sip_latency_seconds_count");
        assert_eq!(cfg.policy, "hpa-cpu:target=20m");
        assert_eq!(cfg.interval, Duration::from_secs(5));
        assert_eq!(cfg.max_replicas, 3, "the flag wins over the file");
        assert_eq!(cfg.target_namespace.as_deref(), Some("ims"));
        std::fs::remove_dir_all(path.parent().expect("dir")).ok();
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_errors() {
        let path = write("bad", "polcy = \"qos\"\n");
        let err = load(&["x", "--config", path.to_str().expect("utf8")]).expect_err("typo");
        assert!(
            matches!(&err, ConfigError::UnknownKey { key, .. } if key == "polcy"),
            "{err}"
        );
        let path = write("dur", "interval = \"5 parsecs\"\n");
        let err = load(&["x", "--config", path.to_str().expect("utf8")]).expect_err("bad duration");
        assert!(
            matches!(&err, ConfigError::Value { key, .. } if key == "interval"),
            "{err}"
        );
    }

    #[test]
    fn the_run_subcommand_reads_its_file() {
        let path = write(
            "run",
            "agents = [\"http://a:9560\", \"http://b:9560\"]\nboot-delay = 45\nstale-after = \"90s\"\n",
        );
        let cli = cliconf::parse_from::<Cli, _, _>([
            "siplat-scaler",
            "run",
            "--config",
            path.to_str().expect("utf8"),
            "--interval",
            "800ms",
        ])
        .expect("parse");
        let Command::Run(cfg) = cli.command else {
            panic!("not run: {:?}", cli.command);
        };
        assert_eq!(cfg.agents, ["http://a:9560", "http://b:9560"]);
        assert_eq!(cfg.boot_delay, Duration::from_secs(45), "bare seconds");
        assert_eq!(cfg.stale_after, Duration::from_secs(90));
        assert_eq!(cfg.interval, Duration::from_millis(800));
        assert_eq!(cfg.http_timeout, Duration::from_secs(5), "the default");
        std::fs::remove_dir_all(path.parent().expect("dir")).ok();
    }
}
