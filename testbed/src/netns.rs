//! Network namespaces and veths. Every box is a namespace with one `eth0`
//! whose peer (the host-side veth) sits on a bridge in `tb-net`; the agent
//! watches those host-side veths. The root namespace reaches the bridge
//! through one more veth so the agent and the boxes answer from the host.

use std::process::{Command, Stdio};

use ::netns::End;
pub use ::netns::delete;
use anyhow::Result;

use crate::proc::exec;

/// Prefix of every namespace (and the name sweep after a crash).
pub const PREFIX: &str = "tb-";
/// The bridge namespace (agent, host-side veths).
pub const BRIDGE_NS: &str = "tb-net";
pub const BRIDGE: &str = "br0";
/// Bridge address: where the agent listens.
pub const BRIDGE_ADDR: &str = "198.19.0.1";
/// Root-namespace end of the root<->bridge veth.
pub const ROOT_VETH: &str = "tb-root";
pub const ROOT_ADDR: &str = "198.19.255.254";
pub const PREFIX_LEN: u8 = 16;

/// One box: namespace, host-side veth name, address.
#[derive(Clone, Debug)]
pub struct Box_ {
    pub ns: String,
    pub veth: String,
    pub addr: String,
}

pub fn callers() -> Box_ {
    Box_ {
        ns: "tb-callers".into(),
        veth: "tbv-callers".into(),
        addr: "198.19.2.1".into(),
    }
}

pub fn callees() -> Box_ {
    Box_ {
        ns: "tb-callees".into(),
        veth: "tbv-callees".into(),
        addr: "198.19.3.1".into(),
    }
}

pub fn loadb() -> Box_ {
    Box_ {
        ns: "tb-sip-loadb".into(),
        veth: "tbv-lb".into(),
        addr: "198.19.1.1".into(),
    }
}

pub fn proxy(index: u32) -> Box_ {
    Box_ {
        ns: format!("tb-sip-proxy-{index}"),
        veth: format!("tbv-p{index}"),
        addr: format!("198.19.{}.{}", 10 + index / 250, index % 250),
    }
}

/// The agent's `--iface` globs: every proxy's and the LB's host-side veth,
/// including proxies added later.
pub const AGENT_IFACES: &str = "tbv-p*,tbv-lb";

/// Topology steps echo their command line (a CI log then shows what was
/// run); the namespace primitives underneath come from the `netns` crate.
fn ip(args: &[&str]) -> Result<()> {
    exec(Command::new("ip").args(args))
}

/// The bridge namespace, its bridge and the root veth.
pub fn create_bridge() -> Result<()> {
    ::netns::create(BRIDGE_NS)?;
    ip(&["-n", BRIDGE_NS, "link", "add", BRIDGE, "type", "bridge"])?;
    // A bridge without a set address takes its lowest port's MAC and
    // changes it when a proxy's veth joins: the root namespace's ARP entry
    // for the agent then points nowhere for half a minute.
    ip(&[
        "-n",
        BRIDGE_NS,
        "link",
        "set",
        BRIDGE,
        "address",
        &mac_for(BRIDGE_ADDR)?,
    ])?;
    ip(&[
        "-n",
        BRIDGE_NS,
        "addr",
        "add",
        &format!("{BRIDGE_ADDR}/{PREFIX_LEN}"),
        "dev",
        BRIDGE,
    ])?;
    ip(&["-n", BRIDGE_NS, "link", "set", BRIDGE, "up"])?;
    let root_cidr = format!("{ROOT_ADDR}/{PREFIX_LEN}");
    ::netns::veth(
        End::here(ROOT_VETH).addr(&root_cidr),
        End::new(BRIDGE_NS, "tbv-root"),
    )?;
    ip(&["-n", BRIDGE_NS, "link", "set", "tbv-root", "master", BRIDGE])
}

/// Namespace + veth (eth0 inside, `veth` on the bridge) + address.
pub fn create_box(b: &Box_) -> Result<()> {
    ::netns::create(&b.ns)?;
    let cidr = format!("{}/{PREFIX_LEN}", b.addr);
    ::netns::veth(
        End::new(BRIDGE_NS, &b.veth),
        End::new(&b.ns, "eth0").addr(&cidr),
    )?;
    // A proxy started again under an old address (a scale-out after a
    // scale-in) would otherwise come with a new random MAC, and the LB's
    // neighbour entry for the address would point at the old one: its
    // datagrams to the new proxy were lost for 8-11 s (DELAY, then the
    // unicast probes), which looked like a silent proxy.
    ip(&[
        "-n",
        &b.ns,
        "link",
        "set",
        "eth0",
        "address",
        &mac_for(&b.addr)?,
    ])?;
    ip(&["-n", BRIDGE_NS, "link", "set", &b.veth, "master", BRIDGE])
}

/// The MAC of the interface holding IPv4 `addr`: locally administered,
/// `02:00` and the address's four bytes, so an address keeps its MAC
/// across namespaces that come and go.
fn mac_for(addr: &str) -> Result<String> {
    let ip: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|e| anyhow::anyhow!("{addr}: not an IPv4 address: {e}"))?;
    let [a, b, c, d] = ip.octets();
    Ok(format!("02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}"))
}

/// Every namespace with our prefix (crash sweep).
pub fn all() -> Vec<String> {
    ::netns::list()
        .into_iter()
        .filter(|n| n.starts_with(PREFIX))
        .collect()
}

pub fn delete_root_veth() {
    let _ = Command::new("ip")
        .args(["link", "del", ROOT_VETH])
        .stderr(Stdio::null())
        .status();
}
