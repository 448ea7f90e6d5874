//! Starting detached boxes (they outlive the `up`/`scale` command that
//! started them) and stopping them by pid.

use std::{
    fmt::Write as _,
    fs::File,
    os::unix::process::CommandExt as _,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

/// Start `args` in network namespace `ns` (None = root namespace), inside
/// the cgroups `cgroups` (their `cgroup.procs` files) entered BEFORE exec so
/// every child inherits them, detached in its own process group, output to
/// `log`. Returns the pid (the shell `exec`s, so it is the program's).
pub fn spawn(ns: Option<&str>, cgroups: &[&Path], args: &[String], log: &Path) -> Result<u32> {
    let mut script = String::new();
    for cg in cgroups {
        let _ = write!(
            script,
            "echo $$ > '{}' && ",
            cg.join("cgroup.procs").display()
        );
    }
    script.push_str("exec \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg("sh");
    if let Some(ns) = ns {
        cmd.args(["ip", "netns", "exec", ns]);
    }
    cmd.args(args);
    let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
    let err = out.try_clone()?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("spawn {}", args.join(" ")))?;
    Ok(child.id())
}

/// True while `pid` exists and is not a zombie.
#[must_use]
pub fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

pub fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) on a pid we started.
        unsafe { libc::kill(pid, sig) };
    }
}

/// SIGTERM, then SIGKILL after `grace` (a Kamailio child spinning at 100 %
/// CPU ignores SIGTERM).
pub fn stop(pid: u32, grace: Duration) {
    if !alive(pid) {
        return;
    }
    signal(pid, libc::SIGTERM);
    let start = Instant::now();
    while alive(pid) && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        signal(pid, libc::SIGKILL);
    }
}

/// Run and capture stdout; error with stderr when it fails.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("spawn {}", render(cmd)))?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}{}",
        render(cmd),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whole Unix seconds (for folder names).
#[must_use]
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix time in seconds.
#[must_use]
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The workspace root: the testbed reads the Kamailio configs under
/// `manifests/` and writes results under `results/` there.
#[must_use]
pub fn workspace_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the testbed crate sits inside the workspace")
        .to_path_buf()
}

/// Run `cmd` with its command line echoed (a CI log then shows what was
/// run), failing with that command line when it fails.
pub fn exec(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {}", render(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("spawn {}", render(cmd)))?;
    anyhow::ensure!(status.success(), "{} failed: {status}", render(cmd));
    Ok(())
}

#[must_use]
pub fn render(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// `cargo` (the one running us, when there is one) in the workspace root.
#[must_use]
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// Run `cmd` and report only whether it succeeded (for probes).
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
