//! The caller protocol end to end, without root: three `siplat-testbed
//! caller` processes, each running a real SIPp on loopback against one SIPp
//! answering (built-in `uas`), join the panel's controller; the controller
//! plays an uploaded constant-rate CSV split over them. What the three SIPp
//! actually placed, from their own counters as they reported them, adds up
//! to the scenario's rate within 2 %.

#![allow(clippy::doc_markdown, reason = "SIPp is a name, not code")]

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use testkit::panel::Panel;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siplat-testbed"))
}

/// A child stopped on drop: SIGTERM (a caller then quits its SIPp), then
/// SIGKILL after 5 s.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        testbed::proc::stop(self.0.id(), Duration::from_secs(5));
        let _ = self.0.wait();
    }
}

const RATE: f64 = 60.0;
const SECONDS: usize = 30;
const CALLERS: u16 = 3;
/// Ports picked away from the testbed's (5060-5062, 8888-8889).
const UAS_PORT: u16 = 15_070;

/// `created` at Unix time `t`, interpolated between a caller's reports.
fn created_at(reports: &[Value], t: f64) -> f64 {
    let pts: Vec<(f64, f64)> = reports
        .iter()
        .map(|r| {
            (
                r["at_unix"].as_f64().expect("at"),
                r["created"].as_f64().expect("created"),
            )
        })
        .collect();
    for w in pts.windows(2) {
        let ((t0, c0), (t1, c1)) = (w[0], w[1]);
        if t0 <= t && t <= t1 && t1 > t0 {
            return c0 + (c1 - c0) * (t - t0) / (t1 - t0);
        }
    }
    panic!("no reports around {t}: {pts:?}");
}

#[test]
fn several_callers_share_the_scenario_rate() {
    if !std::path::Path::new("/usr/bin/sipp").exists() {
        eprintln!(
            "\n!!!!!!!! SKIPPED several_callers_share_the_scenario_rate: needs SIPp (Debian sip-tester); run `cargo xtask setup` !!!!!!!!\n"
        );
        return;
    }
    let work = std::env::temp_dir().join(format!("siplat-controller-{}", std::process::id()));
    let panel = Panel::start(&bin(), &work.join("panel"), &[]);
    let log = std::fs::File::create(work.join("uas.log")).expect("log");
    let _uas = Guard(
        Command::new("sipp")
            .args(["-nostdin", "-sn", "uas", "-i", "127.0.0.1", "-p"])
            .arg(UAS_PORT.to_string())
            .args(["-cp", "18880"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("uas"),
    );
    let ws = format!("ws://{}/controller", panel.addr);
    let _callers: Vec<Guard> = (0..CALLERS)
        .map(|i| {
            let out = work.join(format!("caller-{i}"));
            std::fs::create_dir_all(&out).expect("caller dir");
            Guard(
                Command::new(bin())
                    .args(["caller", "--controller", &ws, "--target"])
                    .arg(format!("127.0.0.1:{UAS_PORT}"))
                    .args(["--sip-port", &(15_080 + i).to_string()])
                    .args(["--control-port", &(18_890 + i).to_string()])
                    .args(["--hold-ms", "100", "--name", &format!("caller-{i}")])
                    .arg("--out")
                    .arg(&out)
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(out.join("caller.log")).expect("log"))
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("caller"),
            )
        })
        .collect();
    testkit::wait_for("three callers", Duration::from_secs(20), || {
        panel.get("/api/controller")["clients"]
            .as_array()
            .is_some_and(|c| c.len() == usize::from(CALLERS))
    });
    let csv = scenario::Scenario::from_rates(&[RATE; SECONDS]).to_csv();
    let (code, body) = panel.send("PUT", "/api/scenarios/constant.csv", &csv);
    assert_eq!(code, 201, "{body}");
    let (code, body) = panel.send(
        "POST",
        "/api/controller/play",
        r#"{"scenario":"file:constant.csv","pool":"nobody"}"#,
    );
    assert_eq!(code, 503, "no caller in that pool: {body}");
    let (code, body) = panel.send(
        "POST",
        "/api/controller/play",
        r#"{"scenario":"file:constant.csv","pool":"default"}"#,
    );
    assert_eq!(code, 202, "{body}");
    let started = testbed::proc::now_unix();
    let (again, _) = panel.send(
        "POST",
        "/api/controller/play",
        r#"{"scenario":"file:constant.csv"}"#,
    );
    assert_eq!(again, 409, "one controller play at a time");
    let deadline = Instant::now() + Duration::from_secs(SECONDS as u64 + 20);
    while panel.get("/api/controller")["plays"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
    {
        assert!(Instant::now() < deadline, "the play did not end");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2));
    let view = panel.get("/api/controller");
    // Judge the steady part: from 5 s in (SIPp follows a new rate after
    // ~1 s) to 3 s before the end.
    let (t1, t2) = (started + 5.0, started + SECONDS as f64 - 3.0);
    let mut total = 0.0;
    for c in view["clients"].as_array().expect("clients") {
        let reports = c["reports"].as_array().expect("reports");
        let rate = (created_at(reports, t2) - created_at(reports, t1)) / (t2 - t1);
        eprintln!("{}: {rate:.2} calls/s", c["name"]);
        assert!(
            rate > RATE / f64::from(CALLERS) * 0.8,
            "{}: {rate}",
            c["name"]
        );
        total += rate;
    }
    let error = (total - RATE).abs() / RATE;
    eprintln!(
        "{CALLERS} callers placed {total:.2} calls/s together, scenario {RATE}: {:.2} % off",
        error * 100.0
    );
    assert!(error < 0.02, "sum {total} vs {RATE}");
    let _ = std::fs::remove_dir_all(&work);
}
