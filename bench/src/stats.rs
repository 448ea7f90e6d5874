//! What the kernel counts for us: `kernel.bpf_stats_enabled` (set for the
//! run, restored after), the run time and run count of given programs, the
//! programs a process holds (from `/proc/PID/fdinfo`), and the object the
//! agent binary embeds (so the empty program and `BPF_PROG_TEST_RUN` use
//! exactly the object the agent under test runs).

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context as _, Result, bail};

const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// `kernel.bpf_stats_enabled=1` while this lives; the old value after.
pub struct StatsEnabled {
    old: String,
}

impl StatsEnabled {
    pub fn on() -> Result<Self> {
        let old = std::fs::read_to_string(STATS_SYSCTL).context("read kernel.bpf_stats_enabled")?;
        std::fs::write(STATS_SYSCTL, "1").context("sysctl kernel.bpf_stats_enabled=1")?;
        Ok(Self {
            old: old.trim().to_owned(),
        })
    }
}

impl Drop for StatsEnabled {
    fn drop(&mut self) {
        let _ = std::fs::write(STATS_SYSCTL, &self.old);
    }
}

/// Run time (ns) and run count of one program at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgStats {
    pub run_ns: u64,
    pub runs: u64,
}

impl ProgStats {
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            run_ns: self.run_ns.saturating_sub(earlier.run_ns),
            runs: self.runs.saturating_sub(earlier.runs),
        }
    }
}

/// Stats of the programs with these ids, by name (programs gone are absent).
pub fn read(ids: &[u32]) -> BTreeMap<String, ProgStats> {
    let mut out = BTreeMap::new();
    for info in aya::programs::loaded_programs().flatten() {
        if ids.contains(&info.id()) {
            let name = info.name_as_str().unwrap_or("?").to_owned();
            let s = out.entry(name).or_insert_with(ProgStats::default);
            s.run_ns += u64::try_from(info.run_time().as_nanos()).unwrap_or(u64::MAX);
            s.runs += info.run_count();
        }
    }
    out
}

/// Ids of the BPF programs process `pid` holds open.
#[must_use]
pub fn prog_ids_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = dir
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| prog_id(&text))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The `prog_id:` line of one fdinfo file.
fn prog_id(fdinfo: &str) -> Option<u32> {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("prog_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// CPU time (user + system) of every live thread of `pid`, in seconds, at
/// nanosecond resolution: the first field of each task's `schedstat`
/// (`/proc/PID/stat`'s utime and stime count 10 ms ticks, too coarse for a
/// 2 s run of an agent that uses a few ms).
#[must_use]
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|text| schedstat_ns(&text))
        .sum();
    ns as f64 / 1e9
}

fn schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The BPF ELF object inside the agent binary at `path`: the first ELF
/// header for machine BPF (247), as long as its section header table says.
pub fn agent_object(path: &Path) -> Result<Vec<u8>> {
    let bin = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    match find_bpf_elf(&bin) {
        Some(range) => Ok(bin[range].to_vec()),
        None => bail!(
            "{} embeds no BPF object (built with AYA_BUILD_SKIP=1?)",
            path.display()
        ),
    }
}

fn find_bpf_elf(bin: &[u8]) -> Option<std::ops::Range<usize>> {
    const MAGIC: &[u8] = b"\x7fELF\x02\x01";
    let u16_at = |b: &[u8], o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |b: &[u8], o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    let mut from = 1; // skip the binary's own header
    while let Some(pos) = bin[from..].windows(MAGIC.len()).position(|w| w == MAGIC) {
        let start = from + pos;
        let h = &bin[start..];
        if u16_at(h, 18) == Some(247) {
            let shoff = usize::try_from(u64_at(h, 40)?).ok()?;
            let size = shoff + usize::from(u16_at(h, 58)?) * usize::from(u16_at(h, 60)?);
            if start + size <= bin.len() {
                return Some(start..start + size);
            }
        }
        from = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_names_the_program_id() {
        let text = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nprog_type:\t3\nprog_jited:\t1\nprog_tag:\tabc\nmemlock:\t4096\nprog_id:\t512\n";
        assert_eq!(prog_id(text), Some(512));
        assert_eq!(prog_id("pos:\t0\nmap_id:\t3\n"), None);
    }

    #[test]
    fn the_bpf_object_is_found_by_machine_and_section_table() {
        let mut obj = vec![0_u8; 128];
        obj[..6].copy_from_slice(b"\x7fELF\x02\x01");
        obj[18..20].copy_from_slice(&247_u16.to_le_bytes());
        obj[40..48].copy_from_slice(&64_u64.to_le_bytes());
        obj[58..60].copy_from_slice(&64_u16.to_le_bytes());
        obj[60..62].copy_from_slice(&1_u16.to_le_bytes());
        let mut host = b"\x7fELF\x02\x01 host header, x86-64".to_vec();
        host.resize(100, 0);
        let at = host.len();
        host.extend_from_slice(&obj);
        host.extend_from_slice(b"trailing data");
        assert_eq!(find_bpf_elf(&host), Some(at..at + 128));
        assert_eq!(find_bpf_elf(b"\x7fELF\x02\x01 nothing else"), None);
    }

    #[test]
    fn schedstat_gives_the_time_on_cpu() {
        assert_eq!(schedstat_ns("123456789 5000 42\n"), Some(123_456_789));
        assert_eq!(schedstat_ns(""), None);
        assert!(cpu_seconds(std::process::id()) > 0.0);
    }

    #[test]
    fn deltas_never_go_negative() {
        let a = ProgStats {
            run_ns: 100,
            runs: 2,
        };
        let b = ProgStats {
            run_ns: 350,
            runs: 7,
        };
        assert_eq!(
            b.since(a),
            ProgStats {
                run_ns: 250,
                runs: 5
            }
        );
        assert_eq!(a.since(b), ProgStats::default());
    }
}
