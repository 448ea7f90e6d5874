//! Where decisions land: the simulator (dry run), the local testbed, or a
//! Kubernetes `scale` subresource.

pub mod kubernetes;
pub mod local;
pub mod sim;

use std::{future::Future, pin::Pin};

use thiserror::Error;

use crate::policy::PodSample;

/// The tier as the actuator sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierState {
    /// Replicas asked for.
    pub replicas: u32,
    /// Replicas taking traffic.
    pub ready: u32,
    /// Per-pod CPU when the actuator can tell (local testbed).
    pub pods: Option<Vec<PodSample>>,
    /// Agent endpoint(s) the tier advertises (local testbed).
    pub agent_urls: Vec<String>,
}

#[derive(Debug, Error)]
pub enum ActuatorError {
    #[error("run `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` exited with {status}: {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("parse testbed status: {0}")]
    Status(String),
    #[error("kubernetes API")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Invalid(String),
}

pub type ActFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ActuatorError>> + Send + 'a>>;

pub trait Actuator: Send {
    fn state(&mut self) -> ActFuture<'_, TierState>;
    fn scale(&mut self, replicas: u32) -> ActFuture<'_, ()>;
    fn describe(&self) -> String;
}
