//! `siplat-scaler train`: behaviour cloning from `hybrid`, then PPO, with
//! the best model on the validation seeds kept.
//!
//! Deterministic given the seed: episodes, arrivals, action draws and
//! minibatch shuffles come from seeded streams of the project's
//! generator, rollouts are gathered in episode order whatever thread
//! played them, and candle's CPU kernels reduce in a fixed order. Only
//! `max_minutes` (a safety net for the 30-minute budget) can cut a run
//! short, and the saved config says when it did.
//!
//! Selection uses the **tuning seeds** (`validation_seeds` of 1-40, every
//! family, unmodified suite instances, greedy actions); training episodes
//! never use those nor the evaluation seeds (1000-1009), which are played
//! once, after training, for the table written beside the model.

use std::{path::PathBuf, sync::Arc, time::Instant};

use scenario::suite::Family;
use serde::{Deserialize, Serialize};

use super::{
    Result,
    env::{self, Episode, Played, Reward},
    features::ForecastInput,
    model::{Mode, Model, ModelConfig},
    ppo::{Batch, PpoConfig, Trainer},
};
use crate::{policy::rl::Actor, sim::random::Rng};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    pub mode: Mode,
    pub frames: usize,
    pub hidden: usize,
    /// Episodes of `hybrid`'s own decisions for behaviour cloning.
    pub bc_episodes: usize,
    pub bc_epochs: usize,
    pub iterations: usize,
    pub episodes_per_iteration: usize,
    /// Validate (and maybe keep) the model every this many iterations.
    pub validate_every: usize,
    /// Tuning seeds per family for validation (1..=N); 0: no validation,
    /// the last model is kept.
    pub validation_seeds: u64,
    /// Longest window of a scenario one episode plays, seconds.
    pub episode_s: usize,
    pub reward: Reward,
    pub ppo: PpoConfig,
    /// Stop PPO after this many minutes of wall time (0: no limit).
    pub max_minutes: f64,
    /// Decision interval of every episode, validation included (the
    /// simulator's `interval=`), seconds.
    #[serde(default = "default_interval")]
    pub interval_s: u64,
    /// The rate forecast as an input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastInput>,
}

fn default_interval() -> u64 {
    crate::sim::calibration::DECISION_INTERVAL_S
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            mode: Mode::Hybrid,
            frames: 4,
            hidden: 64,
            bc_episodes: 24,
            bc_epochs: 6,
            iterations: 150,
            episodes_per_iteration: 12,
            validate_every: 5,
            validation_seeds: 4,
            episode_s: env::MAX_EPISODE_S,
            reward: Reward::default(),
            ppo: PpoConfig::default(),
            max_minutes: 25.0,
            interval_s: default_interval(),
            forecast: None,
        }
    }
}

/// One point of the training curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub iteration: usize,
    /// Mean undiscounted reward per episode (scaled as trained).
    pub episode_reward: f64,
    /// Violation-seconds over played seconds in the iteration's episodes.
    pub violation_rate: f64,
    /// Validation score when validated this iteration (lower is better).
    pub validation: Option<f64>,
}

/// A validation: per family, mean violation-seconds and CPU-seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub iteration: usize,
    pub score: f64,
    pub families: Vec<(String, f64, f64)>,
}

/// What a training run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub best: Model,
    pub bc: Model,
    pub curve: Vec<CurvePoint>,
    pub validations: Vec<Validation>,
    pub reference: Validation,
    pub seconds: f64,
    pub cut_short: bool,
}

/// Progress reporting, so tests train without a bar.
pub trait Progress {
    fn phase(&self, what: &str, len: u64);
    fn tick(&self, point: &CurvePoint, best: f64);
}

/// No output.
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _: &str, _: u64) {}
    fn tick(&self, _: &CurvePoint, _: f64) {}
}

fn validation_set(seeds: u64) -> Vec<(Episode, u64)> {
    Family::ALL
        .iter()
        .flat_map(|&f| (1..=seeds).map(move |s| (Episode::plain(f, s), s)))
        .collect()
}

/// Score a set of validation runs: per family, 50 points per mean
/// violation-second plus the CPU-seconds against `hybrid`'s on the same
/// runs, in percent (families are weighted alike, a day's CPU does not
/// drown an hour's; one violation-second a run weighs as half the CPU, so
/// a model is kept for saving CPU only where it stays as clean).
fn score(
    iteration: usize,
    runs: &[Played],
    seeds: u64,
    reference: Option<&Validation>,
) -> Validation {
    let per = seeds.max(1) as usize;
    let families: Vec<(String, f64, f64)> = Family::ALL
        .iter()
        .zip(runs.chunks(per))
        .map(|(f, chunk)| {
            let n = chunk.len().max(1) as f64;
            let viol = chunk
                .iter()
                .map(|p| p.violation_seconds as f64)
                .sum::<f64>()
                / n;
            let cpu = chunk.iter().map(|p| p.cpu_seconds).sum::<f64>() / n;
            (f.name().to_owned(), viol, cpu)
        })
        .collect();
    let score = families
        .iter()
        .enumerate()
        .map(|(i, (_, v, c))| {
            let base = reference.map_or(*c, |r| r.families[i].2).max(1e-9);
            50.0 * v + 100.0 * c / base
        })
        .sum();
    Validation {
        iteration,
        score,
        families,
    }
}

fn validate(cfg: &TrainConfig, model: &Model, set: &[(Episode, u64)]) -> Vec<Played> {
    let actors = vec![Actor::Greedy; set.len()];
    env::run_all(
        set,
        &Arc::new(model.clone()),
        &actors,
        &cfg.reward,
        cfg.interval_s,
    )
}

/// Teach the network `hybrid`'s decisions on `episodes` and the critic
/// their Monte Carlo returns.
fn behaviour_cloning(
    cfg: &TrainConfig,
    model: &Model,
    trainer: &mut Trainer,
    episodes: &[(Episode, u64)],
) -> Result<()> {
    let neutral = vec![Actor::Neutral; episodes.len()];
    let played = env::run_all(
        episodes,
        &Arc::new(model.clone()),
        &neutral,
        &cfg.reward,
        cfg.interval_s,
    );
    let mut batch = Batch::default();
    let monte_carlo = PpoConfig {
        lambda: 1.0,
        ..cfg.ppo
    };
    for p in &played {
        batch.push_episode(&p.steps, &p.rewards, &monte_carlo);
    }
    trainer.clone_behaviour(model, &batch, cfg.bc_epochs)?;
    Ok(())
}

/// Play `episodes` with sampled actions and update on them.
fn ppo_iteration(
    cfg: &TrainConfig,
    model: &Model,
    trainer: &mut Trainer,
    episodes: &[(Episode, u64)],
    it: usize,
) -> Result<CurvePoint> {
    let actors: Vec<Actor> = episodes
        .iter()
        .map(|(_, s)| Actor::Sample(Rng::mixed(*s, 0x6163_7400)))
        .collect();
    let played = env::run_all(
        episodes,
        &Arc::new(model.snapshot()?),
        &actors,
        &cfg.reward,
        cfg.interval_s,
    );
    let mut batch = Batch::default();
    for p in &played {
        batch.push_episode(&p.steps, &p.rewards, &cfg.ppo);
    }
    trainer.update(model, &mut batch)?;
    let n = played.len().max(1) as f64;
    let seconds: u64 = played.iter().map(|p| p.seconds).sum();
    Ok(CurvePoint {
        iteration: it,
        episode_reward: played
            .iter()
            .map(|p| p.rewards.iter().map(|&r| f64::from(r)).sum::<f64>())
            .sum::<f64>()
            / n,
        violation_rate: played.iter().map(|p| p.violation_seconds).sum::<u64>() as f64
            / seconds.max(1) as f64,
        validation: None,
    })
}

/// Train one model.
pub fn train(cfg: &TrainConfig, progress: &dyn Progress) -> Result<Outcome> {
    let start = Instant::now();
    let model_cfg = ModelConfig {
        mode: cfg.mode,
        frames: cfg.frames,
        hidden: cfg.hidden,
        forecast: cfg.forecast,
        training: serde_json::Value::Null,
    };
    let model = Model::new(model_cfg, cfg.seed)?;
    let mut trainer = Trainer::new(&model, cfg.ppo, cfg.seed)?;
    let mut draws = Rng::mixed(cfg.seed, 0x6570_6973_6f64);
    let draw = |n: usize, rng: &mut Rng| -> Vec<(Episode, u64)> {
        (0..n)
            .map(|_| (Episode::draw(rng, cfg.episode_s), rng.next_u64()))
            .collect()
    };
    let set = validation_set(cfg.validation_seeds);

    // Behaviour cloning: `hybrid`'s decisions (the neutral residual).
    progress.phase("behaviour cloning", cfg.bc_epochs as u64);
    let episodes = draw(cfg.bc_episodes, &mut draws);
    behaviour_cloning(cfg, &model, &mut trainer, &episodes)?;
    let bc = model.snapshot()?;
    let reference_runs = {
        // `hybrid` itself on the validation set: the neutral actor.
        let actors = vec![Actor::Neutral; set.len()];
        env::run_all(
            &set,
            &Arc::new(bc.clone()),
            &actors,
            &cfg.reward,
            cfg.interval_s,
        )
    };
    let reference = score(0, &reference_runs, cfg.validation_seeds, None);
    let first = if set.is_empty() {
        reference.clone()
    } else {
        score(
            0,
            &validate(cfg, &bc, &set),
            cfg.validation_seeds,
            Some(&reference),
        )
    };
    let mut best = (first.score, bc.snapshot()?);
    let mut validations = vec![first];
    let mut curve = Vec::new();

    progress.phase("PPO", cfg.iterations as u64);
    let mut cut_short = false;
    for it in 1..=cfg.iterations {
        if cfg.max_minutes > 0.0 && start.elapsed().as_secs_f64() > cfg.max_minutes * 60.0 {
            cut_short = true;
            break;
        }
        let episodes = draw(cfg.episodes_per_iteration, &mut draws);
        let mut point = ppo_iteration(cfg, &model, &mut trainer, &episodes, it)?;
        if set.is_empty() {
            best = (f64::NEG_INFINITY, model.snapshot()?);
        } else if it % cfg.validate_every.max(1) == 0 || it == cfg.iterations {
            let v = score(
                it,
                &validate(cfg, &model, &set),
                cfg.validation_seeds,
                Some(&reference),
            );
            point.validation = Some(v.score);
            tracing::info!(
                iteration = it,
                score = v.score,
                hybrid = reference.score,
                "validation: {}",
                v.families
                    .iter()
                    .map(|(f, viol, cpu)| format!("{f} {viol:.1}/{cpu:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if v.score < best.0 {
                best = (v.score, model.snapshot()?);
            }
            validations.push(v);
        }
        progress.tick(&point, best.0);
        curve.push(point);
    }
    let mut best_model = best.1;
    best_model.config.training = serde_json::json!({
        "config": cfg,
        "kept_iteration": validations.iter().find(|v| v.score == best.0).map(|v| v.iteration),
        "cut_short": cut_short,
        "seconds": start.elapsed().as_secs_f64(),
    });
    Ok(Outcome {
        best: best_model,
        bc,
        curve,
        validations,
        reference,
        seconds: start.elapsed().as_secs_f64(),
        cut_short,
    })
}

/// Where a training run writes: `DIR/rl-<mode>.{safetensors,json}`, the
/// BC-only model beside it, `curve.csv`, `curve.svg`, `validation.json`.
#[must_use]
pub fn stem(dir: &std::path::Path, mode: Mode, bc: bool) -> PathBuf {
    let name = match mode {
        Mode::Hybrid => "rl-hybrid",
        Mode::Horizontal => "rl-horizontal",
    };
    dir.join(if bc {
        format!("{name}-bc")
    } else {
        name.to_owned()
    })
}
