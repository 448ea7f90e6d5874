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
    /// CPU limit of the running replicas in millicores (the lowest when
    /// they differ), when the actuator can tell; vertical policies scale
    /// from it.
    pub cpu_limit_millis: Option<u32>,
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

impl ActuatorError {
    /// Every value [`Self::reason`] returns.
    pub const REASONS: [&'static str; 6] = [
        "forbidden",
        "conflict",
        "not_found",
        "timeout",
        "command",
        "other",
    ];

    /// Bounded label value for `siplat_scaler_actuation_errors_total{reason}`:
    /// RBAC (`forbidden`) and a concurrent writer (`conflict`) call for
    /// different fixes, so they are told apart from the rest.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Kube(kube::Error::Api(status)) => match status.code {
                403 => "forbidden",
                409 => "conflict",
                404 => "not_found",
                408 | 504 => "timeout",
                _ => "other",
            },
            Self::Kube(e) if timed_out(e) => "timeout",
            Self::Spawn { .. } | Self::Command { .. } => "command",
            Self::Kube(_) | Self::Status(_) | Self::Invalid(_) => "other",
        }
    }
}

/// Whether a client error comes from a timeout somewhere down its chain
/// (connect or read timeout of the Kubernetes client).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || err.to_string().contains("timed out")
        {
            return true;
        }
        cur = err.source();
    }
    false
}

pub type ActFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ActuatorError>> + Send + 'a>>;

pub trait Actuator: Send {
    fn state(&mut self) -> ActFuture<'_, TierState>;
    fn scale(&mut self, replicas: u32) -> ActFuture<'_, ()>;
    /// Set the CPU limit of every running replica in place (no restart),
    /// in millicores. Replicas created later start at the tier's template
    /// limit. Actuators that cannot resize say so instead of pretending.
    fn resize(&mut self, cpu_millis: u32) -> ActFuture<'_, ()> {
        let err = ActuatorError::Invalid(format!(
            "{} cannot resize replicas in place (asked for {cpu_millis}m)",
            self.describe()
        ));
        Box::pin(async move { Err(err) })
    }
    fn describe(&self) -> String;
}
