//! Latency histogram over a trailing window of seconds: log buckets with
//! the P99 target as an exact bucket edge, so "P99 over target" is decided
//! without bucket error while 24 h of seconds stay cheap to evaluate.

use std::collections::VecDeque;

const FACTOR: f64 = 1.05;
/// Buckets below the target edge (down to target * 1.05^-190, ~1e-4 of it).
const BELOW: i32 = 190;
/// Buckets above it (up to target * 1.05^90, ~80x).
const ABOVE: i32 = 90;
const BUCKETS: usize = (BELOW + ABOVE + 1) as usize;

#[derive(Debug, Clone)]
pub struct WindowHistogram {
    target: f64,
    window: usize,
    seconds: VecDeque<Vec<u32>>,
    sum: Vec<u64>,
    total: u64,
}

impl WindowHistogram {
    #[must_use]
    pub fn new(target: f64, window_s: u64) -> Self {
        Self {
            target,
            window: window_s.max(1) as usize,
            seconds: VecDeque::new(),
            sum: vec![0; BUCKETS],
            total: 0,
        }
    }

    fn bucket(&self, latency: f64) -> usize {
        // Bucket i holds (edge(i-1), edge(i)], edge(i) = target * F^(i - BELOW).
        let k = (latency / self.target).ln() / FACTOR.ln();
        let i = k.ceil() as i64 + i64::from(BELOW);
        i.clamp(0, BUCKETS as i64 - 1) as usize
    }

    fn edge(&self, i: usize) -> f64 {
        self.target * FACTOR.powi(i as i32 - BELOW)
    }

    /// Start a new second, dropping the one that left the window.
    pub fn next_second(&mut self) {
        if self.seconds.len() == self.window
            && let Some(old) = self.seconds.pop_front()
        {
            for (s, c) in self.sum.iter_mut().zip(&old) {
                *s -= u64::from(*c);
            }
            self.total -= old.iter().map(|&c| u64::from(c)).sum::<u64>();
        }
        self.seconds.push_back(vec![0; BUCKETS]);
    }

    pub fn record(&mut self, latency: f64) {
        let i = self.bucket(latency.max(1e-9));
        if let Some(cur) = self.seconds.back_mut() {
            cur[i] += 1;
            self.sum[i] += 1;
            self.total += 1;
        }
    }

    /// P99 of the window (upper edge of its bucket); `None` when empty.
    #[must_use]
    pub fn p99(&self) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = (self.total as f64 * 0.99).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.sum.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(self.edge(i));
            }
        }
        Some(self.edge(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_an_exact_edge_and_the_window_slides() {
        let mut h = WindowHistogram::new(1.0, 2);
        h.next_second();
        for _ in 0..99 {
            h.record(0.01);
        }
        h.record(1.0);
        assert!(h.p99().expect("p99") < 0.011, "99th of 100 is the fast one");
        h.record(1.0);
        assert_eq!(h.p99(), Some(1.0), "exactly the target is not over it");
        h.record(1.0001);
        h.record(1.0001);
        assert!(h.p99().expect("p99") > 1.0);
        h.next_second();
        h.next_second();
        assert_eq!(h.p99(), None, "old seconds left the window");
    }
}
