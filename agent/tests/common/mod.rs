//! Harness for privileged agent tests: network namespaces the test creates
//! and removes, the agent binary running inside one, and readers for its
//! HTTP endpoints. Every guard cleans up on drop, also when a test panics.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod timing;

use std::{
    collections::HashMap,
    io::{Read as _, Write as _},
    net::TcpStream,
    os::fd::AsRawFd as _,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Returns false (after a loud message) when the test cannot run here.
pub fn privileged(test: &str) -> bool {
    // SAFETY: no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!(
            "\n!!!!!!!! SKIPPED {test}: needs root (CAP_BPF, CAP_NET_ADMIN, network namespaces); run `sudo -E cargo xtask test` !!!!!!!!\n"
        );
    }
    root
}

pub fn sh(args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("spawn");
    assert!(status.success(), "{args:?} failed: {status}");
}

pub fn sh_out(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A network namespace, deleted on drop (with everything in it).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Self {
        // A crashed earlier run may have left it.
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", name]);
        let ns = Self {
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn ip(&self, args: &[&str]) {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        sh(&full);
    }

    pub fn exec(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        sh_out(&full)
    }

    /// Run `f` on a thread that has entered this namespace (sockets it
    /// opens live there).
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            // SAFETY: valid fd; setns affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}");
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// veth pair `a` in `ns_a` with `addr_a` (CIDR), `b` in `ns_b` with `addr_b`.
pub fn veth(ns_a: &Netns, a: &str, addr_a: &str, ns_b: &Netns, b: &str, addr_b: &str) {
    sh(&[
        "ip", "link", "add", a, "netns", &ns_a.name, "type", "veth", "peer", "name", b, "netns",
        &ns_b.name,
    ]);
    for (ns, dev, addr) in [(ns_a, a, addr_a), (ns_b, b, addr_b)] {
        if !addr.is_empty() {
            ns.ip(&["addr", "add", addr, "dev", dev]);
        }
        ns.ip(&["link", "set", dev, "up"]);
    }
}

/// A node's host side, as the `DaemonSet` sees it: a namespace whose bridge
/// `br0` the pods' veths join.
pub fn node_with_bridge(name: &str) -> Netns {
    let node = Netns::new(name);
    node.ip(&["link", "add", "br0", "type", "bridge"]);
    node.ip(&["link", "set", "br0", "up"]);
    node
}

/// Plug `pod` into `node`'s bridge: `host_end` on the node, `eth0` with
/// `cidr` in the pod.
pub fn plug(node: &Netns, host_end: &str, pod: &Netns, cidr: &str) {
    veth(node, host_end, "", pod, "eth0", cidr);
    node.ip(&["link", "set", host_end, "master", "br0"]);
}

pub fn agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siplat-agent"))
}

/// The agent running in a namespace; killed (SIGTERM, then SIGKILL) on drop.
pub struct Agent {
    pub child: Option<Child>,
    pub ns: String,
    pub port: u16,
    pub log: PathBuf,
}

impl Agent {
    pub fn start(ns: &Netns, port: u16, args: &[&str]) -> Self {
        Self::start_with_env(ns, port, args, &[])
    }

    /// As [`Agent::start`], with extra environment variables.
    pub fn start_with_env(ns: &Netns, port: u16, args: &[&str], env: &[(&str, &str)]) -> Self {
        let log = std::env::temp_dir().join(format!("siplat-agent-{}-{port}.log", ns.name));
        let file = std::fs::File::create(&log).expect("log file");
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(agent_bin())
            .args(["--listen", &listen, "--rescan-interval", "1"])
            .args(args)
            .env("SIPLAT_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn agent");
        let agent = Self {
            child: Some(child),
            ns: ns.name.clone(),
            port,
            log,
        };
        agent.wait_attached(1, Duration::from_secs(20));
        agent
    }

    pub fn get(&self, path: &str) -> String {
        let (ns, port, path) = (self.ns.clone(), self.port, path.to_owned());
        let path_ns = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path_ns).expect("open netns");
            // SAFETY: valid fd; affects only this thread.
            assert_eq!(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                0
            );
            http_get(port, &path)
        })
        .join()
        .expect("http thread")
    }

    /// Like `get`, but `None` while the agent is not listening yet.
    pub fn try_get(&self, path: &str) -> Option<String> {
        let (port, path) = (self.port, path.to_owned());
        let path_ns = format!("/var/run/netns/{}", self.ns);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path_ns).ok()?;
            // SAFETY: valid fd; affects only this thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return None;
            }
            TcpStream::connect(("127.0.0.1", port)).ok()?;
            Some(http_get(port, &path))
        })
        .join()
        .ok()
        .flatten()
    }

    pub fn metrics(&self) -> Metrics {
        Metrics::parse(&self.get("/metrics"))
    }

    pub fn wait_attached(&self, n: u64, timeout: Duration) {
        let start = Instant::now();
        loop {
            let text = self.try_get("/metrics").unwrap_or_default();
            if Metrics::parse(&text).value("siplat_agent_attached_interfaces", &[]) >= n as f64 {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "agent did not attach {n} interfaces; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Stop with `signal` and wait for the exit.
    pub fn stop(&mut self, signal: i32) {
        if let Some(mut child) = self.child.take() {
            // `ip netns exec` execs the agent, so the pid is the agent's.
            // SAFETY: plain kill(2) on our child.
            unsafe { libc::kill(i32::try_from(child.id()).unwrap_or(0), signal) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop(libc::SIGTERM);
    }
}

/// Minimal HTTP/1.0 GET on 127.0.0.1 (no client crate needed).
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect agent");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    buf.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// One series: its labels and value.
pub type Series = (Vec<(String, String)>, f64);

/// Parsed Prometheus text exposition: (name, sorted labels) -> value.
pub struct Metrics {
    pub series: HashMap<String, Vec<Series>>,
    pub text: String,
}

impl Metrics {
    pub fn parse(text: &str) -> Self {
        let mut series: HashMap<String, Vec<_>> = HashMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let Some((head, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value.parse().unwrap_or(f64::NAN);
            let (name, labels) = match head.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            series
                .entry(name.to_owned())
                .or_default()
                .push((labels, value));
        }
        Self {
            series,
            text: text.to_owned(),
        }
    }

    /// Sum of the series of `name` whose labels include all of `want`.
    pub fn value(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.series.get(name).map_or(0.0, |all| {
            all.iter()
                .filter(|(labels, _)| {
                    want.iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
                })
                .map(|(_, v)| v)
                .sum()
        })
    }

    pub fn has(&self, name: &str, want: &[(&str, &str)]) -> bool {
        self.series.get(name).is_some_and(|all| {
            all.iter().any(|(labels, _)| {
                want.iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
        })
    }
}

/// Poll `f` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

/// A SIP request as a test sends it.
pub fn request(method: &str, call_id: &str, cseq: u32, via_host: &str) -> String {
    format!(
        "{method} sip:bob@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {via_host};branch=z9hG4bK-{call_id}-{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <sip:bob@198.18.0.1>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

pub fn response(status: u16, reason: &str, method: &str, call_id: &str, cseq: u32) -> String {
    format!(
        "SIP/2.0 {status} {reason}\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK-{call_id}-{cseq}\r\nFrom: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <sip:bob@198.18.0.1>;tag=b1\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// One OPTIONS from `from` (in `caller`) to `to` (in `callee`), answered
/// 200 by `callee`: one `response` sample where the answer leaves.
pub fn exchange(
    caller: &Netns,
    from: &'static str,
    callee: &Netns,
    to: &'static str,
    call_id: &'static str,
) {
    let server = callee.run(move || {
        let s = std::net::UdpSocket::bind(format!("{to}:5060")).expect("bind callee");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut buf = [0u8; 2048];
        let (_, peer) = s.recv_from(&mut buf).expect("request");
        s.send_to(response(200, "OK", "OPTIONS", call_id, 1).as_bytes(), peer)
            .expect("answer");
    });
    std::thread::sleep(Duration::from_millis(100));
    caller
        .run(move || {
            let s = std::net::UdpSocket::bind(format!("{from}:0")).expect("bind caller");
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            s.send_to(
                request("OPTIONS", call_id, 1, from).as_bytes(),
                format!("{to}:5060"),
            )
            .expect("send");
            let mut buf = [0u8; 2048];
            s.recv_from(&mut buf).expect("response");
        })
        .join()
        .expect("caller");
    server.join().expect("callee");
}

/// A process started in a namespace in its own process group; the whole
/// group is stopped (SIGTERM, then SIGKILL) on drop.
pub struct Proc {
    pub child: Option<Child>,
    pub name: String,
}

impl Proc {
    pub fn spawn(ns: &Netns, args: &[&str], log: &std::path::Path) -> Self {
        use std::os::unix::process::CommandExt as _;
        let file = std::fs::File::create(log).expect("log file");
        let err = file.try_clone().expect("clone log");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        Self {
            child: Some(child),
            name: args[0].to_owned(),
        }
    }

    /// Wait for exit up to `timeout`; `None` if it is still running.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn signal(&self, signal: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on the process group we created.
            unsafe { libc::kill(-i32::try_from(c.id()).unwrap_or(0), signal) };
        }
    }

    pub fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        self.signal(libc::SIGTERM);
        if self.wait(Duration::from_secs(5)).is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.wait(Duration::from_secs(5));
        }
        self.child = None;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, r)| r.split(' ').collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}
