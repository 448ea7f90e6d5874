//! A tshark capture as the second opinion on what the agent measured: the
//! SIP packets it holds, keyed as the agent keys them, and the sysctl that
//! makes the capture stamp packets where the agent's hook sees them.

use std::{path::Path, process::Command};

use agent_common::sip::hash::call_id_hash;

/// One SIP packet as tshark decoded it.
#[derive(Clone, Debug)]
pub struct Packet {
    /// Capture time, Unix seconds.
    pub t: f64,
    /// Sent to one of the addresses the reader was told are "in".
    pub inbound: bool,
    /// The Call-ID hashed as the kernel hashes it.
    pub call_hash: u64,
    pub cseq: u32,
    pub cseq_method: String,
    /// 0 for requests.
    pub status: u16,
}

/// The SIP packets of `pcap` in time order (a capture on two interfaces is
/// written per interface buffer, not in arrival order); a packet is inbound
/// when its destination is one of `inbound_to`.
#[must_use]
pub fn sip_packets(pcap: &Path, inbound_to: &[&str]) -> Vec<Packet> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(pcap)
        .args([
            "-Y",
            "sip",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=f",
        ])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.dst",
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.CSeq.seq",
        ])
        .args(["-e", "sip.CSeq.method", "-e", "sip.Status-Code"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark -r failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_fields(&String::from_utf8_lossy(&out.stdout), inbound_to)
}

fn parse_fields(text: &str, inbound_to: &[&str]) -> Vec<Packet> {
    let mut packets: Vec<Packet> = text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            if f.len() < 6 || f[2].is_empty() {
                return None;
            }
            Some(Packet {
                t: f[0].parse().ok()?,
                inbound: inbound_to.contains(&f[1]),
                call_hash: call_id_hash(f[2].as_bytes()),
                cseq: f[3].parse().ok()?,
                cseq_method: f[4].to_owned(),
                status: f[5].parse().unwrap_or(0),
            })
        })
        .collect();
    packets.sort_by(|a, b| a.t.total_cmp(&b.t));
    packets
}

const PREQUEUE: &str = "/proc/sys/net/core/netdev_tstamp_prequeue";

/// Sets `net.core.netdev_tstamp_prequeue` to 0 while it lives and restores
/// it. With 1 (the default) the capture stamps a received packet when it is
/// queued to the backlog, before softirq processing; the TC hook runs when it
/// is dequeued, up to a few hundred microseconds later on a busy 2-core box.
/// With 0 both instruments look at the packet at the same point, so the
/// comparison measures the agent, not the backlog. (Global sysctl: there is
/// no per-namespace copy.)
pub struct TstampAtReceive {
    before: String,
}

impl TstampAtReceive {
    #[must_use]
    pub fn set() -> Self {
        let before = std::fs::read_to_string(PREQUEUE).expect("read sysctl");
        std::fs::write(PREQUEUE, "0").expect("write sysctl");
        Self { before }
    }
}

impl Drop for TstampAtReceive {
    fn drop(&mut self) {
        let _ = std::fs::write(PREQUEUE, self.before.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_packets_in_time_order() {
        let text = "\
1700000000.000200|198.18.41.1|c1@x|1|INVITE|
1700000000.000100|198.18.40.2|c1@x|1|INVITE|
1700000000.000300|198.18.40.1|c1@x|1|INVITE|407
1700000000.000400|198.18.40.2||1|ACK|
short|line
";
        let p = parse_fields(text, &["198.18.40.2", "198.18.41.2"]);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].inbound && !p[1].inbound && !p[2].inbound);
        assert!(p[0].t < p[1].t && p[1].t < p[2].t);
        assert_eq!((p[2].status, p[2].cseq), (407, 1));
        assert_eq!(p[0].call_hash, call_id_hash(b"c1@x"));
        assert_eq!(p[0].cseq_method, "INVITE");
    }
}
