//! The agent `DaemonSet`'s least privilege holds for the real agent: run as
//! UID 0 with exactly the capabilities its manifest adds (bounding and
//! inheritable sets cut to them, `no_new_privs` as `allowPrivilegeEscalation:
//! false`), with the manifest's args and its `ConfigMap`'s env, it loads,
//! attaches to a pod veth in a stand-in host namespace and turns ready; with
//! any one of them taken away it fails. It runs under a read-only root
//! filesystem, as `readOnlyRootFilesystem: true`. Needs root, util-linux setpriv, curl
//! and the real kernel object (bpf-linker; `cargo xtask setup`).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_yaml::Value;
use testkit::{
    Netns,
    manifests::{read_only_root, render},
    privileged, veth,
};

const HOST_NS: &str = "slm-host";
const POD_NS: &str = "slm-pod";

/// A stand-in node: `slm-host` holds the host end `vethslm0` of a pod veth
/// (matched by the manifest's `veth*` glob), `slm-pod` the pod end.
struct Node {
    _host: Netns,
    _pod: Netns,
}

impl Node {
    fn new() -> Self {
        let host = Netns::new(HOST_NS);
        let pod = Netns::new(POD_NS);
        veth(
            &host,
            "vethslm0",
            "198.18.251.1/24",
            &pod,
            "slm-pod0",
            "198.18.251.2/24",
        );
        Self {
            _host: host,
            _pod: pod,
        }
    }
}

/// The namespaces go after this, with the fields.
impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(scratch());
    }
}

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("siplat-agent-caps-{}", std::process::id()))
}

/// Stops the agent also when an assertion fails; its log file goes too.
struct Agent(Child, PathBuf);

impl Agent {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.1).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(i32::try_from(self.0.id()).expect("pid"), libc::SIGTERM) };
        let start = Instant::now();
        while self.0.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

/// (args, env, added capabilities) of the agent container.
fn agent_spec(objects: &[Value]) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    let ds = objects
        .iter()
        .find(|o| o["kind"].as_str() == Some("DaemonSet"))
        .expect("agent DaemonSet");
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .map(|s| {
                s.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let config_map = c["envFrom"][0]["configMapRef"]["name"]
        .as_str()
        .expect("envFrom ConfigMap");
    let data = objects
        .iter()
        .find(|o| {
            o["kind"].as_str() == Some("ConfigMap")
                && o["metadata"]["name"].as_str() == Some(config_map)
        })
        .and_then(|o| o["data"].as_mapping())
        .expect("agent ConfigMap data");
    // Pod labels off: they need an API server to list pods from, and no
    // capability (an HTTPS client with the service-account token); what
    // this test is about, loading and attaching, is the same with them on.
    let env = data
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
        .map(|(k, v)| {
            let v = if k == "SIPLAT_POD_LABELS" {
                "false".to_owned()
            } else {
                v
            };
            (k, v)
        })
        .collect();
    (
        strings(&c["args"]),
        env,
        strings(&c["securityContext"]["capabilities"]["add"]),
    )
}

fn agent_binary() -> PathBuf {
    // The real kernel object: this build must not be the AYA_BUILD_SKIP stub.
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-q", "-p", "agent", "--bin", "siplat-agent"])
        .env_remove("AYA_BUILD_SKIP")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .expect("spawn cargo build");
    assert!(
        status.success(),
        "build siplat-agent (needs bpf-linker: cargo xtask setup)"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")),
        PathBuf::from,
    );
    target.join("debug/siplat-agent")
}

fn start(binary: &PathBuf, args: &[String], env: &[(String, String)], caps: &[String]) -> Agent {
    let log = std::env::temp_dir().join(format!(
        "siplat-agent-caps-{}-{}.log",
        std::process::id(),
        caps.len()
    ));
    let log_file = std::fs::File::create(&log).expect("agent log");
    // Empty list: setpriv still needs "-all," + something; never the case here.
    let bounding: Vec<String> = caps
        .iter()
        .map(|c| format!("+{}", c.to_lowercase()))
        .collect();
    // The DaemonSet's emptyDir at /tmp: a scratch folder; the rest read-only.
    let scratch = scratch();
    std::fs::create_dir_all(&scratch).expect("scratch");
    let prefix = read_only_root(&scratch);
    let child = Command::new(&prefix[0])
        .args(&prefix[1..])
        .args([
            "ip",
            "netns",
            "exec",
            HOST_NS,
            "setpriv",
            "--reuid=0",
            "--inh-caps=-all",
        ])
        .arg(["--bounding-set=-all".to_owned(), bounding.join(",")].join(","))
        .arg("--no-new-privs")
        .arg(binary)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TMPDIR", &scratch)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("spawn agent");
    Agent(child, log)
}

fn curl(path: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", HOST_NS, "curl", "-sf", "-m", "1"])
        .arg(format!("http://127.0.0.1:9560{path}"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Ready within 15 s, or the agent exited / never turned ready.
fn becomes_ready(agent: &mut Agent) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if curl("/readyz").is_some() {
            return true;
        }
        if agent.0.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn agent_runs_with_exactly_the_manifest_capabilities() {
    if !privileged("agent_runs_with_exactly_the_manifest_capabilities") {
        return;
    }
    let (args, env, caps) = agent_spec(&render("cluster"));
    assert_eq!(caps.len(), 3, "added capabilities {caps:?}");
    let binary = agent_binary();
    let _node = Node::new();

    let mut agent = start(&binary, &args, &env, &caps);
    assert!(
        becomes_ready(&mut agent),
        "agent not ready with {caps:?}:\n{}",
        agent.log_tail()
    );
    let metrics = curl("/metrics").expect("metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == "siplat_agent_attached_interfaces 1"),
        "attached to the pod veth:\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("attached"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(agent);

    // Each capability is needed: without it the agent must fail to load.
    for missing in &caps {
        let fewer: Vec<String> = caps.iter().filter(|c| c != &missing).cloned().collect();
        let mut agent = start(&binary, &args, &env, &fewer);
        assert!(
            !becomes_ready(&mut agent),
            "agent turned ready without CAP_{missing}"
        );
        let status = agent.0.wait().expect("agent exit");
        assert!(
            !status.success(),
            "agent without CAP_{missing} must exit with an error"
        );
        let tail = agent.log_tail();
        let reason = tail
            .lines()
            .find(|l| l.contains("Error") || l.contains("error"))
            .unwrap_or("failed");
        eprintln!("without CAP_{missing}: {reason}");
    }
}
