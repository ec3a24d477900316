//! The progress bar: planned load time in seconds, the current series as
//! its message. Hidden for short runs and when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::loadgen::LoadPlan;

/// Runs shorter than this show no bar.
const SHOW_AFTER: Duration = Duration::from_secs(5);

/// Progress over the planned load time of the whole run.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `planned` load time, shown if `enabled` and long enough.
    pub fn new(planned: Duration, enabled: bool) -> Progress {
        if !enabled || planned < SHOW_AFTER {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::new(planned.as_secs().max(1));
        let style = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} s of load  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar }
    }

    /// Names what runs now.
    pub fn running(&self, what: &str) {
        self.bar.set_message(what.to_owned());
    }

    /// Marks a plan's time as done (run or skipped).
    pub fn done(&self, plan: &LoadPlan) {
        self.bar.inc(plan.total().as_secs_f64().round() as u64);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
