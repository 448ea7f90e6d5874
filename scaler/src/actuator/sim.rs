//! A dry-run actuator: remembers the replica count and makes new replicas
//! ready after a boot delay, so `run --actuator sim` exercises the whole
//! loop against a real source without touching anything.

use std::time::{Duration, Instant};

use super::{ActFuture, Actuator, TierState};

pub struct SimActuator {
    replicas: u32,
    boot: Duration,
    /// When each replica above the ready count becomes ready.
    booting: Vec<Instant>,
    ready: u32,
}

impl SimActuator {
    #[must_use]
    pub fn new(replicas: u32, boot: Duration) -> Self {
        Self {
            replicas,
            boot,
            booting: Vec::new(),
            ready: replicas,
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
}
