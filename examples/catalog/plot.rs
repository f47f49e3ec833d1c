//! The load test's plot: requests per second, database queries per second and database
//! queries per request over time, for the run with caching off and the run with caching on, as
//! a self-contained SVG.

use std::fmt::Write as _;
use std::path::Path;

use crate::Options;
use crate::load_test::Run;

const WIDTH: f64 = 760.0;
const PANEL: f64 = 200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const OFF: &str = "#c0392b";
const ON: &str = "#2471a3";

pub fn write(path: &Path, off: &Run, on: &Run, options: &Options) -> Result<(), String> {
    let mut svg = String::new();
    let height = 3.0 * PANEL + 210.0;
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="22" font-size="15">catalog under a Zipf(s={}) load, {} connections: caching off vs on</text>
"#,
        options.zipf, options.concurrency
    );
    let rate = |r: &Run| r.per_second.iter().map(|&n| n as f64).collect::<Vec<_>>();
    panel(&mut svg, 60.0, "requests/s", &rate(off), &rate(on));
    panel(&mut svg, 100.0 + PANEL, "database queries/s", &off.db_per_second, &on.db_per_second);
    let per_request = |r: &Run| {
        r.db_per_second
            .iter()
            .zip(&r.per_second)
            .map(|(&q, &n)| if n == 0 { 0.0 } else { q / n as f64 })
            .collect::<Vec<_>>()
    };
    panel(&mut svg, 140.0 + 2.0 * PANEL, "database queries per request", &per_request(off), &per_request(on));
    let y = 3.0 * PANEL + 185.0;
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="{OFF}" stroke-width="2"/><text x="{}" y="{}">caching off (MEMO_DISABLE=1)</text>
<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{ON}" stroke-width="2"/><text x="{}" y="{}">caching on</text>
<text x="{}" y="{}" fill="#555">seconds into the run</text>
</svg>
"##,
        LEFT + 24.0,
        LEFT + 30.0,
        y + 4.0,
        LEFT + 260.0,
        LEFT + 284.0,
        LEFT + 290.0,
        y + 4.0,
        WIDTH - RIGHT - 130.0,
        y + 4.0
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, svg).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One panel at `top`: both series against seconds, on a shared linear scale from zero.
fn panel(svg: &mut String, top: f64, title: &str, off: &[f64], on: &[f64]) {
    let seconds = off.len().max(on.len()).max(2) as f64;
    let max = nice(off.iter().chain(on).copied().fold(f64::MIN_POSITIVE, f64::max));
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / seconds;
    let y = |v: f64| top + PANEL - PANEL * v / max;
    let _ = writeln!(svg, r#"<text x="{LEFT}" y="{}" font-weight="bold">{title}</text>"#, top - 6.0);
    for step in 0..=4 {
        let v = max * f64::from(step) / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}" stroke="#ddd"/><text x="{2}" y="{3}" text-anchor="end">{4}</text>"##,
            y(v),
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            label(v)
        );
    }
    for i in (0..seconds as usize).step_by(((seconds / 10.0).ceil() as usize).max(1)) {
        let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, x(i), top + PANEL + 16.0, i + 1);
    }
    for (series, color) in [(off, OFF), (on, ON)] {
        let points: Vec<String> = series.iter().enumerate().map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v))).collect();
        let _ =
            writeln!(svg, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, points.join(" "));
    }
}

/// A round number at or above `v`, for the axis.
fn nice(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|&m| m >= v).unwrap_or(v)
}

fn label(v: f64) -> String {
    if v >= 1_000.0 {
        let k = format!("{:.1}", v / 1_000.0);
        format!("{}k", k.trim_end_matches(".0"))
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}
