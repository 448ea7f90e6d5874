//! Quantiles from samples, not from histogram buckets: a log-bucketed sketch
//! (DDSketch-style) with a fixed relative error, and a sliding window of
//! one-second sketches.

use std::collections::{BTreeMap, VecDeque};

/// Relative accuracy of a quantile: 0.5 % (a 50 ms P99 is off by at most
/// 0.25 ms).
pub const RELATIVE_ACCURACY: f64 = 0.005;

/// Values below this (1 ns) all land in one bucket.
const MIN_VALUE: f64 = 1e-9;

#[derive(Clone, Debug, Default)]
pub struct Sketch {
    buckets: BTreeMap<i32, u64>,
    count: u64,
}

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

impl Sketch {
    pub fn add(&mut self, value: f64) {
        let v = value.max(MIN_VALUE);
        #[expect(clippy::cast_possible_truncation, reason = "log of a bounded value")]
        let index = (v.ln() / gamma().ln()).ceil() as i32;
        *self.buckets.entry(index).or_default() += 1;
        self.count += 1;
    }

    pub fn merge(&mut self, other: &Self) {
        for (&i, &c) in &other.buckets {
            *self.buckets.entry(i).or_default() += c;
        }
        self.count += other.count;
    }

    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The q-quantile (0..=1), `None` when empty. Uses the "nearest rank"
    /// definition: the smallest value with at least q of the samples at or
    /// below it, so a P99 of 100 samples is the 99th smallest.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "counts far below 2^52"
        )]
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (&i, &c) in &self.buckets {
            seen += c;
            if seen >= rank {
                let g = gamma();
                return Some(2.0 * g.powi(i) / (g + 1.0));
            }
        }
        None
    }
}

/// Samples of the last `seconds` seconds, one sketch per second.
#[derive(Debug)]
pub struct Window {
    seconds: u64,
    slots: VecDeque<(u64, Sketch)>,
}

impl Window {
    #[must_use]
    pub fn new(seconds: u64) -> Self {
        Self {
            seconds: seconds.max(1),
            slots: VecDeque::new(),
        }
    }

    /// Add a value observed at second `now_s` (any monotonic clock).
    pub fn add(&mut self, now_s: u64, value: f64) {
        self.expire(now_s);
        match self.slots.back_mut() {
            Some((s, sketch)) if *s == now_s => sketch.add(value),
            _ => {
                let mut sketch = Sketch::default();
                sketch.add(value);
                self.slots.push_back((now_s, sketch));
            }
        }
    }

    fn expire(&mut self, now_s: u64) {
        while self
            .slots
            .front()
            .is_some_and(|(s, _)| s + self.seconds <= now_s)
        {
            self.slots.pop_front();
        }
    }

    /// The merged sketch of the window ending at `now_s`.
    pub fn snapshot(&mut self, now_s: u64) -> Sketch {
        self.expire(now_s);
        let mut merged = Sketch::default();
        for (_, sketch) in &self.slots {
            merged.merge(sketch);
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_within_relative_accuracy() {
        let mut s = Sketch::default();
        for i in 1..=1000 {
            s.add(f64::from(i) * 1e-3);
        }
        for (q, exact) in [(0.5, 0.5), (0.99, 0.99), (1.0, 1.0), (0.001, 0.001)] {
            let got = s.quantile(q).expect("non-empty");
            assert!(
                (got - exact).abs() <= exact * RELATIVE_ACCURACY * 1.01,
                "q={q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn empty_has_no_quantile() {
        assert_eq!(Sketch::default().quantile(0.99), None);
    }

    #[test]
    fn window_forgets_old_seconds() {
        let mut w = Window::new(30);
        w.add(100, 5.0);
        w.add(110, 0.001);
        assert_eq!(w.snapshot(110).count(), 2);
        let p = w.snapshot(131).quantile(0.99).expect("one left");
        assert!((p - 0.001).abs() < 1e-5, "{p}");
        assert_eq!(w.snapshot(140).count(), 0);
    }
}
