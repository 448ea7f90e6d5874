//! Proximal policy optimisation (clipped surrogate, GAE) and the
//! behaviour-cloning warm start, on candle's autograd and `AdamW`.

use candle_core::{D, Device, Tensor};
use candle_nn::{AdamW, Optimizer as _, ParamsAdamW};
use serde::{Deserialize, Serialize};

use super::{
    Result,
    model::{Mode, Model, NEUTRAL, QUOTA_FACTORS, REPLICA_DELTAS},
};
use crate::{policy::rl::Step, sim::random::Rng};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PpoConfig {
    pub learning_rate: f64,
    /// Discount per decision (15 s: 0.97 looks about 8 minutes ahead).
    pub gamma: f64,
    pub lambda: f64,
    pub clip: f64,
    pub epochs: usize,
    pub minibatch: usize,
    pub value_coef: f64,
    pub entropy_coef: f64,
    /// Largest global gradient norm.
    pub max_grad_norm: f64,
    /// Probability behaviour cloning leaves to the other actions of each
    /// head, so PPO starts from `hybrid` and still explores.
    pub bc_smoothing: f64,
}

impl Default for PpoConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            gamma: 0.97,
            lambda: 0.95,
            clip: 0.2,
            epochs: 4,
            minibatch: 512,
            value_coef: 0.5,
            entropy_coef: 0.003,
            max_grad_norm: 0.5,
            bc_smoothing: 0.4,
        }
    }
}

/// Transitions ready for an update.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub inputs: Vec<f32>,
    pub replica: Vec<u32>,
    pub quota: Vec<u32>,
    pub log_prob: Vec<f32>,
    pub advantage: Vec<f32>,
    pub ret: Vec<f32>,
}

impl Batch {
    #[must_use]
    pub fn len(&self) -> usize {
        self.replica.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.replica.is_empty()
    }

    /// Append one episode with generalised advantage estimates (the
    /// episode's end is a cut, bootstrapped from the last value).
    pub fn push_episode(&mut self, steps: &[Step], rewards: &[f32], cfg: &PpoConfig) {
        let n = steps.len().min(rewards.len());
        let mut adv = vec![0.0_f32; n];
        let mut next_value = steps.last().map_or(0.0, |s| s.value);
        let mut gae = 0.0_f32;
        let (g, l) = (cfg.gamma as f32, cfg.lambda as f32);
        for k in (0..n).rev() {
            let delta = rewards[k] + g * next_value - steps[k].value;
            gae = delta + g * l * gae;
            adv[k] = gae;
            next_value = steps[k].value;
        }
        for (k, s) in steps.iter().take(n).enumerate() {
            self.inputs.extend_from_slice(&s.input);
            self.replica.push(s.replica_action as u32);
            self.quota.push(s.quota_action as u32);
            self.log_prob.push(s.log_prob);
            self.advantage.push(adv[k]);
            self.ret.push(adv[k] + s.value);
        }
    }
}

/// Losses of the last minibatch, for the progress line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Losses {
    pub policy: f32,
    pub value: f32,
    pub entropy: f32,
}

pub struct Trainer {
    pub cfg: PpoConfig,
    opt: AdamW,
    rng: Rng,
}

fn gather(log_probs: &Tensor, actions: &Tensor) -> Result<Tensor> {
    Ok(log_probs.gather(&actions.unsqueeze(1)?, 1)?.squeeze(1)?)
}

fn entropy(log_probs: &Tensor) -> Result<Tensor> {
    Ok((log_probs.exp()? * log_probs)?.sum(D::Minus1)?.neg()?)
}

impl Trainer {
    pub fn new(model: &Model, cfg: PpoConfig, seed: u64) -> Result<Self> {
        let opt = AdamW::new(
            model.vars(),
            ParamsAdamW {
                lr: cfg.learning_rate,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;
        Ok(Self {
            cfg,
            opt,
            rng: Rng::mixed(seed, 0x7070_6f00),
        })
    }

    /// A seeded shuffle of `0..n` in minibatches.
    fn minibatches(&mut self, n: usize) -> Vec<Vec<u32>> {
        let mut idx: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        idx.chunks(self.cfg.minibatch.max(1))
            .map(<[u32]>::to_vec)
            .collect()
    }

    fn step(&mut self, model: &Model, loss: &Tensor) -> Result<()> {
        let mut grads = loss.backward()?;
        let vars = model.vars();
        let mut norm2 = 0.0_f64;
        for v in &vars {
            if let Some(g) = grads.get(v) {
                norm2 += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        let norm = norm2.sqrt();
        if norm > self.cfg.max_grad_norm {
            let k = self.cfg.max_grad_norm / norm;
            for v in &vars {
                if let Some(g) = grads.remove(v) {
                    grads.insert(v, (g * k)?);
                }
            }
        }
        Ok(self.opt.step(&grads)?)
    }

    fn slice(batch: &Batch, idx: &[u32], width: usize) -> Result<[Tensor; 7]> {
        let dev = Device::Cpu;
        let n = idx.len();
        let pick_f = |v: &[f32]| -> Vec<f32> { idx.iter().map(|&i| v[i as usize]).collect() };
        let pick_u = |v: &[u32]| -> Vec<u32> { idx.iter().map(|&i| v[i as usize]).collect() };
        let mut x = Vec::with_capacity(n * width);
        for &i in idx {
            let i = i as usize;
            x.extend_from_slice(&batch.inputs[i * width..(i + 1) * width]);
        }
        Ok([
            Tensor::from_vec(x, (n, width), &dev)?,
            Tensor::from_vec(pick_u(&batch.replica), n, &dev)?,
            Tensor::from_vec(pick_u(&batch.quota), n, &dev)?,
            Tensor::from_vec(pick_f(&batch.log_prob), n, &dev)?,
            Tensor::from_vec(pick_f(&batch.advantage), n, &dev)?,
            Tensor::from_vec(pick_f(&batch.ret), n, &dev)?,
            Tensor::zeros(n, candle_core::DType::F32, &dev)?,
        ])
    }

    /// PPO epochs over `batch`, advantages normalised per batch.
    pub fn update(&mut self, model: &Model, batch: &mut Batch) -> Result<Losses> {
        let n = batch.len();
        if n == 0 {
            return Ok(Losses::default());
        }
        let mean = batch.advantage.iter().sum::<f32>() / n as f32;
        let var = batch
            .advantage
            .iter()
            .map(|a| (a - mean).powi(2))
            .sum::<f32>()
            / n as f32;
        let sd = var.sqrt().max(1e-6);
        for a in &mut batch.advantage {
            *a = (*a - mean) / sd;
        }
        let width = model.config.input_len();
        let horizontal = model.config.mode == Mode::Horizontal;
        let mut last = Losses::default();
        for _ in 0..self.cfg.epochs {
            for idx in self.minibatches(n) {
                let [x, ar, aq, old, adv, ret, _] = Self::slice(batch, &idx, width)?;
                let heads = model.forward(&x)?;
                let mut logp = gather(&heads.replica, &ar)?;
                let mut ent = entropy(&heads.replica)?;
                if !horizontal {
                    logp = (logp + gather(&heads.quota, &aq)?)?;
                    ent = (ent + entropy(&heads.quota)?)?;
                }
                let ratio = (logp - old)?.exp()?;
                let clipped = ratio.clamp(1.0 - self.cfg.clip, 1.0 + self.cfg.clip)?;
                let surrogate = (&ratio * &adv)?.minimum(&(clipped * &adv)?)?;
                let policy_loss = surrogate.mean_all()?.neg()?;
                let value_loss = (heads.value - ret)?.sqr()?.mean_all()?;
                let entropy = ent.mean_all()?;
                let loss = ((&policy_loss + (&value_loss * self.cfg.value_coef)?)?
                    - (&entropy * self.cfg.entropy_coef)?)?;
                self.step(model, &loss)?;
                last = Losses {
                    policy: policy_loss.to_scalar()?,
                    value: value_loss.to_scalar()?,
                    entropy: entropy.to_scalar()?,
                };
            }
        }
        Ok(last)
    }

    /// Behaviour cloning: teach the heads `hybrid`'s own decision (the
    /// neutral residual, smoothed) and the critic the returns it earned.
    pub fn clone_behaviour(
        &mut self,
        model: &Model,
        batch: &Batch,
        epochs: usize,
    ) -> Result<Losses> {
        let n = batch.len();
        let width = model.config.input_len();
        let dev = Device::Cpu;
        let soft = |k: usize, neutral: usize| -> Result<Tensor> {
            let eps = self.cfg.bc_smoothing;
            let row: Vec<f32> = (0..k)
                .map(|i| if i == neutral { 1.0 - eps } else { eps / (k - 1) as f64 } as f32)
                .collect();
            Ok(Tensor::from_vec(row, (1, k), &dev)?)
        };
        let target_r = soft(REPLICA_DELTAS.len(), NEUTRAL.0)?;
        let target_q = soft(QUOTA_FACTORS.len(), NEUTRAL.1)?;
        let mut last = Losses::default();
        for _ in 0..epochs {
            for idx in self.minibatches(n) {
                let [x, _, _, _, _, ret, _] = Self::slice(batch, &idx, width)?;
                let heads = model.forward(&x)?;
                let ce_r = heads
                    .replica
                    .broadcast_mul(&target_r)?
                    .sum(D::Minus1)?
                    .mean_all()?
                    .neg()?;
                let ce_q = heads
                    .quota
                    .broadcast_mul(&target_q)?
                    .sum(D::Minus1)?
                    .mean_all()?
                    .neg()?;
                let value_loss = (heads.value - ret)?.sqr()?.mean_all()?;
                let loss = ((&ce_r + &ce_q)? + (&value_loss * self.cfg.value_coef)?)?;
                self.step(model, &loss)?;
                last = Losses {
                    policy: (ce_r + ce_q)?.to_scalar()?,
                    value: value_loss.to_scalar()?,
                    entropy: 0.0,
                };
            }
        }
        Ok(last)
    }
}
