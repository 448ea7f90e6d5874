//! Holt-Winters forecasting of the arrival rate: level + damped trend, with
//! additive seasonality when the season length is known (a day for real
//! traffic). Updated once per decision interval.

/// See the module doc.
#[derive(Debug, Clone, PartialEq)]
pub struct HoltWinters {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    /// Trend damping per step (1 = plain Holt).
    pub phi: f64,
    level: Option<f64>,
    trend: f64,
    season: Vec<f64>,
    step: usize,
}

impl HoltWinters {
    /// `season_len`: samples per season, 0 for none.
    #[must_use]
    pub fn new(season_len: usize) -> Self {
        Self {
            alpha: 0.5,
            beta: 0.2,
            gamma: 0.3,
            phi: 0.9,
            level: None,
            trend: 0.0,
            season: vec![0.0; season_len],
            step: 0,
        }
    }

    pub fn update(&mut self, y: f64) {
        if !y.is_finite() {
            return;
        }
        let m = self.season.len();
        let s_idx = if m > 0 { self.step % m } else { 0 };
        let in_first_season = m > 0 && self.step < m;
        if in_first_season {
            // Remember the raw value; the season is initialised from the
            // whole first period (level = its mean, indices = deviations).
            self.season[s_idx] = y;
        }
        let seasonal = if m > 0 && !in_first_season {
            self.season[s_idx]
        } else {
            0.0
        };
        match self.level {
            None => self.level = Some(y),
            Some(level) => {
                let new_level = self.alpha * (y - seasonal)
                    + (1.0 - self.alpha) * (level + self.phi * self.trend);
                self.trend =
                    self.beta * (new_level - level) + (1.0 - self.beta) * self.phi * self.trend;
                self.level = Some(new_level);
                if m > 0 && !in_first_season {
                    self.season[s_idx] =
                        self.gamma * (y - new_level) + (1.0 - self.gamma) * self.season[s_idx];
                }
            }
        }
        self.step += 1;
        if m > 0 && self.step == m {
            let mean = self.season.iter().sum::<f64>() / m as f64;
            for v in &mut self.season {
                *v -= mean;
            }
            // The last sample sits at its seasonal offset above the mean.
            self.level = Some(mean);
            self.trend = 0.0;
        }
    }

    /// Forecast `h` steps ahead; `None` before the first sample.
    #[must_use]
    pub fn forecast(&self, h: usize) -> Option<f64> {
        let level = self.level?;
        let mut damp = 0.0;
        let mut f = 1.0;
        for _ in 0..h {
            f *= self.phi;
            damp += f;
        }
        let m = self.season.len();
        let seasonal = if m > 0 && self.step >= m {
            self.season[(self.step + h.max(1) - 1) % m]
        } else {
            0.0
        };
        Some((level + damp * self.trend + seasonal).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_ramp_ahead_of_the_data() {
        let mut hw = HoltWinters::new(0);
        for t in 0..60 {
            hw.update(10.0 + f64::from(t));
        }
        let f = hw.forecast(4).expect("forecast");
        assert!(f > 70.0 && f < 75.0, "ramp continues: {f}");
    }

    #[test]
    fn learns_a_season() {
        let season = 24;
        let mut hw = HoltWinters::new(season);
        let y =
            |t: usize| 20.0 + 10.0 * (2.0 * std::f64::consts::PI * t as f64 / season as f64).sin();
        for t in 0..season * 6 {
            hw.update(y(t));
        }
        let t = season * 6;
        for h in [1, 3, 6] {
            let f = hw.forecast(h).expect("forecast");
            assert!(
                (f - y(t + h - 1)).abs() < 3.0,
                "h={h}: {f} vs {}",
                y(t + h - 1)
            );
        }
    }
}
