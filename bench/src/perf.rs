//! Where the kernel's time goes, by sampling: `perf record` with the
//! software CPU clock (no PMU needed, so it works in a VM) on this process
//! while it runs `BPF_PROG_TEST_RUN`, then the samples whose stack is inside
//! a test run, by the function they were in. JIT-compiled BPF programs and their
//! subprograms appear under their own names (`bpf_jit_kallsyms`), beside
//! the kernel's helpers (map lookups and updates, the ring buffer), so the
//! shares say which part of the program the time is spent in. bpftool's
//! `prog profile` would count instructions and cycles per run, but needs a
//! bpftool built with clang skeletons, which Debian's is not.

use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};

/// Share of test-run samples per function.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PerfProfile {
    /// Samples inside a test run.
    pub samples: u64,
    /// Where the sample was taken (the innermost function), largest first.
    pub leaf: Vec<(String, f64)>,
    /// The BPF programs and helpers on the sample's stack, largest first.
    pub inclusive: Vec<(String, f64)>,
}

/// A running `perf record` on this process.
pub struct Recording {
    child: Child,
    data: std::path::PathBuf,
}

impl Recording {
    /// Start sampling this process at 5 kHz with call graphs into `data`.
    pub fn start(data: &Path) -> Result<Self> {
        let child = Command::new("perf")
            .args(["record", "-q", "-e", "cpu-clock", "-F", "4999", "-g", "-p"])
            .arg(std::process::id().to_string())
            .arg("-o")
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("run perf (Debian: linux-perf)")?;
        // perf attaches within a few hundred ms; samples before are lost.
        std::thread::sleep(Duration::from_millis(700));
        Ok(Self {
            child,
            data: data.to_path_buf(),
        })
    }

    /// Stop sampling and read what the test runs spent their time in.
    pub fn finish(mut self) -> Result<PerfProfile> {
        // SIGINT makes perf write its header and exit.
        let pid = i32::try_from(self.child.id()).context("perf pid")?;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let status = self.child.wait().context("wait for perf")?;
        // perf ends by the signal it was sent once the data is written.
        let interrupted =
            std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGINT);
        if !status.success() && !interrupted && status.code() != Some(130) {
            bail!("perf record exited with {status}");
        }
        let out = Command::new("perf")
            .args(["script", "-F", "ip,sym", "-i"])
            .arg(&self.data)
            .stderr(Stdio::null())
            .output()
            .context("run perf script")?;
        if !out.status.success() {
            bail!("perf script exited with {}", out.status);
        }
        Ok(shares(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// `bpf_prog_<tag>_<name>` as `bpf:<name>`; other symbols as they are.
fn name(sym: &str) -> String {
    match sym
        .strip_prefix("bpf_prog_")
        .and_then(|r| r.split_once('_'))
    {
        Some((tag, prog)) if tag.len() == 16 && tag.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("bpf:{prog}")
        }
        _ => sym.to_owned(),
    }
}

/// Whether a function belongs in the inclusive list: the programs and the
/// helpers they call.
fn kernel_part(name: &str) -> bool {
    name.starts_with("bpf:")
        || name.starts_with("htab_")
        || name.starts_with("bpf_ringbuf")
        || name.starts_with("bpf_skb_load_bytes")
        || name == "ktime_get"
}

/// The shares in `perf script -F ip,sym` output: one sample per block,
/// innermost frame first.
#[must_use]
pub fn shares(script: &str) -> PerfProfile {
    let mut leaf: HashMap<String, u64> = HashMap::new();
    let mut inclusive: HashMap<String, u64> = HashMap::new();
    let mut samples = 0u64;
    for block in script.split("\n\n") {
        let frames: Vec<String> = block
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|s| name(s.split('+').next().unwrap_or(s)))
            .collect();
        if !frames.iter().any(|f| f == "bpf_test_run") {
            continue;
        }
        samples += 1;
        *leaf.entry(frames[0].clone()).or_default() += 1;
        let mut seen: Vec<&String> = frames.iter().filter(|f| kernel_part(f)).collect();
        seen.sort();
        seen.dedup();
        for f in seen {
            *inclusive.entry(f.clone()).or_default() += 1;
        }
    }
    let sorted = |m: HashMap<String, u64>| {
        let mut v: Vec<(String, f64)> = m
            .into_iter()
            .map(|(k, n)| (k, n as f64 / samples.max(1) as f64))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    PerfProfile {
        samples,
        leaf: sorted(leaf),
        inclusive: sorted(inclusive),
    }
}

#[cfg(test)]
mod tests {
    use super::shares;

    #[test]
    fn samples_outside_a_test_run_are_left_out_and_programs_named() {
        let script = "\
\tffffffffc0001234 bpf_prog_c7262f83b67b6765_scan_words+0x12
\tffffffffc0005678 bpf_prog_31ffcf2aa9c8e5c7_next_message+0x40
\tffffffff81000000 bpf_test_run+0x10
\tffffffff81000010 bpf_prog_test_run_skb+0x10

\tffffffff81000100 htab_lru_map_update_elem+0x5
\tffffffffc0009999 bpf_prog_fc08f242a366e303_sip_tc_ingress+0x99
\tffffffff81000000 bpf_test_run+0x10

\tffffffff81000200 do_mmap+0x1
\tffffffff81000300 ksys_mmap_pgoff+0x2
";
        let p = shares(script);
        assert_eq!(p.samples, 2);
        assert_eq!(p.leaf[0].1, 0.5);
        assert!(p.leaf.iter().any(|(n, _)| n == "bpf:scan_words"));
        // A kernel function named like a program is left as it is.
        assert!(!p.inclusive.iter().any(|(n, _)| n.contains("run_skb")));
        let incl: Vec<&str> = p.inclusive.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            incl,
            [
                "bpf:next_message",
                "bpf:scan_words",
                "bpf:sip_tc_ingress",
                "htab_lru_map_update_elem"
            ]
        );
    }
}
