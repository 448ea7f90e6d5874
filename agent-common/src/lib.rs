//! What the kernel program and the agent must agree on, byte for byte.
//!
//! Everything here is `no_std` and allocation-free so that the exact logic the
//! kernel runs (the SIP scanner above all) is unit-tested and fuzzed in
//! userspace. Map value types are `#[repr(C)]` without implicit padding; the
//! `user` feature implements `aya::Pod` for them.
#![no_std]

pub mod config;
pub mod counters;
pub mod pending;
pub mod reassembly;
pub mod sample;
pub mod sip;
