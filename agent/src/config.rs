//! Configuration: flags, `SIPLAT_*` environment variables and a TOML file
//! share one set of names (the long flag names), flag > env > file > default.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{
    ArgMatches, CommandFactory as _, FromArgMatches as _, Parser, ValueEnum, parser::ValueSource,
};
use serde::Deserialize;
use thiserror::Error;

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
    #[error(transparent)]
    Cli(#[from] clap::Error),
    #[error("--pod-labels needs --placement host and --node-name (SIPLAT_NODE_NAME)")]
    PodLabels,
}

/// Where the agent runs relative to the proxies it measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Inside one proxy's network namespace: all its interfaces are one proxy.
    Pod,
    /// On the host side of pod veths (DaemonSet): each interface is its own
    /// proxy, and ingress/egress are mirrored.
    Host,
}

/// How the TC programs are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TcMode {
    /// TCX links where the kernel has them (6.6+), netlink clsact otherwise.
    Auto,
    Tcx,
    Netlink,
}

/// siplat agent: SIP latency from the kernel, as Prometheus metrics.
#[derive(Debug, Clone, Parser)]
#[command(name = "siplat-agent", version)]
pub struct Config {
    /// TOML file with any of these options (same names as the long flags).
    #[arg(long, env = "SIPLAT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Interface name or glob (`*`, `?`) to attach to; repeatable. Interfaces
    /// that appear later are attached too.
    #[arg(
        long = "iface",
        env = "SIPLAT_IFACE",
        value_delimiter = ',',
        default_value = "eth*"
    )]
    pub iface: Vec<String>,

    /// SIP port, matched as source or destination; repeatable.
    #[arg(
        long = "sip-port",
        env = "SIPLAT_SIP_PORT",
        value_delimiter = ',',
        default_value = "5060"
    )]
    pub sip_port: Vec<u16>,

    /// Address of the HTTP server (/metrics, /healthz, /readyz, /samples).
    #[arg(long, env = "SIPLAT_LISTEN", default_value = "0.0.0.0:9560")]
    pub listen: SocketAddr,

    /// Where the agent sits: inside a proxy's netns, or on the host side of
    /// pod veths.
    #[arg(long, env = "SIPLAT_PLACEMENT", value_enum, default_value = "pod")]
    pub placement: Placement,

    /// TC attach mechanism.
    #[arg(long, env = "SIPLAT_TC_MODE", value_enum, default_value = "auto")]
    pub tc_mode: TcMode,

    /// Watch ingress with XDP instead of TC (egress stays TC).
    #[arg(long, env = "SIPLAT_XDP")]
    pub xdp: bool,

    /// Sliding window of the P99 gauge, in seconds.
    #[arg(long, env = "SIPLAT_WINDOW", default_value = "30")]
    pub window: u64,

    /// Pending transactions older than this (seconds) are expired and counted
    /// (SIP Timer B is 32 s).
    #[arg(long, env = "SIPLAT_TXN_TIMEOUT", default_value = "32")]
    pub txn_timeout: u64,

    /// Ratio between histogram bucket bounds (100 us .. 10 s). 1.2 reads a
    /// P99 within 10 %; larger means fewer series.
    #[arg(long, env = "SIPLAT_BUCKET_FACTOR", default_value = "1.2")]
    pub bucket_factor: f64,

    /// Label histograms by interface (off: one series set per proxy).
    #[arg(long, env = "SIPLAT_IFACE_LABEL", default_value = "true", action = clap::ArgAction::Set)]
    pub iface_label: bool,

    /// Raw samples kept for /samples.
    #[arg(long, env = "SIPLAT_SAMPLES_CAPACITY", default_value = "100000")]
    pub samples_capacity: usize,

    /// Capacity of the kernel's pending-transaction map; beyond it the oldest
    /// entries are evicted (and counted as `pending_evicted`).
    #[arg(long, env = "SIPLAT_MAX_PENDING", default_value_t = agent_common::config::PENDING_MAX_ENTRIES)]
    pub max_pending: u32,

    /// Size of the kernel-to-agent sample ring buffer in bytes (a power of
    /// two, at least one page); samples that do not fit are counted as
    /// `ringbuf_full`.
    #[arg(long, env = "SIPLAT_RINGBUF_BYTES", default_value_t = agent_common::config::SAMPLES_RINGBUF_BYTES)]
    pub ringbuf_bytes: u32,

    /// How often (seconds) interfaces are rescanned and pending entries swept.
    #[arg(long, env = "SIPLAT_RESCAN_INTERVAL", default_value = "1")]
    pub rescan_interval: u64,

    /// Seconds a gone interface's series stay exported (so Prometheus
    /// scrapes their last values) before they are removed.
    #[arg(long, env = "SIPLAT_FORGET_AFTER", default_value = "300")]
    pub forget_after: u64,

    /// With `--placement host` on Kubernetes: label histograms with the
    /// namespace and name of the pod behind each veth (`k8s_namespace`,
    /// `k8s_pod`), so a selector can keep the proxies and leave out other
    /// SIP pods on the node. Needs `--node-name` and read access to pods.
    #[arg(long, env = "SIPLAT_POD_LABELS", default_value = "false", action = clap::ArgAction::Set)]
    pub pod_labels: bool,

    /// This node's name (the `DaemonSet` passes `spec.nodeName`): the pods
    /// looked up are the ones scheduled here.
    #[arg(long, env = "SIPLAT_NODE_NAME")]
    pub node_name: Option<String>,

    /// How often (seconds) the node's pods are listed for `--pod-labels`; an
    /// address no listed pod has triggers a list sooner (at most every 2 s).
    #[arg(long, env = "SIPLAT_POD_REFRESH", default_value = "10")]
    pub pod_refresh: u64,
}

/// The config file: every field optional, names as the long flags.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    iface: Option<Vec<String>>,
    sip_port: Option<Vec<u16>>,
    listen: Option<SocketAddr>,
    placement: Option<Placement>,
    tc_mode: Option<TcMode>,
    xdp: Option<bool>,
    window: Option<u64>,
    txn_timeout: Option<u64>,
    bucket_factor: Option<f64>,
    iface_label: Option<bool>,
    samples_capacity: Option<usize>,
    max_pending: Option<u32>,
    ringbuf_bytes: Option<u32>,
    rescan_interval: Option<u64>,
    forget_after: Option<u64>,
    pod_labels: Option<bool>,
    node_name: Option<String>,
    pod_refresh: Option<u64>,
}

impl Config {
    /// Parse the command line and environment, then fill what they left at
    /// its default from the config file.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(std::env::args_os())
    }

    pub fn load_from<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Self::command().try_get_matches_from(args)?;
        let mut config = Self::from_arg_matches(&matches)?;
        if let Some(path) = config.config.clone() {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let file: FileConfig =
                toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source })?;
            config.merge(&matches, file);
        }
        if config.pod_labels && (config.placement != Placement::Host || config.node_name.is_none())
        {
            return Err(ConfigError::PodLabels);
        }
        Ok(config)
    }

    #[must_use]
    pub fn forget_after(&self) -> Duration {
        Duration::from_secs(self.forget_after)
    }

    #[must_use]
    pub fn pod_refresh(&self) -> Duration {
        Duration::from_secs(self.pod_refresh.max(1))
    }

    fn merge(&mut self, matches: &ArgMatches, file: FileConfig) {
        let defaulted = |id: &str| {
            matches.value_source(id) == Some(ValueSource::DefaultValue)
                || matches.value_source(id).is_none()
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
        fill!(
            iface,
            sip_port,
            listen,
            placement,
            tc_mode,
            xdp,
            window,
            txn_timeout,
            bucket_factor,
            iface_label,
            samples_capacity,
            max_pending,
            ringbuf_bytes,
            rescan_interval,
            forget_after,
            pod_labels,
            pod_refresh
        );
        if self.node_name.is_none() {
            self.node_name = file.node_name;
        }
    }

    #[must_use]
    pub fn txn_timeout(&self) -> Duration {
        Duration::from_secs(self.txn_timeout.max(1))
    }

    #[must_use]
    pub fn rescan_interval(&self) -> Duration {
        Duration::from_secs(self.rescan_interval.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_fills_defaults_but_flags_win() {
        let dir = std::env::temp_dir().join(format!("siplat-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("agent.toml");
        std::fs::write(
            &path,
            "iface = [\"veth*\"]\nsip-port = [5080]\nwindow = 10\nplacement = \"host\"\n",
        )
        .expect("write");
        let cfg = Config::load_from([
            "siplat-agent",
            "--config",
            path.to_str().expect("utf8"),
            "--window",
            "5",
        ])
        .expect("load");
        assert_eq!(cfg.iface, vec!["veth*".to_owned()]);
        assert_eq!(cfg.sip_port, vec![5080]);
        assert_eq!(cfg.window, 5, "the flag wins over the file");
        assert_eq!(cfg.placement, Placement::Host);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn pod_labels_need_the_host_placement_and_a_node() {
        let err = Config::load_from(["siplat-agent", "--pod-labels", "true"]).expect_err("pod");
        assert!(matches!(err, ConfigError::PodLabels), "{err}");
        let err = Config::load_from([
            "siplat-agent",
            "--pod-labels",
            "true",
            "--placement",
            "host",
        ])
        .expect_err("no node");
        assert!(matches!(err, ConfigError::PodLabels), "{err}");
        let cfg = Config::load_from([
            "siplat-agent",
            "--pod-labels",
            "true",
            "--placement",
            "host",
            "--node-name",
            "node-1",
        ])
        .expect("valid");
        assert_eq!(cfg.node_name.as_deref(), Some("node-1"));
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = std::env::temp_dir().join(format!("siplat-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("agent.toml");
        std::fs::write(&path, "sip_prot = [5080]\n").expect("write");
        let err = Config::load_from(["siplat-agent", "--config", path.to_str().expect("utf8")])
            .expect_err("typo must fail");
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }
}
