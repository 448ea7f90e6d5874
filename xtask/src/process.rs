//! Child commands for the xtask steps. Running with the command line echoed
//! is the testbed's (`testbed::proc`), shared so both log alike.

pub use testbed::proc::{cargo, exec, render, succeeds, workspace_root};
