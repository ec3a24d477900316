//! `graphql.traffic_shaping`: the subgraphs' backend settings — `all`,
//! then each subgraph's entry overriding it key by key. Unset keys keep
//! the defaults subgraph pools always had (connect 2s, request 30s, body
//! idle 60s, 512 connections, least-request, ejection after 5 failures
//! for 5s, identical in-flight queries deduplicated).

use std::collections::BTreeMap;

use marked_yaml::Spanned;

use super::super::super::errors::Diagnostics;
use super::super::super::model::{
    EjectionPolicy, LoadBalancing, SubgraphBackendSettings, SubgraphEndpoint, SubgraphTraffic,
};
use super::super::super::raw::{RawEjection, RawLoadBalancing};
use super::super::super::raw_graphql::{RawSubgraphBackend, RawTrafficShaping};
use super::super::positive_duration;

/// Compiles the section. With `graphql.subgraphs` listed, an entry for a
/// subgraph that is not among them is an error.
pub(super) fn compile_traffic(
    raw: Option<&RawTrafficShaping>,
    listed: Option<&[SubgraphEndpoint]>,
    diag: &mut Diagnostics,
) -> SubgraphTraffic {
    let Some(raw) = raw else {
        return SubgraphTraffic::default();
    };
    let defaults = SubgraphBackendSettings::default();
    let all = raw.all.as_ref().map_or(defaults.clone(), |entry| {
        settings(entry, &defaults, "graphql.traffic_shaping.all", diag)
    });
    let mut subgraphs = BTreeMap::new();
    for (name, entry) in &raw.subgraphs.0 {
        if let Some(list) = listed.filter(|list| !list.iter().any(|s| s.name == name.as_str())) {
            let known: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
            diag.error(
                name.span(),
                format!(
                    "graphql.traffic_shaping.subgraphs: {:?} is not a subgraph of graphql.subgraphs ({})",
                    name.as_str(),
                    known.join(", ")
                ),
            );
        }
        let what = format!("graphql.traffic_shaping.subgraphs.{}", name.as_str());
        subgraphs.insert(name.as_str().to_owned(), settings(entry, &all, &what, diag));
    }
    SubgraphTraffic { all, subgraphs }
}

/// `raw` over `base`, key by key.
fn settings(
    raw: &RawSubgraphBackend,
    base: &SubgraphBackendSettings,
    what: &str,
    diag: &mut Diagnostics,
) -> SubgraphBackendSettings {
    let duration = |value, key: &str, fallback, diag: &mut Diagnostics| {
        positive_duration(value, &format!("{what}.{key}"), diag).unwrap_or(fallback)
    };
    SubgraphBackendSettings {
        connect_timeout: duration(
            raw.connect_timeout.as_ref(),
            "connect_timeout",
            base.connect_timeout,
            diag,
        ),
        request_timeout: duration(
            raw.request_timeout.as_ref(),
            "request_timeout",
            base.request_timeout,
            diag,
        ),
        body_idle_timeout: duration(
            raw.body_idle_timeout.as_ref(),
            "body_idle_timeout",
            base.body_idle_timeout,
            diag,
        ),
        max_connections: max_connections(raw.max_connections.as_ref(), base, what, diag),
        load_balancing: match raw.load_balancing.as_deref() {
            None => base.load_balancing,
            Some(RawLoadBalancing::LeastRequest) => LoadBalancing::LeastRequest,
            Some(RawLoadBalancing::RoundRobin) => LoadBalancing::RoundRobin,
        },
        ejection: ejection(raw.ejection.as_ref(), &base.ejection, what, diag),
        dedupe: raw.dedupe.as_deref().copied().unwrap_or(base.dedupe),
        resilience: super::super::resilience::resilience(
            super::super::resilience::RawResilience {
                retry: raw.retry.as_ref(),
                budget: raw.retry_budget.as_ref(),
                ejection: raw.ejection.as_ref(),
                breaker: raw.circuit_breaker.as_ref(),
            },
            &base.resilience,
            what,
            diag,
        ),
    }
}

fn max_connections(
    value: Option<&Spanned<u64>>,
    base: &SubgraphBackendSettings,
    what: &str,
    diag: &mut Diagnostics,
) -> usize {
    match value.map(|v| (v, usize::try_from(**v))) {
        None => base.max_connections,
        Some((_, Ok(limit))) if limit > 0 => limit,
        Some((value, _)) => {
            diag.error(
                value.span(),
                format!("{what}.max_connections: must be at least 1"),
            );
            base.max_connections
        }
    }
}

fn ejection(
    raw: Option<&RawEjection>,
    base: &EjectionPolicy,
    what: &str,
    diag: &mut Diagnostics,
) -> EjectionPolicy {
    let Some(raw) = raw else { return *base };
    let consecutive_failures = match &raw.consecutive_failures {
        None => base.consecutive_failures,
        Some(count) if **count == 0 => {
            diag.error(
                count.span(),
                format!("{what}.ejection.consecutive_failures: must be at least 1"),
            );
            base.consecutive_failures
        }
        Some(count) => **count,
    };
    let cooldown = positive_duration(
        raw.cooldown.as_ref(),
        &format!("{what}.ejection.cooldown"),
        diag,
    )
    .unwrap_or(base.cooldown);
    EjectionPolicy {
        consecutive_failures,
        cooldown,
    }
}
