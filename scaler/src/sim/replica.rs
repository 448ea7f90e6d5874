//! One proxy as a FIFO server under a CFS quota: it may use `quota` CPU
//! seconds in each `period`, so work beyond the budget waits for the next
//! period. That is what gives the report's shape: milliseconds while the
//! budget suffices, then latency in whole periods, then collapse once the
//! long-run demand exceeds the quota.

use super::{cpu_curve::LoadMeter, vertical::Quota};

/// Lifecycle as the load balancer sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum State {
    /// Asked for, not yet taking traffic.
    Booting { ready_at: f64 },
    /// In the LB destination set.
    Active,
    /// Out of the LB set, finishing its queue.
    Draining,
}

#[derive(Debug, Clone)]
pub struct Replica {
    /// Stable for the replica's life (positions in the tier shift).
    pub id: u64,
    /// Factor on the cost of each request it serves (1: as calibrated).
    pub speed: f64,
    pub state: State,
    /// Recent arrivals, for profiles whose cost per call falls with load.
    pub load: LoadMeter,
    /// CPU limit and the SIP work it allows per period.
    pub quota: Quota,
    period_s: f64,
    free_at: f64,
    period: i64,
    used: f64,
    /// CPU seconds used per absolute second (index = second + offset).
    cpu: Vec<f64>,
    offset: i64,
}

impl Replica {
    #[must_use]
    pub fn new(state: State, period_s: f64, quota: Quota, start_s: i64) -> Self {
        Self {
            id: 0,
            speed: 1.0,
            state,
            load: LoadMeter::default(),
            quota,
            period_s,
            free_at: f64::NEG_INFINITY,
            period: i64::MIN,
            used: 0.0,
            cpu: Vec::new(),
            offset: -start_s,
        }
    }

    /// Seconds of queued work ahead of a request arriving at `t`.
    #[must_use]
    pub fn backlog(&self, t: f64) -> f64 {
        (self.free_at - t).max(0.0)
    }

    /// Queue `cost` CPU seconds arriving at `t`; returns the completion time.
    pub fn serve(&mut self, t: f64, cost: f64) -> f64 {
        let mut now = t.max(self.free_at);
        let mut left = cost;
        // The period index is carried explicitly: recomputing it from a
        // period end by division can round back into the old period.
        let mut k = ((now / self.period_s).floor() as i64).max(self.period);
        loop {
            if k != self.period {
                self.period = k;
                self.used = 0.0;
            }
            let period_end = (k + 1) as f64 * self.period_s;
            let budget = self.quota.budget(k as f64 * self.period_s);
            let avail = (budget - self.used).min(period_end - now).max(0.0);
            if left <= avail + 1e-12 {
                self.used += left;
                self.account(now, left);
                now += left;
                break;
            }
            if avail > 0.0 {
                self.used += avail;
                self.account(now, avail);
                left -= avail;
            }
            k += 1;
            now = now.max(period_end);
        }
        self.free_at = now;
        now
    }

    /// Ask at `t` for `limit_millis` (allowing `budget_s` of SIP work per
    /// period) from `at`. The queue past the landing was laid out at the
    /// old budget, period by period; it is laid out again at the new one
    /// (its CPU seconds move with it), so later arrivals wait behind a queue
    /// that drains at the new rate.
    pub fn resize(&mut self, t: f64, at: f64, limit_millis: f64, budget_s: f64) {
        self.quota.settle(t);
        let p = self.period_s;
        let from = Quota::landing(at, p);
        let first = (from / p).round() as i64;
        // Every request queued now arrived before `from`, so the server is
        // busy without a gap from `from` to `free_at`: every period but the
        // last one is full.
        let mut work = 0.0;
        if self.free_at > from {
            for k in first..=self.period {
                let w = if k == self.period {
                    self.used
                } else {
                    self.quota.budget(k as f64 * p)
                };
                self.account(k as f64 * p, -w);
                work += w;
            }
        }
        self.quota.change(from, limit_millis, budget_s);
        if work <= 0.0 || budget_s <= 0.0 {
            return;
        }
        let (mut k, mut left) = (first, work);
        loop {
            let take = left.min(budget_s);
            self.account(k as f64 * p, take);
            left -= take;
            if left <= 1e-12 {
                self.period = k;
                self.used = take;
                self.free_at = k as f64 * p + take;
                break;
            }
            k += 1;
        }
    }

    fn account(&mut self, at: f64, cpu_s: f64) {
        let idx = at.floor() as i64 + self.offset;
        if let Ok(i) = usize::try_from(idx) {
            if self.cpu.len() <= i {
                self.cpu.resize(i + 1, 0.0);
            }
            self.cpu[i] += cpu_s;
        }
    }

    /// Mean SIP-work CPU over the `window` seconds before `now_s`, in CPU
    /// seconds per second.
    #[must_use]
    pub fn cpu_mean(&self, now_s: i64, window: u64) -> f64 {
        let w = window.max(1) as i64;
        let sum: f64 = (now_s - w..now_s)
            .filter_map(|s| usize::try_from(s + self.offset).ok())
            .filter_map(|i| self.cpu.get(i))
            .sum();
        sum / w as f64
    }

    /// CPU used in second `s`.
    #[must_use]
    pub fn cpu_at(&self, s: i64) -> f64 {
        usize::try_from(s + self.offset)
            .ok()
            .and_then(|i| self.cpu.get(i))
            .copied()
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_within_budget_is_immediate_and_beyond_waits_a_period() {
        let mut r = Replica::new(State::Active, 0.1, Quota::new(30.0, 0.003), 0);
        let done = r.serve(0.0, 0.002);
        assert!((done - 0.002).abs() < 1e-9);
        // 1 ms left in this period; the next 2 ms call finishes in the next one.
        let done = r.serve(0.01, 0.002);
        assert!((done - 0.101).abs() < 1e-9, "{done}");
        assert!((r.cpu_at(0) - 0.004).abs() < 1e-12);
        assert!(r.backlog(0.05) > 0.0);
    }

    #[test]
    fn sustained_overload_grows_the_queue() {
        let mut r = Replica::new(State::Active, 0.1, Quota::new(30.0, 0.003), 0);
        let mut last = 0.0;
        for i in 0..400 {
            // 40 ms of work per second against 30 ms of quota.
            last = r.serve(f64::from(i) * 0.05, 0.002);
        }
        assert!(last - 20.0 > 5.0, "backlog after 20 s: {}", last - 20.0);
        assert!(r.cpu_mean(20, 10) <= 0.030 + 1e-9, "never above the limit");
    }
}
