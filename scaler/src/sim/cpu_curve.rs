//! CPU per call that falls with a proxy's recent load, for profiles whose
//! measured CPU is concave in the call rate.
//!
//! Why it falls: Kamailio's UDP workers sleep in `recvfrom`. At a few calls
//! per second every message pays a wake-up, a context switch and cold
//! caches; as the rate rises the workers find messages already queued and
//! handle them back to back, so that fixed share is paid once per batch
//! instead of once per message. The model does not try to derive this; it
//! follows the measured CPU-against-rate table ([`CpuCurve::work_millis`])
//! and charges each request the table's average cost at the replica's
//! recent load, so a replica held at `r` calls/s burns the table's CPU at
//! `r`, and a burst costs only the table's marginal slope.

/// Piecewise-linear CPU-against-rate table plus the time constant of the
/// load estimate it is read at.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuCurve {
    /// `(calls/s, mCPU of SIP work)` in increasing rate, background
    /// excluded; the line through the origin and the first point gives the
    /// cost of a lone call, the last segment is extended beyond the table.
    points: Vec<(f64, f64)>,
    /// Time constant of the per-replica load estimate (exponentially
    /// weighted arrival rate), seconds.
    pub tau_s: f64,
}

impl CpuCurve {
    /// `points`: `(calls/s, total mCPU)` as measured; `background_millis`
    /// is taken off so the table holds SIP work only.
    #[must_use]
    pub fn new(points: &[(f64, f64)], background_millis: f64, tau_s: f64) -> Self {
        let mut points: Vec<(f64, f64)> = points
            .iter()
            .filter(|(r, _)| *r > 0.0)
            .map(|&(r, m)| (r, (m - background_millis).max(0.0)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self {
            points,
            tau_s: tau_s.max(1e-3),
        }
    }

    /// mCPU of SIP work at a steady `rate` calls/s.
    #[must_use]
    pub fn work_millis(&self, rate: f64) -> f64 {
        let rate = rate.max(0.0);
        let Some(&last) = self.points.last() else {
            return 0.0;
        };
        let mut prev = (0.0, 0.0);
        for &p in &self.points {
            if rate <= p.0 {
                return lerp(prev, p, rate);
            }
            prev = p;
        }
        let before = self
            .points
            .len()
            .checked_sub(2)
            .map_or((0.0, 0.0), |i| self.points[i]);
        lerp(before, last, rate).max(0.0)
    }

    /// CPU seconds per call at a recent load of `rate` calls/s.
    #[must_use]
    pub fn per_call_s(&self, rate: f64) -> f64 {
        let first = self.points.first().copied().unwrap_or((1.0, 0.0));
        let millis_per_call = if rate <= first.0 {
            // Linear from the origin to the first point: a constant cost.
            first.1 / first.0
        } else {
            self.work_millis(rate) / rate
        };
        millis_per_call / 1000.0
    }

    /// Cost of a request at `rate` relative to a lone one (1 at low load,
    /// falling as the load rises); applied to every request kind alike.
    #[must_use]
    pub fn discount(&self, rate: f64) -> f64 {
        let lone = self.per_call_s(0.0);
        if lone > 0.0 {
            self.per_call_s(rate) / lone
        } else {
            1.0
        }
    }
}

pub(super) fn lerp(a: (f64, f64), b: (f64, f64), x: f64) -> f64 {
    if (b.0 - a.0).abs() < f64::EPSILON {
        return b.1;
    }
    a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
}

/// Exponentially weighted arrival rate of one replica, in call-equivalents
/// per second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadMeter {
    rate: f64,
    at: f64,
}

impl LoadMeter {
    /// Count an arrival of `weight` call-equivalents at `t` (arrivals come in
    /// time order) and return the rate it found. Read before counting it, so
    /// a Poisson arrival sees the mean rate (counting itself would add
    /// `weight / tau` and make every call look a call/s busier).
    pub fn arrive(&mut self, t: f64, weight: f64, tau_s: f64) -> f64 {
        let dt = (t - self.at).max(0.0);
        let seen = self.rate * (-dt / tau_s).exp();
        self.rate = seen + weight / tau_s;
        self.at = self.at.max(t);
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> CpuCurve {
        CpuCurve::new(&[(10.0, 12.0), (20.0, 20.0), (30.0, 24.0)], 2.0, 1.0)
    }

    #[test]
    fn steady_rate_burns_the_table_and_bursts_cost_the_slope() {
        let c = curve();
        assert!((c.work_millis(10.0) - 10.0).abs() < 1e-9);
        assert!((c.work_millis(25.0) - 20.0).abs() < 1e-9);
        assert!(
            (c.work_millis(40.0) - 26.0).abs() < 1e-9,
            "last slope extended"
        );
        // rate * cost per call is the table itself.
        for r in [5.0, 15.0, 27.0] {
            assert!((r * c.per_call_s(r) * 1000.0 - c.work_millis(r)).abs() < 1e-9);
        }
        assert!((c.per_call_s(0.0) - 0.001).abs() < 1e-12, "lone call: 1 ms");
        assert!((c.discount(30.0) - 22.0 / 30.0).abs() < 1e-9);
        assert!(c.discount(20.0) > c.discount(30.0), "falls with load");
    }

    #[test]
    fn load_meter_tracks_a_steady_rate() {
        let mut m = LoadMeter::default();
        let mut last = 0.0;
        for i in 0..2000 {
            last = m.arrive(f64::from(i) * 0.05, 1.0, 1.0);
        }
        // 20/s, every 50 ms: just before an arrival the estimate sits half
        // a step low.
        assert!((last - 19.5).abs() < 0.5, "{last}");
    }
}
