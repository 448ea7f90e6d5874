//! siplat scaler: keeps the SIP proxies' P99 latency under the operator's
//! target with as few proxies as the load allows.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "rates, seconds and replica counts are small non-negative numbers converted after clamping"
)]

pub mod evaluate;
pub mod learn;
pub mod policy;
pub mod sim;
pub mod source;

pub mod actuator;
pub mod cli;
pub mod config;
pub mod control;
pub mod http;
pub mod metrics;
