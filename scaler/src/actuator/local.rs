//! The local testbed (contract in the lead's contracts.md): `<testbed-cmd>
//! scale N` makes N proxies active and returns once they are ready;
//! `<testbed-cmd> status --json` prints one JSON object with the proxies,
//! their state and cumulative CPU seconds.

use std::{collections::HashMap, time::Instant};

use serde::Deserialize;
use tokio::process::Command;

use super::{ActFuture, Actuator, ActuatorError, TierState};
use crate::policy::PodSample;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TestbedStatus {
    #[serde(default)]
    pub agent_url: Option<String>,
    #[serde(default)]
    pub lb: Option<String>,
    pub proxies: Vec<ProxyStatus>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProxyStatus {
    pub name: String,
    #[serde(default)]
    pub addr: Option<String>,
    #[serde(default)]
    pub iface: Option<String>,
    pub state: String,
    #[serde(default)]
    pub cpu_usage_seconds: Option<f64>,
    #[serde(default)]
    pub cpu_limit_millis: Option<f64>,
}

pub struct LocalTestbed {
    /// The command and its leading arguments, e.g. `cargo xtask testbed`.
    command: Vec<String>,
    /// Previous CPU reading per proxy, for deltas.
    cpu: HashMap<String, (Instant, f64)>,
}

impl LocalTestbed {
    pub fn new(command: &str) -> Result<Self, ActuatorError> {
        let command: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        if command.is_empty() {
            return Err(ActuatorError::Invalid("empty --testbed-cmd".to_owned()));
        }
        Ok(Self {
            command,
            cpu: HashMap::new(),
        })
    }

    /// Runs the testbed command; its stdout on success. What it reports on
    /// stderr besides the commands it echoes (`+ ...`), e.g. how long a new
    /// proxy took to hold the registrations, goes to the log: that is what
    /// explains a scale-out that answered calls too early.
    async fn run(&self, args: &[&str]) -> Result<String, ActuatorError> {
        let text = format!("{} {}", self.command.join(" "), args.join(" "));
        let out = Command::new(&self.command[0])
            .args(&self.command[1..])
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| ActuatorError::Spawn {
                command: text.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(ActuatorError::Command {
                command: text,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        for line in String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("+ "))
        {
            tracing::info!(command = %args.join(" "), "testbed: {line}");
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Parse a status and turn cumulative CPU seconds into millicores
    /// since the previous status.
    pub fn tier_state(&mut self, status: &TestbedStatus, now: Instant) -> TierState {
        let active: Vec<&ProxyStatus> = status
            .proxies
            .iter()
            .filter(|p| p.state == "active")
            .collect();
        let pods = active
            .iter()
            .map(|p| {
                let millis = p.cpu_usage_seconds.and_then(|cur| {
                    let prev = self.cpu.insert(p.name.clone(), (now, cur));
                    prev.and_then(|(at, before)| {
                        let dt = now.duration_since(at).as_secs_f64();
                        (dt > 0.0 && cur >= before).then(|| (cur - before) / dt * 1000.0)
                    })
                });
                PodSample {
                    ready: true,
                    cpu_millis: millis,
                }
            })
            .collect();
        self.cpu
            .retain(|name, _| active.iter().any(|p| &p.name == name));
        TierState {
            replicas: active.len() as u32,
            ready: active.len() as u32,
            pods: Some(pods),
            agent_urls: status.agent_url.iter().cloned().collect(),
        }
    }

    async fn read_state(&mut self) -> Result<TierState, ActuatorError> {
        let text = self.run(&["status", "--json"]).await?;
        let status: TestbedStatus =
            serde_json::from_str(text.trim()).map_err(|e| ActuatorError::Status(e.to_string()))?;
        Ok(self.tier_state(&status, Instant::now()))
    }
}

impl Actuator for LocalTestbed {
    fn state(&mut self) -> ActFuture<'_, TierState> {
        Box::pin(self.read_state())
    }

    fn scale(&mut self, replicas: u32) -> ActFuture<'_, ()> {
        Box::pin(async move {
            let n = replicas.to_string();
            self.run(&["scale", &n]).await.map(|_| ())
        })
    }

    fn describe(&self) -> String {
        format!("local testbed via `{}`", self.command.join(" "))
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
