//! The local testbed: `<testbed-cmd> scale N` asks for N proxies and
//! returns once they are ready, or at once when the testbed has a boot
//! delay (`up --boot-delay`: the proxies then show as booting, replicas
//! that are not ready, until the testbed adds them);
//! `<testbed-cmd> resize --cpu-limit Lm` sets every proxy's CPU limit in
//! place; `<testbed-cmd> status --json` prints the
//! testbed's `Status`, the type both programs compile against.

use std::{collections::HashMap, time::Instant};

use testbed::status::{ProxyStatus, Status};
use tokio::process::Command;

use super::{ActFuture, Actuator, ActuatorError, TierState};
use crate::policy::PodSample;

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
    pub fn tier_state(&mut self, status: &Status, now: Instant) -> TierState {
        let active: Vec<&ProxyStatus> = status.active().collect();
        let pods = active
            .iter()
            .map(|p| {
                let cur = p.cpu_usage_seconds;
                let prev = self.cpu.insert(p.name.clone(), (now, cur));
                let millis = prev.and_then(|(at, before)| {
                    let dt = now.duration_since(at).as_secs_f64();
                    (dt > 0.0 && cur >= before).then(|| (cur - before) / dt * 1000.0)
                });
                PodSample {
                    ready: true,
                    cpu_millis: millis,
                }
            })
            .chain(status.booting().map(|_| PodSample {
                ready: false,
                cpu_millis: None,
            }))
            .collect();
        self.cpu
            .retain(|name, _| active.iter().any(|p| &p.name == name));
        // A proxy without a limit (0) makes the tier's limit unknown rather
        // than the lowest of the others.
        let cpu_limit_millis = if active.iter().any(|p| p.cpu_limit_millis == 0) {
            None
        } else {
            active.iter().map(|p| p.cpu_limit_millis).min()
        };
        TierState {
            replicas: (active.len() + status.booting().count()) as u32,
            ready: active.len() as u32,
            pods: Some(pods),
            agent_urls: vec![status.agent_url.clone()],
            cpu_limit_millis,
        }
    }

    async fn read_state(&mut self) -> Result<TierState, ActuatorError> {
        let text = self.run(&["status", "--json"]).await?;
        let status: Status =
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

    /// `resize` returns once every proxy's quota is set (a cgroup write,
    /// well under a millisecond per proxy), so the next `state()` reads the
    /// new limit.
    fn resize(&mut self, cpu_millis: u32) -> ActFuture<'_, ()> {
        Box::pin(async move {
            let limit = format!("{cpu_millis}m");
            self.run(&["resize", "--cpu-limit", &limit])
                .await
                .map(|_| ())
        })
    }

    fn describe(&self) -> String {
        format!("local testbed via `{}`", self.command.join(" "))
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
