//! Configuration of `siplat-scaler run`: flags, `SIPLAT_SCALER_*`
//! environment variables and a TOML file share one set of names (the long
//! flag names), flag > env > file > default, as in the agent.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{ArgMatches, Args, ValueEnum, parser::ValueSource};
use serde::Deserialize;
use thiserror::Error;

use crate::cli::duration::parse_duration;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse config file {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("config file {path}: {key}: {message}")]
    Value {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// `PromQL` over the agents' series in Prometheus.
    Prometheus,
    /// Scrape the agents' /metrics directly.
    Agents,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActuatorKind {
    /// Patch the scale subresource of a `StatefulSet` or `Deployment`.
    Kubernetes,
    /// The local testbed (`<testbed-cmd> scale N`).
    Local,
    /// Dry run: decide and log, touch nothing.
    Sim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKindArg {
    Statefulset,
    Deployment,
}

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
    #[arg(
        long,
        env = "SIPLAT_SCALER_SELECTOR",
        default_value = "method=\"INVITE\""
    )]
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

/// The config file: every field optional, names as the long flags.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    source: Option<SourceKind>,
    prometheus_url: Option<String>,
    agents: Option<Vec<String>>,
    selector: Option<String>,
    rate_metric: Option<String>,
    rate_selector: Option<String>,
    query_window: Option<String>,
    cpu_query: Option<String>,
    actuator: Option<ActuatorKind>,
    target_kind: Option<TargetKindArg>,
    target_name: Option<String>,
    target_namespace: Option<String>,
    testbed_cmd: Option<String>,
    policy: Option<String>,
    p99_target: Option<String>,
    min_replicas: Option<u32>,
    max_replicas: Option<u32>,
    interval: Option<String>,
    boot_delay: Option<String>,
    stale_after: Option<String>,
    http_timeout: Option<String>,
    listen: Option<SocketAddr>,
    duration: Option<String>,
}

impl RunConfig {
    /// Fill what flags and environment left at its default from the file
    /// named by `--config`.
    pub fn with_file(mut self, matches: &ArgMatches) -> Result<Self, ConfigError> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let file: FileConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.clone(),
            source,
        })?;
        self.merge(matches, file, &path)?;
        Ok(self)
    }

    fn merge(
        &mut self,
        matches: &ArgMatches,
        file: FileConfig,
        path: &std::path::Path,
    ) -> Result<(), ConfigError> {
        let defaulted = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(ValueSource::DefaultValue) | None
            )
        };
        macro_rules! fill {
            ($($field:ident),*) => {$(
                if defaulted(stringify!($field)) {
                    if let Some(v) = file.$field {
                        self.$field = v;
                    }
                }
            )*};
        }
        macro_rules! fill_opt {
            ($($field:ident),*) => {$(
                if defaulted(stringify!($field)) && file.$field.is_some() {
                    self.$field = file.$field;
                }
            )*};
        }
        macro_rules! fill_duration {
            ($($field:ident),*) => {$(
                if defaulted(stringify!($field)) {
                    if let Some(v) = &file.$field {
                        self.$field = parse_duration(v).map_err(|message| ConfigError::Value {
                            path: path.to_path_buf(),
                            key: stringify!($field),
                            message,
                        })?;
                    }
                }
            )*};
        }
        fill_duration!(
            p99_target,
            interval,
            boot_delay,
            stale_after,
            http_timeout,
            duration
        );
        fill!(
            source,
            prometheus_url,
            agents,
            selector,
            rate_metric,
            rate_selector,
            query_window,
            actuator,
            target_kind,
            target_name,
            testbed_cmd,
            policy,
            min_replicas,
            max_replicas,
            listen
        );
        fill_opt!(cpu_query, target_namespace);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::{FromArgMatches as _, Parser};

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        run: RunConfig,
    }

    fn load(args: &[&str]) -> Result<RunConfig, ConfigError> {
        use clap::CommandFactory as _;
        let matches = Wrapper::command().try_get_matches_from(args).expect("args");
        let w = Wrapper::from_arg_matches(&matches).expect("parse");
        w.run.with_file(&matches)
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
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        let path = write("dur", "interval = \"5 parsecs\"\n");
        let err = load(&["x", "--config", path.to_str().expect("utf8")]).expect_err("bad duration");
        assert!(
            matches!(
                err,
                ConfigError::Value {
                    key: "interval",
                    ..
                }
            ),
            "{err}"
        );
    }
}
