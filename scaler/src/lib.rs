//! siplat scaler: keeps the SIP proxies' P99 latency under the operator's
//! target with as few proxies as the load allows.
//!
//! `scenario` builds without default features (xtask uses it to generate and
//! replay load); everything that talks to the network needs `runtime`.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "rates, seconds and replica counts are small non-negative numbers converted after clamping"
)]

pub mod policy;
pub mod scenario;
pub mod sim;
#[cfg(feature = "runtime")]
pub mod source;

#[cfg(feature = "runtime")]
pub mod actuator;
#[cfg(feature = "runtime")]
pub mod cli;
#[cfg(feature = "runtime")]
pub mod config;
#[cfg(feature = "runtime")]
pub mod control;
#[cfg(feature = "runtime")]
pub mod http;
#[cfg(feature = "runtime")]
pub mod metrics;
