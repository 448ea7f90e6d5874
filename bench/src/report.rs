//! The benchmark's output: one JSON line per run, the printed tables
//! (figures and their ratios to the empty program and to dumpcap+tshark)
//! and a plot of ns per packet against the rate.

use std::{fmt::Write as _, io::Write as _, path::Path};

use anyhow::{Context as _, Result};
use loadgen::{ClosedReport, Kind, pace::Rate};

use crate::{
    figures::{added_ns_per_packet, cpu_ns_per, per, percent_change, ratio, round_trip_us},
    live::{AgentFigures, CaptureFigures, Hooks, Sent},
    testrun::{Profile, TestRunFigures},
};

/// One run as written to `runs.jsonl`.
#[derive(serde::Serialize)]
pub struct Record<'a> {
    pub part: &'a str,
    pub mode: &'a str,
    pub kind: Kind,
    pub rate: String,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<Sent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty: Option<Hooks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<ClosedReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_run: Option<TestRunFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

pub struct Jsonl(std::fs::File);

impl Jsonl {
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Self(
            std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?,
        ))
    }

    pub fn write(&mut self, r: &Record<'_>) -> Result<()> {
        serde_json::to_writer(&mut self.0, r)?;
        writeln!(self.0)?;
        Ok(())
    }
}

/// One payload at one rate, each mode's run of it.
#[derive(Default)]
pub struct Row {
    pub kind: Option<Kind>,
    pub rate: Option<Rate>,
    pub agent: Option<(Sent, AgentFigures)>,
    pub empty: Option<(Sent, Hooks)>,
    pub capture: Option<(Sent, CaptureFigures)>,
}

/// The figures of a row.
#[derive(Debug, Default, serde::Serialize)]
pub struct RowFigures {
    pub pairs_per_s: Option<f64>,
    pub in_ns: Option<f64>,
    pub out_ns: Option<f64>,
    pub empty_in_ns: Option<f64>,
    pub empty_out_ns: Option<f64>,
    pub user_ns: Option<f64>,
    pub whole_ns: Option<f64>,
    pub capture_ns: Option<f64>,
}

impl Row {
    pub fn figures(&self) -> RowFigures {
        let mut f = RowFigures::default();
        if let Some((sent, a)) = &self.agent {
            let h = a.hooks;
            let packets = h.in_runs + h.out_runs;
            f.pairs_per_s = Some(sent.client.rate());
            f.in_ns = per(h.in_ns as f64, h.in_runs);
            f.out_ns = per(h.out_ns as f64, h.out_runs);
            f.user_ns = cpu_ns_per(a.user_cpu_seconds, packets);
            f.whole_ns = per(
                (h.in_ns + h.out_ns) as f64 + a.user_cpu_seconds * 1e9,
                packets,
            );
        }
        if let Some((_, h)) = &self.empty {
            f.empty_in_ns = per(h.in_ns as f64, h.in_runs);
            f.empty_out_ns = per(h.out_ns as f64, h.out_runs);
        }
        if let Some((_, c)) = &self.capture {
            f.capture_ns = cpu_ns_per(c.dumpcap_cpu_seconds + c.tshark_cpu_seconds, c.frames);
        }
        f
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

fn times(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}x"))
}

/// The live table, markdown.
pub fn live_table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| payload | rate | pairs/s sent | kernel in ns | kernel out ns | empty in/out ns | in / empty | out / empty | agent user ns/pkt | whole agent ns/pkt | samples / pairs | ringbuf drops | dumpcap+tshark ns/pkt | capture / agent |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let f = r.figures();
        let samples = r.agent.as_ref().map_or_else(
            || "-".into(),
            |(s, a)| format!("{:.0} / {}", a.samples, s.answered),
        );
        let drops = r
            .agent
            .as_ref()
            .map_or_else(|| "-".into(), |(_, a)| format!("{:.0}", a.ringbuf_drops));
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {samples} | {drops} | {} | {} |",
            r.kind.map_or("-", Kind::name),
            r.rate.map_or_else(|| "-".into(), |r| r.to_string()),
            num(f.pairs_per_s, 0),
            num(f.in_ns, 0),
            num(f.out_ns, 0),
            num(f.empty_in_ns, 0),
            num(f.empty_out_ns, 0),
            times(ratio(f.in_ns, f.empty_in_ns)),
            times(ratio(f.out_ns, f.empty_out_ns)),
            num(f.user_ns, 0),
            num(f.whole_ns, 0),
            num(f.capture_ns, 0),
            times(ratio(f.capture_ns, f.whole_ns)),
        );
    }
    t
}

/// Closed-loop round trips: nothing attached, the empty program, the agent.
pub struct Closed {
    pub kind: Kind,
    pub outstanding: usize,
    pub bare: ClosedReport,
    pub empty: ClosedReport,
    pub agent: ClosedReport,
}

pub fn closed_table(rows: &[Closed]) -> String {
    let mut t = String::from(
        "| payload | outstanding | round trips/s, nothing attached | empty program (change) | agent (change) | mean round trip: nothing, empty, agent (us) | added per packet: empty, agent (ns) | lost |\n|---|---|---|---|---|---|---|---|\n",
    );
    for c in rows {
        let (b, e, a) = (c.bare.rate(), c.empty.rate(), c.agent.rate());
        let pct = |v| num(percent_change(b, v), 1);
        let rtt = |r| num(round_trip_us(c.outstanding, r), 0);
        let _ = writeln!(
            t,
            "| {} | {} | {b:.0} | {e:.0} ({} %) | {a:.0} ({} %) | {}, {}, {} | {}, {} | {} / {} / {} |",
            c.kind.name(),
            c.outstanding,
            pct(e),
            pct(a),
            rtt(b),
            rtt(e),
            rtt(a),
            num(added_ns_per_packet(b, e), 0),
            num(added_ns_per_packet(b, a), 0),
            c.bare.lost,
            c.empty.lost,
            c.agent.lost,
        );
    }
    t
}

pub fn test_run_table(rows: &[TestRunFigures]) -> String {
    let mut t = String::from(
        "| payload | frames | in ns | out ns | empty ns | in / empty | out / empty |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {} | {} |",
            r.kind.name(),
            r.frames,
            r.in_ns,
            r.out_ns,
            r.empty_ns,
            times(ratio(Some(r.in_ns), Some(r.empty_ns))),
            times(ratio(Some(r.out_ns), Some(r.empty_ns))),
        );
    }
    t
}

/// The profile's points and what the fits make of them.
#[must_use]
pub fn profile_table(p: &Profile) -> String {
    let mut t = String::from("| Vias | bytes | in ns | out ns |\n|---|---|---|---|\n");
    for r in &p.points {
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {:.0} |",
            r.vias, r.bytes, r.in_ns, r.out_ns
        );
    }
    let _ = write!(
        t,
        "\nINVITE: {:.1} ns per skipped 8-byte word, {:.1} ns per header line beyond its bytes, \
         {:.0} ns before the varied part (intercept). Its 200: {:.0} ns with one Via, {:.1} ns \
         per Via line more (its ~80 bytes and the line).\n",
        p.in_ns_per_word, p.in_ns_per_line, p.in_fixed_ns, p.out_one_via_ns, p.out_ns_per_via,
    );
    if let Some(perf) = &p.perf {
        let _ = writeln!(
            t,
            "\nperf (cpu-clock, {} samples inside test runs, empty program and test-run overhead included):\n\n| where the sample was | share | | on the stack | share |\n|---|---|---|---|---|",
            perf.samples
        );
        for i in 0..10 {
            let cell = |v: &[(String, f64)]| {
                v.get(i).map_or_else(
                    || (String::new(), String::new()),
                    |(n, s)| (n.clone(), format!("{:.1} %", 100.0 * s)),
                )
            };
            let (a, b) = (cell(&perf.leaf), cell(&perf.inclusive));
            let _ = writeln!(t, "| {} | {} | | {} | {} |", a.0, a.1, b.0, b.1);
        }
    }
    t
}

/// Kernel ns per packet (mean of in and out) and the whole agent's, against
/// the pairs per second achieved, per payload; the empty program's too.
/// Drawn by the testbed's plotting module, as every plot of the project.
pub fn plot(path: &Path, rows: &[Row]) -> Result<()> {
    let pts = |kind: Option<Kind>, g: &dyn Fn(&RowFigures) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| kind.is_none_or(|k| r.kind == Some(k)))
            .filter_map(|r| {
                let f = r.figures();
                Some((f.pairs_per_s?.max(1.0).log10(), g(&f)?))
            })
            .collect()
    };
    let mut series = Vec::new();
    for kind in Kind::ALL {
        let kernel = pts(Some(kind), &|f| Some(f64::midpoint(f.in_ns?, f.out_ns?)));
        if !kernel.is_empty() {
            series.push((format!("{} kernel", kind.name()), kernel));
            series.push((
                format!("{} whole", kind.name()),
                pts(Some(kind), &|f| f.whole_ns),
            ));
        }
    }
    let empty = pts(None, &|f| {
        Some(f64::midpoint(f.empty_in_ns?, f.empty_out_ns?))
    });
    if !empty.is_empty() {
        series.push(("empty program".to_owned(), empty));
    }
    testbed::results::svg(
        path,
        &[testbed::results::Plot {
            title: "siplat: ns per packet on the proxy's veth",
            x_label: "pairs per second sent (log10)",
            y_label: "ns per packet",
            series,
            hline: None,
        }],
    )
}
