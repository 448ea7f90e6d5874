//! The learned policy (`rl`): a small actor-critic network trained with PPO
//! in the simulator and served by the scaler like any other policy.
//!
//! What is learned is a **residual over `hybrid`**: at every decision the
//! network sees the tier (a few frames of [`features`]) and `hybrid`'s own
//! proposal, and picks a correction to it, replicas `-1..+2` and the quota
//! times `0.85..1.7` (horizontal mode: replicas only, over `hybrid` pinned
//! to the base limit). A policy learned from scratch in the half hour the
//! training may take on two cores does not get near `hybrid`, and most of
//! what a good sizing needs (the cost of a call, the margins, the P99
//! feedback) is already there; what is left to learn is *when* the margin
//! is too thin (a small tier, a rising rate) or too wide.
//!
//! Training starts with behaviour cloning (the network is taught `hybrid`'s
//! own decision, the neutral residual, with label smoothing so PPO still
//! explores), then PPO fine-tunes it ([`train`]). The environment is the
//! unchanged simulator with the learner as its policy ([`env`]); rewards are
//! read back from the per-second rows of each decision's interval.
//!
//! Candle (CPU tensors, autograd, `AdamW`) lives in the scaler crate, not a
//! crate of its own, because the issue wants inference in the scaler binary
//! behind the same safety layer: `--policy rl` is built by
//! [`crate::policy::spec`] like every other policy.

pub mod env;
pub mod features;
pub mod model;
pub mod ppo;
pub mod train;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LearnError {
    #[error("model tensors: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("model {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("model config {path}: {source}")]
    Config {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("model {0}: {1}")]
    Invalid(String, String),
    #[error(transparent)]
    Eval(#[from] crate::evaluate::EvalError),
    #[error("training curve: {0}")]
    Plot(String),
}

pub type Result<T, E = LearnError> = std::result::Result<T, E>;
