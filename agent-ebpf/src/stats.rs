//! Per-CPU counters: nothing is dropped without being counted.

use agent_common::counters::Drop;

use crate::COUNTERS;

#[inline(always)]
pub fn bump(index: u32) {
    if let Some(counter) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *counter += 1 };
    }
}

#[inline(always)]
pub fn drop(reason: Drop) {
    bump(reason as u32);
}
