//! Scraping the gateway's `GET /metrics` and reading it with an
//! independent Prometheus text-format parser (`prometheus-parse`), so the
//! tests check what Prometheus itself would read.

use prometheus_parse::{Sample, Scrape, Value};

use crate::gateway::TestGateway;

/// One scrape of the admin listener's `/metrics`.
pub struct Metrics {
    pub scrape: Scrape,
    pub text: String,
}

/// Scrapes `/metrics`, checking the status and the content type.
pub async fn scrape(gw: &TestGateway) -> Metrics {
    let response = gw
        .client
        .get(gw.admin_url("/metrics"))
        .send()
        .await
        .expect("scrape sent");
    assert_eq!(response.status(), 200, "GET /metrics");
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii content type")
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.expect("scrape body");
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("parses");
    Metrics { scrape, text }
}

impl Metrics {
    /// The samples of `name` whose labels include every pair of `labels`.
    pub fn samples<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.scrape.samples.iter().filter(move |sample| {
            sample.metric == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
    }

    /// The sum of the counter, gauge or untyped samples of `name` that
    /// carry `labels` (0 when there are none: a series not yet created).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(name, labels)
            .map(|sample| match &sample.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                other => panic!("{name} is not a single value: {other:?}"),
            })
            .sum()
    }

    /// How many observations the histogram `name` (without `_seconds`
    /// suffixes added) holds for `labels`: its `_count`, checked against
    /// its `+Inf` bucket.
    pub fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let count = self.value(&format!("{name}_count"), labels);
        let infinite: f64 = self
            .samples(name, labels)
            .map(|sample| match &sample.value {
                Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|bucket| bucket.less_than.is_infinite())
                    .map_or(0.0, |bucket| bucket.count),
                other => panic!("{name} is not a histogram: {other:?}"),
            })
            .sum();
        assert_eq!(
            count, infinite,
            "{name}{labels:?}: _count is the +Inf bucket"
        );
        count
    }
}
