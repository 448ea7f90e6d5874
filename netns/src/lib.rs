//! Network namespaces as `ip netns` keeps them (named, under
//! `/var/run/netns`), so that a namespace one program creates is one every
//! other tool can see, enter and clean up after a crash: the testbed's boxes,
//! the agent's privileged tests, an operator's `ip netns exec`.
//!
//! Everything shells out to `ip` rather than speaking netlink: these are
//! set-up steps where the command line is also the best error message, and
//! `ip` is what an operator repeats by hand when one fails.

use std::{
    fs::File,
    io,
    os::fd::AsRawFd as _,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    thread::JoinHandle,
};

/// Where `ip netns` keeps its named namespaces.
pub const RUN_DIR: &str = "/var/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("spawn `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error("open network namespace {name}")]
    Open {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("enter network namespace {name}")]
    Enter {
        name: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Creating, entering and deleting namespaces all need `CAP_SYS_ADMIN`, and
/// the BPF work done inside them `CAP_BPF` and `CAP_NET_ADMIN`: root is the
/// one check that covers them all.
#[must_use]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[must_use]
pub fn path(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(name)
}

#[must_use]
pub fn exists(name: &str) -> bool {
    path(name).exists()
}

/// Every named namespace (for a sweep by prefix after a crash).
#[must_use]
pub fn list() -> Vec<String> {
    std::fs::read_dir(RUN_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A fresh namespace with its loopback up. One of the same name left by a
/// crashed run is deleted first, with whatever still runs in it: a stale
/// namespace would otherwise make `ip netns add` fail, or worse, hand the
/// new run an old one's interfaces.
pub fn create(name: &str) -> Result<()> {
    delete(name);
    run(Command::new("ip").args(["netns", "add", name]))?;
    ip(name, &["link", "set", "lo", "up"])
}

/// Kill what still runs in `name`, then delete it (its interfaces go with
/// it). A namespace is only freed when its last process leaves, so deleting
/// without killing would leave a live namespace nobody can name any more.
/// Missing namespaces are fine: this is also the crash sweep.
pub fn delete(name: &str) {
    if !exists(name) {
        return;
    }
    for pid in pids(name) {
        if let Ok(pid) = i32::try_from(pid)
            && pid > 0
        {
            // SAFETY: kill(2) has no memory preconditions; the pid runs in a
            // namespace the caller owns.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::null())
        .status();
}

/// Processes running in `name`.
#[must_use]
pub fn pids(name: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", name])
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `ip -n NAME ARGS...`.
pub fn ip(name: &str, args: &[&str]) -> Result<()> {
    run(Command::new("ip").args(["-n", name]).args(args))
}

/// A command that runs `program` inside `name` (`ip netns exec`), for the
/// caller to add arguments, output and environment to.
#[must_use]
pub fn command(name: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", name]).arg(program);
    cmd
}

/// One end of a veth pair.
#[derive(Clone, Copy, Debug)]
pub struct End<'a> {
    /// `None`: the namespace of the caller.
    pub ns: Option<&'a str>,
    pub dev: &'a str,
    /// CIDR to add, if any (an end that joins a bridge has none).
    pub addr: Option<&'a str>,
}

impl<'a> End<'a> {
    #[must_use]
    pub const fn new(ns: &'a str, dev: &'a str) -> Self {
        Self {
            ns: Some(ns),
            dev,
            addr: None,
        }
    }

    /// An end that stays in the caller's namespace (e.g. the root one).
    #[must_use]
    pub const fn here(dev: &'a str) -> Self {
        Self {
            ns: None,
            dev,
            addr: None,
        }
    }

    #[must_use]
    pub const fn addr(self, cidr: &'a str) -> Self {
        Self {
            addr: Some(cidr),
            ..self
        }
    }

    fn ip(&self, args: &[&str]) -> Result<()> {
        match self.ns {
            Some(ns) => ip(ns, args),
            None => run(Command::new("ip").args(args)),
        }
    }
}

/// A veth pair from `a` to `b`, each end in its namespace, addressed and up.
/// IPv6 addresses skip duplicate address detection, so they are usable at
/// once instead of after a second of "tentative".
pub fn veth(a: End<'_>, b: End<'_>) -> Result<()> {
    let mut add = vec!["link", "add", a.dev];
    if let Some(ns) = a.ns {
        add.extend(["netns", ns]);
    }
    add.extend(["type", "veth", "peer", "name", b.dev]);
    if let Some(ns) = b.ns {
        add.extend(["netns", ns]);
    }
    run(Command::new("ip").args(&add))?;
    for end in [a, b] {
        if let Some(cidr) = end.addr {
            let mut args = vec!["addr", "add", cidr, "dev", end.dev];
            if cidr.contains(':') {
                args.push("nodad");
            }
            end.ip(&args)?;
        }
        end.ip(&["link", "set", end.dev, "up"])?;
    }
    Ok(())
}

/// Move the calling thread into `name`: sockets it opens from then on live
/// there. Only this thread moves (`setns` is per thread), which is why
/// [`spawn`] exists.
pub fn enter(name: &str) -> Result<()> {
    let file = File::open(path(name)).map_err(|source| Error::Open {
        name: name.to_owned(),
        source,
    })?;
    // SAFETY: a valid namespace fd; setns changes only the calling thread.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(Error::Enter {
            name: name.to_owned(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Run `f` on a new thread that has entered `name`.
pub fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<Result<T>> {
    let name = name.to_owned();
    std::thread::spawn(move || {
        enter(&name)?;
        Ok(f())
    })
}

/// A namespace that exists while this value does: created by
/// [`NetNs::new`], deleted (with what runs inside) on drop, also when a
/// test panics.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    pub fn new(name: &str) -> Result<Self> {
        create(name)?;
        Ok(Self {
            name: name.to_owned(),
        })
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ip(&self, args: &[&str]) -> Result<()> {
        ip(&self.name, args)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        delete(&self.name);
    }
}

/// Run `cmd` to completion; its stderr goes into the error.
fn run(cmd: &mut Command) -> Result<()> {
    let command = render(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

fn render(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_command_and_its_complaint() {
        let err = run(Command::new("sh").args(["-c", "echo no such device >&2; exit 2"]))
            .expect_err("exit 2");
        let text = err.to_string();
        assert!(text.starts_with("`sh -c echo no such device"), "{text}");
        assert!(text.ends_with(": no such device"), "{text}");
        assert!(matches!(
            run(&mut Command::new("/nonexistent/ip")),
            Err(Error::Spawn { .. })
        ));
    }

    #[test]
    fn missing_namespaces_are_absent_and_deleting_them_is_fine() {
        let name = "stk-never-created";
        assert!(!exists(name));
        assert!(!list().iter().any(|n| n == name));
        delete(name);
        assert!(matches!(enter(name), Err(Error::Open { .. })));
    }
}
