//! Result files: CSV tables and line plots as hand-written SVG (no plotting
//! dependency; a browser or the demo report shows them as they are).

use std::{fmt::Write as _, path::Path};

use anyhow::{Context as _, Result};

/// A CSV table: header + rows, written with `,` (numbers only, no quoting).
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = self.header.join(",");
        text.push('\n');
        for r in &self.rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
    }
}

/// Number for a CSV cell; empty when absent.
pub fn cell(v: Option<f64>) -> String {
    v.map(|v| {
        format!("{v:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    })
    .unwrap_or_default()
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// One panel of lines (and points) over a shared x axis.
pub struct Plot<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Horizontal reference line (e.g. the P99 target) with its label.
    pub hline: Option<(f64, String)>,
}

/// Stack `plots` vertically into one SVG file.
#[expect(
    clippy::too_many_lines,
    reason = "one linear SVG writer is easier to follow than fragments"
)]
pub fn svg(path: &Path, plots: &[Plot<'_>]) -> Result<()> {
    let (w, h, ml, mr, mt, mb) = (760.0, 260.0, 70.0, 150.0, 30.0, 45.0);
    let total_h = h * plots.len() as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{total_h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, p) in plots.iter().enumerate() {
        let top = h * i as f64;
        let points = p
            .series
            .iter()
            .flat_map(|(_, pts)| pts.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite());
        let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        for (x, y) in points {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
            y1 = y1.max(*y);
        }
        if let Some((y, _)) = p.hline {
            y1 = y1.max(y);
        }
        if !x0.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.1 };
        let (pw, ph) = (w - ml - mr, h - mt - mb);
        let sx = |x: f64| ml + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| top + mt + ph - y / y1 * ph;
        let _ = writeln!(
            s,
            r#"<text x="{ml}" y="{}" font-weight="bold">{}</text>"#,
            top + 18.0,
            p.title
        );
        let _ = writeln!(
            s,
            r##"<rect x="{ml}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##,
            top + mt
        );
        for t in 0..=4 {
            let fy = y1 * f64::from(t) / 4.0;
            let fx = x0 + (x1 - x0) * f64::from(t) / 4.0;
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                ml - 4.0,
                sy(fy) + 4.0,
                short(fy)
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                sx(fx),
                top + mt + ph + 15.0,
                short(fx)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            ml + pw / 2.0,
            top + h - 8.0,
            p.x_label
        );
        let _ = writeln!(
            s,
            r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">{}</text>"#,
            top + mt + ph / 2.0,
            top + mt + ph / 2.0,
            p.y_label
        );
        if let Some((y, label)) = &p.hline {
            let ly = sy(*y);
            let _ = writeln!(
                s,
                r##"<line x1="{ml}" x2="{}" y1="{ly}" y2="{ly}" stroke="#000" stroke-dasharray="4 3"/><text x="{}" y="{}">{label}</text>"##,
                ml + pw,
                ml + pw + 6.0,
                sy(*y) + 4.0
            );
        }
        for (j, (name, pts)) in p.series.iter().enumerate() {
            let color = COLORS[j % COLORS.len()];
            let path: Vec<String> = pts
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
                .collect();
            if !path.is_empty() {
                let _ = writeln!(
                    s,
                    r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
                    path.join(" ")
                );
                if path.len() <= 40 {
                    for pt in &path {
                        let (cx, cy) = pt.split_once(',').unwrap_or_default();
                        let _ =
                            writeln!(s, r#"<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>"#);
                    }
                }
            }
            let ly = top + mt + 14.0 + 16.0 * j as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{name}</text>"#,
                ml + pw + 6.0,
                ml + pw + 22.0,
                ml + pw + 26.0,
                ly + 4.0
            );
        }
    }
    s.push_str("</svg>\n");
    std::fs::write(path, s).with_context(|| format!("write {}", path.display()))
}

fn short(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
