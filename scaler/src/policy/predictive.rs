//! `predictive`: provision for the arrival rate forecast one boot time
//! ahead (a replica asked for now serves only after booting), on top of
//! the `qos` decision, which keeps the P99 feedback and the capacity model.

use super::{
    Needs, Observation, Policy, Proposal,
    forecast::{EtsWindow, Forecaster, HoltWinters},
    qos::{Qos, QosConfig},
};

#[derive(Debug, Clone, PartialEq)]
pub struct PredictiveConfig {
    pub qos: QosConfig,
    /// How far ahead to provision: boot delay plus one decision interval.
    pub lead_s: f64,
    /// Decision interval (one forecast step).
    pub interval_s: f64,
    /// Season length in seconds when known (86400 for a day), 0 for none.
    /// Holt-Winters only.
    pub season_s: f64,
    pub forecaster: ForecasterKind,
}

/// `forecaster=hw` (default) or `forecaster=ets` with `window` and `level`.
#[derive(Debug, Clone, PartialEq)]
pub enum ForecasterKind {
    HoltWinters,
    Ets {
        /// Seconds of history the model is fitted on.
        window_s: f64,
        /// Provision for the upper bound of this prediction interval.
        level: Option<f64>,
    },
}

#[derive(Debug, Clone)]
pub struct Predictive {
    pub config: PredictiveConfig,
    pub qos: Qos,
    forecaster: Forecaster,
}

impl Predictive {
    #[must_use]
    pub fn new(config: PredictiveConfig) -> Self {
        let interval = config.interval_s.max(1.0);
        let season_len = if config.season_s > 0.0 {
            (config.season_s / interval).round() as usize
        } else {
            0
        };
        Self {
            qos: Qos::new(config.qos.clone()),
            forecaster: match config.forecaster {
                ForecasterKind::HoltWinters => {
                    Forecaster::HoltWinters(HoltWinters::new(season_len))
                }
                ForecasterKind::Ets { window_s, level } => Forecaster::Ets(Box::new(
                    EtsWindow::new((window_s / interval).round() as usize, level),
                )),
            },
            config,
        }
    }

    fn horizon_steps(&self) -> usize {
        super::forecast::horizon_steps(self.config.lead_s, self.config.interval_s)
    }
}

impl Policy for Predictive {
    fn name(&self) -> String {
        "predictive".to_owned()
    }

    fn needs(&self) -> Needs {
        self.qos.needs()
    }

    fn propose(&mut self, obs: &Observation) -> Proposal {
        if let Some(rate) = obs.arrival_rate {
            self.forecaster.update(rate);
        }
        let base = self.qos.propose(obs);
        let Some(forecast) = self.forecaster.forecast(self.horizon_steps()) else {
            return base;
        };
        let need = self.qos.need_for_rate(forecast);
        if need > base.replicas {
            return Proposal::new(
                need,
                "forecast",
                format!(
                    "rate forecast {forecast:.1}/s in {:.0}s needs {need} ({})",
                    self.config.lead_s, base.detail
                ),
            );
        }
        // A replica removed now would be missed within the lead time.
        if base.replicas < obs.current_replicas && need >= obs.current_replicas {
            return Proposal::new(
                obs.current_replicas,
                "forecast_holds",
                format!(
                    "rate forecast {forecast:.1}/s needs {need}: no scale-down ({})",
                    base.detail
                ),
            );
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn provisions_ahead_of_a_ramp() {
        let mut p = Predictive::new(PredictiveConfig {
            qos: QosConfig::default(),
            lead_s: 60.0,
            interval_s: 15.0,
            season_s: 0.0,
            forecaster: ForecasterKind::HoltWinters,
        });
        let mut last = None;
        let mut forecast_led = false;
        for k in 0..20 {
            let rate = 10.0 + 2.0 * f64::from(k);
            let current = last.as_ref().map_or(2, |d: &Proposal| d.replicas);
            let obs = Observation {
                now_s: 15.0 * f64::from(k),
                current_replicas: current,
                ready_replicas: current,
                p99_s: Some(0.3),
                arrival_rate: Some(rate),
                pods: Vec::new(),
                sample_age: Duration::ZERO,
                partial: false,
                cpu_limit_millis: None,
            };
            let d = p.propose(&obs);
            forecast_led |= d.reason == "forecast";
            last = Some(d);
        }
        let last = last.expect("ran");
        // Rate is 48/s now and ~56/s a minute ahead: qos alone wants 7.
        assert!(forecast_led, "the forecast led at least once");
        assert!(last.replicas >= 7, "{last:?}");
    }
}
