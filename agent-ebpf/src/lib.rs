//! Empty host-side library so `agent` can name this crate as a build dependency (aya-build finds its sources through it).
#![no_std]
