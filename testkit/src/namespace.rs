//! Network namespaces as tests use them: a guard per namespace (from the
//! `netns` crate, so the testbed and the tests create and remove them the
//! same way), and the few topologies the tests build from it.

use std::thread::JoinHandle;

use ::netns::{End, NetNs};

use crate::process::sh_out;

/// A network namespace, deleted on drop with everything in it. Panics when
/// it cannot be set up: the test has nothing to check without it.
pub struct Netns {
    inner: NetNs,
    pub name: String,
}

impl Netns {
    /// A fresh namespace, loopback up; one a crashed run left is replaced.
    #[must_use]
    pub fn new(name: &str) -> Self {
        let inner = NetNs::new(name).unwrap_or_else(|e| panic!("{}", report(&e)));
        Self {
            inner,
            name: name.to_owned(),
        }
    }

    /// `ip -n NAME ARGS...`, panicking with `ip`'s complaint.
    pub fn ip(&self, args: &[&str]) {
        self.inner
            .ip(args)
            .unwrap_or_else(|e| panic!("{}", report(&e)));
    }

    /// Stdout and stderr of `args` run in this namespace.
    #[must_use]
    pub fn exec(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        sh_out(&full)
    }

    /// Run `f` on a thread that has entered this namespace (sockets it
    /// opens live there).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
        run_in(&self.name, f)
    }
}

/// Run `f` on a thread that has entered namespace `name`.
pub fn run_in<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let name = name.to_owned();
    std::thread::spawn(move || {
        ::netns::enter(&name).unwrap_or_else(|e| panic!("{}", report(&e)));
        f()
    })
}

/// Stdout of `argv` run in namespace `ns` (empty when it cannot run).
#[must_use]
pub fn output(ns: &str, argv: &[&str]) -> String {
    let Some((program, args)) = argv.split_first() else {
        return String::new();
    };
    ::netns::command(ns, program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// veth pair `a` in `ns_a` with `addr_a` (CIDR), `b` in `ns_b` with
/// `addr_b`; an empty address adds none (a bridge port, or one the test
/// adds itself).
pub fn veth(ns_a: &Netns, a: &str, addr_a: &str, ns_b: &Netns, b: &str, addr_b: &str) {
    ::netns::veth(end(ns_a, a, addr_a), end(ns_b, b, addr_b))
        .unwrap_or_else(|e| panic!("{}", report(&e)));
}

/// A node's host side, as the `DaemonSet` sees it: a namespace whose bridge
/// `br0` the pods' veths join.
#[must_use]
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

fn end<'a>(ns: &'a Netns, dev: &'a str, addr: &'a str) -> End<'a> {
    let end = End::new(&ns.name, dev);
    if addr.is_empty() { end } else { end.addr(addr) }
}

/// The error with its causes: `setns` failing says why only in its source.
fn report(e: &::netns::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
