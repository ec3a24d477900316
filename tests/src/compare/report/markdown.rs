//! `report.md`: a header naming how the run was made, a summary of every
//! scenario, then per scenario what it measures, one table row per
//! measured series, the skipped series with their reasons, derived notes
//! and the charts.

use std::fmt::Write as _;

use super::{Report, ScenarioReport, SeriesReport, Table};

/// The whole report as Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Latency comparison report\n");
    let _ = writeln!(out, "- command: `{}`", report.command);
    let _ = writeln!(
        out,
        "- profile: {}, build: {}, CPUs: {}",
        report.profile, report.build, report.cpus
    );
    for tool in &report.tools {
        let _ = writeln!(out, "- {tool}");
    }
    out.push_str("\nLatencies in milliseconds. Bytes per request: request + response bytes through the client's sockets (HTTP heads, HTTP/2 and gRPC framing included; TCP/IP headers not).\n\n");
    out.push_str(&summary(report));
    for scenario in &report.scenarios {
        out.push_str(&section(scenario));
    }
    out
}

fn summary(report: &Report) -> String {
    let mut out = String::from("## Scenarios\n\n| scenario | status |\n|---|---|\n");
    for scenario in &report.scenarios {
        let status = match &scenario.skipped {
            Some(reason) => format!("skipped: {reason}"),
            None => {
                let ran = scenario.measurements().count();
                let skipped = scenario.series.len() - ran;
                format!("ran: {ran} series measured, {skipped} skipped")
            }
        };
        let _ = writeln!(
            out,
            "| {} (`{}`) | {status} |",
            scenario.title, scenario.name
        );
    }
    out.push('\n');
    out
}

fn section(scenario: &ScenarioReport) -> String {
    let mut out = format!(
        "## {} (`{}`)\n\n{}\n\n",
        scenario.title, scenario.name, scenario.measures
    );
    if let Some(reason) = &scenario.skipped {
        let _ = writeln!(out, "**skipped:** {reason}\n");
        return out;
    }
    out.push_str(&table(scenario));
    if let Some(summary) = &scenario.summary {
        out.push_str(&derived(summary));
    }
    for titled in &scenario.tables {
        let _ = writeln!(out, "**{}**\n", titled.title);
        out.push_str(&derived(&titled.table));
    }
    for series in scenario.series.iter().filter(|s| s.skipped.is_some()) {
        let reason = series.skipped.as_deref().unwrap_or_default();
        let _ = writeln!(out, "- {} — **skipped:** {reason}", series.name);
    }
    for (series, stats) in scenario.measurements().filter(|(_, s)| s.errors > 0) {
        let kinds: Vec<String> = stats
            .error_kinds
            .iter()
            .map(|(k, n)| format!("{n} × {k}"))
            .collect();
        let _ = writeln!(out, "- errors in {}: {}", series.label(), kinds.join(", "));
    }
    for note in &scenario.notes {
        let _ = writeln!(out, "- {note}");
    }
    out.push('\n');
    for chart in &scenario.charts {
        let _ = writeln!(out, "![{chart}]({chart})");
    }
    out.push('\n');
    out
}

fn table(scenario: &ScenarioReport) -> String {
    let mut out = String::from(
        "| series | client | load | p50 | p90 | p99 | p99.9 | max | req/s | errors | bytes/req |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (series, stats) in scenario.measurements() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {} | {:.0} |",
            series.name,
            series.client,
            load(series),
            stats.p50,
            stats.p90,
            stats.p99,
            stats.p999,
            stats.max,
            stats.throughput,
            stats.errors,
            stats.bytes_per_request
        );
    }
    out.push('\n');
    out
}

fn derived(table: &Table) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        table.columns.join(" | "),
        "---|".repeat(table.columns.len())
    );
    for row in &table.rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
    out
}

fn load(series: &SeriesReport) -> String {
    series.plan.map_or_else(String::new, |plan| {
        format!("{}, {:.1} s", plan.mode, plan.duration.as_secs_f64())
    })
}
