//! Figures paired by round. On a shared machine, a slow or fast spell
//! moves every target measured during it; comparing two targets within
//! each round (they ran one after the other) and taking the median over
//! rounds is far steadier than comparing their pooled figures. The proxy
//! scenario pairs its rows with the "observability off" row, the
//! federation scenario the gateway with Hive Router.

/// One target's figures in one round: its closed-loop throughput and its
/// CPU µs per request (none for a target whose CPU is not read).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RoundFigures {
    pub throughput: Option<f64>,
    pub cpu_per_request: Option<f64>,
}

/// From this many rounds on, a verdict is on the median of the figures
/// paired by round (a row against the one it is compared with, measured
/// beside it in the same round), which a slow or fast spell of a shared
/// machine moves far less than the pooled figures; below it, on the
/// pooled figures.
pub const PAIRED_VERDICT_ROUNDS: usize = 3;

/// The ratio `a / b` of one figure in each round both measured.
pub fn ratios(
    a: &[RoundFigures],
    b: &[RoundFigures],
    figure: fn(&RoundFigures) -> Option<f64>,
) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter_map(|(a, b)| {
            let (a, b) = (figure(a)?, figure(b)?);
            (b > 0.0).then(|| a / b)
        })
        .collect()
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(throughput: f64, cpu: f64) -> RoundFigures {
        RoundFigures {
            throughput: Some(throughput),
            cpu_per_request: Some(cpu),
        }
    }

    #[test]
    fn ratios_pair_rounds_and_skip_missing_figures() {
        let a = [
            round(110.0, 9.0),
            round(60.0, 20.0),
            RoundFigures::default(),
        ];
        let b = [round(100.0, 10.0), round(50.0, 25.0), round(1.0, 1.0)];
        let throughput = ratios(&a, &b, |r| r.throughput);
        assert_eq!(throughput.len(), 2);
        assert!((throughput[0] - 1.1).abs() < 1e-9 && (throughput[1] - 1.2).abs() < 1e-9);
        let cpu = ratios(&a, &b, |r| r.cpu_per_request);
        assert!((cpu[0] - 0.9).abs() < 1e-9 && (cpu[1] - 0.8).abs() < 1e-9);
        assert_eq!(
            median(&throughput).map(|m| (m * 100.0).round()),
            Some(115.0)
        );
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }
}
