//! A dry-run actuator: remembers the replica count and makes new replicas
//! ready after a boot delay, and remembers the CPU limit a resize asked
//! for, so `run --actuator sim` exercises the whole loop (vertical
//! policies included) against a real source without touching anything.

use std::time::{Duration, Instant};

use super::{ActFuture, Actuator, TierState};

pub struct SimActuator {
    replicas: u32,
    boot: Duration,
    /// When each replica above the ready count becomes ready.
    booting: Vec<Instant>,
    ready: u32,
    /// Limit the last resize asked for; unknown until then (the dry run
    /// has no pod spec to read it from).
    cpu_limit_millis: Option<u32>,
}

impl SimActuator {
    #[must_use]
    pub fn new(replicas: u32, boot: Duration) -> Self {
        Self {
            replicas,
            boot,
            booting: Vec::new(),
            ready: replicas,
            cpu_limit_millis: None,
        }
    }

    fn settle(&mut self) {
        let now = Instant::now();
        let done = self.booting.iter().filter(|t| **t <= now).count();
        self.booting.retain(|t| *t > now);
        self.ready = (self.ready + done as u32).min(self.replicas);
    }
}

impl Actuator for SimActuator {
    fn state(&mut self) -> ActFuture<'_, TierState> {
        self.settle();
        let state = TierState {
            replicas: self.replicas,
            ready: self.ready,
            cpu_limit_millis: self.cpu_limit_millis,
            ..TierState::default()
        };
        Box::pin(async move { Ok(state) })
    }

    fn scale(&mut self, replicas: u32) -> ActFuture<'_, ()> {
        self.settle();
        if replicas > self.replicas {
            let at = Instant::now() + self.boot;
            self.booting.extend((self.replicas..replicas).map(|_| at));
        } else {
            self.booting
                .truncate((replicas.saturating_sub(self.ready)) as usize);
            self.ready = self.ready.min(replicas);
        }
        self.replicas = replicas;
        Box::pin(async { Ok(()) })
    }

    fn resize(&mut self, cpu_millis: u32) -> ActFuture<'_, ()> {
        self.cpu_limit_millis = Some(cpu_millis);
        Box::pin(async { Ok(()) })
    }

    fn describe(&self) -> String {
        "sim (dry run)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn new_replicas_become_ready_after_boot() {
        let mut a = SimActuator::new(2, Duration::from_millis(50));
        a.scale(4).await.expect("scale");
        let s = a.state().await.expect("state");
        assert_eq!((s.replicas, s.ready), (4, 2));
        tokio::time::sleep(Duration::from_millis(80)).await;
        let s = a.state().await.expect("state");
        assert_eq!((s.replicas, s.ready), (4, 4));
        a.scale(1).await.expect("scale");
        assert_eq!(a.state().await.expect("state").ready, 1);
    }

    #[tokio::test]
    async fn resize_is_remembered_and_reported() {
        let mut a = SimActuator::new(2, Duration::ZERO);
        assert_eq!(a.state().await.expect("state").cpu_limit_millis, None);
        a.resize(90).await.expect("resize");
        let s = a.state().await.expect("state");
        assert_eq!((s.replicas, s.cpu_limit_millis), (2, Some(90)));
    }
}
