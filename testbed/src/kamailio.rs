//! Kamailio boxes: the proxies and the load balancer, started from the ONE
//! copy of the configs in manifests/testbed/config/kamailio/ with `-A`
//! defines for what differs here (addresses, sockets, DB file).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::{STATE_DIR, agent::http_get, cgroup, netns, proc, state::Proxy};

/// Same secret on every proxy: a nonce issued by one is checked by another.
const AUTH_SECRET: &str = "siplat-testbed-nonce-secret";

pub fn config_dir() -> PathBuf {
    crate::proc::workspace_root().join("manifests/testbed/config")
}

pub fn run_dir(name: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(name)
}

pub fn ctl_socket(name: &str) -> String {
    format!("unix:{}", run_dir(name).join("ctl.sock").display())
}

fn db_path() -> PathBuf {
    PathBuf::from(STATE_DIR).join("subscribers.db")
}

pub fn ds_list_path() -> PathBuf {
    PathBuf::from(STATE_DIR).join("dispatcher.list")
}

/// The subscriber DB, from the same SQL the Kubernetes init container runs.
pub fn init_db() -> Result<()> {
    let _ = std::fs::remove_file(db_path());
    let sql =
        std::fs::read(config_dir().join("subscribers.sql")).context("read subscribers.sql")?;
    let mut child = Command::new("sqlite3")
        .arg(db_path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("spawn sqlite3")?;
    std::io::Write::write_all(child.stdin.as_mut().context("sqlite3 stdin")?, &sql)?;
    drop(child.stdin.take());
    anyhow::ensure!(child.wait()?.success(), "sqlite3 subscribers.sql failed");
    Ok(())
}

/// The `-A` defines every box gets: its addresses and control socket.
fn box_defines(name: &str, addr: &str) -> Vec<String> {
    vec![
        format!("LISTEN_IP={addr}"),
        format!("ADVERTISE_IP={addr}"),
        format!("CTL_SOCKET=\"{}\"", ctl_socket(name)),
    ]
}

/// The defines proxy `index` starts with; DMQ finds the others through
/// `notify`. Also what `cargo xtask manifests` checks proxy.cfg with, so
/// the check follows the testbed.
pub fn proxy_defines(index: u32, notify: &str) -> Vec<String> {
    let addr = netns::proxy(index).addr;
    let mut d = box_defines(&format!("sip-proxy-{index}"), &addr);
    d.extend([
        format!("DMQ_SERVER=\"sip:{addr}:5061\""),
        format!("DMQ_NOTIFY=\"sip:{notify}:5061\""),
        format!("AUTH_SECRET=\"{AUTH_SECRET}\""),
        format!("DB_URL=\"sqlite:///{}\"", db_path().display()),
    ]);
    d
}

/// The defines the load balancer starts with (loadb.cfg).
pub fn lb_defines() -> Vec<String> {
    let mut d = box_defines("sip-loadb", &netns::loadb().addr);
    d.push(format!("DS_LIST=\"{}\"", ds_list_path().display()));
    d
}

/// The first proxy's address: where a new proxy's DMQ looks for the others
/// when none runs.
pub fn first_proxy_addr() -> String {
    netns::proxy(1).addr
}

fn command(name: &str, cfg: &str, shm_mb: u32, defines: Vec<String>) -> Result<Vec<String>> {
    let dir = run_dir(name);
    std::fs::create_dir_all(&dir)?;
    let d = dir.display();
    let mut args: Vec<String> = vec![
        "kamailio".into(),
        "-f".into(),
        config_dir()
            .join("kamailio")
            .join(cfg)
            .display()
            .to_string(),
        "-DD".into(),
        "-E".into(),
        "-P".into(),
        format!("{d}/kamailio.pid"),
        "-Y".into(),
        d.to_string(),
        "-w".into(),
        d.to_string(),
        "-m".into(),
        shm_mb.to_string(),
    ];
    for define in defines {
        args.push("-A".into());
        args.push(define);
    }
    Ok(args)
}

/// Start proxy `index` under its CPU quota; DMQ finds the others through
/// `notify` (the first proxy's address).
pub fn start_proxy(
    index: u32,
    notify: &str,
    cpu_millis: u32,
    period_us: u64,
    shm_mb: u32,
) -> Result<Proxy> {
    let b = netns::proxy(index);
    let name = format!("sip-proxy-{index}");
    netns::create_box(&b)?;
    let groups = cgroup::create(&name, cpu_millis, period_us)?;
    let args = command(&name, "proxy.cfg", shm_mb, proxy_defines(index, notify))?;
    let refs: Vec<&Path> = groups.iter().map(PathBuf::as_path).collect();
    let started_unix = proc::now_unix();
    let pid = proc::spawn(
        Some(&b.ns),
        &refs,
        &args,
        &run_dir(&name).join("kamailio.log"),
    )?;
    Ok(Proxy {
        name,
        index,
        addr: b.addr,
        iface: b.veth,
        state: super::state::ProxyState::Active,
        pid,
        cpu_limit_millis: cpu_millis,
        started_unix,
        ready_unix: 0.0,
        drain_since_unix: None,
        boot_until_unix: None,
    })
}

/// The load balancer (no CPU quota: it must not be the bottleneck).
pub fn start_lb(shm_mb: u32) -> Result<u32> {
    let b = netns::loadb();
    netns::create_box(&b)?;
    let groups = cgroup::create("sip-loadb", 0, 100_000)?;
    let args = command("sip-loadb", "loadb.cfg", shm_mb, lb_defines())?;
    let refs: Vec<&Path> = groups.iter().map(PathBuf::as_path).collect();
    proc::spawn(
        Some(&b.ns),
        &refs,
        &args,
        &run_dir("sip-loadb").join("kamailio.log"),
    )
}

/// One `GET http://<addr>:8080/ready`: true on 200.
pub fn is_ready(addr: &str) -> bool {
    http_get(&format!("{addr}:8080"), "/ready").is_ok_and(|(code, _)| code == 200)
}

/// Poll `GET http://<addr>:8080/ready` until 200 (the process must stay alive).
pub fn wait_ready(name: &str, addr: &str, pid: u32, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if is_ready(addr) {
            return Ok(());
        }
        if !proc::alive(pid) {
            bail!(
                "{name} exited; see {}",
                run_dir(name).join("kamailio.log").display()
            );
        }
        if start.elapsed() > timeout {
            bail!(
                "{name} not ready after {timeout:?}; see {}",
                run_dir(name).join("kamailio.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn kamcmd(name: &str, args: &[&str]) -> Result<String> {
    proc::output(
        Command::new("kamcmd")
            .args(["-s", &ctl_socket(name)])
            .args(args),
    )
}

/// The dispatcher list file: set 1 = the active proxies. Written to a
/// temporary file and renamed, so the LB never reads half a list.
pub fn write_ds_list(addrs: &[String]) -> Result<()> {
    let mut list = String::new();
    for a in addrs {
        let _ = writeln!(list, "1 sip:{a}:5060 0 0");
    }
    let tmp = ds_list_path().with_extension("tmp");
    std::fs::write(&tmp, list)?;
    std::fs::rename(&tmp, ds_list_path())?;
    Ok(())
}

/// Write the destination list (set 1) and make the LB re-read it. The
/// reply and the LB's own listing are checked: a failed reload (e.g.
/// "Ongoing reload") is otherwise silent.
pub fn set_destinations(addrs: &[String]) -> Result<()> {
    write_ds_list(addrs)?;
    let reply = kamcmd("sip-loadb", &["dispatcher.reload"])?;
    if reply.contains("error") || reply.contains("500") {
        bail!("dispatcher.reload: {reply}");
    }
    let listing = kamcmd("sip-loadb", &["dispatcher.list"])?;
    for a in addrs {
        anyhow::ensure!(
            listing.contains(&format!("sip:{a}:5060")),
            "LB set lacks {a} after reload:\n{listing}"
        );
    }
    let listed = listing.matches("URI:").count();
    anyhow::ensure!(
        listed == addrs.len(),
        "LB set has {listed} destinations, want {}:\n{listing}",
        addrs.len()
    );
    Ok(())
}

/// Transactions a proxy still holds (tm `current`), None if it does not answer.
pub fn tm_current(name: &str) -> Option<u64> {
    let out = kamcmd(name, &["tm.stats"]).ok()?;
    out.lines().find_map(|l| {
        l.trim()
            .strip_prefix("current:")
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Contacts in a proxy's location table (usrloc), for the DMQ sync check:
/// `lookup` needs a contact, not just its `AoR`. `None` when the proxy does
/// not answer. The stat is named without its group (`kex` answers an empty
/// list to `usrloc:location_contacts`), and the answer is checked by name:
/// kamcmd prints RPC errors on stdout and exits 0.
pub fn registered(name: &str) -> Option<u64> {
    let out = kamcmd(name, &["stats.get_statistics", "location_contacts"]).ok()?;
    out.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        (key.trim() == "usrloc:location_contacts")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}
