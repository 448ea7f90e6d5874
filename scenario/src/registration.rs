//! Re-registration load. The report's clients re-REGISTER every 50 minutes
//! and the P99 rose when they did (4.5): REGISTERs are not counted in the
//! INVITE latency but they cost the proxies CPU.

/// How the registered population refreshes its bindings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reregistration {
    /// Registered users (each sends one REGISTER per refresh; with digest
    /// auth that is two transactions: 401 challenge then the credentials).
    pub users: u32,
    /// Seconds between refreshes of one user (report: 50 min = 3000 s).
    pub interval_s: u64,
    /// Seconds over which one refresh wave is spread: 0 means all users at
    /// once (what synchronised SIP clients do after a common start),
    /// `interval_s` means a uniform trickle.
    pub spread_s: u64,
    /// Whether the first wave happens at t = 0 (initial registration).
    pub at_start: bool,
}

impl Default for Reregistration {
    fn default() -> Self {
        Self {
            users: 100,
            interval_s: 3000,
            spread_s: 50,
            at_start: true,
        }
    }
}

impl Reregistration {
    /// REGISTER requests per second for each second of a run of `secs`.
    #[must_use]
    pub fn rate_per_second(&self, secs: u64) -> Vec<f64> {
        let mut rates = vec![0.0; secs as usize];
        if self.users == 0 || self.interval_s == 0 {
            return rates;
        }
        let spread = self.spread_s.clamp(1, self.interval_s);
        let per_second = f64::from(self.users) / spread as f64;
        let first = if self.at_start { 0 } else { self.interval_s };
        let mut wave = first;
        while wave < secs {
            for t in wave..(wave + spread).min(secs) {
                rates[t as usize] += per_second;
            }
            wave += self.interval_s;
        }
        rates
    }
}
