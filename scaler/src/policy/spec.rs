//! Policy specs as written on the command line:
//! `qos`, `predictive:season=86400`, `hpa-cpu:target=20m`, `static:replicas=5`,
//! `hybrid:max-cpu-limit=120m`,
//! parameters `key=value` after a colon, separated by commas (a list of
//! specs is separated by commas too: a token with `=` and no colon belongs
//! to the spec before it).

use std::{collections::BTreeMap, time::Duration};

use thiserror::Error;

use super::{
    Policy,
    hpa_cpu::{HpaConfig, HpaCpu, PolicyKind, RatePolicy, Select},
    hybrid::{Hybrid, HybridConfig},
    predictive::{ForecasterKind, Predictive, PredictiveConfig},
    qos::{Qos, QosConfig},
    rl::{Actor, Rl},
    safety::{CpuBounds, SafetyConfig},
    r#static::Static,
};
use crate::learn::model::{Mode, Model};

/// The models committed under `scaler/models/`, compiled in so that
/// `--policy rl` needs no file beside the binary.
fn shipped(mode: Mode) -> crate::learn::Result<Model> {
    match mode {
        Mode::Hybrid => Model::from_bytes(
            include_bytes!("../../models/rl-hybrid.safetensors"),
            include_bytes!("../../models/rl-hybrid.json"),
            "scaler/models/rl-hybrid",
        ),
        Mode::Horizontal => Model::from_bytes(
            include_bytes!("../../models/rl-horizontal.safetensors"),
            include_bytes!("../../models/rl-horizontal.json"),
            "scaler/models/rl-horizontal",
        ),
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SpecError {
    #[error("unknown policy `{0}` (qos, predictive, hpa-cpu, static, oracle, hybrid, rl)")]
    Unknown(String),
    #[error("policy `{policy}`: bad parameter `{param}`")]
    Param { policy: String, param: String },
    #[error("policy `{0}` needs `{1}`")]
    Missing(String, &'static str),
    #[error("policy `{policy}`: {error}")]
    Model { policy: String, error: String },
}

/// One parsed spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub kind: String,
    pub params: BTreeMap<String, String>,
    /// The text it came from (the table's row label).
    pub text: String,
}

/// What every policy is built with.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildContext {
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub p99_target_s: f64,
    /// Decision interval of the loop.
    pub interval_s: f64,
    /// Expected time from asking for a replica to it taking traffic.
    pub boot_s: f64,
}

impl PolicySpec {
    /// Parse a comma-separated list of specs.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, SpecError> {
        let mut out: Vec<Self> = Vec::new();
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !token.contains(':')
                && token.contains('=')
                && let Some(last) = out.last_mut()
            {
                let (k, v) = token.split_once('=').unwrap_or((token, ""));
                last.params.insert(k.to_owned(), v.to_owned());
                last.text = format!("{},{token}", last.text);
                continue;
            }
            out.push(Self::parse_one(token)?);
        }
        Ok(out)
    }

    fn parse_one(token: &str) -> Result<Self, SpecError> {
        let (kind, rest) = token.split_once(':').unwrap_or((token, ""));
        let mut params = BTreeMap::new();
        for kv in rest.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| SpecError::Param {
                policy: kind.to_owned(),
                param: kv.to_owned(),
            })?;
            params.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        if !matches!(
            kind,
            "qos" | "predictive" | "hpa-cpu" | "static" | "oracle" | "hybrid" | "rl"
        ) {
            return Err(SpecError::Unknown(kind.to_owned()));
        }
        Ok(Self {
            kind: kind.to_owned(),
            params,
            text: token.to_owned(),
        })
    }

    /// A refused parameter of this spec, as `param` says it.
    fn bad(&self, param: impl Into<String>) -> SpecError {
        SpecError::Param {
            policy: self.kind.clone(),
            param: param.into(),
        }
    }

    fn num(&self, key: &str) -> Result<Option<f64>, SpecError> {
        self.params
            .get(key)
            .map(|v| {
                v.trim_end_matches('m')
                    .trim_end_matches('s')
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| self.bad(format!("{key}={v}")))
            })
            .transpose()
    }

    /// `forecaster=hw` (Holt-Winters, the default) or `forecaster=ets`
    /// (`window=1800s` of history, `level=0.8` to provision for the upper
    /// bound of that prediction interval instead of the point forecast).
    fn forecaster(&self) -> Result<ForecasterKind, SpecError> {
        match self.params.get("forecaster").map(String::as_str) {
            None | Some("hw") => Ok(ForecasterKind::HoltWinters),
            Some("ets") => {
                let level = self.num("level")?;
                if let Some(l) = level
                    && !(l > 0.0 && l < 1.0)
                {
                    return Err(self.bad(format!("level={}", self.params["level"])));
                }
                Ok(ForecasterKind::Ets {
                    window_s: self.num("window")?.unwrap_or(1800.0),
                    level,
                })
            }
            Some(other) => Err(self.bad(format!("forecaster={other}"))),
        }
    }

    /// `interval=2s`: in the simulator, this policy decides at its own
    /// interval instead of `--interval` (and sees the rate over it, as
    /// `--source agents` measures it), so policies that act at different
    /// speeds share one table. The run loop has one `--interval`.
    pub fn interval_s(&self) -> Result<Option<u64>, SpecError> {
        Ok(match self.num("interval")? {
            None => None,
            Some(s) if s >= 1.0 && s.fract() == 0.0 => Some(s as u64),
            Some(_) => {
                return Err(self.bad(format!(
                    "interval={} (whole seconds, at least 1)",
                    self.params["interval"]
                )));
            }
        })
    }

    fn qos_config(&self, ctx: &BuildContext) -> Result<QosConfig, SpecError> {
        let d = QosConfig::default();
        Ok(QosConfig {
            p99_target_s: ctx.p99_target_s,
            headroom: self.num("headroom")?.unwrap_or(d.headroom),
            up_margin: self.num("margin")?.unwrap_or(d.up_margin),
            down_margin: self.num("down-margin")?.unwrap_or(d.down_margin),
            capacity_prior: self.num("capacity")?.unwrap_or(d.capacity_prior),
            settle_s: self.num("settle")?.unwrap_or(d.settle_s),
            calm: self.num("calm")?.unwrap_or(d.calm),
            p99_settle_s: self.num("p99-settle")?.unwrap_or(d.p99_settle_s),
            cpu_limit_millis: self.num("cpu-limit")?,
            saturation: self.num("saturation")?.unwrap_or(d.saturation),
        })
    }

    /// `qos`'s keys for the horizontal part, `cpu-limit` (the base) and
    /// `max-cpu-limit` (the ceiling; both as the simulator's flags of the
    /// same names), `cpu-margin`, `cpu-down-margin`, `cpu-step`.
    pub fn hybrid_config(&self, ctx: &BuildContext) -> Result<HybridConfig, SpecError> {
        let d = HybridConfig::default();
        let base = self.num("cpu-limit")?.map_or(d.base_millis, |m| m as u32);
        let max = self
            .num("max-cpu-limit")?
            .map_or(d.max_millis, |m| m as u32);
        if base == 0 || max < base {
            return Err(self.bad(format!("cpu-limit={base}m,max-cpu-limit={max}m")));
        }
        Ok(HybridConfig {
            qos: self.qos_config(ctx)?,
            base_millis: base,
            max_millis: max,
            baseline_millis: self
                .num("cpu-baseline")?
                .map_or(d.baseline_millis, |m| m as u32)
                .clamp(base, max),
            up_margin: self.num("cpu-margin")?.unwrap_or(d.up_margin),
            down_margin: self.num("cpu-down-margin")?.unwrap_or(d.down_margin),
            step_millis: self.num("cpu-step")?.map_or(d.step_millis, |m| m as u32),
            spare_millis: self.num("cpu-spare")?.unwrap_or(d.spare_millis),
            background_millis: self.num("cpu-background")?.unwrap_or(d.background_millis),
            cost_tau_s: self.num("cost-tau")?.unwrap_or(d.cost_tau_s),
        })
    }

    /// The policy and the safety layer it runs under.
    pub fn build(&self, ctx: &BuildContext) -> Result<(Box<dyn Policy>, SafetyConfig), SpecError> {
        let dynamic_safety = SafetyConfig {
            min_replicas: ctx.min_replicas,
            max_replicas: ctx.max_replicas,
            max_step_up: 4,
            max_step_down: 1,
            cooldown_up: Duration::ZERO,
            cooldown_down: Duration::from_secs_f64(self.num("cooldown")?.unwrap_or(60.0)),
            stale_after: Duration::from_secs_f64((ctx.interval_s * 4.0).max(60.0)),
            cpu: None,
        };
        Ok(match self.kind.as_str() {
            "static" => {
                let n = self
                    .num("replicas")?
                    .ok_or_else(|| SpecError::Missing(self.text.clone(), "replicas"))?;
                (
                    Box::new(Static { replicas: n as u32 }),
                    SafetyConfig::bounds_only(0, u32::MAX),
                )
            }
            "qos" => (Box::new(Qos::new(self.qos_config(ctx)?)), dynamic_safety),
            "hybrid" => {
                let config = self.hybrid_config(ctx)?;
                let cpu = CpuBounds {
                    base_millis: config.base_millis,
                    max_millis: config.max_millis,
                    // A surge is absorbed in one step; the way back is
                    // stepped like a scale-in.
                    max_step_up_millis: config.max_millis.saturating_sub(config.base_millis),
                    max_step_down_millis: self
                        .num("cpu-step-down")?
                        .map_or(config.base_millis, |m| m as u32),
                };
                let safety = SafetyConfig {
                    cpu: Some(cpu),
                    ..dynamic_safety
                };
                (Box::new(Hybrid::new(config)), safety)
            }
            "rl" => {
                let (policy, cpu) = self.rl(ctx, Actor::Greedy)?;
                let safety = SafetyConfig {
                    cpu,
                    ..dynamic_safety
                };
                (Box::new(policy), safety)
            }
            "predictive" => {
                let config = PredictiveConfig {
                    qos: self.qos_config(ctx)?,
                    lead_s: self.num("lead")?.unwrap_or(ctx.boot_s + ctx.interval_s),
                    interval_s: ctx.interval_s,
                    season_s: self.num("season")?.unwrap_or(0.0),
                    forecaster: self.forecaster()?,
                };
                (Box::new(Predictive::new(config)), dynamic_safety)
            }
            "hpa-cpu" => {
                let target = self
                    .num("target")?
                    .ok_or_else(|| SpecError::Missing(self.text.clone(), "target"))?;
                (
                    Box::new(HpaCpu::new(self.hpa_config(target, ctx)?)),
                    SafetyConfig::bounds_only(ctx.min_replicas, ctx.max_replicas),
                )
            }
            // The plan is built from the scenario's future, which only
            // the simulator's evaluation has (`evaluate::Bench::oracle`).
            "oracle" => {
                return Err(SpecError::Missing(
                    self.text.clone(),
                    "the scenario's future rate (simulate only)",
                ));
            }
            other => return Err(SpecError::Unknown(other.to_owned())),
        })
    }

    /// The shipped model of `mode` (default `hybrid`), or `model=FILE`
    /// (`FILE.safetensors` + `FILE.json`, as `siplat-scaler train` writes
    /// them); `hybrid`'s keys tune the proposal the model corrects. Returns
    /// the policy and, in hybrid mode, `hybrid`'s CPU bounds.
    pub fn rl(
        &self,
        ctx: &BuildContext,
        actor: Actor,
    ) -> Result<(Rl, Option<CpuBounds>), SpecError> {
        let error = |error: String| SpecError::Model {
            policy: self.text.clone(),
            error,
        };
        let want = match self.params.get("mode").map(String::as_str) {
            None => None,
            Some("hybrid") => Some(Mode::Hybrid),
            Some("horizontal") => Some(Mode::Horizontal),
            Some(other) => {
                return Err(self.bad(format!("mode={other}")));
            }
        };
        let model = match self.params.get("model") {
            Some(path) => Model::load(std::path::Path::new(path)),
            None => shipped(want.unwrap_or(Mode::Hybrid)),
        }
        .map_err(|e| error(e.to_string()))?;
        if want.is_some_and(|m| m != model.config.mode) {
            return Err(error(format!(
                "the model is {:?}, mode={want:?} asked",
                model.config.mode
            )));
        }
        let config = self.hybrid_config(ctx)?;
        let cpu = (model.config.mode == Mode::Hybrid).then(|| CpuBounds {
            base_millis: config.base_millis,
            max_millis: config.max_millis,
            max_step_up_millis: config.max_millis.saturating_sub(config.base_millis),
            max_step_down_millis: config.base_millis,
        });
        let policy = Rl::new(
            self.text.clone(),
            std::sync::Arc::new(model),
            config,
            ctx,
            actor,
        );
        Ok((policy, cpu))
    }

    /// Kubernetes defaults unless `preset=report` (the report's 4.4 HPA:
    /// one pod per 60 s both ways, 10 s up / 180 s down windows) or
    /// individual keys override them.
    fn hpa_config(&self, target: f64, ctx: &BuildContext) -> Result<HpaConfig, SpecError> {
        let mut c = HpaConfig::new(target, ctx.min_replicas, ctx.max_replicas);
        match self.params.get("preset").map(String::as_str) {
            None | Some("k8s") => {}
            Some("report") => {
                c.scale_up.stabilization_window_s = 10;
                c.scale_down.stabilization_window_s = 180;
                c.scale_up.policies = vec![RatePolicy {
                    kind: PolicyKind::Pods,
                    value: 1,
                    period_s: 60,
                }];
                c.scale_down.policies = c.scale_up.policies.clone();
            }
            Some(other) => {
                return Err(self.bad(format!("preset={other}")));
            }
        }
        if let Some(t) = self.num("tolerance")? {
            c.tolerance = t;
        }
        if let Some(w) = self.num("up-window")? {
            c.scale_up.stabilization_window_s = w as u32;
        }
        if let Some(w) = self.num("down-window")? {
            c.scale_down.stabilization_window_s = w as u32;
        }
        if let Some(p) = self.num("pods-per-period")? {
            let period = self.num("period")?.unwrap_or(60.0) as u32;
            let rule = vec![RatePolicy {
                kind: PolicyKind::Pods,
                value: p as u32,
                period_s: period,
            }];
            c.scale_up.policies.clone_from(&rule);
            c.scale_down.policies = rule;
        }
        if self
            .params
            .get("scale-down")
            .is_some_and(|v| v == "disabled")
        {
            c.scale_down.select = Select::Disabled;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> BuildContext {
        BuildContext {
            min_replicas: 1,
            max_replicas: 10,
            p99_target_s: 1.0,
            interval_s: 15.0,
            boot_s: 30.0,
        }
    }

    #[test]
    fn parses_the_documented_examples() {
        let specs = PolicySpec::parse_list(
            "qos,predictive,hpa-cpu:target=25m,hpa-cpu:target=5m,static:replicas=5",
        )
        .expect("parse");
        let kinds: Vec<_> = specs.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["qos", "predictive", "hpa-cpu", "hpa-cpu", "static"]);
        assert_eq!(specs[2].params["target"], "25m");
        let multi = PolicySpec::parse_list("hpa-cpu:target=10m,preset=report,qos").expect("parse");
        assert_eq!(multi.len(), 2);
        assert_eq!(multi[0].params["preset"], "report");
        assert_eq!(multi[0].text, "hpa-cpu:target=10m,preset=report");
        assert!(matches!(
            PolicySpec::parse_list("cpu"),
            Err(SpecError::Unknown(_))
        ));
        let ctx = ctx();
        assert!(
            PolicySpec::parse_list("static").expect("parse")[0]
                .build(&ctx)
                .is_err()
        );
        let (p, _) = specs[2].build(&ctx).expect("build");
        assert_eq!(p.name(), "hpa-cpu:target=25m");
        let hybrid =
            PolicySpec::parse_list("hybrid:max-cpu-limit=90m,cpu-margin=0.4,qos").expect("parse");
        assert_eq!(hybrid.len(), 2);
        let (p, safety) = hybrid[0].build(&ctx).expect("build");
        assert_eq!(p.name(), "hybrid");
        let cpu = safety.cpu.expect("hybrid bounds the CPU limit");
        assert_eq!(
            (cpu.base_millis, cpu.max_millis, cpu.max_step_up_millis),
            (30, 90, 60)
        );
        assert!(
            PolicySpec::parse_list("hybrid:cpu-limit=60m,max-cpu-limit=40m").expect("parse")[0]
                .build(&ctx)
                .is_err(),
            "a ceiling under the base"
        );
    }

    #[test]
    fn a_parameter_is_added_after_the_ones_a_spec_has() {
        use testbed::scaler::with_param;
        for (spec, want) in [
            ("oracle", "oracle:interval=2s"),
            (
                "hybrid:max-cpu-limit=30m",
                "hybrid:max-cpu-limit=30m,interval=2s",
            ),
            (
                "rl:model=m.safetensors",
                "rl:model=m.safetensors,interval=2s",
            ),
        ] {
            let text = with_param(spec, "interval", "2s");
            assert_eq!(text, want);
            let parsed = PolicySpec::parse_list(&text).expect("parse");
            assert_eq!(parsed.len(), 1, "{text}");
            assert_eq!(parsed[0].interval_s(), Ok(Some(2)), "{text}");
        }
    }

    #[test]
    fn a_forecaster_is_chosen_by_name_and_bad_values_are_refused() {
        let ctx = ctx();
        let one = |text: &str| PolicySpec::parse_list(text).expect("parse").remove(0);
        assert_eq!(
            one("predictive").forecaster().expect("default"),
            ForecasterKind::HoltWinters
        );
        assert_eq!(
            one("predictive:forecaster=ets,window=900s,level=0.8")
                .forecaster()
                .expect("ets"),
            ForecasterKind::Ets {
                window_s: 900.0,
                level: Some(0.8)
            }
        );
        for bad in [
            "predictive:forecaster=prophet",
            "predictive:forecaster=ets,level=1.5",
            "predictive:forecaster=ets,level=0",
        ] {
            assert!(
                matches!(one(bad).build(&ctx), Err(SpecError::Param { .. })),
                "{bad} is refused"
            );
        }
        let (p, _) = one("predictive:forecaster=ets").build(&ctx).expect("build");
        assert_eq!(p.name(), "predictive");
    }
}
