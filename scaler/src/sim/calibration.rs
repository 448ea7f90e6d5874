//! Every number the simulator is calibrated with, and where it comes from.
//! "Report" is chapter 4 of the report siplat reproduces ("Scaling of
//! cloud-native IMS network functions", BME, 2022); "on the testbed" is a
//! measurement on the local testbed (`siplat-testbed`).
//!
//! Two profiles: [`Profile::Report`] (the default; every constant at the
//! top level) and [`Profile::Testbed`] (the [`testbed`] module: our own
//! Kamailio 5.6 under a 30 mCPU cgroup quota, measured with `SIPp`). Where the
//! testbed module says nothing, the testbed profile uses the report's number.

/// Which measurements the simulated proxy follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Profile {
    /// The report's knee (11 calls/s per 30 mCPU proxy), linear CPU per call.
    #[default]
    Report,
    /// The local testbed's knee (35 calls/s), concave CPU per call.
    Testbed,
}

/// CPU limit of one proxy in millicores. Report 4.1: proxies limited to 30 mCPU.
pub const CPU_LIMIT_MILLIS: f64 = 30.0;

/// CFS period. On the testbed: cgroup v1 `cfs_period_us` default 100 ms; at
/// 30 mCPU the P99 rises in 100 ms steps (throttling granularity).
pub const CFS_PERIOD_S: f64 = 0.1;

/// CPU a proxy burns with no calls (timers, DMQ keepalives, dispatcher
/// OPTIONS probes). Not measured in the report; a small assumed share
/// (about 7 % of the limit) that moves the knee a little, nothing else.
pub const BACKGROUND_MILLIS: f64 = 2.0;

/// CPU seconds per INVITE call on one proxy (407 challenge, authenticated
/// INVITE relay, responses, ACK, BYE). Chosen so that one 30 mCPU replica
/// keeps the P99 under 1 s at 11 calls/s and breaks it at 12 calls/s with
/// random (Poisson) arrivals: report 4.1/4.2 (`knee_is_between_11_and_12`
/// checks it: P99 ~0.46 s at 11/s, queue collapse at 12/s, a few ms at
/// 1/s, 100 ms steps in between). It puts a replica at ~28 m at 11 calls/s;
/// the report's Figure 4.2c reading of 50-80 % of the limit suggests a
/// lower cost, but the knee decides violations, so the knee wins.
pub const INVITE_CPU_S: f64 = 0.002_38;

/// CPU seconds per REGISTER on the proxy that the LB hashes it to (401
/// challenge, authenticated REGISTER, usrloc save): 0.43x a call, as
/// `siplat-testbed regcost` measured it (cgroup `cpuacct` over a
/// REGISTER phase and a call phase, one uncapped proxy, 2026-12-02: 0.54
/// against 1.26 ms; two later readings gave 0.37). Kept as a ratio: the
/// report gives no REGISTER cost.
pub const REGISTER_CPU_S: f64 = INVITE_CPU_S * 0.43;

/// CPU seconds each other proxy spends on one replicated binding (DMQ
/// usrloc replication reaches every proxy, as on the testbed): 0.39x a
/// call (two later readings 0.54 and 0.37), the two-proxy `regcost` run's
/// extra CPU per REGISTER (0.49 ms),
/// which holds both ends of the replication, the sender's KDMQ request
/// and the peer's save; the simulator puts it all on the peer.
pub const DMQ_REPLICATION_CPU_S: f64 = INVITE_CPU_S * 0.39;

/// Registered users, refresh interval and spread of one refresh wave.
/// Report 4.5: clients re-REGISTER every 50 minutes, adding about
/// 2 requests/s per proxy with 5 proxies (10/s in total): 500 users
/// refreshing within 50 s.
pub const REGISTERED_USERS: u32 = 500;
pub const REREGISTER_INTERVAL_S: u64 = 3000;
pub const REREGISTER_SPREAD_S: u64 = 50;

/// Seconds from asking for a replica to it taking traffic on Kubernetes
/// (schedule, start Kamailio, DMQ sync, readiness probe). Report 4.4 only
/// says the new proxy "had no time to boot"; 30 s is an assumed typical pod
/// start. The local testbed is faster: DMQ sync within ~2 s, 0.87 s from
/// start to ready, ~1.1 s to the first call (pass `--boot-delay 1100ms` to
/// simulate it).
pub const BOOT_DELAY_S: f64 = 30.0;

/// Seconds from asking for a running replica's new CPU limit to the new
/// quota applying. On the local testbed the limit is a cgroup
/// `cpu.cfs_quota_us` write, which the kernel applies at once (it refills
/// the bandwidth pool on the write): pass `--resize-delay 0s`. On
/// Kubernetes (in-place pod resize, `InPlacePodVerticalScaling`) the patch
/// of the pod's `resize` subresource reaches the kubelet through its pod
/// watch, and the kubelet's pod worker calls the runtime's
/// `UpdateContainerResources`, which writes the same cgroup file; no
/// restart with `resizePolicy: NotRequired`. Not measured here: assumed
/// one second for the watch and the sync, under the 30 s boot that makes
/// vertical scaling worth having at all. (The testbed's `resize` command
/// takes 2-24 ms, the cgroup write 0.03-0.05 ms.)
pub const RESIZE_DELAY_S: f64 = 1.0;

/// Highest CPU limit one proxy may be given in place. On Kubernetes the
/// bound is the node's allocatable CPU less its other pods (a resize the
/// node cannot fit stays `Deferred`); here it is the top of the range the
/// testbed's capacity is measured over (30-120 mCPU), so the simulator
/// never extrapolates [`quota_efficiency`] beyond its measurement.
pub const MAX_CPU_LIMIT_MILLIS: f64 = 120.0;

/// A proxy's SIP capacity against its CPU limit, relative to proportional
/// scaling: `(limit mCPU, factor)`, interpolated linearly and held flat
/// beyond the ends. The SIP work a replica may do per CFS period is
/// `factor * (limit - background) * period` ([`sip_budget_s`]), so a
/// factor of 1 everywhere is capacity proportional to the quota left after
/// the background, throttled at the same 100 ms granularity at every limit.
/// Each factor is `capacity(limit) / (capacity(30) * (limit - 2) / 28)`.
///
/// On the testbed (one proxy per limit, `siplat-testbed sweep`, 2026-12-01,
/// `docs/measurements.md`, "Capacity per CPU limit"): the highest rate held
/// under 1 s without a failed call was 25-35 calls/s at 30m (steps near
/// the knee flipped either way on the loaded machine), 60 at 60m, 95 at 90m,
/// 125 at 120m: about 1 call/s per mCPU throughout. Against the middle of
/// the 30m range (30/s) that is 0.97, 1.01 and 0.99 of proportional, so the
/// factors stay 1; against the quieter machine's 35/s at 30m it would be
/// 0.83-0.86, which the same session does not support. An in-place resize
/// from 30m to 90m under 40 calls/s had the P99 under 1 s two seconds
/// later, as the proportional model has it.
pub const QUOTA_EFFICIENCY: &[(f64, f64)] = &[(30.0, 1.0), (60.0, 1.0), (90.0, 1.0), (120.0, 1.0)];

/// Factor of [`QUOTA_EFFICIENCY`] at `limit_millis`.
#[must_use]
pub fn quota_efficiency(limit_millis: f64) -> f64 {
    let table = QUOTA_EFFICIENCY;
    let (Some(&first), Some(&last)) = (table.first(), table.last()) else {
        return 1.0;
    };
    if limit_millis <= first.0 {
        return first.1;
    }
    table
        .windows(2)
        .find(|w| limit_millis <= w[1].0)
        .map_or(last.1, |w| super::cpu_curve::lerp(w[0], w[1], limit_millis))
}

/// CPU seconds of SIP work one replica may do per CFS period at
/// `limit_millis` (the background takes its share of the quota first).
#[must_use]
pub fn sip_budget_s(limit_millis: f64, background_millis: f64, period_s: f64) -> f64 {
    let share = (limit_millis - background_millis).max(0.1) / 1000.0;
    share * quota_efficiency(limit_millis) * period_s
}

/// `StatefulSet` pods start one after the other (`OrderedReady`): report 4.4,
/// "a pod of the stateful set stays in a pending state until the previous
/// stateful set pod is running".
pub const SEQUENTIAL_BOOT: bool = true;

/// CPU seconds a proxy spends on one retransmitted INVITE or REGISTER
/// (with `--realism`): Kamailio's tm matches it to its transaction and
/// resends the last reply, without the digest check, the location lookup or
/// the relay a call's messages need. Not measured: assumed 10 % of a call,
/// about one of a call's nine messages through the proxy at their average
/// cost.
pub const RETRANSMISSION_CPU_S: f64 = INVITE_CPU_S * 0.1;

/// Replicas' cost per request varies by up to this share either way,
/// drawn per replica (with `--realism`): nodes of one pool differ a
/// little (CPU model, noisy neighbours). Not measured: assumed 5 %.
pub const REPLICA_SPEED_SPREAD: f64 = 0.05;

/// Boot delays vary by up to this share of `--boot-delay` either way,
/// drawn per replica (with `--realism`): scheduling, image cache and DMQ
/// sync differ pod to pod. Not measured on Kubernetes: assumed 30 %. The
/// testbed's own boot (~1.1 s to the first call) varies less.
pub const BOOT_DELAY_SPREAD: f64 = 0.3;

/// Hold time of a call, from the caller's ACK to its BYE (with
/// `--realism messages`): the testbed's `SIPp` caller pauses for its `-d`,
/// 2 s by default. The report does not give its clients' hold time.
pub const HOLD_S: f64 = 2.0;

/// Client to proxy and back (with `--realism messages`): between network
/// namespaces on one host, well under a millisecond; 1 ms.
pub const CLIENT_RTT_S: f64 = 0.001;

/// From the callee's 180 to its 200 (with `--realism messages`): the
/// testbed's `SIPp` callee answers at once.
pub const ANSWER_DELAY_S: f64 = 0.0;

/// metrics-server's `--metric-resolution` default: the kubelet's CPU
/// figure per pod is scraped every 15 s, so the HPA reads one 0-15 s old
/// (with `--realism`).
pub const METRICS_RESOLUTION_S: i64 = 15;

/// `--horizontal-pod-autoscaler-cpu-initialization-period` default (with
/// `--realism metrics`): within 5 min of a pod's start, a CPU figure whose
/// window began before the pod was ready does not count as ready.
pub const CPU_INITIALIZATION_PERIOD_S: i64 = 300;

/// Scrape-to-scrape noise of a pod's CPU figure, up to this share either
/// way (with `--realism`): cAdvisor's rate over a window that does not
/// line up with the work. Not measured: assumed 5 %.
pub const METRICS_NOISE: f64 = 0.05;

/// A transaction still queued after SIP Timer B (32 s) has failed at the
/// client; the proxy's UDP socket buffer drops what arrives beyond that.
pub const MAX_BACKLOG_S: f64 = 32.0;

/// HPA sync period and metrics-server resolution: 15 s (Kubernetes
/// defaults, `--horizontal-pod-autoscaler-sync-period`).
pub const DECISION_INTERVAL_S: u64 = 15;
pub const CPU_METRIC_WINDOW_S: u64 = 15;

/// The agent's P99 window (`siplat-agent --window 30`); violation seconds
/// are judged on the same trailing window, as the operator's dashboard
/// would show them.
pub const P99_WINDOW_S: u64 = 30;

/// Window of the arrival rate the policies see (a `rate(...[15s])`).
pub const RATE_WINDOW_S: u64 = 15;

/// Seconds of the scenario's first rate played before t = 0 so every
/// policy starts settled (not counted in the results).
pub const WARM_UP_S: u64 = 600;

/// The local testbed's measurements (Kamailio 5.6.3, `SIPp` 3.6.1, 30 mCPU
/// cgroup v1 quota with the 100 ms CFS period, this 2-core machine).
pub mod testbed {
    /// Per-proxy CPU against INVITEs relayed in the same second: median of
    /// the `active` rows of `results/demo-all/*/per_proxy.csv` (the qos,
    /// hpa-cpu 20m and static 5 demo runs, 2,689 rows) in 5 calls/s buckets,
    /// placed at each bucket's mean rate. The rows include the testbed's
    /// re-REGISTER load (about 2 REGISTER/s over the tier) and the
    /// background. Measured: 12.2 m at 7.7/s (247 rows), 17.8 m at 12.3/s
    /// (781), 22.3 m at 16.8/s (863), 26.2 m at 22.0/s (473), 28.1 m at
    /// 26.2/s (263). Concave: 1.2 mCPU per call/s at low load, 0.45 beyond
    /// 22/s. Not an artefact of binning by a noisy one-second count: binned
    /// by each proxy's 5 s mean rate instead, the medians move by under
    /// 0.5 m (12.3 m at 8.0/s, 18.3 at 13.0, 23.0 at 17.1, 26.5 at 22.3,
    /// 28.0 at 25.8).
    ///
    /// Above 27/s the proxies sit at the quota and the measured CPU is
    /// clipped (12 rows between 30 and 39/s, 27-30 m), so the last two
    /// points are not CPU readings but the knee: the constant-rate sweep
    /// held P99 0.21 s at 35/s and broke (2.3 s, failed calls) at 40/s, so
    /// demand stays under the 30 m quota at 35/s and passes it at 40/s.
    /// Their slopes (0.11 m per call/s from 26.2 to 35/s, 0.24 from 35 to
    /// 40/s) are set by where the knee must fall, not read; they stay under
    /// the last measured one (0.45 between 22 and 26/s), as the flattening
    /// suggests. Within 35-40 the sweep does not say where the cliff is;
    /// these points put it in the middle, between 37 and 38/s. Each 0.25 m
    /// more at 35/s moves it one call/s lower (29.35: 36-37, 29.55: 35-36).
    ///
    /// What the simulated replica gives back (Poisson arrivals, seed 42,
    /// `sim::tests::testbed_*`): 12.6 / 17.5 / 22.4 / 26.2 m at 7.7 / 12.3 /
    /// 16.8 / 22.0 calls/s; P99 0.07 s at 10/s, 0.19 s at 20/s (measured
    /// 0.10), 0.26 s at 30/s (0.21), 0.27 s at 35/s (0.21), collapse from
    /// 38/s (seeds 1-5 alike: no violation-second at 37/s, ~1,540 of 1,800
    /// at 38/s), the cliff without warning the sweep saw.
    pub const CPU_CURVE: &[(f64, f64)] = &[
        (7.7, 12.2),
        (12.3, 17.8),
        (16.8, 22.3),
        (22.0, 26.2),
        (26.2, 28.1),
        (35.0, 29.1),
        (40.0, 30.3),
    ];

    /// The recent load the per-call cost is read at is an exponentially
    /// weighted arrival rate with this time constant: about one second, the
    /// resolution of the table, and long enough that a Poisson burst of a
    /// few calls costs the table's marginal slope, not its average.
    pub const LOAD_TAU_S: f64 = 1.0;

    /// The testbed's capacity figure for planning (calls/s per proxy with
    /// P99 < 1 s), from the same sweep: 35. `qos` is given a prior below it
    /// (`qos:capacity=30`), as the report's 10 sits under its 11.
    pub const BENCHMARK_CALLS_PER_S: f64 = 35.0;
}
