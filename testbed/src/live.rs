//! The per-second row a run writes while it plays (`live.jsonl` in its
//! result folder), so the web panel can chart a run that has not ended:
//! `per_second.csv` is written once at the end, from SIPp's interpolated
//! counters, and is what a run is judged by. Both the driver (writer) and
//! the panel (reader) compile against this one type.

use std::{
    fs::OpenOptions,
    io::Write as _,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// The live file's name inside a result folder.
pub const FILE: &str = "live.jsonl";
/// A file whose presence asks a playing run to stop early: the driver
/// then quits SIPp and writes its results as at a normal end, so a run the
/// operator stops still has a summary.
pub const STOP_FILE: &str = "stop";
/// Written when the driver's first second starts: a controller that plays
/// the rates to an external caller starts on it.
pub const STARTED_FILE: &str = "started";

/// One second as the driver saw it at the end of that second.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct LiveSecond {
    pub t: u64,
    /// Calls the scenario asked for in this second.
    pub offered: f64,
    /// Calls SIPp created in this second (its newest counters, so it jumps
    /// a little around the offered rate; the final CSV interpolates).
    pub achieved: f64,
    /// P99 over every kind of the proxies' samples of this second.
    pub p99_s: Option<f64>,
    /// Proxies taking calls.
    pub active: u32,
    pub booting: u32,
    pub draining: u32,
    /// Mean CPU of the active proxies, millicores.
    pub cpu_mcpu: f64,
    /// Lowest and highest CPU limit among the proxies, millicores (0 = none).
    pub limit_min_mcpu: u32,
    pub limit_max_mcpu: u32,
    /// Calls that failed in this second.
    pub failed: u64,
}

/// Append one row (one JSON object a line).
pub fn append(dir: &Path, row: &LiveSecond) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(FILE))?;
    let mut line = serde_json::to_string(row).map_err(std::io::Error::other)?;
    line.push('\n');
    f.write_all(line.as_bytes())
}

/// A reader that returns the rows appended since its last call; a line the
/// driver is still writing waits for the next call.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    offset: usize,
}

impl Tail {
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE),
            offset: 0,
        }
    }

    pub fn read_new(&mut self) -> Vec<LiveSecond> {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return Vec::new();
        };
        let Some(fresh) = bytes.get(self.offset..) else {
            return Vec::new();
        };
        let Some(end) = fresh.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        self.offset += end + 1;
        String::from_utf8_lossy(&fresh[..end])
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Every row of a finished run's live file.
#[must_use]
pub fn read_all(dir: &Path) -> Vec<LiveSecond> {
    Tail::new(dir).read_new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_returns_whole_new_lines_only() {
        let dir = std::env::temp_dir().join(format!("siplat-live-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut tail = Tail::new(&dir);
        assert!(tail.read_new().is_empty(), "no file yet");
        let row = |t| LiveSecond {
            t,
            offered: 10.0,
            ..LiveSecond::default()
        };
        append(&dir, &row(0)).expect("append");
        append(&dir, &row(1)).expect("append");
        assert_eq!(tail.read_new(), vec![row(0), row(1)]);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE))
            .expect("open");
        let line = serde_json::to_string(&row(2)).expect("json") + "\n";
        let (head, rest) = line.split_at(10);
        f.write_all(head.as_bytes()).expect("half a line");
        assert!(tail.read_new().is_empty(), "a half-written line waits");
        f.write_all(rest.as_bytes()).expect("the rest");
        assert_eq!(tail.read_new(), vec![row(2)]);
        assert_eq!(read_all(&dir).len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
