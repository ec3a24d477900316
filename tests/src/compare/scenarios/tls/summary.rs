//! The TLS scenario's summary: per target and series, the closed loop's
//! throughput (requests, and so handshakes, per second) and its ratio to
//! nginx's, p50/p99 under both loads, and the process's CPU time per
//! request; then the verdicts against issue 17's goal (at least 0.9x
//! nginx's throughput with full handshakes and over kept-alive
//! connections) and what each target negotiated. From
//! [`PAIRED_VERDICT_ROUNDS`] rounds on, a verdict is on the median of the
//! throughput ratios paired by round (the gateway against nginx measured
//! beside it), as in the proxy and federation scenarios: single rounds on
//! a shared machine swing by more than the goal's margin.

use super::Series;
use crate::compare::cpu::CpuTime;
use crate::compare::loadgen::{LoadMode, LoadPlan, Stats};
use crate::compare::report::Table;
use crate::compare::scenarios::paired::{PAIRED_VERDICT_ROUNDS, RoundFigures, median, ratios};

/// One plan's figures in one round.
pub struct PlanRound {
    pub series: Series,
    /// Closed loop only: requests per second.
    pub throughput: Option<f64>,
    pub calls: u64,
    /// `None` when the process's CPU time could not be read.
    pub cpu: Option<CpuTime>,
}

/// One series' figures in one round.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRound {
    pub series: Series,
    pub figures: RoundFigures,
}

/// A round's plans grouped by series: the closed loop's throughput, and
/// the CPU per request over all the series' plans.
pub fn by_series(plans: &[PlanRound]) -> Vec<SeriesRound> {
    SERIES
        .into_iter()
        .filter(|series| plans.iter().any(|plan| plan.series == *series))
        .map(|series| {
            let of_series = || plans.iter().filter(move |plan| plan.series == series);
            let calls: u64 = of_series().map(|plan| plan.calls).sum();
            let cpu = of_series().try_fold(CpuTime::default(), |mut sum, plan| {
                sum.add(plan.cpu?);
                Some(sum)
            });
            SeriesRound {
                series,
                figures: RoundFigures {
                    throughput: of_series().find_map(|plan| plan.throughput),
                    cpu_per_request: cpu
                        .filter(|_| calls > 0)
                        .map(|cpu| cpu.total().as_secs_f64() * 1e6 / calls as f64),
                },
            }
        })
        .collect()
}

/// The goal: the gateway's throughput at least this many times nginx's.
pub const GOAL: f64 = 0.9;

/// One plan's results for one target.
pub struct PlanFigures {
    pub series: Series,
    pub plan: LoadPlan,
    pub stats: Stats,
    /// Requests completed, warm-up included (what the CPU time paid for).
    pub calls: u64,
    pub cpu: CpuTime,
}

/// Everything measured of one target.
pub struct TargetFigures {
    pub name: &'static str,
    pub negotiated: String,
    pub plans: Vec<PlanFigures>,
    pub rounds: Vec<SeriesRound>,
}

impl TargetFigures {
    /// `series`' figures, round by round.
    fn rounds_of(&self, series: Series) -> Vec<RoundFigures> {
        self.rounds
            .iter()
            .filter(|round| round.series == series)
            .map(|round| round.figures)
            .collect()
    }

    fn stats(&self, series: Series, open: bool) -> Option<&Stats> {
        self.plans
            .iter()
            .find(|p| p.series == series && is_open(&p.plan) == open)
            .map(|p| &p.stats)
    }

    /// CPU µs per request over every plan of `series`: (user, system).
    fn cpu_per_request(&self, series: Series) -> Option<(f64, f64)> {
        let plans = self.plans.iter().filter(|p| p.series == series);
        let (calls, cpu) = plans.fold((0, CpuTime::default()), |(calls, mut cpu), p| {
            cpu.add(p.cpu);
            (calls + p.calls, cpu)
        });
        let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / calls as f64;
        (calls > 0).then(|| (per(cpu.user), per(cpu.system)))
    }
}

fn is_open(plan: &LoadPlan) -> bool {
    matches!(plan.mode, LoadMode::Open { .. })
}

const SERIES: [Series; 3] = [Series::KeepAlive, Series::FullHandshake, Series::Resumed];

pub fn table(targets: &[TargetFigures]) -> Table {
    let columns = [
        "series",
        "target",
        "req/s (closed loop)",
        "x nginx",
        "p50 / p99 ms (open loop)",
        "p50 / p99 ms (closed loop)",
        "CPU µs/request (user + system)",
    ];
    let nginx = targets.iter().find(|t| t.name == "nginx");
    let mut rows = Vec::new();
    for series in SERIES {
        let nginx_rate = nginx
            .and_then(|n| n.stats(series, false))
            .map(|s| s.throughput);
        for target in targets {
            let closed = target.stats(series, false);
            let percentiles = |stats: Option<&Stats>| {
                stats.map_or("-".to_owned(), |s| format!("{:.3} / {:.3}", s.p50, s.p99))
            };
            rows.push(vec![
                series.label().to_owned(),
                target.name.to_owned(),
                closed.map_or("-".to_owned(), |s| format!("{:.0}", s.throughput)),
                match (closed, nginx_rate) {
                    (Some(s), Some(n)) => format!("{:.2}", s.throughput / n.max(f64::EPSILON)),
                    _ => "-".to_owned(),
                },
                percentiles(target.stats(series, true)),
                percentiles(closed),
                target
                    .cpu_per_request(series)
                    .map_or("-".to_owned(), |(user, system)| {
                        format!("{:.1} ({user:.1} + {system:.1})", user + system)
                    }),
            ]);
        }
    }
    Table {
        columns: columns.map(str::to_owned).to_vec(),
        rows,
    }
}

/// The verdicts (when both targets ran) and the negotiated parameters.
pub fn verdicts(targets: &[TargetFigures], rounds: usize) -> Vec<String> {
    let mut notes = vec![format!(
        "rounds: {rounds}, targets alternating forward and backward"
    )];
    let find = |name: &str| targets.iter().find(|t| t.name == name);
    if let (Some(gateway), Some(nginx)) = (find("gateway"), find("nginx")) {
        for series in SERIES {
            let (Some(g), Some(n)) = (gateway.stats(series, false), nginx.stats(series, false))
            else {
                continue;
            };
            let pooled = g.throughput / n.throughput.max(f64::EPSILON);
            let (gateway_rounds, nginx_rounds) =
                (gateway.rounds_of(series), nginx.rounds_of(series));
            let paired = ratios(&gateway_rounds, &nginx_rounds, |r| r.throughput);
            let paired_cpu = ratios(&gateway_rounds, &nginx_rounds, |r| r.cpu_per_request);
            let judged = median(&paired).filter(|_| paired.len() >= PAIRED_VERDICT_ROUNDS);
            let ratio = judged.unwrap_or(pooled);
            let goal = match series {
                Series::Resumed => "no goal".to_owned(),
                _ if ratio >= GOAL => format!("goal >= {GOAL}x: met"),
                _ => format!("goal >= {GOAL}x: MISSED"),
            };
            let how = match judged {
                Some(judged_ratio) => {
                    let (low, high) = paired
                        .iter()
                        .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
                    let cpu = median(&paired_cpu).map_or(String::new(), |c| {
                        format!(", CPU per request {c:.2}x (median)")
                    });
                    format!(
                        "paired by round over {} rounds, {judged_ratio:.2}x (median; {low:.2}x to {high:.2}x){cpu}; pooled {pooled:.2}x",
                        paired.len()
                    )
                }
                None => format!("{pooled:.2}x"),
            };
            let cpu = match (
                gateway.cpu_per_request(series),
                nginx.cpu_per_request(series),
            ) {
                (Some(g), Some(n)) => format!(
                    "; CPU per request {:.1} vs {:.1} µs ({:.2}x)",
                    g.0 + g.1,
                    n.0 + n.1,
                    (g.0 + g.1) / (n.0 + n.1).max(f64::EPSILON)
                ),
                _ => String::new(),
            };
            notes.push(format!(
                "{}: gateway / nginx throughput {how} ({goal}){cpu}",
                series.label()
            ));
        }
    }
    for target in targets {
        notes.push(format!("{} negotiated: {}", target.name, target.negotiated));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::loadgen::Recorder;
    use std::time::Duration;

    fn plan(series: Series, open: bool, requests: u64, cpu_ms: u64) -> PlanFigures {
        let load = if open {
            LoadPlan::open(100.0, Duration::from_secs(1), Duration::ZERO)
        } else {
            LoadPlan::closed(4, Duration::from_secs(1), Duration::ZERO)
        };
        let recorder = Recorder::new();
        for _ in 0..requests {
            recorder.record(true, Duration::from_micros(500), Ok(()));
        }
        PlanFigures {
            series,
            plan: load,
            stats: recorder.finish(Duration::from_secs(1), 0),
            calls: requests,
            cpu: CpuTime {
                user: Duration::from_millis(cpu_ms),
                system: Duration::from_millis(cpu_ms),
            },
        }
    }

    fn target(name: &'static str, closed_requests: u64) -> TargetFigures {
        TargetFigures {
            name,
            negotiated: "TLSv1_3".to_owned(),
            plans: SERIES
                .into_iter()
                .flat_map(|s| [plan(s, true, 100, 1), plan(s, false, closed_requests, 10)])
                .collect(),
            rounds: Vec::new(),
        }
    }

    /// `target`, with keep-alive throughputs per round.
    fn with_rounds(mut target: TargetFigures, throughputs: &[f64]) -> TargetFigures {
        target.rounds = throughputs
            .iter()
            .map(|&throughput| SeriesRound {
                series: Series::KeepAlive,
                figures: RoundFigures {
                    throughput: Some(throughput),
                    cpu_per_request: Some(50.0),
                },
            })
            .collect();
        target
    }

    #[test]
    fn from_enough_rounds_the_verdict_is_on_the_paired_median() {
        // Pooled, the gateway looks fast enough (one fast round carries
        // it); paired by round, two of three rounds say it is not.
        let gateway = with_rounds(target("gateway", 950), &[800.0, 850.0, 2000.0]);
        let nginx = with_rounds(target("nginx", 1000), &[1000.0, 1000.0, 1000.0]);
        let notes = verdicts(&[gateway, nginx], 3);
        let keep_alive = notes.iter().find(|n| n.starts_with("keep-alive")).unwrap();
        assert!(
            keep_alive.contains("paired by round over 3 rounds, 0.85x (median; 0.80x to 2.00x)"),
            "{keep_alive}"
        );
        assert!(
            keep_alive.contains("pooled 0.95x (goal >= 0.9x: MISSED)"),
            "{keep_alive}"
        );
        // Two rounds are too few to pair: the pooled figure decides.
        let gateway = with_rounds(target("gateway", 950), &[800.0, 850.0]);
        let nginx = with_rounds(target("nginx", 1000), &[1000.0, 1000.0]);
        let notes = verdicts(&[gateway, nginx], 2);
        let keep_alive = notes.iter().find(|n| n.starts_with("keep-alive")).unwrap();
        assert!(
            keep_alive.contains("0.95x (goal >= 0.9x: met)"),
            "{keep_alive}"
        );
    }

    #[test]
    fn a_rounds_plans_are_grouped_by_series() {
        let cpu = |ms| {
            Some(CpuTime {
                user: Duration::from_millis(ms),
                system: Duration::ZERO,
            })
        };
        let plans = [
            PlanRound {
                series: Series::KeepAlive,
                throughput: None,
                calls: 100,
                cpu: cpu(2),
            },
            PlanRound {
                series: Series::KeepAlive,
                throughput: Some(900.0),
                calls: 900,
                cpu: cpu(8),
            },
            PlanRound {
                series: Series::Resumed,
                throughput: Some(50.0),
                calls: 50,
                cpu: None,
            },
        ];
        let rounds = by_series(&plans);
        assert_eq!(rounds.len(), 2);
        assert_eq!(rounds[0].series, Series::KeepAlive);
        assert_eq!(rounds[0].figures.throughput, Some(900.0));
        // 10 ms over 1,000 requests.
        assert!((rounds[0].figures.cpu_per_request.unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(rounds[1].figures.cpu_per_request, None);
    }

    #[test]
    fn verdicts_compare_the_closed_loop_throughput_with_the_goal() {
        let notes = verdicts(&[target("gateway", 950), target("nginx", 1000)], 3);
        let keep_alive = notes.iter().find(|n| n.starts_with("keep-alive")).unwrap();
        assert!(
            keep_alive.contains("0.95x (goal >= 0.9x: met)"),
            "{keep_alive}"
        );
        let notes = verdicts(&[target("gateway", 800), target("nginx", 1000)], 3);
        let full = notes.iter().find(|n| n.starts_with("full")).unwrap();
        assert!(full.contains("0.80x (goal >= 0.9x: MISSED)"), "{full}");
        let resumed = notes.iter().find(|n| n.starts_with("resumed")).unwrap();
        assert!(resumed.contains("no goal"), "{resumed}");
    }

    #[test]
    fn cpu_per_request_sums_a_series_plans() {
        // 2 × 1 ms (open) + 2 × 10 ms (closed) over 100 + 900 requests.
        let (user, system) = target("gateway", 900)
            .cpu_per_request(Series::KeepAlive)
            .unwrap();
        assert!((user - 11.0).abs() < 1e-9 && (system - 11.0).abs() < 1e-9);
    }
}
