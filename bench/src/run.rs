//! The whole benchmark, in phases so each attachment is set up once:
//! nothing attached (closed loop), the empty program, the agent, then
//! dumpcap; `BPF_PROG_TEST_RUN` last. Prints the tables, writes the files.

use std::{path::PathBuf, time::Instant};

use anyhow::{Context as _, Result};
use loadgen::{Kind, pace::Rate};

use crate::{
    Options,
    live::{self, AgentUnderTest, EmptyProgram, Load, Topology},
    report::{self, Closed, Jsonl, Record, Row},
    stats, testrun,
};

/// Highest rate captured (pairs/s).
const CAPTURE_MAX: f64 = 20e3;

struct Plan {
    kinds: Vec<Kind>,
    rates: Vec<Rate>,
    capture_rates: Vec<Rate>,
    seconds: f64,
    closed_seconds: f64,
    test_run_frames: u64,
}

impl Plan {
    fn new(o: &Options) -> Self {
        let kinds = if o.kinds.is_empty() {
            Kind::ALL.to_vec()
        } else {
            o.kinds.clone()
        };
        let default_rates: &[Rate] = if o.quick {
            &[Rate::PerSecond(20e3), Rate::Max]
        } else {
            &[
                Rate::PerSecond(2e3),
                Rate::PerSecond(20e3),
                Rate::PerSecond(100e3),
                Rate::Max,
            ]
        };
        let rates = if o.rates.is_empty() {
            default_rates.to_vec()
        } else {
            o.rates.clone()
        };
        // tshark needs 75-260 us a packet (2026-12-01): 5 s at 100k/s
        // would be minutes of tshark per run, so captures stop at 20k/s.
        // Quick: 20k/s only.
        let capture_rates = rates
            .iter()
            .copied()
            .filter(|r| matches!(r, Rate::PerSecond(v) if *v <= CAPTURE_MAX && (!o.quick || *v >= CAPTURE_MAX)))
            .collect();
        Self {
            kinds,
            rates,
            capture_rates,
            seconds: o.seconds.unwrap_or(if o.quick { 2.0 } else { 5.0 }),
            closed_seconds: if o.quick { 3.0 } else { 10.0 },
            test_run_frames: if o.quick { 2_000 } else { 20_000 },
        }
    }

    fn loads(&self) -> impl Iterator<Item = Load> + '_ {
        self.kinds.iter().flat_map(move |&kind| {
            self.rates.iter().map(move |&rate| Load {
                kind,
                rate,
                seconds: self.seconds,
            })
        })
    }
}

fn record<'a>(mode: &'a str, load: &Load) -> Record<'a> {
    Record {
        part: "live",
        mode,
        kind: load.kind,
        rate: load.rate.to_string(),
        seconds: load.seconds,
        sent: None,
        agent: None,
        empty: None,
        capture: None,
        closed: None,
        test_run: None,
        profile: None,
    }
}

fn agent_bin(agent: Option<PathBuf>) -> Result<PathBuf> {
    Ok(match agent {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("siplat-agent"),
    })
}

#[expect(clippy::print_stdout, reason = "the table is the output")]
pub fn profile_only(agent: Option<PathBuf>, frames: u64) -> Result<()> {
    let object = stats::agent_object(&agent_bin(agent)?)?;
    let p = testrun::profile(
        &object,
        frames,
        &std::env::temp_dir().join("siplat-profile.perf"),
    )?;
    println!("{}", report::profile_table(&p));
    Ok(())
}

#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the tables and progress are the output"
)]
#[expect(clippy::too_many_lines, reason = "the phases in order, one script")]
pub fn run(o: &Options) -> Result<()> {
    let started = Instant::now();
    let plan = Plan::new(o);
    let out = o
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("results/bench-{}", testbed::proc::unix_secs())));
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let agent_bin = agent_bin(o.agent.clone())?;
    let object = stats::agent_object(&agent_bin)?;
    let mut jsonl = Jsonl::create(&out.join("runs.jsonl"))?;
    let _stats = stats::StatsEnabled::on()?;
    let topo = Topology::new();
    let mut rows: Vec<Row> = plan
        .loads()
        .map(|l| Row {
            kind: Some(l.kind),
            rate: Some(l.rate),
            ..Row::default()
        })
        .collect();
    let closed_kind = Kind::Invite;

    eprintln!("== closed loop, nothing attached");
    let bare = live::closed(closed_kind, o.outstanding, plan.closed_seconds)?;

    eprintln!(
        "== empty program ({})",
        agent_common::config::programs::TC_EMPTY
    );
    let empty_closed = {
        let empty = EmptyProgram::attach(&object)?;
        for (row, load) in rows.iter_mut().zip(plan.loads()) {
            let (sent, hooks) = empty.measure(&load)?;
            eprintln!(
                "   {} {}: {} sent",
                load.kind.name(),
                load.rate,
                sent.client.sent
            );
            jsonl.write(&Record {
                sent: Some(sent),
                empty: Some(hooks),
                ..record("empty", &load)
            })?;
            row.empty = Some((sent, hooks));
        }
        live::closed(closed_kind, o.outstanding, plan.closed_seconds)?
    };

    eprintln!("== agent ({})", agent_bin.display());
    let agent_closed = {
        let agent = AgentUnderTest::start(&agent_bin, &topo)?;
        for (row, load) in rows.iter_mut().zip(plan.loads()) {
            let (sent, figures) = agent.measure(&load)?;
            eprintln!(
                "   {} {}: {} sent, {} samples",
                load.kind.name(),
                load.rate,
                sent.client.sent,
                figures.samples
            );
            jsonl.write(&Record {
                sent: Some(sent),
                agent: Some(figures),
                ..record("agent", &load)
            })?;
            row.agent = Some((sent, figures));
        }
        live::closed(closed_kind, o.outstanding, plan.closed_seconds)?
    };

    eprintln!("== dumpcap + tshark");
    for (row, load) in rows.iter_mut().zip(plan.loads()) {
        if !plan.capture_rates.contains(&load.rate) {
            continue;
        }
        let (sent, c) = live::capture(&load, &out)?;
        eprintln!(
            "   {} {}: {} frames, {} pairs",
            load.kind.name(),
            load.rate,
            c.frames,
            c.pairs
        );
        jsonl.write(&Record {
            sent: Some(sent),
            capture: Some(c),
            ..record("capture", &load)
        })?;
        row.capture = Some((sent, c));
    }
    drop(topo);

    let closed = Closed {
        kind: closed_kind,
        outstanding: o.outstanding,
        bare,
        empty: empty_closed,
        agent: agent_closed,
    };
    for (mode, c) in [
        ("bare", bare),
        ("empty", empty_closed),
        ("agent", agent_closed),
    ] {
        jsonl.write(&Record {
            part: "closed",
            closed: Some(c),
            rate: format!("{} outstanding", o.outstanding),
            seconds: plan.closed_seconds,
            ..record(
                mode,
                &Load {
                    kind: closed_kind,
                    rate: Rate::Max,
                    seconds: plan.closed_seconds,
                },
            )
        })?;
    }

    eprintln!("== BPF_PROG_TEST_RUN");
    // The library's loader must match the agent binary's object: a
    // mismatch (one rebuilt without the other) fails here, not the run.
    let test_runs = testrun::run(&object, &plan.kinds, plan.test_run_frames).unwrap_or_else(|e| {
        eprintln!("!!!!!!!! FAILED BPF_PROG_TEST_RUN: {e:#}");
        Vec::new()
    });
    for t in &test_runs {
        jsonl.write(&Record {
            part: "test_run",
            test_run: Some(*t),
            rate: "-".into(),
            seconds: 0.0,
            ..record(
                "agent",
                &Load {
                    kind: t.kind,
                    rate: Rate::Max,
                    seconds: 0.0,
                },
            )
        })?;
    }

    eprintln!("== profile (BPF_PROG_TEST_RUN over long INVITEs)");
    let profile = match testrun::profile(&object, plan.test_run_frames, &out.join("profile.perf")) {
        Ok(p) => {
            jsonl.write(&Record {
                part: "profile",
                rate: "-".into(),
                seconds: 0.0,
                profile: Some(p.clone()),
                ..record(
                    "agent",
                    &Load {
                        kind: Kind::InviteVias,
                        rate: Rate::Max,
                        seconds: 0.0,
                    },
                )
            })?;
            report::profile_table(&p)
        }
        Err(e) => {
            eprintln!("!!!!!!!! FAILED profile: {e:#}");
            String::from("(failed)\n")
        }
    };

    let tables = format!(
        "Live: ns per packet on the proxy's veth (bpf_stats), {} s a run; pairs/s = requests/s (the hooks see twice as many packets).\n\n{}\nClosed loop: {} round trips in flight, {} s each.\n\n{}\nBPF_PROG_TEST_RUN: one run per frame, each frame a new transaction (mean ns).\n\n{}\nWhere the time goes: BPF_PROG_TEST_RUN over long INVITEs (Call-ID last), lengths with one Via, then 1,400 bytes with more Vias.\n\n{}",
        plan.seconds,
        report::live_table(&rows),
        o.outstanding,
        plan.closed_seconds,
        report::closed_table(&[closed]),
        report::test_run_table(&test_runs),
        profile,
    );
    println!("{tables}");
    std::fs::write(out.join("tables.md"), &tables)?;
    report::plot(&out.join("kernel-cost.svg"), &rows)?;
    println!(
        "({} in {:.0} s; files in {})",
        if o.quick { "quick run" } else { "full run" },
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
