//! The benchmark chart: an SVG bar chart of each mode's median time per
//! workload relative to a base mode (native when it ran), on a log scale,
//! with the geometric mean as the last group.

use plotters::prelude::*;

use super::report::Results;

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Writes the chart to `path`.
pub fn write_svg(results: &Results, path: &std::path::Path) -> Result<(), String> {
    let labels: Vec<&str> = results.modes.iter().map(|m| m.label()).collect();
    let base =
        if labels.contains(&"native") { "native" } else { labels.first().copied().ok_or("no modes were run")? };
    let shown: Vec<&str> = labels.iter().copied().filter(|l| *l != base).collect();
    if shown.is_empty() {
        return Err("the chart needs at least two modes".into());
    }
    // Groups: each workload, then the geometric mean.
    let mut groups: Vec<(String, Vec<Option<f64>>)> = results
        .workloads
        .iter()
        .map(|w| (w.workload.name.to_string(), shown.iter().map(|m| w.ratio(&results.modes, m, base)).collect()))
        .collect();
    groups.push(("geomean".into(), shown.iter().map(|m| results.geomean(m, base)).collect()));
    let values: Vec<f64> = groups.iter().flat_map(|(_, v)| v.iter().flatten().copied()).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min).min(1.0) / 1.5;
    let hi = values.iter().copied().fold(0.0, f64::max).max(1.0) * 1.5;

    let width = 160 + 90 * groups.len() as u32;
    let root = SVGBackend::new(path, (width, 520)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<std::io::Error>| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(err)?;
    let n = groups.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("time relative to {base} (log scale, lower is faster)"), ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..n - 0.5, (lo..hi).log_scale())
        .map_err(err)?;
    let names: Vec<String> = groups.iter().map(|(g, _)| g.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(format!("time / {base} time"))
        .y_label_formatter(&|y| format!("{y:.1}x"))
        .draw()
        .map_err(err)?;
    let bar = 0.8 / shown.len() as f64;
    for (m, label) in shown.iter().enumerate() {
        let colour = COLOURS[m % COLOURS.len()];
        let bars = groups.iter().enumerate().filter_map(|(g, (_, v))| {
            let x0 = g as f64 - 0.4 + m as f64 * bar;
            v[m].map(|r| Rectangle::new([(x0, lo), (x0 + bar * 0.9, r)], colour.filled()))
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(-0.5, 1.0), (n - 0.5, 1.0)], BLACK.stroke_width(1))))
        .map_err(err)?;
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
