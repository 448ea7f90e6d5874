//! Configuration: flags, `SIPLAT_*` environment variables and a TOML file
//! share one set of names (the long flag names), flag > env > file > default.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::{CommandFactory as _, Parser, ValueEnum, error::ErrorKind};
pub use cliconf::ConfigError;
use cliconf::parse_duration;

/// Where the agent runs relative to the proxies it measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Placement {
    /// Inside one proxy's network namespace: all its interfaces are one proxy.
    Pod,
    /// On the host side of pod veths (DaemonSet): each interface is its own
    /// proxy, and ingress/egress are mirrored.
    Host,
}

/// How the TC programs are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TcMode {
    /// TCX links where the kernel has them (6.6+), netlink clsact otherwise.
    Auto,
    Tcx,
    Netlink,
}

/// `--samples-listen`: an address, or `off` for no samples listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SamplesListen(pub Option<SocketAddr>);

impl FromStr for SamplesListen {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "off" {
            return Ok(Self(None));
        }
        s.parse().map(|a| Self(Some(a)))
    }
}

impl fmt::Display for SamplesListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("off"),
        }
    }
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

    /// Address of the HTTP server (/metrics, /healthz, /readyz).
    #[arg(long, env = "SIPLAT_LISTEN", default_value = "0.0.0.0:9560")]
    pub listen: SocketAddr,

    /// Address of /samples?limit=N, or `off`. Raw samples carry caller
    /// addresses, so the default is loopback: off the node's network when
    /// the agent runs in the host network.
    #[arg(long, env = "SIPLAT_SAMPLES_LISTEN", default_value = "127.0.0.1:9561")]
    pub samples_listen: SamplesListen,

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

    /// Sliding window of the P99 gauge. It moves by whole seconds, so
    /// shorter parts are dropped (at least 1 s).
    #[arg(long, env = "SIPLAT_WINDOW", default_value = "30s", value_parser = parse_duration)]
    pub window: Duration,

    /// Pending transactions older than this are expired and counted (SIP
    /// Timer B is 32 s; at least 1 s).
    #[arg(long, env = "SIPLAT_TXN_TIMEOUT", default_value = "32s", value_parser = parse_duration)]
    pub txn_timeout: Duration,

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

    /// How often interfaces are rescanned and pending entries swept (at
    /// least 100 ms: each rescan lists the links).
    #[arg(long, env = "SIPLAT_RESCAN_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub rescan_interval: Duration,

    /// How long a gone interface's series stay exported (so Prometheus
    /// scrapes their last values) before they are removed.
    #[arg(long, env = "SIPLAT_FORGET_AFTER", default_value = "5m", value_parser = parse_duration)]
    pub forget_after: Duration,

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

    /// How often the node's pods are listed for `--pod-labels` (at least
    /// 1 s); an address no listed pod has triggers a list sooner (at most
    /// every 2 s).
    #[arg(long, env = "SIPLAT_POD_REFRESH", default_value = "10s", value_parser = parse_duration)]
    pub pod_refresh: Duration,
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
        T: Into<std::ffi::OsString>,
    {
        let config: Self = cliconf::parse_from(args)?;
        // A usage error like clap's own, wherever the values came from.
        if config.pod_labels && (config.placement != Placement::Host || config.node_name.is_none())
        {
            return Err(Self::command()
                .error(
                    ErrorKind::MissingRequiredArgument,
                    "--pod-labels needs --placement host and --node-name (SIPLAT_NODE_NAME)",
                )
                .into());
        }
        Ok(config)
    }

    #[must_use]
    pub fn txn_timeout(&self) -> Duration {
        self.txn_timeout.max(Duration::from_secs(1))
    }

    /// Never zero: a zero tick panics the timer.
    #[must_use]
    pub fn rescan_interval(&self) -> Duration {
        self.rescan_interval.max(Duration::from_millis(100))
    }

    #[must_use]
    pub fn pod_refresh(&self) -> Duration {
        self.pod_refresh.max(Duration::from_secs(1))
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
        assert_eq!(
            cfg.window,
            Duration::from_secs(5),
            "the flag wins over the file"
        );
        assert_eq!(cfg.placement, Placement::Host);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn pod_labels_need_the_host_placement_and_a_node() {
        let pod_labels_error = |err: &ConfigError| {
            matches!(err, ConfigError::Cli(e) if e.kind() == ErrorKind::MissingRequiredArgument
                && e.to_string().contains("--pod-labels needs"))
        };
        let err = Config::load_from(["siplat-agent", "--pod-labels", "true"]).expect_err("pod");
        assert!(pod_labels_error(&err), "{err}");
        let err = Config::load_from([
            "siplat-agent",
            "--pod-labels",
            "true",
            "--placement",
            "host",
        ])
        .expect_err("no node");
        assert!(pod_labels_error(&err), "{err}");
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
        assert!(
            matches!(&err, ConfigError::UnknownKey { key, .. } if key == "sip_prot"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn durations_take_units_and_bare_seconds() {
        let cfg = Config::load_from(["siplat-agent"]).expect("defaults");
        assert_eq!(cfg.window, Duration::from_secs(30));
        assert_eq!(cfg.txn_timeout, Duration::from_secs(32));
        assert_eq!(cfg.rescan_interval, Duration::from_secs(1));
        assert_eq!(cfg.forget_after, Duration::from_secs(300));
        assert_eq!(cfg.pod_refresh, Duration::from_secs(10));
        let cfg = Config::load_from([
            "siplat-agent",
            "--window",
            "30",
            "--txn-timeout",
            "1m",
            "--rescan-interval",
            "500ms",
            "--forget-after",
            "2",
            "--pod-refresh",
            "0s",
        ])
        .expect("load");
        assert_eq!(cfg.window, Duration::from_secs(30), "bare seconds");
        assert_eq!(cfg.txn_timeout(), Duration::from_secs(60));
        assert_eq!(cfg.rescan_interval(), Duration::from_millis(500));
        assert_eq!(cfg.forget_after, Duration::from_secs(2));
        assert_eq!(cfg.pod_refresh(), Duration::from_secs(1), "never zero");
        let help = Config::command().render_long_help().to_string();
        assert!(help.contains("[default: 30s]"), "{help}");
    }

    #[test]
    fn samples_listen_defaults_to_loopback_and_turns_off() {
        let cfg = Config::load_from(["siplat-agent"]).expect("defaults");
        let addr = cfg.samples_listen.0.expect("on by default");
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), 9561);
        let cfg = Config::load_from(["siplat-agent", "--samples-listen", "off"]).expect("off");
        assert_eq!(cfg.samples_listen, SamplesListen(None));
        let cfg = Config::load_from(["siplat-agent", "--samples-listen", "198.19.0.1:9661"])
            .expect("addr");
        assert_eq!(cfg.samples_listen.to_string(), "198.19.0.1:9661");
        assert!(Config::load_from(["siplat-agent", "--samples-listen", "on"]).is_err());

        let dir =
            std::env::temp_dir().join(format!("siplat-config-samples-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("agent.toml");
        std::fs::write(&path, "samples-listen = \"off\"\n").expect("write");
        let cfg = Config::load_from(["siplat-agent", "--config", path.to_str().expect("utf8")])
            .expect("file");
        assert_eq!(cfg.samples_listen, SamplesListen(None), "the file key");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_pod_labels_check_covers_the_file() {
        let dir = std::env::temp_dir().join(format!("siplat-config-pods-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("agent.toml");
        std::fs::write(&path, "pod-labels = true\nplacement = \"host\"\n").expect("write");
        let err = Config::load_from(["siplat-agent", "--config", path.to_str().expect("utf8")])
            .expect_err("no node");
        assert!(matches!(err, ConfigError::Cli(_)), "{err}");
        std::fs::write(
            &path,
            "pod-labels = true\nplacement = \"host\"\nnode-name = \"n\"\nxdp = true\n",
        )
        .expect("write");
        let cfg = Config::load_from(["siplat-agent", "--config", path.to_str().expect("utf8")])
            .expect("valid");
        assert!(cfg.pod_labels && cfg.xdp);
        assert_eq!(cfg.node_name.as_deref(), Some("n"));
        std::fs::remove_dir_all(dir).ok();
    }
}
