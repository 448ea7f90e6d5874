//! The real siplat agent, in the bridge namespace with `--placement host`:
//! each proxy's (and the LB's) host-side veth is its own `iface` label, and
//! veths of proxies added later are picked up by its rescan.

use std::{
    io::{Read as _, Write as _},
    net::{TcpStream, ToSocketAddrs as _},
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::{STATE_DIR, netns, proc};

pub const PORT: u16 = 9660;
/// `/samples` on the bridge address too: the driver reads it from the root
/// namespace, where the agent's loopback (in `tb-net`) is out of reach.
pub const SAMPLES_PORT: u16 = 9661;

pub fn url() -> String {
    format!("http://{}:{PORT}", netns::BRIDGE_ADDR)
}

fn addr() -> String {
    format!("{}:{PORT}", netns::BRIDGE_ADDR)
}

/// `--agent`, else target/debug/siplat-agent in `$CARGO_TARGET_DIR` or the
/// workspace, else build it there.
pub fn binary(explicit: Option<&PathBuf>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.clone());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || crate::proc::workspace_root().join("target"),
        PathBuf::from,
    );
    let candidates = [
        target.join("debug/siplat-agent"),
        crate::proc::workspace_root().join("target/debug/siplat-agent"),
    ];
    if let Some(found) = candidates.iter().find(|p| p.exists()) {
        return Ok(found.clone());
    }
    crate::proc::exec(crate::proc::cargo().args([
        "build",
        "-p",
        "agent",
        "--bin",
        "siplat-agent",
    ]))?;
    Ok(candidates[0].clone())
}

pub fn start(bin: &std::path::Path) -> Result<u32> {
    let args = vec![
        bin.display().to_string(),
        "--placement".into(),
        "host".into(),
        "--iface".into(),
        netns::AGENT_IFACES.into(),
        "--listen".into(),
        addr(),
        "--samples-listen".into(),
        format!("{}:{SAMPLES_PORT}", netns::BRIDGE_ADDR),
        "--rescan-interval".into(),
        "1".into(),
    ];
    let pid = proc::spawn(
        Some(netns::BRIDGE_NS),
        &[],
        &args,
        &PathBuf::from(STATE_DIR).join("agent.log"),
    )?;
    let start = Instant::now();
    while http_get(&addr(), "/healthz").is_err() {
        if !proc::alive(pid) || start.elapsed() > Duration::from_secs(30) {
            bail!("agent did not come up; see {STATE_DIR}/agent.log");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(pid)
}

/// Wait until the agent has attached `n` interfaces (LB + proxies).
pub fn wait_attached(n: usize, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let text = get("/metrics");
        let attached = text
            .as_ref()
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("siplat_agent_attached_interfaces ")
                        .and_then(|v| v.trim().parse::<f64>().ok())
                })
            })
            .unwrap_or(0.0);
        if attached >= n as f64 {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!(
                "agent attached {attached} interfaces, want {n} (last scrape: {:?})",
                text.map(|t| t.len())
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn get(path: &str) -> Result<String> {
    let (code, body) = http_get(&addr(), path)?;
    anyhow::ensure!(code == 200, "agent {path}: HTTP {code}");
    Ok(body)
}

/// The newest `limit` raw samples (JSON), from the samples listener.
pub fn samples(limit: usize) -> Result<String> {
    let addr = format!("{}:{SAMPLES_PORT}", netns::BRIDGE_ADDR);
    let (code, body) = http_get(&addr, &format!("/samples?limit={limit}"))?;
    anyhow::ensure!(code == 200, "agent /samples: HTTP {code}");
    Ok(body)
}

/// Minimal HTTP/1.0 GET (no client crate): (status, body). Stops at
/// Content-Length: Kamailio's xhttp keeps the connection open.
pub fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    let sock = addr.to_socket_addrs()?.next().context("address")?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    // (end of headers, Content-Length) once the headers are complete.
    let mut head: Option<(usize, Option<usize>)> = None;
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if head.is_none()
            && let Some(i) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n")
        {
            let end = from + i;
            let text = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = text.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            head = Some((end, length));
        }
        if let Some((end, Some(len))) = head
            && buf.len() >= end + 4 + len
        {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("HTTP status line")?;
    Ok((
        code,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    ))
}
