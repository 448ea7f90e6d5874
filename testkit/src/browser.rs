//! Headless Chromium (Debian's `chromium`, `cargo xtask setup` installs it)
//! driven over the `DevTools` protocol, for the web panel's tests: open a
//! page, run JavaScript in it, wait for a condition, take a screenshot.
//! The protocol directly, over one WebSocket, rather than `WebDriver`: no
//! chromium-driver process and no client crate with its own HTTP stack.
//!
//! The browser gets a fresh profile in a temporary folder and is killed
//! (with its children) on drop.

use std::{
    net::TcpStream,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

/// Where Debian puts it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    profile: PathBuf,
}

/// True when Chromium is installed; otherwise prints a loud skip banner
/// (the test returns early, never passes silently).
#[must_use]
pub fn available(test: &str) -> bool {
    let there = Path::new(CHROMIUM).exists();
    if !there {
        eprintln!(
            "\n!!!!!!!! SKIPPED {test}: needs Debian's chromium; run `cargo xtask setup` (or `cargo xtask test`) !!!!!!!!\n"
        );
    }
    there
}

impl Browser {
    /// Start a headless Chromium with a `width` x `height` window and attach
    /// to a blank page.
    #[must_use]
    pub fn launch(width: u32, height: u32) -> Self {
        let profile = std::env::temp_dir().join(format!(
            "siplat-chromium-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile dir");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromium");
        // Chromium writes the port it picked and the browser's path here.
        let port_file = profile.join("DevToolsActivePort");
        let start = Instant::now();
        let text = loop {
            if let Ok(t) = std::fs::read_to_string(&port_file)
                && t.lines().count() >= 2
            {
                break t;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut lines = text.lines();
        let port = lines.next().unwrap_or_default().trim().to_owned();
        let path = lines.next().unwrap_or_default().trim().to_owned();
        let (ws, _) =
            tungstenite::connect(format!("ws://127.0.0.1:{port}{path}")).expect("DevTools socket");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60)))
                .expect("read timeout");
        }
        let mut b = Self {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            profile,
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
        let id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": id, "flatten": true }),
        );
        attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .clone_into(&mut b.session);
        b.call("Page.enable", json!({}));
        b.call("Runtime.enable", json!({}));
        b
    }

    /// One protocol command; events arriving meanwhile are dropped.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "callers build the params inline with json!"
    )]
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("DevTools send");
        loop {
            let m = self.ws.read().expect("DevTools read");
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).expect("DevTools JSON");
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// Load `url` and wait until the document has loaded.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(30),
        );
    }

    /// Evaluate `expr` in the page (promises awaited) and return its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expr}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Poll `cond` (a JavaScript expression) until it is truthy; returns its
    /// value, panics after `timeout` with the condition in the message.
    pub fn wait_for(&mut self, cond: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.eval(cond);
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "page never satisfied `{cond}` within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A PNG of the whole page.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let data = data_encoding::BASE64
            .decode(r["data"].as_str().expect("screenshot data").as_bytes())
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, data).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group we created.
        unsafe { libc::kill(-i32::try_from(self.child.id()).unwrap_or(0), libc::SIGKILL) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
