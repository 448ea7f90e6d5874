//! `cargo xtask reproduce --quick` end to end on one experiment: the
//! capacity plan on the step scenario (report 4.3-4.4), played on the real
//! testbed through the demo and in the simulator, lands as one row of
//! `report.md` with both runs judged and a figure holding both. The step is
//! squeezed 60x (30 s) to keep the test near a minute. Needs root.

use std::{fs, process::Command};

use testkit::{privileged, testbed::work_dir};

#[test]
#[ignore = "needs root: the testbed (Kamailio, SIPp, the agent); `cargo xtask test` runs it"]
fn quick_capacity_plan_lands_as_a_row_and_a_figure() {
    if !privileged("quick_capacity_plan_lands_as_a_row_and_a_figure") {
        return;
    }
    let out = work_dir("reproduce-quick");
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["reproduce", "--quick", "--no-setup", "--only", "4.4"])
        .args(["--step-compress", "60", "--out"])
        .arg(&out)
        .status()
        .expect("run xtask reproduce");
    assert!(status.success(), "reproduce failed: {status}");

    let report = fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(report.contains("kamailio"), "versions on top:\n{report}");
    let row = report
        .lines()
        .find(|l| l.starts_with("| 4.3-4.4 |"))
        .unwrap_or_else(|| panic!("no 4.3-4.4 row:\n{report}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // "", figure, experiment, report, testbed, simulator, reading, "".
    assert_eq!(cells.len(), 8, "{row}");
    assert!(cells[3].contains("5 proxies"), "the report's plan: {row}");
    for (what, cell) in [("testbed", cells[4]), ("simulator", cells[5])] {
        assert!(
            ["holds:", "fails:", "over-scales:"]
                .iter()
                .any(|v| cell.starts_with(v)),
            "{what} judged: {cell}"
        );
        // The static plan runs its five 30m proxies throughout.
        assert!(
            cell.contains("5.00 proxies and 150 mCPU allocated on average"),
            "{what}: {cell}"
        );
    }
    assert!(cells[4].contains("60x faster"), "compression stated: {row}");
    assert!(cells[6].starts_with("report holds;"), "reading: {row}");

    let played = fs::read_to_string(out.join("4.4/testbed/static_replicas_5/per_second.csv"))
        .or_else(|_| {
            // Whatever folder name the demo gave the policy.
            let dir = fs::read_dir(out.join("4.4/testbed"))
                .expect("testbed folder")
                .filter_map(Result::ok)
                .find(|e| e.path().join("per_second.csv").exists())
                .expect("a played policy");
            fs::read_to_string(dir.path().join("per_second.csv"))
        })
        .expect("per_second.csv");
    assert!(played.lines().count() > 25, "30 s played:\n{played}");

    let figure = fs::read_to_string(out.join("4.4/figure.svg")).expect("figure");
    assert!(figure.trim_start().starts_with("<svg") || figure.contains("<svg"));
    for text in [
        "P99 response time",
        "Proxies taking traffic",
        "testbed",
        "simulator",
        "target 1 s",
    ] {
        assert!(figure.contains(text), "{text} missing from the figure");
    }
    assert!(
        figure.matches("<polyline").count() >= 8,
        "both runs drawn in four panels"
    );
    assert!(report.contains("](4.4/figure.svg)"), "figure linked");
    fs::remove_dir_all(&out).expect("remove work dir");
}
