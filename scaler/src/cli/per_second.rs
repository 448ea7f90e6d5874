//! Per-second CSV of a simulated run: the same columns a testbed run's
//! `per_second.csv` starts with, so both plot and judge alike.

use std::path::Path;

use anyhow::Context as _;

use crate::sim::result::SimResult;

pub fn write(dir: &Path, results: &[SimResult]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for r in results {
        let path = dir.join(format!("{}.csv", scenario::run::file_name(&r.policy)));
        std::fs::write(&path, scenario::run::to_csv(&r.seconds))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}
