//! The testbed pods' commands work outside the schema checks: Kamailio starts
//! with exactly the arguments of the rendered sip-proxy `StatefulSet` and
//! sip-loadb `Deployment` (paths moved to a scratch folder, `$(POD_IP)` set to
//! a namespace address), the subscriber DB is built by the init container's
//! command, and the ds-sync sidecar script fills the load balancer's
//! dispatcher set through the real `kamcmd`. Every process runs as its pod's
//! user with no capabilities and under a read-only root filesystem. Needs root (network namespaces),
//! kamailio, sqlite3, curl and kubectl.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_yaml::Value;
use testkit::{
    Netns,
    manifests::{read_only_root, render},
    namespace::output as ns_output,
    privileged, veth, wait_for,
};

const PROXY_NS: &str = "slm-px";
const LB_NS: &str = "slm-lb";
const PROXY_IP: &str = "198.18.250.2";
const LB_IP: &str = "198.18.250.1";
/// `ip netns exec` bind-mounts /etc/netns/NAME/hosts over /etc/hosts: the
/// load balancer's namespace resolves the rendered Service name from it, as
/// a cluster's DNS would, and the test edits it to move proxies in and out.
const LB_NETNS_ETC: &str = "/etc/netns/slm-lb";

/// Namespaces, processes and scratch files of one run, removed on drop.
struct Bed {
    dir: PathBuf,
    children: Vec<Child>,
    /// Deleted after `drop` has stopped what runs in them.
    _namespaces: [Netns; 2],
}

impl Bed {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("siplat-slm-{}", std::process::id()));
        let proxy = Netns::new(PROXY_NS);
        let lb = Netns::new(LB_NS);
        veth(
            &proxy,
            "slm-px0",
            &format!("{PROXY_IP}/24"),
            &lb,
            "slm-lb0",
            &format!("{LB_IP}/24"),
        );
        let bed = Self {
            dir,
            children: Vec::new(),
            _namespaces: [proxy, lb],
        };
        std::fs::create_dir_all(LB_NETNS_ETC).expect("create /etc/netns/slm-lb");
        for sub in ["px/run", "px/data", "lb/run", "lb/data"] {
            std::fs::create_dir_all(bed.dir.join(sub)).expect("scratch dirs");
        }
        bed
    }

    /// Run `argv` in `ns` as the pod's user (`user`, from [`as_pod_user`])
    /// under a read-only root filesystem.
    fn spawn(
        &mut self,
        ns: &str,
        user: &[String],
        argv: &[String],
        env: &[(String, String)],
        log: &str,
    ) {
        let log = std::fs::File::create(self.dir.join(log)).expect("log file");
        let prefix = read_only_root(&self.dir);
        let child = Command::new(&prefix[0])
            .args(&prefix[1..])
            .args(["ip", "netns", "exec", ns])
            .args(user)
            .args(argv)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn in namespace");
        self.children.push(child);
    }
}

/// The pod's `securityContext` as a `setpriv` prefix: its non-root UID/GID,
/// no supplementary groups, every capability dropped (`drop: [ALL]`) and
/// `no_new_privs` (`allowPrivilegeEscalation: false`). Also hands the scratch
/// folder (the pod's emptyDirs) to that user, as `fsGroup` would.
fn as_pod_user(pod: &Value, scratch: &Path) -> Vec<String> {
    let sc = &pod["securityContext"];
    assert_eq!(
        sc["runAsNonRoot"].as_bool(),
        Some(true),
        "pod runs as non-root"
    );
    let uid = sc["runAsUser"].as_u64().expect("runAsUser");
    let gid = sc["runAsGroup"].as_u64().expect("runAsGroup");
    let status = Command::new("chown")
        .args(["-R", &format!("{uid}:{gid}")])
        .arg(scratch)
        .status()
        .expect("chown");
    assert!(status.success(), "chown scratch");
    [
        "setpriv".to_owned(),
        format!("--reuid={uid}"),
        format!("--regid={gid}"),
        "--clear-groups".to_owned(),
        "--inh-caps=-all".to_owned(),
        "--bounding-set=-all".to_owned(),
        "--no-new-privs".to_owned(),
    ]
    .to_vec()
}

/// Every process in our namespaces: all of them were started by this test
/// (Kamailio forks its workers there).
fn ns_pids() -> Vec<i32> {
    [PROXY_NS, LB_NS]
        .iter()
        .flat_map(|ns| netns::pids(ns))
        .filter_map(|p| i32::try_from(p).ok())
        .collect()
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a pid of our own namespaces; no memory involved.
    unsafe { libc::kill(pid, sig) };
}

impl Drop for Bed {
    fn drop(&mut self) {
        // SIGTERM first: Kamailio's main process then stops its workers.
        for pid in ns_pids() {
            signal(pid, libc::SIGTERM);
        }
        let start = Instant::now();
        while !ns_pids().is_empty() && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
        }
        for pid in ns_pids() {
            signal(pid, libc::SIGKILL);
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(LB_NETNS_ETC);
        // Only when empty: it may hold other namespaces' files.
        let _ = std::fs::remove_dir("/etc/netns");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pod<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let o = objects
        .iter()
        .find(|o| o["kind"].as_str() == Some(kind) && o["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("{kind}/{name} not rendered"));
    &o["spec"]["template"]["spec"]
}

fn container<'a>(pod: &'a Value, list: &str, name: &str) -> &'a Value {
    pod[list]
        .as_sequence()
        .and_then(|cs| cs.iter().find(|c| c["name"].as_str() == Some(name)))
        .unwrap_or_else(|| panic!("{list} {name}"))
}

/// The pod's paths moved into the scratch folder, `$(VAR)`s filled.
fn localize(s: &str, scratch: &Path, config: &Path, pod_ip: &str) -> String {
    s.replace(
        "/etc/kamailio",
        &config.join("kamailio").display().to_string(),
    )
    .replace("/etc/siplat/db", &config.display().to_string())
    .replace("/run/kamailio", &scratch.join("run").display().to_string())
    .replace(
        "/var/lib/siplat",
        &scratch.join("data").display().to_string(),
    )
    .replace(
        "/opt/siplat",
        &config.join("../scripts").display().to_string(),
    )
    .replace("$(POD_IP)", pod_ip)
    .replace("$(POD_NAMESPACE)", "siplat")
    .replace("$(AUTH_SECRET)", "test-nonce-secret")
}

fn argv(c: &Value, scratch: &Path, config: &Path, pod_ip: &str) -> Vec<String> {
    ["command", "args"]
        .iter()
        .filter_map(|k| c[*k].as_sequence())
        .flatten()
        .map(|a| localize(a.as_str().expect("string arg"), scratch, config, pod_ip))
        .collect()
}

/// The init container's DB command, then Kamailio with the pod's args.
fn start_proxy(bed: &mut Bed, objects: &[Value], config: &Path) {
    let px = bed.dir.join("px");
    let proxy_pod = pod(objects, "StatefulSet", "sip-proxy");
    let init = argv(
        container(proxy_pod, "initContainers", "subscriber-db"),
        &px,
        config,
        PROXY_IP,
    );
    let user = as_pod_user(proxy_pod, &bed.dir);
    let prefix = read_only_root(&bed.dir);
    let status = Command::new(&prefix[0])
        .args(&prefix[1..])
        .args(&user)
        .args(&init)
        .status()
        .expect("run DB init");
    assert!(status.success(), "subscriber DB init: {init:?}");
    let kamailio = argv(
        container(proxy_pod, "containers", "kamailio"),
        &px,
        config,
        PROXY_IP,
    );
    bed.spawn(PROXY_NS, &user, &kamailio, &[], "proxy.log");
    let ready = format!("http://{PROXY_IP}:8080/ready");
    wait_for("proxy /ready", Duration::from_secs(20), || {
        ns_output(PROXY_NS, &["curl", "-s", "-m", "1", &ready]).contains("ready")
    });
}

/// The `SIPp` callee and caller pods' scripts with their env, in the load
/// balancer's namespace (they reach it as `sip-loadb` through the hosts
/// file): the callee registers, the caller plays a 3 s scenario CSV through
/// the load balancer and the proxy, and every call must succeed.
fn sipp_call_through(bed: &mut Bed, objects: &[Value], config: &Path) {
    let tmp = bed.dir.join("clients");
    std::fs::create_dir_all(&tmp).expect("clients dir");
    let scenario = tmp.join("scenario.csv");
    let mut csv = String::from(
        "caller;callee;wait_before_next_in_ms;seconds_since_start;arrival_rate_in_s\n",
    );
    for sec in 0..3 {
        for _ in 0..2 {
            csv.push_str(&["1;2;500;", &sec.to_string(), ";2\n"].concat());
        }
    }
    std::fs::write(&scenario, csv).expect("scenario");
    let client_env = |c: &Value| -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = c["env"]
            .as_sequence()
            .expect("client env")
            .iter()
            .filter_map(|e| {
                Some((
                    e["name"].as_str()?.to_owned(),
                    e["value"].as_str()?.to_owned(),
                ))
            })
            .collect();
        env.push(("POD_IP".into(), LB_IP.into()));
        env.push(("TMPDIR".into(), tmp.display().to_string()));
        env.push(("SIPP_DIR".into(), config.join("sipp").display().to_string()));
        for (name, value) in &mut env {
            match name.as_str() {
                "SCENARIO" => *value = scenario.display().to_string(),
                "WARMUP_S" => *value = "1".into(),
                "CALL_MS" => *value = "300".into(),
                _ => {}
            }
        }
        env
    };
    let callee = container(
        pod(objects, "Deployment", "sipp-callee"),
        "containers",
        "sipp",
    );
    let callee_cmd = argv(callee, &tmp, config, LB_IP);
    let user = as_pod_user(pod(objects, "Deployment", "sipp-callee"), &tmp);
    bed.spawn(LB_NS, &user, &callee_cmd, &client_env(callee), "callee.log");

    let caller = container(pod(objects, "Job", "sipp-caller"), "containers", "sipp");
    let caller_cmd = argv(caller, &tmp, config, LB_IP);
    let prefix = read_only_root(&bed.dir);
    let out = Command::new("timeout")
        .arg("60")
        .args(&prefix)
        .args(["ip", "netns", "exec", LB_NS])
        .args(as_pod_user(pod(objects, "Job", "sipp-caller"), &tmp))
        .args(&caller_cmd)
        .envs(client_env(caller))
        .output()
        .expect("run caller");
    let callee_log = std::fs::read_to_string(bed.dir.join("callee.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "caller failed ({}):\n{}{}\ncallee:\n{callee_log}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // SIPp exits 0 also when it placed no call: count them in its stats.
    let stats = std::fs::read_to_string(tmp.join("caller-stats.csv")).expect("caller stats");
    let mut lines = stats.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("stats header").split(';').collect();
    let last: Vec<&str> = lines.next_back().expect("stats row").split(';').collect();
    let column = |name: &str| -> u64 {
        let i = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} column"));
        last[i].parse().expect("count")
    };
    // Rate-driven, so the count is approximate (6 scheduled); what matters
    // is that calls went through and none failed.
    let (ok, failed) = (column("SuccessfulCall(C)"), column("FailedCall(C)"));
    eprintln!("sipp caller: {ok} successful, {failed} failed calls (6 scheduled)");
    assert!(
        (3..=7).contains(&ok),
        "{ok} successful calls of 6 scheduled"
    );
    assert_eq!(failed, 0, "failed calls");
}

/// The ds-sync sidecar with its env (the Service name resolved through the
/// namespace's hosts file), then Kamailio; returns (hosts file, ctl socket).
fn start_loadb(bed: &mut Bed, objects: &[Value], config: &Path) -> (PathBuf, String) {
    let lb = bed.dir.join("lb");
    let lb_pod = pod(objects, "Deployment", "sip-loadb");
    let sidecar = container(lb_pod, "initContainers", "ds-sync");
    let mut env: Vec<(String, String)> = sidecar["env"]
        .as_sequence()
        .expect("ds-sync env")
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_owned(),
                localize(e["value"].as_str()?, &lb, config, LB_IP),
            ))
        })
        .collect();
    let service = env
        .iter()
        .find(|(n, _)| n == "DS_SERVICE")
        .map(|(_, v)| v.replace("$(POD_NAMESPACE)", "siplat"))
        .expect("DS_SERVICE in ds-sync env");
    assert_eq!(service, "sip-proxy.siplat.svc.cluster.local");
    let hosts = Path::new(LB_NETNS_ETC).join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n{LB_IP} sip-loadb\n{PROXY_IP} {service}\n"),
    )
    .expect("write hosts");
    for (name, value) in &mut env {
        if name == "DS_SERVICE" {
            value.clone_from(&service);
        }
    }
    let sync = argv(sidecar, &lb, config, LB_IP);
    let user = as_pod_user(lb_pod, &bed.dir);
    bed.spawn(LB_NS, &user, &sync, &env, "ds-sync.log");
    let list = lb.join("data/dispatcher.list");
    wait_for(
        "first dispatcher list (sidecar startup probe)",
        Duration::from_secs(10),
        || list.exists(),
    );
    let kamailio = argv(
        container(lb_pod, "containers", "kamailio"),
        &lb,
        config,
        LB_IP,
    );
    bed.spawn(LB_NS, &user, &kamailio, &[], "loadb.log");

    let ctl = env
        .iter()
        .find(|(n, _)| n == "CTL_SOCKET")
        .map(|(_, v)| v.clone())
        .expect("CTL_SOCKET in ds-sync env");
    (hosts, ctl)
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn rendered_testbed_commands_boot_and_sync_the_dispatcher_set() {
    if !privileged("rendered_testbed_commands_boot_and_sync_the_dispatcher_set") {
        return;
    }
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/testbed/config");
    let objects = render("testbed-only");
    let mut bed = Bed::new();
    // The harness itself: outside the scratch folder nothing is writable.
    let prefix = read_only_root(&bed.dir);
    let probe = Command::new(&prefix[0])
        .args(&prefix[1..])
        .args(["touch", "/var/tmp/siplat-read-only-probe"])
        .stderr(Stdio::null())
        .status()
        .expect("probe");
    assert!(
        !probe.success(),
        "the root filesystem is not read-only in the harness"
    );
    start_proxy(&mut bed, &objects, &config);

    let (hosts, ctl) = start_loadb(&mut bed, &objects, &config);
    let uri = format!("sip:{PROXY_IP}:5060");
    wait_for(
        "the proxy in the load balancer's dispatcher set",
        Duration::from_secs(20),
        || ns_output(LB_NS, &["kamcmd", "-s", &ctl, "dispatcher.list"]).contains(&uri),
    );
    // Kamailio loaded the sidecar's first list at start; the sidecar's own
    // reload through the control socket must succeed too.
    let log_path = bed.dir.join("ds-sync.log");
    wait_for(
        "ds-sync's reload through kamcmd",
        Duration::from_secs(15),
        || {
            std::fs::read_to_string(&log_path)
                .is_ok_and(|l| l.contains("dispatcher set now 1 proxies"))
        },
    );

    sipp_call_through(&mut bed, &objects, &config);

    // The proxy stops being ready: the Service name resolves to nothing, and
    // after the confirmation polls the load balancer drops it.
    std::fs::write(&hosts, format!("127.0.0.1 localhost\n{LB_IP} sip-loadb\n"))
        .expect("rewrite hosts");
    wait_for(
        "the proxy removed from the dispatcher set",
        Duration::from_secs(20),
        || !ns_output(LB_NS, &["kamcmd", "-s", &ctl, "dispatcher.list"]).contains(&uri),
    );
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        log.contains("dispatcher set now 0 proxies"),
        "ds-sync log:\n{log}"
    );
}
