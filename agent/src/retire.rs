//! Series of interfaces that are gone, dropped after a grace period.
//!
//! A scale-in deletes a pod and its veth. Its series must leave the exporter,
//! or every pod ever seen on the node keeps its ~1,200 series, but not before
//! Prometheus has scraped their last values. A veth that comes back under the
//! same name within the grace period (a `StatefulSet` pod restarted: CNIs such
//! as Calico derive the name from the pod) keeps its series.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

pub struct Retirements {
    grace: Duration,
    pending: Vec<(Instant, String)>,
}

impl Retirements {
    #[must_use]
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            pending: Vec::new(),
        }
    }

    /// Note the interfaces of `before` that `now` no longer has.
    pub fn note_gone(
        &mut self,
        before: &HashMap<u32, String>,
        now: &HashMap<u32, String>,
        at: Instant,
    ) {
        for name in before.values() {
            if !now.values().any(|n| n == name) && !self.pending.iter().any(|(_, n)| n == name) {
                self.pending.push((at + self.grace, name.clone()));
            }
        }
    }

    /// Names whose grace period is over and that did not come back (those
    /// that came back are dropped from the list too).
    pub fn due(&mut self, now: &HashMap<u32, String>, at: Instant) -> Vec<String> {
        let mut out = Vec::new();
        self.pending.retain(|(when, name)| {
            if now.values().any(|n| n == name) {
                return false;
            }
            if *when <= at {
                out.push(name.clone());
                return false;
            }
            true
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[(u32, &str)]) -> HashMap<u32, String> {
        list.iter().map(|&(i, n)| (i, n.to_owned())).collect()
    }

    #[test]
    fn gone_interfaces_are_due_after_the_grace_period() {
        let t0 = Instant::now();
        let mut r = Retirements::new(Duration::from_secs(60));
        let before = names(&[(1, "cali1"), (2, "cali2")]);
        let now = names(&[(2, "cali2")]);
        r.note_gone(&before, &now, t0);
        assert!(r.due(&now, t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(r.due(&now, t0 + Duration::from_secs(60)), ["cali1"]);
        assert!(
            r.due(&now, t0 + Duration::from_secs(120)).is_empty(),
            "once"
        );
    }

    #[test]
    fn an_interface_back_under_its_name_keeps_its_series() {
        let t0 = Instant::now();
        let mut r = Retirements::new(Duration::from_secs(60));
        r.note_gone(&names(&[(1, "cali1")]), &names(&[]), t0);
        // Back with a new index, same name (the pod restarted).
        let back = names(&[(9, "cali1")]);
        assert!(r.due(&back, t0 + Duration::from_secs(61)).is_empty());
        assert!(r.due(&names(&[]), t0 + Duration::from_secs(200)).is_empty());
    }
}
