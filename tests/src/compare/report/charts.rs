//! The SVG charts of one scenario: its latency percentiles (p50 to max,
//! one line per series) and its latency CDFs, both on a log latency axis.

use std::path::Path;

use plotters::prelude::*;

use super::{ScenarioReport, SeriesReport};
use crate::compare::loadgen::{LoadMode, Stats};

const SIZE: (u32, u32) = (960, 540);
const PERCENTILES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

/// Draws the charts of `scenario` into `dir`, one pair (percentiles, CDF)
/// per load mode it ran (open loop, closed loop), and returns their file
/// names.
pub fn draw(scenario: &ScenarioReport, dir: &Path) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    for (mode, open) in [("open loop", true), ("closed loop", false)] {
        let series: Vec<(&SeriesReport, &Stats)> = scenario
            .measurements()
            .filter(|(s, _)| {
                s.plan
                    .is_some_and(|p| matches!(p.mode, LoadMode::Open { .. }) == open)
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let slug = mode.replace(' ', "-");
        let title = format!("{}, {mode}", scenario.title);
        let percentiles = format!("{}-{slug}-percentiles.svg", scenario.name);
        let cdf = format!("{}-{slug}-cdf.svg", scenario.name);
        draw_percentiles(&title, &series, &dir.join(&percentiles)).map_err(|e| e.to_string())?;
        draw_cdf(&title, &series, &dir.join(&cdf)).map_err(|e| e.to_string())?;
        files.extend([percentiles, cdf]);
    }
    Ok(files)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_percentiles(title: &str, series: &[(&SeriesReport, &Stats)], path: &Path) -> DrawResult {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let values = |s: &Stats| [s.p50, s.p90, s.p99, s.p999, s.max];
    let (low, high) = latency_range(series.iter().flat_map(|(_, s)| values(s)));
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{title}: latency percentiles"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.2f64..4.2f64, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(PERCENTILES.len())
        .x_label_formatter(&|x| percentile_label(*x))
        .y_desc("latency (ms, log)")
        .draw()?;
    for (index, (report, stats)) in series.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let points: Vec<(f64, f64)> = values(stats)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as f64, v.max(low)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(report.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

fn draw_cdf(title: &str, series: &[(&SeriesReport, &Stats)], path: &Path) -> DrawResult {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (low, high) = latency_range(series.iter().flat_map(|(_, s)| s.cdf.iter().map(|p| p.0)));
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{title}: latency CDF"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d((low..high).log_scale(), 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("latency (ms, log)")
        .y_desc("fraction of requests")
        .draw()?;
    for (index, (report, stats)) in series.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let points = stats.cdf.iter().map(|&(ms, q)| (ms.max(low), q));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(report.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

fn legend<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> DrawResult
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A log-axis range around every value, never starting at zero.
fn latency_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let low = (low.min(high) * 0.8).max(0.001);
    (low, (high * 1.25).max(low * 10.0))
}

fn percentile_label(x: f64) -> String {
    let index = x.round();
    if (x - index).abs() > 0.01 || index < 0.0 {
        return String::new();
    }
    PERCENTILES
        .get(index as usize)
        .map_or_else(String::new, |label| (*label).to_owned())
}
