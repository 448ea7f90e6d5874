//! Vertical scaling in the simulated tier: each replica's CPU limit (its
//! CFS quota) and in-place resizes of the running replicas.
//!
//! A resize lands [`SimConfig::resize_delay_s`](super::SimConfig) after it
//! is asked for, from the first CFS period that starts then, on every
//! replica booting or taking traffic at the time (a booting pod's
//! container is resizable before it is ready); every one created later
//! starts at the base limit, as pods made from an unchanged template do,
//! and the tier reports its lowest limit, so the next decision resizes
//! it too. Work already queued behind the old quota is
//! laid out again at the new one when the resize is asked for, so what
//! arrives later sees the queue drain at the new rate; latencies recorded
//! before that keep the old quota's (the simulator records a request's
//! latency when it arrives), which makes a resize look a little less
//! effective than it is, never more.

use super::{
    State, Tier,
    calibration::{self as cal},
};

/// A replica's quota: the limit in force and, while a resize is on its
/// way, the one that replaces it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    limit_millis: f64,
    /// SIP work allowed per CFS period under `limit_millis`, CPU seconds.
    budget_s: f64,
    pending: Option<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Change {
    /// Start of the first period under the new limit.
    from_s: f64,
    limit_millis: f64,
    budget_s: f64,
}

impl Quota {
    #[must_use]
    pub fn new(limit_millis: f64, budget_s: f64) -> Self {
        Self {
            limit_millis,
            budget_s,
            pending: None,
        }
    }

    /// Budget of the period starting at `period_start_s`.
    #[must_use]
    pub fn budget(&self, period_start_s: f64) -> f64 {
        match self.pending {
            Some(c) if period_start_s >= c.from_s - 1e-9 => c.budget_s,
            _ => self.budget_s,
        }
    }

    /// Limit in force at `t` (mCPU).
    #[must_use]
    pub fn limit_at(&self, t: f64) -> f64 {
        match self.pending {
            Some(c) if t >= c.from_s - 1e-9 => c.limit_millis,
            _ => self.limit_millis,
        }
    }

    /// Limit last asked for, landed or not (what the pod spec says).
    #[must_use]
    pub fn asked_millis(&self) -> f64 {
        self.pending.map_or(self.limit_millis, |c| c.limit_millis)
    }

    /// Make a change that has landed by `t` the one in force.
    pub fn settle(&mut self, t: f64) {
        if let Some(c) = self.pending
            && t >= c.from_s - 1e-9
        {
            self.limit_millis = c.limit_millis;
            self.budget_s = c.budget_s;
            self.pending = None;
        }
    }

    /// Start of the first CFS period at or after `at_s`: where a change
    /// asked to apply at `at_s` lands.
    #[must_use]
    pub fn landing(at_s: f64, period_s: f64) -> f64 {
        (at_s / period_s - 1e-9).ceil() * period_s
    }

    /// Ask for `limit_millis` from `from_s` (a period start); a change
    /// still on its way is replaced (the newer spec wins).
    pub fn change(&mut self, from_s: f64, limit_millis: f64, budget_s: f64) {
        self.pending = Some(Change {
            from_s,
            limit_millis,
            budget_s,
        });
    }
}

impl Tier<'_> {
    /// A new replica's quota: the base limit.
    pub(super) fn base_quota(&self) -> Quota {
        let c = self.cfg;
        Quota::new(
            c.cpu_limit_millis,
            cal::sip_budget_s(c.cpu_limit_millis, c.background_millis, c.cfs_period_s),
        )
    }

    /// Resize every replica booting or taking traffic to `limit_millis` (bounded by
    /// the per-pod ceiling), landing after the resize delay. Returns the
    /// limit asked for.
    pub(super) fn resize(&mut self, t: f64, limit_millis: f64) -> f64 {
        let c = self.cfg;
        let limit = limit_millis.clamp(1.0, c.max_cpu_limit_millis.max(1.0));
        let budget = cal::sip_budget_s(limit, c.background_millis, c.cfs_period_s);
        let at = t + c.resize_delay_s.max(0.0);
        for r in self
            .replicas
            .iter_mut()
            .filter(|r| r.state != State::Draining)
        {
            r.resize(t, at, limit, budget);
        }
        limit
    }

    /// The limit the booting and running replicas were last asked for (the
    /// lowest when they differ), as an actuator reads it from the pods'
    /// specs; the base limit while none runs.
    pub(super) fn asked_limit_millis(&self) -> f64 {
        self.replicas
            .iter()
            .filter(|r| r.state != State::Draining)
            .map(|r| r.quota.asked_millis())
            .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.min(l))))
            .unwrap_or(self.cfg.cpu_limit_millis)
    }

    /// CPU allocated in second `s`: the limits in force of every replica
    /// that costs (booting, taking traffic, or draining calls), mCPU.
    pub(super) fn allocated_millis(&self, s: i64) -> f64 {
        let t0 = s as f64;
        self.replicas
            .iter()
            .filter(|r| r.state != State::Draining || r.backlog(t0) > 0.0)
            .map(|r| r.quota.limit_at(t0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::{super::replica::Replica, *};

    #[test]
    fn a_change_lands_at_the_first_period_after_it_is_due() {
        let mut q = Quota::new(30.0, 0.0028);
        let from = Quota::landing(10.05, 0.1);
        assert!((from - 10.1).abs() < 1e-9);
        q.change(from, 60.0, 0.0058);
        assert!((q.budget(10.0) - 0.0028).abs() < 1e-12);
        assert!((q.budget(10.1) - 0.0058).abs() < 1e-12);
        assert!((q.limit_at(10.09) - 30.0).abs() < 1e-12);
        assert!((q.asked_millis() - 60.0).abs() < 1e-12);
        q.settle(10.2);
        assert_eq!(q, Quota::new(60.0, 0.0058));
        // Exactly on a period boundary it lands there.
        assert!((Quota::landing(11.0, 0.1) - 11.0).abs() < 1e-9);
    }

    #[test]
    fn a_raised_quota_drains_the_queue_faster_from_when_it_lands() {
        let served = |resize: bool| {
            let mut r = Replica::new(State::Active, 0.1, Quota::new(30.0, 0.003), 0);
            // 60 ms of work at t = 0: 20 periods at 3 ms each.
            for _ in 0..30 {
                r.serve(0.0, 0.002);
            }
            if resize {
                r.resize(0.0, 1.0, 60.0, 0.006);
            }
            r.serve(0.0, 0.002)
        };
        let slow = served(false);
        let fast = served(true);
        assert!((slow - 2.002).abs() < 1e-6, "20 periods of 3 ms: {slow}");
        // 1 s of it at 3 ms per period, the other second's 30 ms at 6 ms.
        assert!((fast - 1.502).abs() < 0.01, "{fast}");
    }
}
