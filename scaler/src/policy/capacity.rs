//! Online per-replica capacity model: how many INVITEs per second one ready
//! replica carries while the P99 stays at the operating point.
//!
//! Learned from (arrival rate per replica, P99) pairs: a P99 at or above the
//! knee at rate x says capacity <= x (believed at once, as overload is what
//! we must not repeat); a comfortable P99 at a rate above the estimate says
//! capacity >= x (believed slowly, since one calm window proves little).

/// See the module doc.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityModel {
    capacity: f64,
    floor: f64,
    /// P99 at or above `knee * target` means "at capacity".
    pub knee: f64,
    /// P99 below `calm * target` means "below capacity".
    pub calm: f64,
    /// Weight of one calm observation above the estimate.
    pub learn_up: f64,
    observations: u64,
}

impl CapacityModel {
    /// `prior`: calls/s per replica from a benchmark (the report's 4.1 found
    /// 11/s at 30 mCPU and planned with 10/s).
    #[must_use]
    pub fn new(prior: f64) -> Self {
        let prior = if prior.is_finite() && prior > 0.0 {
            prior
        } else {
            10.0
        };
        Self {
            capacity: prior,
            floor: prior / 4.0,
            knee: 0.5,
            calm: 0.2,
            learn_up: 0.2,
            observations: 0,
        }
    }

    #[must_use]
    pub fn capacity(&self) -> f64 {
        self.capacity
    }

    #[must_use]
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// Learn from one window in which the replica count did not change.
    pub fn observe(&mut self, rate_per_replica: f64, p99_s: f64, target_s: f64) {
        if !(rate_per_replica.is_finite()
            && p99_s.is_finite()
            && rate_per_replica > 0.0
            && target_s > 0.0)
        {
            return;
        }
        self.observations += 1;
        if p99_s >= self.knee * target_s {
            // The P99 grows very fast past the knee, so a breach at x means
            // the knee lies a little below x.
            let bound = rate_per_replica * (self.knee * target_s / p99_s).powf(0.1);
            if bound < self.capacity {
                self.capacity = bound.max(self.floor);
            }
        } else if p99_s < self.calm * target_s && rate_per_replica > self.capacity {
            self.capacity += self.learn_up * (rate_per_replica - self.capacity);
        }
    }

    /// Replicas needed to carry `rate` with every replica at most at
    /// `1 / (1 + margin)` of its capacity.
    #[must_use]
    pub fn replicas_for(&self, rate: f64, margin: f64) -> u32 {
        if !(rate.is_finite() && rate > 0.0) {
            return 0;
        }
        (rate * (1.0 + margin) / self.capacity).ceil() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_lowers_capacity_at_once_and_calm_raises_it_slowly() {
        let mut m = CapacityModel::new(10.0);
        m.observe(8.0, 0.9, 1.0);
        assert!(m.capacity() < 8.0 && m.capacity() > 7.0, "{}", m.capacity());
        let low = m.capacity();
        m.observe(9.0, 0.05, 1.0);
        assert!(m.capacity() > low && m.capacity() < 9.0);
        for _ in 0..50 {
            m.observe(20.0, 0.01, 1.0);
        }
        assert!(
            m.capacity() > 19.0,
            "learns a bigger machine: {}",
            m.capacity()
        );
        m.observe(f64::NAN, 5.0, 1.0);
        assert!(m.capacity() > 19.0, "NaN teaches nothing");
    }

    #[test]
    fn replicas_for_rate_with_margin() {
        let m = CapacityModel::new(10.0);
        assert_eq!(m.replicas_for(42.0, 0.0), 5);
        assert_eq!(m.replicas_for(42.0, 0.3), 6);
        assert_eq!(m.replicas_for(0.0, 0.3), 0);
    }
}
