//! Scenario 4, sync chain against async events: listed so that the report
//! names it, skipped until the gateway has an event bus to publish to.

use crate::compare::report::ScenarioReport;

const MEASURES: &str = "A request that waits for a chain of synchronous calls, against one \
that publishes an event and returns while consumers work asynchronously: latency seen by \
the client and time until every consumer has the change.";

pub fn run() -> ScenarioReport {
    let mut report = ScenarioReport::new("events", "Sync chain against async events", MEASURES);
    report.skipped = Some(
        "needs the gateway's event bus, which this build does not have yet; \
         the scenario list is open for it (tests/src/compare/scenarios.rs)"
            .to_owned(),
    );
    report
}
