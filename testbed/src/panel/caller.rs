//! `siplat-testbed caller`: one SIPp caller under the controller's orders
//! (report 3.3.2). It connects to the controller's WebSocket, starts SIPp
//! paused, applies every assigned rate through SIPp's control port
//! (`cset rate`), and reports SIPp's counters once a second. When the
//! controller goes away the load stops: a caller never places calls on its
//! own. A caller pod on Kubernetes runs exactly this (manifests/callers).

use std::{path::PathBuf, time::Duration};

use anyhow::{Context as _, Result, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

use super::protocol::{self, ClientMsg, ControllerMsg};
use crate::sipp::{self, Sipp};

#[derive(clap::Args, Clone, Debug)]
pub struct CallerOptions {
    /// The controller's WebSocket (ws://host:port/controller).
    #[arg(long, env = "SIPLAT_CALLER_CONTROLLER")]
    pub controller: String,
    /// Where SIPp sends its calls: the load balancer, host:port (not with
    /// `--testbed`).
    #[arg(
        long,
        env = "SIPLAT_CALLER_TARGET",
        required_unless_present = "testbed"
    )]
    pub target: Option<String>,
    /// The local testbed's caller: SIPp in its callers namespace on the
    /// testbed's caller.xml towards its load balancer (needs root), its
    /// counters in `--out` where `siplat-testbed run` reads them.
    #[arg(long)]
    pub testbed: bool,
    /// The callers a play is split over: the controller plays one pool at
    /// a time per play (the panel's local runs use a pool of their own).
    #[arg(long, env = "SIPLAT_CALLER_POOL", default_value = protocol::DEFAULT_POOL)]
    pub pool: String,
    /// SIPp scenario XML (the testbed's caller.xml on the testbed and in the
    /// pods); default SIPp's built-in `uac`.
    #[arg(long, env = "SIPLAT_CALLER_SCENARIO_XML")]
    pub scenario_xml: Option<PathBuf>,
    /// Local address SIPp binds (a pod's IP).
    #[arg(long, env = "SIPLAT_CALLER_LOCAL_IP", default_value = "127.0.0.1")]
    pub local_ip: String,
    /// Local SIP port.
    #[arg(long, env = "SIPLAT_CALLER_SIP_PORT", default_value_t = 5060)]
    pub sip_port: u16,
    /// SIPp's UDP control port (on loopback).
    #[arg(long, env = "SIPLAT_CALLER_CONTROL_PORT", default_value_t = 8888)]
    pub control_port: u16,
    /// How long each call is held between ACK and BYE, in ms.
    #[arg(long, env = "SIPLAT_CALLER_HOLD_MS", default_value_t = 2000)]
    pub hold_ms: u64,
    /// Name shown on the panel (default: host name and SIP port).
    #[arg(long, env = "SIPLAT_CALLER_NAME")]
    pub name: Option<String>,
    /// Folder for SIPp's log and stat file (default: a temporary folder).
    #[arg(long, env = "SIPLAT_CALLER_OUT")]
    pub out: Option<PathBuf>,
}

fn check(o: &CallerOptions) -> Result<()> {
    if !(o.controller.starts_with("ws://") && o.controller.len() <= 512) {
        bail!("--controller {}: a ws:// URL", o.controller);
    }
    if let Some(target) = &o.target {
        let target_ok = target
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
            && !target.starts_with('-');
        if !target_ok {
            bail!("--target {target}: host:port");
        }
    }
    if !protocol::valid_pool(&o.pool) {
        bail!("--pool {}: 1-64 letters, digits, '-' or '_'", o.pool);
    }
    if o.local_ip.parse::<std::net::IpAddr>().is_err() {
        bail!("--local-ip {}: an IP address", o.local_ip);
    }
    Ok(())
}

pub fn run(o: &CallerOptions) -> Result<()> {
    check(o)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(follow(o))
}

fn sipp_args(o: &CallerOptions, stat: &std::path::Path) -> Vec<String> {
    let mut args = sipp::stat_args(stat);
    match &o.scenario_xml {
        Some(xml) => args.extend(["-sf".to_owned(), xml.display().to_string()]),
        None => args.extend(["-sn".to_owned(), "uac".to_owned()]),
    }
    args.extend(
        [
            "-p",
            &o.sip_port.to_string(),
            "-cp",
            &o.control_port.to_string(),
            "-r",
            "0",
            "-d",
            &o.hold_ms.to_string(),
            "-recv_timeout",
            "32000",
            o.target.as_deref().unwrap_or_default(),
        ]
        .map(str::to_owned),
    );
    args
}

async fn follow(o: &CallerOptions) -> Result<()> {
    let out = o.out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("siplat-caller-{}", std::process::id()))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let name = o.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}:{}", host.trim(), o.sip_port)
    });
    let (ws, _) = tokio_tungstenite::connect_async(o.controller.as_str())
        .await
        .with_context(|| format!("connect to the controller {}", o.controller))?;
    let (mut sink, mut stream) = ws.split();
    let hello = ClientMsg::Hello {
        name: name.clone(),
        version: protocol::VERSION,
        pool: o.pool.clone(),
    };
    sink.send(Message::text(serde_json::to_string(&hello)?))
        .await?;
    let stat = out.join(sipp::CALLER_STAT);
    let mut sipp = if o.testbed {
        sipp::controlled_caller(&out, o.hold_ms)?
    } else {
        Sipp::spawn_local(
            &o.local_ip,
            &sipp_args(o, &stat),
            &out.join("sipp-caller.log"),
            o.control_port,
            stat.clone(),
        )?
    };
    tracing::info!(%name, controller = %o.controller, "caller connected; SIPp paused until the first assignment");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // SIPp restarts its rate period on every `cset rate`: send only changes.
    let mut applied: Option<f64> = None;
    // A pod being deleted or the panel ending a run: stop the load cleanly.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let result = loop {
        tokio::select! {
            _ = term.recv() => break Ok(()),
            _ = tokio::signal::ctrl_c() => break Ok(()),
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ControllerMsg>(&t) {
                    Ok(ControllerMsg::Assign { rate, second, clients }) => {
                        tracing::debug!(second, rate, clients, "assigned");
                        if applied.is_none_or(|a| (a - rate).abs() > 1e-6) {
                            sipp.set_rate(rate);
                            applied = Some(rate);
                        }
                    }
                    Ok(ControllerMsg::Welcome { id }) => tracing::info!(id, "welcomed"),
                    Ok(ControllerMsg::Bye { reason }) => break Err(anyhow::anyhow!("the controller refused this caller: {reason}")),
                    Err(e) => tracing::warn!("ignored a message from the controller: {e}"),
                },
                Some(Ok(Message::Close(_))) | None => break Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(anyhow::anyhow!("controller connection: {e}")),
            },
            _ = tick.tick() => {
                if !sipp.running() {
                    break Err(anyhow::anyhow!("SIPp exited; see {}", out.join("sipp-caller.log").display()));
                }
                let st = sipp::read_stats(&stat).unwrap_or_default();
                let report = ClientMsg::Report {
                    created: st.created,
                    failed: st.failed,
                    at_unix: sipp::read_series(&stat).last().map_or_else(crate::proc::now_unix, |(t, _)| *t),
                };
                if sink.send(Message::text(serde_json::to_string(&report)?)).await.is_err() {
                    break Ok(());
                }
            }
        }
    };
    // No controller, no load: pause, then quit SIPp (dropping it kills it
    // if it does not quit).
    sipp.set_rate(0.0);
    sipp.quit();
    let _ = sipp.wait(Duration::from_secs(5));
    tracing::info!(%name, "caller done");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CallerOptions {
        CallerOptions {
            controller: "ws://127.0.0.1:9670/controller".into(),
            target: Some("127.0.0.1:5070".into()),
            testbed: false,
            pool: protocol::DEFAULT_POOL.into(),
            scenario_xml: None,
            local_ip: "127.0.0.1".into(),
            sip_port: 5061,
            control_port: 8890,
            hold_ms: 100,
            name: None,
            out: None,
        }
    }

    #[test]
    fn options_are_checked_and_sipp_starts_paused() {
        assert!(check(&opts()).is_ok());
        for (controller, target) in [
            ("http://x/controller", "a:1"),
            ("ws://x", "nohost"),
            ("ws://x", "-x:1"),
        ] {
            let mut o = opts();
            o.controller = controller.into();
            o.target = Some(target.into());
            assert!(check(&o).is_err(), "{controller} {target}");
        }
        let args = sipp_args(&opts(), std::path::Path::new("/tmp/s.csv"));
        let r = args.iter().position(|a| a == "-r").expect("-r");
        assert_eq!(args[r + 1], "0", "paused until assigned");
        assert_eq!(args.last().map(String::as_str), Some("127.0.0.1:5070"));
    }
}
