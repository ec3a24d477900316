//! The federation scenario's summary: per operation and router,
//! throughput, latency and CPU per request, with the gateway's ratios to
//! Hive Router's; and the verdicts against the goal (throughput at least
//! Hive Router's, CPU per request at most Hive Router's).

use crate::compare::loadgen::{LoadMode, Stats};
use crate::compare::report::{ScenarioReport, Table};
use crate::compare::routers::HIVE_ROUTER;

/// A router's CPU µs per request, per operation.
pub struct RouterCpu {
    pub name: &'static str,
    pub per_operation: Vec<Option<f64>>,
}

/// The stats of `router` on `operation` under open (`true`) or closed load.
fn find<'a>(
    report: &'a ScenarioReport,
    router: &str,
    operation: &str,
    open: bool,
) -> Option<&'a Stats> {
    report.measurements().find_map(|(series, stats)| {
        let is_open = matches!(series.plan.map(|p| p.mode), Some(LoadMode::Open { .. }));
        (series.name == router && series.client == operation && is_open == open).then_some(stats)
    })
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_owned(),
    }
}

/// One row per operation and router.
pub fn table(report: &ScenarioReport, operations: &[&str], cpu: &[RouterCpu]) -> Table {
    let columns = [
        "operation",
        "router",
        "req/s (closed loop)",
        "p50 ms (open loop)",
        "p99 ms (open loop)",
        "CPU µs/request",
        "throughput x Hive Router",
        "CPU x Hive Router",
    ];
    let hive = cpu.iter().find(|r| r.name == HIVE_ROUTER);
    let mut rows = Vec::new();
    for (op, operation) in operations.iter().enumerate() {
        let hive_throughput = find(report, HIVE_ROUTER, operation, false).map(|s| s.throughput);
        let hive_cpu = hive.and_then(|h| h.per_operation[op]);
        for router in cpu {
            let closed = find(report, router.name, operation, false);
            let open = find(report, router.name, operation, true);
            let own_cpu = router.per_operation[op];
            let compared = router.name != HIVE_ROUTER;
            rows.push(vec![
                (*operation).to_owned(),
                router.name.to_owned(),
                closed.map_or("-".to_owned(), |s| format!("{:.0}", s.throughput)),
                open.map_or("-".to_owned(), |s| format!("{:.3}", s.p50)),
                open.map_or("-".to_owned(), |s| format!("{:.3}", s.p99)),
                own_cpu.map_or("-".to_owned(), |c| format!("{c:.0}")),
                if compared {
                    ratio(closed.map(|s| s.throughput), hive_throughput)
                } else {
                    "-".to_owned()
                },
                if compared {
                    ratio(own_cpu, hive_cpu)
                } else {
                    "-".to_owned()
                },
            ]);
        }
    }
    Table {
        columns: columns.map(str::to_owned).to_vec(),
        rows,
    }
}

/// Per operation, the gateway against the goal, when both routers ran.
pub fn verdicts(report: &ScenarioReport, operations: &[&str], cpu: &[RouterCpu]) -> Vec<String> {
    let (Some(gateway), Some(hive)) = (
        cpu.iter().find(|r| r.name == "gateway"),
        cpu.iter().find(|r| r.name == HIVE_ROUTER),
    ) else {
        return Vec::new();
    };
    operations
        .iter()
        .enumerate()
        .filter_map(|(op, operation)| {
            let ours = find(report, "gateway", operation, false)?.throughput;
            let theirs = find(report, HIVE_ROUTER, operation, false)?.throughput;
            let (our_cpu, their_cpu) = (gateway.per_operation[op]?, hive.per_operation[op]?);
            let met = ours >= theirs && our_cpu <= their_cpu;
            Some(format!(
                "{operation}: throughput {:.2}x Hive Router's, CPU per request {:.2}x: goal (≥ 1x, ≤ 1x) {}",
                ours / theirs.max(f64::EPSILON),
                our_cpu / their_cpu.max(f64::EPSILON),
                if met { "met" } else { "not met" }
            ))
        })
        .collect()
}
