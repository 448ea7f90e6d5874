//! What the network sees of one decision, and the frames it sees at once.
//!
//! Every feature is scaled to about `0..1` from quantities the scaler has
//! in `run` too (no simulator internals), so a model trained here reads a
//! live tier the same way. Draining replicas are not in an
//! [`Observation`] (they take no traffic and the actuators do not report
//! them), so the frame has ready and booting counts only.
//!
//! With [`ForecastInput`] a frame has one more feature: where `predictive`'s
//! Holt-Winters (non-seasonal, damped trend) puts the rate one boot time
//! and one interval ahead, against the rate now. The stacked rates carry
//! a trend already; the forecast adds the smoothing that survives a noisy
//! window.
//!
//! There is no time of day: `now_s` counts from the simulator's or the
//! scaler's start, not from midnight, and the suite's days start at a
//! seeded hour. A first model with it learned the hour of a three-hour
//! training window and acted at random on the hours of a full day it had
//! never seen (diurnal validation 16-120 % over `hybrid`'s CPU-seconds,
//! the other families unchanged). The rate's trend over the stacked frames
//! carries what a clock would tell about the day's phase.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::policy::{
    Observation, Proposal,
    forecast::{HoltWinters, horizon_steps},
};

/// Features per frame without the forecast.
pub const FRAME_LEN: usize = 12;

/// The forecast as an input: how far ahead, in decisions (the boot time
/// plus one interval, as `predictive` leads, rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastInput {
    /// Seconds ahead; the policy turns it into decisions at its interval.
    pub lead_s: u64,
}

impl ForecastInput {
    /// Steps of `interval_s` that cover the lead.
    #[must_use]
    pub fn steps(&self, interval_s: f64) -> usize {
        horizon_steps(self.lead_s as f64, interval_s)
    }
}

/// What scales the features, from the policy's configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    pub p99_target_s: f64,
    pub base_millis: f64,
    pub max_millis: f64,
    /// Most replicas the tier may run (counts are divided by it).
    pub max_replicas: f64,
}

/// Frames of the last decisions, newest last; the first decision repeats
/// its frame so a fresh policy sees a full stack.
#[derive(Debug, Clone)]
pub struct FrameStack {
    frames: usize,
    stack: VecDeque<Vec<f32>>,
    /// The forecaster and its horizon in decisions, when the rate
    /// forecast is an input.
    forecast: Option<(HoltWinters, usize)>,
    prev_rate: Option<f64>,
    last_change_s: f64,
    last: Option<(u32, u32)>,
}

impl FrameStack {
    /// `forecast_steps`: the horizon of the rate forecast in decisions,
    /// when it is an input.
    #[must_use]
    pub fn new(frames: usize, forecast_steps: Option<usize>) -> Self {
        Self {
            frames: frames.max(1),
            stack: VecDeque::new(),
            forecast: forecast_steps.map(|h| (HoltWinters::new(0), h.max(1))),
            prev_rate: None,
            last_change_s: f64::NEG_INFINITY,
            last: None,
        }
    }

    /// Input length of the network for `frames` frames, with or without
    /// the forecast.
    #[must_use]
    pub fn input_len(frames: usize, forecast: bool) -> usize {
        frames.max(1) * (FRAME_LEN + usize::from(forecast))
    }

    /// Add the frame of this decision and return the stacked input.
    /// `base` is what `hybrid` proposes; `cost_s` its CPU-seconds per call.
    pub fn push(
        &mut self,
        obs: &Observation,
        base: &Proposal,
        cost_s: f64,
        s: &Scales,
    ) -> Vec<f32> {
        let frame = self.frame(obs, base, cost_s, s);
        if self.stack.is_empty() {
            self.stack.extend(std::iter::repeat_n(frame, self.frames));
        } else {
            self.stack.push_back(frame);
            while self.stack.len() > self.frames {
                self.stack.pop_front();
            }
        }
        self.stack.iter().flatten().copied().collect()
    }

    fn frame(&mut self, obs: &Observation, base: &Proposal, cost_s: f64, s: &Scales) -> Vec<f32> {
        let rate = obs.arrival_rate.filter(|r| r.is_finite()).unwrap_or(0.0);
        let ahead = self.forecast.as_mut().map(|(hw, h)| {
            if obs.arrival_rate.is_some_and(f64::is_finite) {
                hw.update(rate);
            }
            let f = hw.forecast(*h).unwrap_or(rate);
            ((f - rate) / rate.max(1.0)).clamp(-1.0, 1.0)
        });
        let trend = self
            .prev_rate
            .map_or(0.0, |p| ((rate - p) / p.max(1.0)).clamp(-1.0, 1.0));
        self.prev_rate = Some(rate);
        let limit = f64::from(obs.cpu_limit_millis.unwrap_or(s.base_millis as u32));
        let now = (obs.current_replicas, obs.cpu_limit_millis.unwrap_or(0));
        if self.last.is_some_and(|l| l != now) {
            self.last_change_s = obs.now_s;
        }
        self.last = Some(now);
        let ready = f64::from(obs.ready_replicas);
        let booting = f64::from(obs.current_replicas.saturating_sub(obs.ready_replicas));
        let mean_cpu = obs.mean_ready_cpu_millis().unwrap_or(0.0);
        let max_cpu = obs.ready_cpu_millis().fold(0.0, f64::max);
        let p99 = obs.p99_s.filter(|p| p.is_finite()).unwrap_or(0.0);
        // Load against what the ready replicas hold at their limit, by
        // `hybrid`'s cost of a call: above 1 the queue grows.
        let load = rate * cost_s * 1000.0 / (ready.max(1.0) * (limit - 2.0).max(1.0));
        let since = (obs.now_s - self.last_change_s).clamp(0.0, 600.0) / 600.0;
        let f = [
            rate / 100.0,
            trend,
            (p99 / s.p99_target_s).min(5.0),
            mean_cpu / limit.max(1.0),
            max_cpu / limit.max(1.0),
            ready / s.max_replicas,
            booting / 5.0,
            limit / s.max_millis,
            f64::from(base.replicas) / s.max_replicas,
            f64::from(base.cpu_limit_millis.unwrap_or(limit as u32)) / s.max_millis,
            load.min(3.0),
            since,
        ];
        f.iter()
            .chain(&ahead)
            .map(|&x| if x.is_finite() { x as f32 } else { 0.0 })
            .collect()
    }
}
