//! Loading the kernel program and attaching it to interfaces as they come
//! and go; detaching everything on the way out.

use std::{
    collections::{HashMap, HashSet},
    process::Command,
};

use agent_common::config::{IFACE_MIRRORED, IfaceConfig, maps, port_bitmap, programs};
use aya::{
    Ebpf,
    maps::{HashMap as BpfHashMap, MapData},
    programs::{
        LinkOrder, SchedClassifier, TcAttachType, Xdp, XdpMode,
        tc::{NlOptions, SchedClassifierLinkId, TcAttachOptions, TcError, qdisc_add_clsact},
        xdp::XdpLinkId,
    },
};
use thiserror::Error;
use tracing::{debug, info, warn};

use crate::{
    config::{Config, Placement, TcMode},
    filters::{self, FilterError, Slot},
};

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(
        "the embedded eBPF object is empty: the agent was built with AYA_BUILD_SKIP=1; rebuild after `cargo xtask setup`"
    )]
    EmptyObject,
    #[error("load eBPF object (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, or root)")]
    Load(#[source] aya::EbpfError),
    #[error("eBPF object has no {0}")]
    Missing(&'static str),
    #[error("program {name}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("map {name}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("attach to {iface}")]
    Attach {
        iface: String,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("netlink filters")]
    Filters(#[source] FilterError),
    #[error("add clsact qdisc to {iface}")]
    Clsact {
        iface: String,
        #[source]
        source: TcError,
    },
}

/// What we attached to one interface, to detach it again.
struct Attachment {
    name: String,
    ingress: Option<SchedClassifierLinkId>,
    xdp: Option<XdpLinkId>,
    egress: SchedClassifierLinkId,
    /// We added the clsact qdisc (netlink mode) and remove it on detach.
    created_clsact: bool,
}

pub struct Loader {
    ebpf: Ebpf,
    ifaces_map: BpfHashMap<MapData, u32, IfaceConfig>,
    placement: Placement,
    /// Netlink mode: the slot our filters' priority comes from.
    slot: Option<Slot>,
    xdp: bool,
    attached: HashMap<u32, Attachment>,
    /// Selected interfaces whose last attach failed: not ready while any is.
    failing: HashSet<u32>,
    /// Failed attaches not yet counted in the metric.
    attach_errors: u64,
}

/// How much of the verifier's million-instruction budget a program took:
/// the margin that a kernel update with a stricter verifier eats first.
fn log_verified(name: &str, info: Result<aya::programs::ProgramInfo, aya::programs::ProgramError>) {
    let verified = info.ok().and_then(|i| i.verified_instruction_count());
    tracing::info!(program = name, verified_insns = ?verified, "program loaded");
}

impl Loader {
    /// Load the object, set the SIP ports and take the maps userspace reads.
    pub fn load(object: &[u8], config: &Config) -> Result<Self, LoadError> {
        if object.is_empty() {
            return Err(LoadError::EmptyObject);
        }
        let ports = port_bitmap(&config.sip_port);
        let mut ebpf = aya::EbpfLoader::new()
            .override_global(maps::SIP_PORT_BITMAP, &ports, true)
            .map_max_entries(maps::PENDING, config.max_pending.max(1))
            .map_max_entries(maps::SAMPLES, config.ringbuf_bytes)
            .load(object)
            .map_err(LoadError::Load)?;
        for name in [programs::TC_INGRESS, programs::TC_EGRESS] {
            let prog: &mut SchedClassifier = ebpf
                .program_mut(name)
                .ok_or(LoadError::Missing(name))?
                .try_into()
                .map_err(|source| LoadError::Program { name, source })?;
            prog.load()
                .map_err(|source| LoadError::Program { name, source })?;
            log_verified(name, prog.info());
        }
        if config.xdp {
            let name = programs::XDP_INGRESS;
            let prog: &mut Xdp = ebpf
                .program_mut(name)
                .ok_or(LoadError::Missing(name))?
                .try_into()
                .map_err(|source| LoadError::Program { name, source })?;
            prog.load()
                .map_err(|source| LoadError::Program { name, source })?;
            log_verified(name, prog.info());
        }
        let ifaces_map = ebpf
            .take_map(maps::IFACES)
            .ok_or(LoadError::Missing(maps::IFACES))?
            .try_into()
            .map_err(|source| LoadError::Map {
                name: maps::IFACES,
                source,
            })?;
        let netlink = match config.tc_mode {
            TcMode::Netlink => true,
            TcMode::Tcx => false,
            TcMode::Auto => !aya::util::KernelVersion::current()
                .is_ok_and(|v| v >= aya::util::KernelVersion::new(6, 6, 0)),
        };
        let slot = if netlink {
            let slot = Slot::acquire().map_err(LoadError::Filters)?;
            info!(priority = slot.priority(), "netlink filter slot");
            Some(slot)
        } else {
            None
        };
        Ok(Self {
            ebpf,
            ifaces_map,
            placement: config.placement,
            slot,
            xdp: config.xdp,
            attached: HashMap::new(),
            failing: HashSet::new(),
            attach_errors: 0,
        })
    }

    /// Hand a map to the task that reads it.
    pub fn take_map(&mut self, name: &'static str) -> Result<aya::maps::Map, LoadError> {
        self.ebpf.take_map(name).ok_or(LoadError::Missing(name))
    }

    #[must_use]
    pub fn attached_count(&self) -> usize {
        self.attached.len()
    }

    /// Interfaces we were asked to watch but could not attach to (retried
    /// on every rescan).
    #[must_use]
    pub fn failing_count(&self) -> usize {
        self.failing.len()
    }

    /// Failed attaches since the last call, for the counter.
    pub fn take_attach_errors(&mut self) -> u64 {
        std::mem::take(&mut self.attach_errors)
    }

    /// Names by ifindex of what is attached now (for labels).
    #[must_use]
    pub fn names(&self) -> HashMap<u32, String> {
        self.attached
            .iter()
            .map(|(i, a)| (*i, a.name.clone()))
            .collect()
    }

    /// Attach to every selected interface not attached yet, forget those
    /// that vanished. Returns whether anything changed.
    pub fn sync(&mut self, present: &[(u32, String)], patterns: &[String]) -> bool {
        let mut changed = false;
        let gone: Vec<u32> = self
            .attached
            .keys()
            .copied()
            .filter(|i| !present.iter().any(|(p, _)| p == i))
            .collect();
        self.failing.retain(|i| present.iter().any(|(p, _)| p == i));
        for ifindex in gone {
            if let Some(a) = self.attached.remove(&ifindex) {
                info!(iface = %a.name, ifindex, "interface gone");
                // The kernel already dropped the hooks with the device.
                self.release(ifindex, a, false);
                changed = true;
            }
        }
        for (ifindex, name) in present {
            if self.attached.contains_key(ifindex) || !crate::ifaces::selected(patterns, name) {
                continue;
            }
            match self.attach(*ifindex, name) {
                Ok(()) => {
                    self.failing.remove(ifindex);
                    changed = true;
                }
                Err(err) => {
                    warn!(iface = %name, error = %display_chain(&err), "attach failed; will retry");
                    self.failing.insert(*ifindex);
                    self.attach_errors += 1;
                }
            }
        }
        changed
    }

    fn attach(&mut self, ifindex: u32, name: &str) -> Result<(), LoadError> {
        let cfg = match self.placement {
            Placement::Pod => IfaceConfig { scope: 0, flags: 0 },
            Placement::Host => IfaceConfig {
                scope: ifindex,
                flags: IFACE_MIRRORED,
            },
        };
        // Configure before attaching: the program ignores unknown interfaces.
        self.ifaces_map
            .insert(ifindex, cfg, 0)
            .map_err(|source| LoadError::Map {
                name: maps::IFACES,
                source,
            })?;
        let mut created_clsact = false;
        if let Some(slot) = &self.slot {
            // Filters a crashed (SIGKILLed) agent left behind: netlink
            // filters, unlike TCX links, outlive their process. Only those
            // no live agent owns go; a leftover at our own priority would
            // make our attach fail.
            if let Err(e) = filters::remove_stale(name, slot) {
                warn!(iface = %name, error = %display_chain(&e), "stale filters not checked");
            }
            match qdisc_add_clsact(name) {
                Ok(()) => created_clsact = true,
                Err(TcError::AlreadyAttached) => {}
                Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(source) => {
                    let _ = self.ifaces_map.remove(&ifindex);
                    return Err(LoadError::Clsact {
                        iface: name.to_owned(),
                        source,
                    });
                }
            }
        }
        let priority = self.slot.as_ref().map(Slot::priority);
        let options = || match priority {
            Some(priority) => TcAttachOptions::Netlink(NlOptions {
                priority,
                handle: filters::HANDLE,
                ..NlOptions::default()
            }),
            None => TcAttachOptions::TcxOrder(LinkOrder::default()),
        };
        let egress = match self.tc(programs::TC_EGRESS)?.attach_with_options(
            name,
            TcAttachType::Egress,
            options(),
        ) {
            Ok(id) => id,
            Err(source) => {
                let _ = self.ifaces_map.remove(&ifindex);
                remove_clsact(name, created_clsact);
                return Err(LoadError::Attach {
                    iface: name.to_owned(),
                    source,
                });
            }
        };
        let mut attachment = Attachment {
            name: name.to_owned(),
            ingress: None,
            xdp: None,
            egress,
            created_clsact,
        };
        let ingress = if self.xdp {
            self.xdp_prog()?
                .attach(name, XdpMode::Default)
                .map(|id| attachment.xdp = Some(id))
        } else {
            self.tc(programs::TC_INGRESS)?
                .attach_with_options(name, TcAttachType::Ingress, options())
                .map(|id| attachment.ingress = Some(id))
        };
        if let Err(source) = ingress {
            self.release(ifindex, attachment, true);
            return Err(LoadError::Attach {
                iface: name.to_owned(),
                source,
            });
        }
        info!(
            iface = %name,
            ifindex,
            mode = if self.slot.is_some() { "netlink" } else { "tcx" },
            ingress = if self.xdp { "xdp" } else { "tc" },
            "attached"
        );
        self.attached.insert(ifindex, attachment);
        Ok(())
    }

    /// Watch `ifindex` without attaching anything: for `BPF_PROG_TEST_RUN`
    /// benchmarks, which run the program on the namespace's loopback.
    pub fn watch_without_attaching(&mut self, ifindex: u32) -> Result<(), LoadError> {
        self.ifaces_map
            .insert(ifindex, IfaceConfig { scope: 0, flags: 0 }, 0)
            .map_err(|source| LoadError::Map {
                name: maps::IFACES,
                source,
            })
    }

    pub fn tc(&mut self, name: &'static str) -> Result<&mut SchedClassifier, LoadError> {
        self.ebpf
            .program_mut(name)
            .ok_or(LoadError::Missing(name))?
            .try_into()
            .map_err(|source| LoadError::Program { name, source })
    }

    fn xdp_prog(&mut self) -> Result<&mut Xdp, LoadError> {
        let name = programs::XDP_INGRESS;
        self.ebpf
            .program_mut(name)
            .ok_or(LoadError::Missing(name))?
            .try_into()
            .map_err(|source| LoadError::Program { name, source })
    }

    /// Detach one interface. `device_present` is false when the interface
    /// vanished (its hooks went with it; errors are expected then).
    fn release(&mut self, ifindex: u32, a: Attachment, device_present: bool) {
        let mut errors = Vec::new();
        if let Ok(p) = self.tc(programs::TC_EGRESS)
            && let Err(e) = p.detach(a.egress)
        {
            errors.push(e);
        }
        if let Some(id) = a.ingress
            && let Ok(p) = self.tc(programs::TC_INGRESS)
            && let Err(e) = p.detach(id)
        {
            errors.push(e);
        }
        if let Some(id) = a.xdp
            && let Ok(p) = self.xdp_prog()
            && let Err(e) = p.detach(id)
        {
            errors.push(e);
        }
        let _ = self.ifaces_map.remove(&ifindex);
        if device_present {
            for e in &errors {
                warn!(iface = %a.name, error = %display_chain(e), "detach failed");
            }
            remove_clsact(&a.name, a.created_clsact);
        } else {
            debug!(iface = %a.name, errors = errors.len(), "released vanished interface");
        }
    }

    /// Detach from every interface (on shutdown).
    pub fn detach_all(&mut self) {
        let all: Vec<u32> = self.attached.keys().copied().collect();
        for ifindex in all {
            if let Some(a) = self.attached.remove(&ifindex) {
                info!(iface = %a.name, "detached");
                self.release(ifindex, a, true);
            }
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.detach_all();
    }
}

/// Remove a clsact qdisc we added, if nothing else uses it now.
fn remove_clsact(iface: &str, created: bool) {
    if !created {
        return;
    }
    let filters = |dir: &str| {
        Command::new("tc")
            .args(["filter", "show", "dev", iface, dir])
            .output()
            .is_ok_and(|o| o.stdout.is_empty())
    };
    if filters("ingress") && filters("egress") {
        let _ = Command::new("tc")
            .args(["qdisc", "del", "dev", iface, "clsact"])
            .status();
    }
}

/// An error with its sources, for one log line.
pub fn display_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
