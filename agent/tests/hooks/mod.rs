//! What is hooked on an interface, read the way an operator would check:
//! tc filters as `tc` prints them, plus the programs on its TCX hooks (this
//! bpftool predates TCX, so the kernel is asked through aya).

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::fmt::Write as _;

use aya::programs::{SchedClassifier, TcAttachType};
use testkit::Netns;

/// Everything hooked on `dev` in `ns`, as text.
pub fn hooks(ns: &Netns, dev: &'static str) -> String {
    let mut out = String::new();
    for dir in ["ingress", "egress"] {
        out += &ns.exec(&["tc", "filter", "show", "dev", dev, dir]);
    }
    out += &ns
        .run(move || {
            let mut names = String::new();
            for ty in [TcAttachType::Ingress, TcAttachType::Egress] {
                let (_, progs) = SchedClassifier::query_tcx(dev, ty).expect("query tcx");
                for p in progs {
                    let _ = writeln!(names, "tcx {ty:?} {}", p.name_as_str().unwrap_or("?"));
                }
            }
            names
        })
        .join()
        .expect("tcx query");
    out
}

/// The siplat programs among them, one line each.
pub fn siplat_hooks(ns: &Netns, dev: &'static str) -> Vec<String> {
    hooks(ns, dev)
        .lines()
        .filter(|l| l.contains("sip_tc_"))
        .map(str::to_owned)
        .collect()
}
