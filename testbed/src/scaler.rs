//! How `siplat-scaler` runs beside a play on the local testbed: one command
//! line for the demo and the web panel, so a run started from a browser is
//! the run `cargo xtask demo` plays.

use std::{path::Path, process::Command, time::Duration};

/// `spec` with `key=value` added as it would be typed: after a `:` when it
/// has no parameters yet, after a `,` when it has.
#[must_use]
pub fn with_param(spec: &str, key: &str, value: &str) -> String {
    let sep = if spec.contains(':') { ',' } else { ':' };
    format!("{spec}{sep}{key}={value}")
}

/// The latency policies also read the proxies' CPU against their limit
/// (under a CFS quota the P99 gives no warning before the cliff): give them
/// the testbed's limit unless the spec names one.
#[must_use]
pub fn with_cpu_limit(policy: &str, cpu_limit: &str) -> String {
    let latency_policy = policy.starts_with("qos")
        || policy.starts_with("predictive")
        || policy.starts_with("hybrid");
    if latency_policy && !policy.contains("cpu-limit=") {
        with_param(policy, "cpu-limit", cpu_limit)
    } else {
        policy.to_owned()
    }
}

/// The replicas a static policy keeps (`static:replicas=N`), which is also
/// what the testbed starts with for it.
#[must_use]
pub fn static_replicas(policy: &str) -> Option<u32> {
    policy.strip_prefix("static:replicas=")?.parse().ok()
}

/// `siplat-scaler run` against the testbed's agent with the local actuator
/// (`tb` is the `siplat-testbed` it calls), deciding every 2 s on 10 s of
/// samples: time is squeezed on the testbed, and a local Kamailio takes
/// traffic ~2-3 s after it starts, plus the testbed's boot delay.
#[must_use]
pub fn command(
    scaler: &Path,
    tb: &Path,
    policy: &str,
    agent_url: &str,
    target: Duration,
    boot_delay: Duration,
) -> Command {
    let mut cmd = Command::new(scaler);
    cmd.args([
        "run",
        "--source",
        "agents",
        "--agents",
        agent_url,
        "--actuator",
        "local",
    ])
    // The proxies' series only (the agent also watches the load
    // balancer's veth); the arrival rate is INVITEs the proxies relay.
    .args([
        "--selector",
        r#"method="INVITE",kind!="round_trip",iface=~"tbv-p.*""#,
    ])
    .args(["--rate-metric", "siplat_sip_latency_seconds_count"])
    .args([
        "--rate-selector",
        r#"kind="relay_request",method="INVITE",iface=~"tbv-p.*""#,
    ])
    .arg("--testbed-cmd")
    .arg(tb)
    .args([
        "--policy",
        policy,
        "--p99-target",
        &format!("{}ms", target.as_millis()),
        "--listen",
        "127.0.0.1:9561",
    ])
    .args(["--interval", "2s", "--query-window", "10s"])
    .arg("--boot-delay")
    .arg(format!("{}ms", boot_delay.as_millis()))
    .args(["--stale-after", "10s"])
    .args(["--min-replicas", "1", "--max-replicas", "8"]);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_policies_get_the_limit_and_static_its_count() {
        assert_eq!(with_cpu_limit("qos", "30m"), "qos:cpu-limit=30m");
        assert_eq!(
            with_cpu_limit("hybrid:cooldown=10", "30m"),
            "hybrid:cooldown=10,cpu-limit=30m"
        );
        assert_eq!(
            with_cpu_limit("qos:cpu-limit=50m", "30m"),
            "qos:cpu-limit=50m"
        );
        assert_eq!(
            with_cpu_limit("hpa-cpu:target=20m", "30m"),
            "hpa-cpu:target=20m"
        );
        assert_eq!(static_replicas("static:replicas=5"), Some(5));
        assert_eq!(static_replicas("qos"), None);
    }
}
