//! What siplat's integration tests share, in one crate so that each thing
//! exists once: the root check and its loud skip, network namespaces that
//! clean up after a panicking test, the agent binary under test and its
//! endpoints, SIP messages as a test sends them, one matcher over the
//! agent's Prometheus text, child processes stopped on drop, kernel receive
//! timestamps, tshark captures, the testbed CLI and the rendered manifests.
//!
//! Everything panics on failure instead of returning errors: a test that
//! cannot set up its namespace has nothing left to check, and the panic
//! message is its report.
//!
//! Binaries under test (`siplat-agent`, `siplat-testbed`) are passed in by
//! path: only the crate that builds them gets `CARGO_BIN_EXE_*`.

pub mod agent;
pub mod browser;
pub mod capture;
pub mod http;
pub mod manifests;
pub mod metrics;
pub mod namespace;
pub mod panel;
pub mod privilege;
pub mod process;
pub mod sip;
pub mod testbed;
pub mod timing;
pub mod wait;

pub use agent::Agent;
pub use metrics::Metrics;
pub use namespace::{Netns, node_with_bridge, plug, veth};
pub use privilege::privileged;
pub use process::{Proc, cpu_seconds, sh, sh_out, thread_cpu_seconds};
pub use sip::{exchange, request, response};
pub use wait::{eventually, wait_for};
