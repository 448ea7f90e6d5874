//! The README's picture of the panel: serves the panel on a data folder
//! (copy a few run folders into `DATA/runs/`), shows the newest run's
//! charts and summary, compares the two newest side by side, and writes a
//! PNG.
//!
//! ```sh
//! cargo run -p testbed --example panel_screenshot -- DATA docs/img/panel.png
//! ```

use std::{path::PathBuf, time::Duration};

use testkit::{browser::Browser, panel::Panel};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, out] = args.as_slice() else {
        eprintln!("usage: panel_screenshot DATA OUT.png");
        std::process::exit(2);
    };
    let bin = testbed::proc::workspace_root().join("target/debug/siplat-testbed");
    // Panel::start clears its folder: start it on an empty one, then copy
    // the runs in (it reads them from disk on every request).
    let copy = std::env::temp_dir().join(format!("siplat-shot-{}", std::process::id()));
    let panel = Panel::start(&bin, &copy, &[]);
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{data}/."))
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success(), "copy {data}");
    let mut b = Browser::launch(1280, 1000);
    b.goto(&panel.url());
    b.wait_for(
        "document.body.dataset.ready === '1'",
        Duration::from_secs(20),
    );
    b.eval(
        "(async () => { await loadHistory(); \
         const ids = [...document.querySelectorAll('input.compare')].slice(0, 2); \
         ids.forEach(c => { c.checked = true; }); \
         const d = await api(`/api/runs/${encodeURIComponent(ids[0].value)}`); \
         state.rows = d.rows; state.target = d.meta.spec.p99_target_ms / 1000; redrawLive(); \
         document.getElementById('live-id').textContent = d.meta.id; \
         await showFinished(d.meta.id, d.outcome); await compare(); })()",
    );
    b.wait_for(
        "document.querySelectorAll('#compare-view img').length >= 1",
        Duration::from_secs(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    b.screenshot(&PathBuf::from(out));
    eprintln!("wrote {out}");
}
