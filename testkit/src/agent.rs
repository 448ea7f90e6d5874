//! The agent binary under test, running in a namespace of the test: started
//! with the flags the test gives, read through its HTTP endpoints from
//! inside that namespace, stopped on drop (also when the test panics, so no
//! program stays attached to an interface).

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use crate::{
    http,
    metrics::Metrics,
    namespace::{Netns, run_in},
};

/// The agent running in a namespace; killed (SIGTERM, then SIGKILL) on drop.
pub struct Agent {
    pub child: Option<Child>,
    pub ns: String,
    pub port: u16,
    /// Port of `/samples` (`--samples-listen`): `port + 1`.
    pub samples_port: u16,
    pub log: PathBuf,
}

impl Agent {
    /// `bin` (the test's `env!("CARGO_BIN_EXE_siplat-agent")`) in `ns`,
    /// listening on 127.0.0.1:`port` there (`/samples` on `port + 1`);
    /// returns once it has attached to one interface.
    #[must_use]
    pub fn start(bin: impl AsRef<Path>, ns: &Netns, port: u16, args: &[&str]) -> Self {
        Self::start_with_env(bin, ns, port, args, &[])
    }

    /// As [`Agent::start`], with extra environment variables.
    #[must_use]
    pub fn start_with_env(
        bin: impl AsRef<Path>,
        ns: &Netns,
        port: u16,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let agent = Self::spawn(bin, ns, port, args, env);
        agent.wait_attached(1, Duration::from_secs(30));
        agent
    }

    /// As [`Agent::start_with_env`], but returns at once: for an agent that
    /// is expected not to attach.
    #[must_use]
    pub fn spawn(
        bin: impl AsRef<Path>,
        ns: &Netns,
        port: u16,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = std::env::temp_dir().join(format!("siplat-agent-{}-{port}.log", ns.name));
        let file = std::fs::File::create(&log).expect("log file");
        let listen = format!("127.0.0.1:{port}");
        let samples_port = port + 1;
        let samples_listen = format!("127.0.0.1:{samples_port}");
        let child = ::netns::command(&ns.name, bin.as_ref())
            .args(["--listen", &listen, "--rescan-interval", "1"])
            .args(["--samples-listen", &samples_listen])
            .args(args)
            .env("SIPLAT_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn agent");
        Self {
            child: Some(child),
            ns: ns.name.clone(),
            port,
            samples_port,
            log,
        }
    }

    /// Body of `GET path`; panics when the agent does not answer.
    #[must_use]
    pub fn get(&self, path: &str) -> String {
        let (port, path) = (self.port, path.to_owned());
        run_in(&self.ns, move || http::get_local(port, &path))
            .join()
            .expect("http thread")
    }

    /// Body of `/samples?limit=N`, from the samples listener.
    #[must_use]
    pub fn samples(&self, limit: usize) -> String {
        let (port, path) = (self.samples_port, format!("/samples?limit={limit}"));
        run_in(&self.ns, move || http::get_local(port, &path))
            .join()
            .expect("http thread")
    }

    /// Like `get`, but `None` while the agent is not listening yet.
    #[must_use]
    pub fn try_get(&self, path: &str) -> Option<String> {
        let (port, path, ns) = (self.port, path.to_owned(), self.ns.clone());
        std::thread::spawn(move || {
            ::netns::enter(&ns).ok()?;
            TcpStream::connect(("127.0.0.1", port)).ok()?;
            Some(http::get_local(port, &path))
        })
        .join()
        .ok()
        .flatten()
    }

    #[must_use]
    pub fn metrics(&self) -> Metrics {
        Metrics::parse(&self.get("/metrics"))
    }

    /// Wait until the agent reports `n` attached interfaces; panics with its
    /// log after `timeout`.
    pub fn wait_attached(&self, n: u64, timeout: Duration) {
        let start = Instant::now();
        loop {
            let text = self.try_get("/metrics").unwrap_or_default();
            let want = n as f64;
            if Metrics::parse(&text).value("siplat_agent_attached_interfaces", &[]) >= want {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "agent did not attach {n} interfaces; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    #[must_use]
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Stop with `signal` and wait for the exit (SIGKILL after 10 s).
    pub fn stop(&mut self, signal: i32) {
        if let Some(mut child) = self.child.take() {
            // `ip netns exec` execs the agent, so the pid is the agent's.
            // SAFETY: plain kill(2) on our child.
            unsafe { libc::kill(i32::try_from(child.id()).unwrap_or(0), signal) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop(libc::SIGTERM);
    }
}
