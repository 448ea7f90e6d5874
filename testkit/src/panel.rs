//! `siplat-testbed panel` as its tests run it: on a free loopback port with
//! its own data folder, stopped on drop (SIGTERM: the panel stops a run in
//! progress and takes the testbed down before it exits).

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

pub struct Panel {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub data: PathBuf,
}

impl Panel {
    /// Start `bin panel --listen 127.0.0.1:0 --data DATA EXTRA...` and wait
    /// for the address it bound; its log goes on to `DATA/panel.log`.
    #[must_use]
    pub fn start(bin: &Path, data: &Path, extra: &[&str]) -> Self {
        let _ = std::fs::remove_dir_all(data);
        std::fs::create_dir_all(data).expect("panel data dir");
        let mut child = Command::new(bin)
            .args(["panel", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the panel");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the panel exited before it listened")
                .expect("panel stderr");
            if let Some(a) = line.strip_prefix("panel listening on http://") {
                break a.trim().to_owned();
            }
        };
        let log = data.join("panel.log");
        std::thread::spawn(move || {
            use std::io::Write as _;
            let mut f = std::fs::File::create(log).expect("panel log");
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(f, "{line}");
            }
        });
        Self {
            child,
            addr,
            data: data.to_path_buf(),
        }
    }

    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `GET path` as JSON.
    #[must_use]
    pub fn get(&self, path: &str) -> Value {
        let (code, body) = crate::http::request(&self.addr, "GET", path, "");
        assert_eq!(code, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// `method path body`: the status and the JSON answer.
    #[must_use]
    pub fn send(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (code, text) = crate::http::request(&self.addr, method, path, body);
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Panel {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the child we started.
        unsafe { libc::kill(i32::try_from(self.child.id()).unwrap_or(0), libc::SIGTERM) };
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
