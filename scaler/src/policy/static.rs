//! The report's capacity plan (4.3): a fixed number of proxies sized for
//! the peak, whatever the load does.

use super::{Needs, Observation, Policy, Proposal};

#[derive(Debug, Clone)]
pub struct Static {
    pub replicas: u32,
}

impl Policy for Static {
    fn name(&self) -> String {
        format!("static:replicas={}", self.replicas)
    }

    fn needs(&self) -> Needs {
        Needs::default()
    }

    fn propose(&mut self, _obs: &Observation) -> Proposal {
        Proposal::new(self.replicas, "static", "fixed capacity plan")
    }

    fn initial_replicas(&self) -> Option<u32> {
        Some(self.replicas)
    }
}
