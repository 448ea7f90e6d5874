//! Result files: CSV tables and line plots as SVG, which a browser or the demo
//! report shows as they are.
//!
//! Plots go through plotters without a font feature: its SVG backend writes
//! text as `<text>` for the viewer to render, and layout needs only a width
//! estimate, so no font file or system font library is needed to draw them.

use std::{ops::Range, path::Path};

use anyhow::{Context as _, Result};
use plotters::{
    backend::SVGBackend,
    chart::ChartBuilder,
    coord::Shift,
    drawing::{DrawingArea, DrawingAreaErrorKind, IntoDrawingArea as _},
    element::{DashedPathElement, PathElement, Text},
    series::{DashedLineSeries, LineSeries},
    style::{
        BLACK, Color as _, IntoFont as _, RGBColor, ShapeStyle, TextStyle, WHITE,
        text_anchor::{HPos, Pos, VPos},
    },
};

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
    v.map(scenario::run::number).unwrap_or_default()
}

/// Matplotlib's first colours: distinct, and familiar from other latency plots.
/// Ten, so a frontier plot's policies each keep a colour of their own.
const COLORS: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];
const WIDTH: u32 = 800;
const PANEL_HEIGHT: u32 = 260;
/// A sweep's few rates read better as dots on the line; a per-second run
/// with a dot per second would be a smear.
const DOTS_MAX: usize = 40;
const FONT: &str = "sans-serif";

/// One panel of lines (and points) over a shared x axis.
pub struct Plot<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Horizontal reference line (e.g. the P99 target) with its label.
    pub hline: Option<(f64, String)>,
}

type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Stack `plots` vertically into one SVG file.
///
/// The legend sits in a column right of every panel, as wide as the longest
/// name of any panel, so it never covers data and the panels' x axes line up.
pub fn svg(path: &Path, plots: &[Plot<'_>]) -> Result<()> {
    let mut text = String::new();
    let panels = u32::try_from(plots.len().max(1)).context("too many panels")?;
    {
        let root =
            SVGBackend::with_string(&mut text, (WIDTH, PANEL_HEIGHT * panels)).into_drawing_area();
        root.fill(&WHITE)?;
        let longest = plots
            .iter()
            .flat_map(|p| {
                let names = p.series.iter().map(|(n, _)| n.chars().count());
                names.chain(p.hline.iter().map(|(_, l)| l.chars().count()))
            })
            .max()
            .unwrap_or(0);
        // A viewer's sans-serif at the legend's 13 px is about 7 px a
        // character (8 leaves slack), after the sample line in front.
        let legend_width = u32::try_from(44 + longest * 8)
            .unwrap_or(u32::MAX)
            .clamp(90, WIDTH / 3);
        if !plots.is_empty() {
            for (p, area) in plots.iter().zip(root.split_evenly((plots.len(), 1))) {
                panel(&area, p, legend_width)?;
            }
        }
        root.present()?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn panel(area: &Area<'_>, p: &Plot<'_>, legend_width: u32) -> DrawResult {
    let (chart_area, legend_area) = area.split_horizontally(WIDTH - legend_width);
    let series: Vec<Vec<(f64, f64)>> = p
        .series
        .iter()
        .map(|(_, pts)| {
            pts.iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let hline = p.hline.as_ref().map(|(y, _)| *y);
    let (xs, ys) = ranges(&series, hline);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(p.title, (FONT, 20).into_font())
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(xs.clone(), ys)?;
    chart
        .configure_mesh()
        .x_desc(p.x_label)
        .y_desc(p.y_label)
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .draw()?;
    // The reference line first, so the data stays on top where they cross.
    if let Some(y) = hline.filter(|y| y.is_finite()) {
        let line = [(xs.start, y), (xs.end, y)];
        chart.draw_series(DashedLineSeries::new(line, 6, 4, BLACK.stroke_width(1)))?;
    }
    for (j, pts) in series.iter().enumerate() {
        let style = COLORS[j % COLORS.len()].filled().stroke_width(2);
        let dots = if pts.len() <= DOTS_MAX { 3 } else { 0 };
        chart.draw_series(LineSeries::new(pts.iter().copied(), style).point_size(dots))?;
    }
    legend(&legend_area, p)
}

/// Names down the legend column, starting level with the top of the plotting
/// area (below the caption); the reference line last, dashed as in the plot.
fn legend(area: &Area<'_>, p: &Plot<'_>) -> DrawResult {
    let text = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut rows = (48i32..).step_by(20);
    for ((name, _), color) in p.series.iter().zip(COLORS.iter().cycle()) {
        let y = rows.next().unwrap_or_default();
        area.draw(&PathElement::new([(6, y), (30, y)], color.stroke_width(2)))?;
        area.draw(&Text::new(name.as_str(), (36, y), text.clone()))?;
    }
    if let Some((_, label)) = &p.hline {
        let y = rows.next().unwrap_or_default();
        let style: ShapeStyle = BLACK.stroke_width(1);
        area.draw(&DashedPathElement::new([(6, y), (30, y)], 6, 4, style))?;
        area.draw(&Text::new(label.as_str(), (36, y), text))?;
    }
    Ok(())
}

/// Axis ranges: x spans the data, y starts at 0 (rates, latencies and
/// replicas are never negative, and a zero baseline keeps panels comparable)
/// and leaves 10 % headroom over the largest value or the reference line.
fn ranges(series: &[Vec<(f64, f64)>], hline: Option<f64>) -> (Range<f64>, Range<f64>) {
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for (x, y) in series.iter().flatten() {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    if let Some(y) = hline.filter(|y| y.is_finite()) {
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.1 };
    (x0..x1, 0.0..y1)
}

/// Tick label: whole numbers from 100 up, otherwise up to three decimals
/// without trailing zeros (plotters' default prints every float digit).
fn short(v: f64) -> String {
    let digits = if v.abs() >= 100.0 { 0 } else { 3 };
    let text = format!("{v:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".into()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory per test, so parallel tests and runs do not share files.
    fn tmp(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("siplat-results-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create test dir");
        dir
    }

    /// Well-formed enough for a viewer: one `<svg>` root, every tag closed in
    /// order (plotters escapes text and attribute values, so `<` and `>`
    /// only delimit tags).
    fn assert_well_formed(doc: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut roots = 0;
        let mut rest = doc.trim();
        while let Some(at) = rest.find('<') {
            let end = rest[at..].find('>').expect("unclosed tag") + at;
            let tag = &rest[at + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name.trim()), "mismatched </{name}>");
                continue;
            }
            let name = tag.split([' ', '\n', '/']).next().unwrap_or_default();
            if open.is_empty() {
                roots += 1;
                assert_eq!(name, "svg", "root element");
            }
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        assert_eq!(roots, 1);
    }

    fn stroke(color: RGBColor) -> String {
        format!("stroke=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2)
    }

    #[test]
    fn two_panels_with_legend_and_target() {
        let dir = tmp("two");
        let path = dir.join("run.svg");
        let rate: Vec<(f64, f64)> = (0..120)
            .map(|s| (f64::from(s), f64::from(s / 10)))
            .collect();
        let p99: Vec<(f64, f64)> = (0..12)
            .map(|s| (f64::from(s), f64::from(s) * 20.0))
            .collect();
        svg(
            &path,
            &[
                Plot {
                    title: "Call rate",
                    x_label: "second",
                    y_label: "calls/s",
                    series: vec![("offered".into(), rate.clone()), ("achieved".into(), rate)],
                    hline: None,
                },
                Plot {
                    title: "P99 & max",
                    x_label: "second",
                    y_label: "ms",
                    series: vec![("P99".into(), p99)],
                    hline: Some((200.0, "target 200ms".into())),
                },
            ],
        )
        .expect("render");
        let doc = std::fs::read_to_string(&path).expect("read back");
        assert_well_formed(&doc);
        for text in [
            "Call rate",
            "P99 &amp; max",
            "offered",
            "achieved",
            "P99",
            "target 200ms",
        ] {
            assert!(
                doc.contains(&format!(">\n{text}\n</text>")),
                "{text} missing"
            );
        }
        for color in &COLORS[..2] {
            let lines = doc
                .lines()
                .filter(|l| l.starts_with("<polyline") && l.contains(&stroke(*color)))
                .count();
            // The data line and the legend sample, in each panel using the colour.
            assert!(lines >= 2, "{} has {lines} polylines", stroke(*color));
        }
        // Twelve P99 points are few enough for dots; 120 rate points are not.
        assert_eq!(doc.matches("<circle").count(), 12);
        assert!(
            doc.matches(&stroke(BLACK)).count() > 4,
            "dashed reference line"
        );
        std::fs::remove_dir_all(dir).expect("remove test dir");
    }

    #[test]
    fn empty_series_and_non_finite_points_draw() {
        let dir = tmp("empty");
        let path = dir.join("sweep.svg");
        let odd = vec![
            (f64::NAN, 1.0),
            (1.0, f64::NAN),
            (2.0, 3.0),
            (f64::INFINITY, 2.0),
            (3.0, 4.0),
        ];
        svg(
            &path,
            &[
                Plot {
                    title: "odd",
                    x_label: "x",
                    y_label: "y",
                    series: vec![("empty".into(), Vec::new()), ("odd".into(), odd)],
                    hline: Some((f64::NAN, "nan target".into())),
                },
                Plot {
                    title: "nothing",
                    x_label: "x",
                    y_label: "y",
                    series: Vec::new(),
                    hline: None,
                },
            ],
        )
        .expect("render");
        let doc = std::fs::read_to_string(&path).expect("read back");
        assert_well_formed(&doc);
        assert!(doc.contains("\nempty\n</text>") && doc.contains("\nnan target\n</text>"));
        assert!(!doc.contains("NaN") && !doc.contains("inf"));
        svg(&path, &[]).expect("render no panels");
        assert_well_formed(&std::fs::read_to_string(&path).expect("read back"));
        std::fs::remove_dir_all(dir).expect("remove test dir");
    }

    #[test]
    fn tick_labels_are_short() {
        let labels: Vec<String> = [0.0, -0.0001, 0.25, 2.5, 50.0, 150.0, 1234.5]
            .into_iter()
            .map(short)
            .collect();
        assert_eq!(labels, ["0", "0", "0.25", "2.5", "50", "150", "1234"]);
    }

    #[test]
    fn ranges_start_at_zero_with_headroom() {
        let pts = vec![vec![(10.0, 50.0), (70.0, 100.0)], Vec::new()];
        let (xs, ys) = ranges(&pts, None);
        assert_eq!((xs, ys.start), (10.0..70.0, 0.0));
        assert!((ys.end - 110.0).abs() < 1e-9, "{ys:?}");
        let (_, ys) = ranges(&pts, Some(200.0));
        assert!((ys.end - 220.0).abs() < 1e-9, "{ys:?}");
        let (_, ys) = ranges(&pts, Some(f64::NAN));
        assert!((ys.end - 110.0).abs() < 1e-9, "{ys:?}");
        assert_eq!(ranges(&[], None), (0.0..1.0, 0.0..1.0));
        assert_eq!(ranges(&[vec![(5.0, 0.0)]], None), (5.0..6.0, 0.0..1.0));
    }
}
