//! siplat agent internals, as a library so tests and examples use the same
//! code the daemon runs.

pub mod ageing;
pub mod config;
pub mod events;
pub mod expiry;
pub mod filters;
pub mod http;
pub mod ifaces;
pub mod loader;
pub mod map_batch;
pub mod metrics;
pub mod pods;
pub mod retire;
pub mod samples;
pub mod samples_api;
pub mod sketch;
