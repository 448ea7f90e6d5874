//! Which netlink (clsact) filters are this agent's. Unlike TCX links they
//! are shared by everything on an interface and outlive their process, so
//! the agent owns its filters by priority and handle: it attaches, replaces
//! and removes only those, never another agent's live ones and never a
//! filter of someone else.
//!
//! Ownership is a slot, an abstract unix socket `siplat-agent/tc-slot/N`
//! bound for the agent's lifetime. Abstract sockets live in the network
//! namespace, exactly where the interfaces (and so the agents competing for
//! them) are, and the kernel releases them when the process dies, SIGKILL
//! included. Slot N puts the filters at priority `PRIORITY_BASE + N`, handle
//! [`HANDLE`]: the first agent of a namespace always gets the same priority,
//! a second one the next, and a restarted agent finds what its killed
//! predecessor left at its own priority.

use std::{
    io,
    os::{
        linux::net::SocketAddrExt as _,
        unix::net::{SocketAddr, UnixDatagram},
    },
    process::Command,
};

use agent_common::config::programs;
use aya::programs::{
    Link as _, TcAttachType,
    tc::{SchedClassifierLink, TcHandle},
};
use thiserror::Error;
use tracing::info;

/// Priority of slot 0. Away from 49152, which the kernel gives the first
/// filter added without one, so that nobody lands on ours by default.
pub const PRIORITY_BASE: u16 = 5060;
/// Agents one network namespace can hold at once.
pub const SLOTS: u16 = 16;
/// Every slot has its own priority, so one handle is enough.
pub const HANDLE: TcHandle = TcHandle::new(0, 1);

#[derive(Debug, Error)]
pub enum FilterError {
    #[error("all {SLOTS} netlink filter slots of this network namespace are held by other agents")]
    NoSlot(#[source] io::Error),
    #[error("list the tc filters of {iface}")]
    List {
        iface: String,
        #[source]
        source: io::Error,
    },
}

/// This agent's netlink slot, held until dropped.
#[derive(Debug)]
pub struct Slot {
    n: u16,
    _lock: UnixDatagram,
}

impl Slot {
    /// The lowest free slot.
    pub fn acquire() -> Result<Self, FilterError> {
        let mut last = io::Error::from(io::ErrorKind::AddrInUse);
        for n in 0..SLOTS {
            match lock(n) {
                Ok(lock) => return Ok(Self { n, _lock: lock }),
                Err(e) => last = e,
            }
        }
        Err(FilterError::NoSlot(last))
    }

    #[must_use]
    pub fn priority(&self) -> u16 {
        PRIORITY_BASE + self.n
    }
}

fn lock(n: u16) -> io::Result<UnixDatagram> {
    let addr = SocketAddr::from_abstract_name(format!("siplat-agent/tc-slot/{n}"))?;
    UnixDatagram::bind_addr(&addr)
}

/// One filter as `tc -j filter show` lists it.
#[derive(Debug, PartialEq, Eq)]
pub struct Filter {
    pub priority: u16,
    pub handle: u32,
    /// The program's name for a bpf filter, else empty.
    pub name: String,
}

/// Filters of one direction of `iface`, from `tc` (the netlink dump aya has
/// is not public).
pub fn list(iface: &str, attach_type: TcAttachType) -> Result<Vec<Filter>, FilterError> {
    let dir = match attach_type {
        TcAttachType::Egress => "egress",
        _ => "ingress",
    };
    let err = |source| FilterError::List {
        iface: iface.to_owned(),
        source,
    };
    let out = Command::new("tc")
        .args(["-j", "filter", "show", "dev", iface, dir])
        .output()
        .map_err(err)?;
    if !out.status.success() {
        return Err(err(io::Error::other(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )));
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// The filters of a `tc -j filter show` dump; entries without a handle (one
/// per priority, the classifier itself) are left out. No output, as `tc`
/// prints for an interface without filters, is none.
#[must_use]
pub fn parse(json: &str) -> Vec<Filter> {
    let Ok(serde_json::Value::Array(entries)) = serde_json::from_str(json) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            let priority = u16::try_from(e.get("pref")?.as_u64()?).ok()?;
            let options = e.get("options")?;
            let handle = match options.get("handle")? {
                serde_json::Value::String(s) => {
                    u32::from_str_radix(s.trim_start_matches("0x"), 16).ok()?
                }
                v => u32::try_from(v.as_u64()?).ok()?,
            };
            let name = options
                .get("bpf_name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Some(Filter {
                priority,
                handle,
                name,
            })
        })
        .collect()
}

fn is_siplat(f: &Filter) -> bool {
    f.handle == u32::from(HANDLE) && [programs::TC_INGRESS, programs::TC_EGRESS].contains(&&*f.name)
}

/// Remove siplat filters on `iface` that no live agent owns: those at our
/// own priority (we hold its slot) and those of any other slot nobody holds
/// now (held while removing, so an agent starting meanwhile takes another).
/// Filters of live agents and anyone else's stay. Returns how many went.
pub fn remove_stale(iface: &str, slot: &Slot) -> Result<usize, FilterError> {
    let mut removed = 0;
    for attach_type in [TcAttachType::Ingress, TcAttachType::Egress] {
        for f in list(iface, attach_type)? {
            let Some(n) = f.priority.checked_sub(PRIORITY_BASE).filter(|n| *n < SLOTS) else {
                continue;
            };
            if !is_siplat(&f) {
                continue;
            }
            let _held = if n == slot.n {
                None
            } else {
                match lock(n) {
                    Ok(held) => Some(held),
                    // A live agent's.
                    Err(_) => continue,
                }
            };
            let gone = SchedClassifierLink::attached(
                iface,
                attach_type,
                f.priority,
                TcHandle::from(f.handle),
                None,
            )
            .is_ok_and(|link| link.detach().is_ok());
            if gone {
                info!(iface, priority = f.priority, program = %f.name, "removed a stale filter");
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tc -j filter show dev d1 ingress` with a siplat filter and a
    /// matchall filter of someone else.
    const DUMP: &str = r#"[{"protocol":"all","pref":5060,"kind":"bpf","chain":0},{"protocol":"all","pref":5060,"kind":"bpf","chain":0,"options":{"handle":"0x1","bpf_name":"sip_tc_ingress","direct-action":true,"not_in_hw":true,"prog":{"id":42,"name":"sip_tc_ingress","tag":"0123456789abcdef","jited":1}}},{"protocol":"all","pref":49152,"kind":"matchall","chain":0},{"protocol":"all","pref":49152,"kind":"matchall","chain":0,"options":{"handle":"0x1","not_in_hw":true,"actions":[]}}]"#;

    #[test]
    fn a_dump_gives_priority_handle_and_program() {
        assert_eq!(
            parse(DUMP),
            [
                Filter {
                    priority: 5060,
                    handle: 1,
                    name: programs::TC_INGRESS.to_owned(),
                },
                Filter {
                    priority: 49152,
                    handle: 1,
                    name: String::new(),
                },
            ]
        );
        assert!(parse("").is_empty());
        assert!(parse("[]").is_empty());
    }

    #[test]
    fn only_our_programs_at_our_handle_are_siplat() {
        let f = parse(DUMP);
        assert!(is_siplat(&f[0]));
        assert!(!is_siplat(&f[1]));
        let other_handle = Filter {
            handle: 2,
            ..parse(DUMP).remove(0)
        };
        assert!(!is_siplat(&other_handle));
    }

    #[test]
    fn a_second_agent_takes_the_next_slot_and_a_released_one_is_reused() {
        let first = Slot::acquire().expect("slot");
        let second = Slot::acquire().expect("slot");
        assert_eq!(second.priority(), first.priority() + 1);
        let priority = first.priority();
        drop(first);
        assert_eq!(Slot::acquire().expect("slot").priority(), priority);
    }
}
