//! Every number the simulator is calibrated with, and where it comes from.
//! "Report" is ../shared/reference/ims-scaling-report.txt chapter 4;
//! "testbed facts" is ../shared/notes/testbed-facts.md.

/// CPU limit of one proxy in millicores. Report 4.1: proxies limited to 30 mCPU.
pub const CPU_LIMIT_MILLIS: f64 = 30.0;

/// CFS period. Testbed facts: cgroup v1 `cfs_period_us` default 100 ms; at
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
/// challenge, authenticated REGISTER, usrloc save): assumed 60 % of a call.
pub const REGISTER_CPU_S: f64 = INVITE_CPU_S * 0.6;

/// CPU seconds each other proxy spends applying one replicated binding
/// (DMQ usrloc replication reaches every proxy: testbed facts, "DMQ usrloc
/// replication works"). Assumed 20 % of a call.
pub const DMQ_REPLICATION_CPU_S: f64 = INVITE_CPU_S * 0.2;

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
/// start. The local testbed is faster (testbed facts: DMQ sync within ~2 s).
pub const BOOT_DELAY_S: f64 = 30.0;

/// `StatefulSet` pods start one after the other (`OrderedReady`): report 4.4,
/// "a pod of the stateful set stays in a pending state until the previous
/// stateful set pod is running".
pub const SEQUENTIAL_BOOT: bool = true;

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
