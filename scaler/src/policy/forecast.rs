//! Forecasting the arrival rate, updated once per decision interval.
//!
//! Two forecasters: a hand-written online Holt-Winters (level + damped
//! trend, additive seasonality when the season length is known: a day for
//! real traffic), O(1) per update; and augurs' automatic ETS, refitted on a
//! sliding window at every decision: the model search (error, trend,
//! damping) and parameters by likelihood, as R's `ets` does, instead of
//! fixed smoothing constants, with prediction intervals. augurs has no
//! seasonal ETS yet, so the window one is non-seasonal; within one
//! simulated day neither learns a daily season before the day is over.

use std::collections::VecDeque;

use augurs::{
    Fit as _, Predict as _,
    ets::{AutoETS, FittedAutoETS},
};

/// Decisions `interval_s` apart that cover a lead of `lead_s`: the
/// forecast horizon of `predictive` and of `rl`'s forecast input, at least
/// one.
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a small positive count"
)]
pub fn horizon_steps(lead_s: f64, interval_s: f64) -> usize {
    (lead_s / interval_s.max(1.0)).ceil().max(1.0) as usize
}

/// The forecaster a `predictive` policy uses (`forecaster=hw|ets`).
#[derive(Debug, Clone)]
pub enum Forecaster {
    HoltWinters(HoltWinters),
    /// Boxed: the fitted model is large and rarely chosen.
    Ets(Box<EtsWindow>),
}

impl Forecaster {
    pub fn update(&mut self, y: f64) {
        match self {
            Self::HoltWinters(f) => f.update(y),
            Self::Ets(f) => f.update(y),
        }
    }

    /// The rate `h` steps ahead; `None` until the forecaster has enough data.
    #[must_use]
    pub fn forecast(&self, h: usize) -> Option<f64> {
        match self {
            Self::HoltWinters(f) => f.forecast(h),
            Self::Ets(f) => f.forecast(h),
        }
    }
}

/// Automatic ETS over the last `window` samples.
#[derive(Debug, Clone)]
pub struct EtsWindow {
    window: usize,
    /// Provision for this upper prediction bound (0.8 = the 80 % interval's
    /// top) instead of the point forecast; `None` for the point.
    level: Option<f64>,
    data: VecDeque<f64>,
    fitted: Option<FittedAutoETS>,
    /// Fits that found no model: the forecast is then `None` (the policy
    /// falls back to its feedback) until a later fit succeeds.
    pub failed_fits: u64,
}

/// Fewest samples a fit is tried on: the damped-trend models have five
/// parameters and augurs wants more points than parameters + 4.
const ETS_MIN_SAMPLES: usize = 12;

impl EtsWindow {
    #[must_use]
    pub fn new(window: usize, level: Option<f64>) -> Self {
        let window = window.max(ETS_MIN_SAMPLES);
        Self {
            window,
            level,
            data: VecDeque::with_capacity(window),
            fitted: None,
            failed_fits: 0,
        }
    }

    pub fn update(&mut self, y: f64) {
        if !y.is_finite() {
            return;
        }
        if self.data.len() == self.window {
            self.data.pop_front();
        }
        self.data.push_back(y.max(0.0));
        if self.data.len() < ETS_MIN_SAMPLES {
            return;
        }
        // A flat window has no likelihood to search (zero variance): its
        // forecast is the value itself.
        self.fitted = if self.flat().is_some() {
            None
        } else {
            let fitted = AutoETS::non_seasonal()
                .fit(self.data.make_contiguous())
                .ok();
            self.failed_fits += u64::from(fitted.is_none());
            fitted
        };
    }

    /// The window's value when every sample in it is the same.
    fn flat(&self) -> Option<f64> {
        let last = *self.data.back()?;
        self.data
            .iter()
            .all(|v| (v - last).abs() < 1e-9)
            .then_some(last)
    }

    #[must_use]
    pub fn forecast(&self, h: usize) -> Option<f64> {
        if self.data.len() < ETS_MIN_SAMPLES {
            return None;
        }
        let Some(model) = &self.fitted else {
            return self.flat();
        };
        let h = h.max(1);
        let f = model.predict(h, self.level).ok()?;
        let at = match (&f.intervals, self.level) {
            (Some(i), Some(_)) => i.upper.get(h - 1).copied(),
            _ => f.point.get(h - 1).copied(),
        }?;
        at.is_finite().then_some(at.max(0.0))
    }
}

/// Online Holt-Winters; see the module doc.
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
    fn ets_follows_a_ramp_and_bounds_it_from_above() {
        let mut point = EtsWindow::new(60, None);
        let mut upper = EtsWindow::new(60, Some(0.8));
        // A ramp with a little deterministic wiggle, so the fit has noise.
        for t in 0..60 {
            let y = 10.0 + f64::from(t) + if t % 2 == 0 { 0.5 } else { -0.5 };
            point.update(y);
            upper.update(y);
        }
        let f = point.forecast(4).expect("forecast");
        assert!(f > 69.0 && f < 76.0, "ramp continues: {f}");
        let u = upper.forecast(4).expect("upper");
        assert!(u > f, "the 80 % bound is above the point: {u} vs {f}");
        assert_eq!(point.failed_fits, 0);
    }

    #[test]
    fn ets_waits_for_data_and_takes_a_flat_window_as_flat() {
        let mut f = EtsWindow::new(30, None);
        for _ in 0..ETS_MIN_SAMPLES - 1 {
            f.update(5.0);
        }
        assert_eq!(f.forecast(2), None, "too few samples");
        f.update(5.0);
        assert_eq!(f.forecast(2), Some(5.0));
        f.update(f64::NAN);
        assert_eq!(f.forecast(2), Some(5.0), "a NaN is not a sample");
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
