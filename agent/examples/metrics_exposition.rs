//! Print the agent's /metrics text after one sample of each kind, exactly as
//! the daemon renders it with the `DaemonSet`'s settings (`--pod-labels`).
//! Dashboards and rules are checked against this (`cargo xtask manifests`).

use agent::{metrics::Metrics, pods::PodRef};
use agent_common::{
    counters::{COUNTERS_LEN, DIR_IN, DIR_OUT, message_index, retrans_index},
    sample::{KIND_RELAY_REQUEST, KIND_RELAY_RESPONSE, KIND_RESPONSE, KIND_ROUND_TRIP, Sample},
    sip::method,
};

fn main() -> anyhow::Result<()> {
    let metrics = Metrics::new(1.2, true, true, 30)?;
    let proxy = PodRef {
        namespace: "siplat".into(),
        name: "sip-proxy-0".into(),
    };
    let mut s = Sample {
        latency_ns: 2_000_000,
        method: method::INVITE,
        ..Sample::default()
    };
    for (kind, status) in [
        (KIND_RESPONSE, 100),
        (KIND_RESPONSE, 407),
        (KIND_RELAY_REQUEST, 0),
        (KIND_RELAY_RESPONSE, 200),
        (KIND_ROUND_TRIP, 200),
    ] {
        s.kind = kind;
        s.status = status;
        metrics.observe(&s, "cali0", Some(&proxy), 1);
    }
    let mut totals = vec![0u64; COUNTERS_LEN as usize];
    totals[message_index(DIR_IN, false, method::INVITE) as usize] = 2;
    totals[message_index(DIR_OUT, true, method::INVITE) as usize] = 3;
    totals[retrans_index(false, method::INVITE) as usize] = 1;
    metrics.apply_kernel_counters(&totals);
    metrics.add_expired(false, method::INVITE, 1);
    metrics.attached.set(1);
    metrics.refresh_quantiles(1);
    print!("{}", metrics.encode()?);
    Ok(())
}
