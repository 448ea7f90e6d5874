//! `cargo xtask bench [ARGS]`: the benchmark is its own binary
//! (`siplat-bench`, the `bench/` crate); build it and the agent it runs in
//! release, together (its `BPF_PROG_TEST_RUN` part loads the object the
//! agent binary embeds with the agent library's loader, so both must come
//! from one build; `kamailio` runs the release `siplat-testbed`), and hand
//! over. `--quick`, `--out DIR`, `kamailio`: see
//! `cargo xtask bench --help`.

use anyhow::Result;

use crate::process::{cargo, exec};

pub fn run(args: &[String]) -> Result<()> {
    crate::setup::run(&crate::setup::Options { no_apt: true })?;
    exec(cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "bench",
        "-p",
        "agent",
        "-p",
        "testbed",
        "--bins",
    ]))?;
    let bin = crate::process::workspace_root().join("target/release/siplat-bench");
    let status = std::process::Command::new(&bin)
        .args(args)
        .current_dir(crate::process::workspace_root())
        .status()
        .map_err(|e| anyhow::anyhow!("run {}: {e}", bin.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}
