//! The latency comparison suite's smoke test: `--quick` in-process into a
//! temporary folder. It asserts what the report contains, never a timing:
//! the files are written, every scenario is in the report (run, or skipped
//! with a reason), and no series that ran had an error.

use tests::compare::report::{Report, ScenarioReport};
use tests::compare::scenarios::ScenarioName;
use tests::compare::{self, CompareOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_run_reports_every_scenario_without_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("compare");
    let options = CompareOptions {
        quick: true,
        rounds: None,
        scenario: None,
        out: out.clone(),
        progress: false,
        command: "compare --quick (smoke test)".to_owned(),
        gateway_program: Some(env!("CARGO_BIN_EXE_compare").into()),
    };
    let report = compare::run(&options)
        .await
        .expect("the quick run completes");

    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md is written");
    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json is written");
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("report.json is JSON");
    assert_eq!(
        parsed["scenarios"].as_array().map(Vec::len),
        Some(ScenarioName::ALL.len())
    );
    for name in ScenarioName::ALL.map(ScenarioName::name) {
        assert!(
            markdown.contains(&format!("(`{name}`)")),
            "report.md lacks {name}"
        );
        check_scenario(scenario(&report, name), &out);
    }
    // The proxy scenario's cost rows are also measured beside the off row,
    // each with its verdict line, after the off row's twin (the noise).
    let proxy = scenario(&report, "proxy");
    for row in [
        "gateway, observability off (twin)",
        "gateway, access log + metrics",
        "gateway, rate limit local",
    ] {
        let beside = format!("{row} side by side with gateway, observability off");
        assert!(
            proxy.notes.iter().any(|note| note.starts_with(&beside)),
            "no side-by-side line for {row}: {:?}",
            proxy.notes
        );
    }
}

fn scenario<'a>(report: &'a Report, name: &str) -> &'a ScenarioReport {
    report
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("scenario {name} is missing from the report"))
}

/// A series or scenario may only be skipped because a peer or a server
/// the suite does not ship is missing from this machine: anything the
/// suite starts itself (gateway children, mocks, configs) must run, or a
/// broken row would hide behind its skip reason.
fn assert_skip_is_for_a_missing_tool(what: &str, reason: &str) {
    assert!(!reason.trim().is_empty(), "{what} skipped without a reason");
    assert!(
        reason.contains("is not installed"),
        "{what} skipped for a reason other than a missing tool: {reason}"
    );
}

fn check_scenario(scenario: &ScenarioReport, out: &std::path::Path) {
    if let Some(reason) = &scenario.skipped {
        assert_skip_is_for_a_missing_tool(scenario.name, reason);
        return;
    }
    assert!(
        scenario.measurements().next().is_some(),
        "{} ran nothing",
        scenario.name
    );
    for series in &scenario.series {
        match (&series.stats, &series.skipped) {
            // The resilience scenario injects faults: its errors are
            // its figures (the "none" configuration keeps them all).
            (Some(stats), None) if scenario.name == "resilience" => {
                assert!(stats.ok > 0, "{} measured nothing", series.label());
            }
            (Some(stats), None) => {
                assert_eq!(
                    stats.errors,
                    0,
                    "{}: {} had errors: {:?}",
                    scenario.name,
                    series.label(),
                    stats.error_kinds
                );
                assert!(
                    stats.ok > 0,
                    "{}: {} measured nothing",
                    scenario.name,
                    series.label()
                );
                assert!(
                    stats.bytes_per_request > 0.0,
                    "{}: no bytes counted",
                    series.label()
                );
            }
            (None, Some(reason)) => assert_skip_is_for_a_missing_tool(&series.label(), reason),
            other => panic!(
                "{}: series {} is neither measured nor skipped: {other:?}",
                scenario.name, series.name
            ),
        }
    }
    for chart in &scenario.charts {
        let svg = std::fs::read_to_string(out.join(chart)).expect("chart is written");
        assert!(svg.contains("<svg"), "{chart} is not an SVG");
    }
    assert!(
        !scenario.charts.is_empty(),
        "{} has no charts",
        scenario.name
    );
}
