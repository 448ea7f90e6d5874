//! The simulator's randomness is the scenario crate's generator, so the
//! suite's days and the simulated arrivals come from one implementation.

pub use scenario::random::Rng;
