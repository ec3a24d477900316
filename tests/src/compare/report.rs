//! The report's data: what every scenario and series measured or why it
//! was skipped. [`markdown`] renders it as `report.md`, [`charts`] draws
//! the SVGs, and the whole [`Report`] is written as `report.json`.

pub mod charts;
pub mod markdown;

use serde::Serialize;

use super::loadgen::{LoadPlan, Stats};

/// Everything one run of the suite found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub command: String,
    /// `quick` or `normal`.
    pub profile: &'static str,
    /// `release` or `debug` (timings of a debug build mean little).
    pub build: &'static str,
    pub cpus: usize,
    /// Versions of the reference proxies found, e.g. `nginx version: nginx/1.22.1`.
    pub tools: Vec<String>,
    pub scenarios: Vec<ScenarioReport>,
}

/// One scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: &'static str,
    pub title: &'static str,
    /// What it measures, one paragraph.
    pub measures: &'static str,
    /// `None` when it ran, else why the whole scenario was skipped.
    pub skipped: Option<String>,
    pub series: Vec<SeriesReport>,
    /// A derived table (the proxy scenario's comparison), shown after the
    /// main table.
    pub summary: Option<Table>,
    /// Further derived tables with a title each (the events scenario's
    /// anti-pattern comparisons), shown after the summary.
    pub tables: Vec<TitledTable>,
    /// Derived figures (floors, ratios), as `label: value` lines.
    pub notes: Vec<String>,
    /// File names of the charts, relative to the report.
    pub charts: Vec<String>,
}

impl ScenarioReport {
    pub fn new(name: &'static str, title: &'static str, measures: &'static str) -> ScenarioReport {
        ScenarioReport {
            name,
            title,
            measures,
            skipped: None,
            series: Vec::new(),
            summary: None,
            tables: Vec::new(),
            notes: Vec::new(),
            charts: Vec::new(),
        }
    }

    /// Adds a measured series.
    pub fn measured(
        &mut self,
        name: impl Into<String>,
        client: &str,
        plan: LoadPlan,
        stats: Stats,
    ) {
        self.series.push(SeriesReport {
            name: name.into(),
            client: client.to_owned(),
            plan: Some(plan),
            stats: Some(stats),
            skipped: None,
        });
    }

    /// Adds a series that could not run here.
    pub fn skip(&mut self, name: impl Into<String>, client: &str, reason: String) {
        self.series.push(SeriesReport {
            name: name.into(),
            client: client.to_owned(),
            plan: None,
            stats: None,
            skipped: Some(reason),
        });
    }

    /// The measured series (name, stats).
    pub fn measurements(&self) -> impl Iterator<Item = (&SeriesReport, &Stats)> {
        self.series
            .iter()
            .filter_map(|series| series.stats.as_ref().map(|stats| (series, stats)))
    }

    /// Marks the scenario skipped when none of its series could run.
    pub fn skip_if_empty(&mut self) {
        if self.skipped.is_none() && self.measurements().next().is_none() {
            let reasons: Vec<String> = self
                .series
                .iter()
                .filter_map(|s| s.skipped.clone())
                .collect();
            self.skipped = Some(if reasons.is_empty() {
                "nothing to measure".to_owned()
            } else {
                reasons.join("; ")
            });
        }
    }
}

/// A small table of derived figures.
#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A derived table under a title of its own.
#[derive(Clone, Debug, Serialize)]
pub struct TitledTable {
    pub title: String,
    pub table: Table,
}

/// One series: a client against a target under one load plan.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesReport {
    pub name: String,
    /// The protocol the client speaks: `HTTP/1.1`, `h2c`, `gRPC`, `GraphQL`.
    pub client: String,
    pub plan: Option<LoadPlan>,
    pub stats: Option<Stats>,
    pub skipped: Option<String>,
}

impl SeriesReport {
    /// `name (load)`, the label used in tables and charts.
    pub fn label(&self) -> String {
        match self.plan {
            Some(plan) => format!("{} ({})", self.name, plan.mode),
            None => self.name.clone(),
        }
    }
}
