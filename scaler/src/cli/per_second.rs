//! Per-second CSV of a simulated run (for plots like the report's figures).

use std::{fmt::Write as _, path::Path};

use anyhow::Context as _;

use crate::sim::result::SimResult;

pub fn write(dir: &Path, results: &[SimResult]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for r in results {
        let mut text = String::from("t,rate,replicas,ready,p99_seconds,cpu_millis\n");
        for s in &r.seconds {
            let p99 = s.p99_s.map_or_else(String::new, |p| format!("{p:.4}"));
            let _ = writeln!(
                text,
                "{},{},{},{},{},{:.2}",
                s.t, s.rate, s.replicas, s.ready, p99, s.cpu_millis
            );
        }
        let name: String = r
            .policy
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.csv"));
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}
