//! cgroup v1 CPU limits (cgroup v2 `cpu.max` is not available on this
//! machine): one group per box under `cpu` (quota) and `cpuacct` (usage).

use std::path::PathBuf;

use anyhow::{Context as _, Result};

const CONTROLLERS: [&str; 2] = ["cpu", "cpuacct"];
const PARENT: &str = "siplat-testbed";

pub fn dirs(name: &str) -> Vec<PathBuf> {
    CONTROLLERS
        .iter()
        .map(|c| PathBuf::from(format!("/sys/fs/cgroup/{c}/{PARENT}/{name}")))
        .collect()
}

/// Create the groups of `name`; `millis` = 0 means no quota.
pub fn create(name: &str, millis: u32, period_us: u64) -> Result<Vec<PathBuf>> {
    let dirs = dirs(name);
    for d in &dirs {
        std::fs::create_dir_all(d).with_context(|| format!("create cgroup {}", d.display()))?;
    }
    set_limit(name, millis, period_us)?;
    Ok(dirs)
}

/// Set the quota of an existing group to `millis` of one CPU per
/// `period_us` (0 = no quota). The processes inside keep running: the
/// scheduler applies the new quota from the next period on, which is what
/// makes in-place resize possible without restarting Kamailio.
pub fn set_limit(name: &str, millis: u32, period_us: u64) -> Result<()> {
    let cpu = &dirs(name)[0];
    if millis > 0 {
        let quota = quota_us(millis, period_us)?;
        std::fs::write(cpu.join("cpu.cfs_period_us"), period_us.to_string())
            .with_context(|| format!("set cfs_period_us of {name}"))?;
        std::fs::write(cpu.join("cpu.cfs_quota_us"), quota.to_string())
            .with_context(|| format!("set cfs_quota_us of {name}"))?;
    } else {
        std::fs::write(cpu.join("cpu.cfs_quota_us"), "-1")
            .with_context(|| format!("clear cfs_quota_us of {name}"))?;
    }
    Ok(())
}

/// The quota that gives `millis` per `period_us`; the kernel refuses
/// quotas under 1 ms, so a small limit needs a long enough period.
pub fn quota_us(millis: u32, period_us: u64) -> Result<u64> {
    let quota = period_us * u64::from(millis) / 1000;
    anyhow::ensure!(
        quota >= 1000,
        "quota {quota} us < kernel minimum 1000 us: use a longer --cfs-period for {millis}m"
    );
    Ok(quota)
}

/// Cumulative CPU seconds of every process that ran in the group.
pub fn usage_seconds(name: &str) -> f64 {
    std::fs::read_to_string(dirs(name)[1].join("cpuacct.usage"))
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// Pids still in the group.
pub fn pids(name: &str) -> Vec<u32> {
    dirs(name)
        .iter()
        .flat_map(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Kill what is left inside and remove the groups.
pub fn remove(name: &str) {
    for pid in pids(name) {
        super::proc::signal(pid, libc::SIGKILL);
    }
    for d in dirs(name) {
        for _ in 0..50 {
            if !d.exists() || std::fs::remove_dir(&d).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Every box group that exists (for the crash sweep).
pub fn all() -> Vec<String> {
    let mut names: Vec<String> = CONTROLLERS
        .iter()
        .flat_map(|c| {
            std::fs::read_dir(format!("/sys/fs/cgroup/{c}/{PARENT}"))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

pub fn remove_parent() {
    for c in CONTROLLERS {
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{c}/{PARENT}"));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quota_is_the_limit_share_of_the_period() {
        assert_eq!(super::quota_us(30, 100_000).expect("30m"), 3000);
        assert_eq!(super::quota_us(90, 100_000).expect("90m"), 9000);
        assert!(
            super::quota_us(5, 100_000).is_err(),
            "0.5 ms < kernel minimum"
        );
    }
}
