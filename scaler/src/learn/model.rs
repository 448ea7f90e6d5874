//! The actor-critic network: a two-layer tanh MLP over the stacked frames,
//! one categorical head per residual (replicas, quota) and a value head.
//!
//! Weights are plain candle tensors in a fixed order, initialised from the
//! project's own seeded generator (candle's CPU init draws from a thread
//! generator, which would make training depend on the run), and written as
//! safetensors beside a JSON [`ModelConfig`]: a few tens of kilobytes.

use std::{collections::HashMap, path::Path};

use candle_core::{D, DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::{
    LearnError, Result,
    features::{ForecastInput, FrameStack},
};
use crate::sim::random::Rng;

/// Replicas added to `hybrid`'s proposal, per action of the replica head.
pub const REPLICA_DELTAS: [i32; 4] = [-1, 0, 1, 2];
/// Factors on `hybrid`'s quota, per action of the quota head.
pub const QUOTA_FACTORS: [f64; 5] = [0.85, 1.0, 1.2, 1.4, 1.7];
/// The actions that leave `hybrid`'s proposal as it is.
pub const NEUTRAL: (usize, usize) = (1, 1);

/// What the policy changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Replicas and quota.
    Hybrid,
    /// Replicas only; the quota stays at the base limit.
    Horizontal,
}

/// The network's shape and how it was trained; saved beside the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub mode: Mode,
    pub frames: usize,
    pub hidden: usize,
    /// The rate forecast as an input; absent in models trained without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastInput>,
    /// The training run that made it (`siplat-scaler train`'s options).
    #[serde(default)]
    pub training: serde_json::Value,
}

impl ModelConfig {
    #[must_use]
    pub fn input_len(&self) -> usize {
        FrameStack::input_len(self.frames, self.forecast.is_some())
    }
}

/// Parameter names in the order they are created and optimised.
const NAMES: [&str; 10] = [
    "l1.w", "l1.b", "l2.w", "l2.b", "rep.w", "rep.b", "quota.w", "quota.b", "value.w", "value.b",
];

/// The network's outputs for a batch.
pub struct Heads {
    /// Log-probabilities of the replica head, `[n, 4]`.
    pub replica: Tensor,
    /// Log-probabilities of the quota head, `[n, 5]`.
    pub quota: Tensor,
    /// State values, `[n]`.
    pub value: Tensor,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub config: ModelConfig,
    /// `(name, weight)` in [`NAMES`] order.
    params: Vec<Var>,
}

impl Model {
    /// A fresh network: uniform `±1/sqrt(fan_in)` weights (`PyTorch`'s
    /// default), the policy heads scaled down so the first policy is near
    /// uniform, zero biases.
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        let mut rng = Rng::mixed(seed, 0x6d6f_6465_6c00);
        let (i, h) = (config.input_len(), config.hidden);
        let shapes = [
            (h, i),
            (h, 1),
            (h, h),
            (h, 1),
            (REPLICA_DELTAS.len(), h),
            (REPLICA_DELTAS.len(), 1),
            (QUOTA_FACTORS.len(), h),
            (QUOTA_FACTORS.len(), 1),
            (1, h),
            (1, 1),
        ];
        let mut params = Vec::with_capacity(shapes.len());
        for (k, &(rows, cols)) in shapes.iter().enumerate() {
            let is_bias = k % 2 == 1;
            let fan_in = if is_bias { 1 } else { cols };
            let scale = if is_bias {
                0.0
            } else if (4..8).contains(&k) {
                0.01 / (fan_in as f64).sqrt()
            } else {
                1.0 / (fan_in as f64).sqrt()
            };
            let data: Vec<f32> = (0..rows * cols)
                .map(|_| (scale * (2.0 * rng.unit() - 1.0)) as f32)
                .collect();
            let shape = if is_bias {
                vec![rows]
            } else {
                vec![rows, cols]
            };
            params.push(Var::from_tensor(&Tensor::from_vec(
                data,
                shape,
                &Device::Cpu,
            )?)?);
        }
        Ok(Self { config, params })
    }

    /// The trainable variables, for the optimiser.
    #[must_use]
    pub fn vars(&self) -> Vec<Var> {
        self.params.clone()
    }

    /// An independent copy (the optimiser changes `self` in place).
    pub fn snapshot(&self) -> Result<Self> {
        let params = self
            .params
            .iter()
            .map(|v| Var::from_tensor(&v.as_tensor().copy()?))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            config: self.config.clone(),
            params,
        })
    }

    fn layer(&self, x: &Tensor, k: usize) -> Result<Tensor> {
        let (w, b) = (self.params[k].as_tensor(), self.params[k + 1].as_tensor());
        Ok(x.matmul(&w.t()?)?.broadcast_add(b)?)
    }

    /// Forward a batch `[n, input_len]`.
    pub fn forward(&self, x: &Tensor) -> Result<Heads> {
        let h = self.layer(x, 0)?.tanh()?;
        let h = self.layer(&h, 2)?.tanh()?;
        Ok(Heads {
            replica: candle_nn::ops::log_softmax(&self.layer(&h, 4)?, D::Minus1)?,
            quota: candle_nn::ops::log_softmax(&self.layer(&h, 6)?, D::Minus1)?,
            value: self.layer(&h, 8)?.squeeze(D::Minus1)?,
        })
    }

    /// Log-probabilities of both heads and the value for one input.
    pub fn evaluate_one(&self, input: &[f32]) -> Result<(Vec<f32>, Vec<f32>, f32)> {
        let x = Tensor::from_slice(input, (1, input.len()), &Device::Cpu)?;
        let heads = self.forward(&x)?;
        Ok((
            heads.replica.squeeze(0)?.to_vec1()?,
            heads.quota.squeeze(0)?.to_vec1()?,
            heads.value.squeeze(0)?.to_scalar()?,
        ))
    }

    /// Write `FILE.safetensors` and `FILE.json`.
    pub fn save(&self, stem: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> = NAMES
            .iter()
            .zip(&self.params)
            .map(|(n, v)| ((*n).to_owned(), v.as_tensor().clone()))
            .collect();
        let weights = stem.with_extension("safetensors");
        candle_core::safetensors::save(&tensors, &weights)?;
        let json = serde_json::to_string_pretty(&self.config).map_err(|e| LearnError::Config {
            path: stem.with_extension("json").display().to_string(),
            source: e,
        })?;
        let path = stem.with_extension("json");
        std::fs::write(&path, json + "\n").map_err(|e| LearnError::Io {
            path: path.display().to_string(),
            source: e,
        })
    }

    /// Read a model saved by [`Model::save`]: `path` names either file.
    pub fn load(path: &Path) -> Result<Self> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| LearnError::Io {
                path: p.display().to_string(),
                source: e,
            })
        };
        let weights = read(&path.with_extension("safetensors"))?;
        let config = read(&path.with_extension("json"))?;
        Self::from_bytes(&weights, &config, &path.display().to_string())
    }

    /// A model from its two files' contents (the shipped one is compiled in).
    pub fn from_bytes(weights: &[u8], config: &[u8], name: &str) -> Result<Self> {
        let config: ModelConfig =
            serde_json::from_slice(config).map_err(|e| LearnError::Config {
                path: name.to_owned(),
                source: e,
            })?;
        let mut tensors = candle_core::safetensors::load_buffer(weights, &Device::Cpu)?;
        let template = Self::new(config.clone(), 0)?;
        let mut params = Vec::with_capacity(NAMES.len());
        for (n, want) in NAMES.iter().zip(&template.params) {
            let t = tensors
                .remove(*n)
                .ok_or_else(|| LearnError::Invalid(name.to_owned(), format!("no tensor `{n}`")))?
                .to_dtype(DType::F32)?;
            if t.dims() != want.dims() {
                return Err(LearnError::Invalid(
                    name.to_owned(),
                    format!(
                        "`{n}` is {:?}, the config wants {:?}",
                        t.dims(),
                        want.dims()
                    ),
                ));
            }
            params.push(Var::from_tensor(&t)?);
        }
        let model = Self { config, params };
        model.check(name)?;
        Ok(model)
    }

    /// A model whose outputs are not finite on a plain input is refused
    /// when it is loaded, not at the first decision.
    pub fn check(&self, name: &str) -> Result<()> {
        for probe in [0.0_f32, 0.5, 1.0] {
            let input = vec![probe; self.config.input_len()];
            let (r, q, v) = self.evaluate_one(&input)?;
            if !(r.iter().chain(&q).all(|x| x.is_finite()) && v.is_finite()) {
                return Err(LearnError::Invalid(
                    name.to_owned(),
                    format!("outputs NaN or infinity on a constant input {probe}"),
                ));
            }
        }
        Ok(())
    }
}
