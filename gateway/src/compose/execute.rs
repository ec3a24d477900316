//! The driver: runs a plan's calls as their inputs become ready.
//!
//! Calls with no dependencies start at once. Every finished call releases
//! its dependents, and a dependent starts in the same poll in which its
//! last input arrived: there are no level-by-level barriers. All running
//! calls live in one `FuturesUnordered`; returning (success, a required
//! failure, the deadline) or being dropped (the client went away) drops
//! it, which cancels every call still running.
//!
//! `sequential: true` keeps the same order but runs one call at a time,
//! for comparison.

use std::collections::BTreeSet;
use std::pin::pin;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::Value;

use super::call::{CallEnv, Finished, start_call};
use super::error::{CallFailure, ComposeError, FailureKind};
use super::plan::ComposePlan;
use crate::router::Params;
use crate::template::eval::Bindings;

/// What a finished composition knows: values by call, and the optional
/// calls that failed.
#[derive(Debug)]
pub struct Execution {
    pub results: Vec<Option<Arc<Value>>>,
    pub failures: Vec<(usize, CallFailure)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done,
}

/// One composition in progress.
struct Run<'a> {
    plan: &'a ComposePlan,
    params: &'a Params,
    results: Vec<Option<Arc<Value>>>,
    failures: Vec<(usize, CallFailure)>,
    /// Unfinished dependencies per call.
    unmet: Vec<usize>,
    state: Vec<State>,
    /// Ready calls by (position in topological order, index).
    ready: BTreeSet<(usize, usize)>,
    in_flight: FuturesUnordered<BoxFuture<'static, Finished>>,
}

/// Runs every call of `plan` and returns their values.
pub async fn execute(
    plan: &ComposePlan,
    params: &Params,
    env: &CallEnv<'_>,
) -> Result<Execution, ComposeError> {
    let mut run = Run::new(plan, params);
    run.start_ready(env);
    let mut deadline = pin!(tokio::time::sleep(plan.deadline));
    while !run.in_flight.is_empty() {
        tokio::select! {
            biased;
            Some((index, result)) = run.in_flight.next() => {
                run.finish(index, result)?;
                run.start_ready(env);
            }
            () = &mut deadline => return run.deadline_passed(),
        }
    }
    Ok(Execution {
        results: run.results,
        failures: run.failures,
    })
}

impl<'a> Run<'a> {
    fn new(plan: &'a ComposePlan, params: &'a Params) -> Self {
        let calls = plan.calls.len();
        let unmet: Vec<usize> = plan.graph.dependencies.iter().map(BTreeSet::len).collect();
        let position = |index: usize| {
            plan.graph
                .order
                .iter()
                .position(|&i| i == index)
                .unwrap_or(index)
        };
        let ready = plan
            .graph
            .roots()
            .map(|index| (position(index), index))
            .collect();
        Self {
            plan,
            params,
            results: vec![None; calls],
            failures: Vec::new(),
            unmet,
            state: vec![State::Waiting; calls],
            ready,
            in_flight: FuturesUnordered::new(),
        }
    }

    /// Starts every ready call (one at a time when sequential).
    fn start_ready(&mut self, env: &CallEnv<'_>) {
        while !self.plan.sequential || self.in_flight.is_empty() {
            let Some((_, index)) = self.ready.pop_first() else {
                break;
            };
            let bindings = Bindings {
                params: self.params,
                results: &self.results,
            };
            self.in_flight
                .push(start_call(index, &self.plan.calls[index], &bindings, env));
            self.state[index] = State::Running;
        }
    }

    fn finish(
        &mut self,
        index: usize,
        result: Result<Arc<Value>, CallFailure>,
    ) -> Result<(), ComposeError> {
        self.state[index] = State::Done;
        match result {
            Ok(value) => {
                self.results[index] = Some(value);
                self.release_dependents(index);
                Ok(())
            }
            Err(failure) => self.fail(index, failure),
        }
    }

    fn release_dependents(&mut self, index: usize) {
        for &dependent in &self.plan.graph.dependents[index] {
            self.unmet[dependent] -= 1;
            if self.unmet[dependent] == 0 && self.state[dependent] == State::Waiting {
                let position = self
                    .plan
                    .graph
                    .order
                    .iter()
                    .position(|&i| i == dependent)
                    .unwrap_or(dependent);
                self.ready.insert((position, dependent));
            }
        }
    }

    /// Records a failure: ends the composition if the call is required,
    /// else notes it and fails the calls that read it.
    fn fail(&mut self, index: usize, failure: CallFailure) -> Result<(), ComposeError> {
        let call = &self.plan.calls[index];
        self.state[index] = State::Done;
        if !call.optional {
            return Err(ComposeError::Required {
                call: call.name.clone(),
                primary: index == self.plan.primary,
                failure,
            });
        }
        self.failures.push((index, failure));
        for &dependent in &self.plan.graph.dependents[index] {
            if self.state[dependent] == State::Waiting {
                let message = format!("it reads call \"{}\", which failed", call.name);
                self.fail(
                    dependent,
                    CallFailure::new(FailureKind::Dependency, message),
                )?;
            }
        }
        Ok(())
    }

    /// The deadline passed: outstanding optional calls become failures;
    /// an outstanding required call ends the composition with a 504.
    fn deadline_passed(mut self) -> Result<Execution, ComposeError> {
        let outstanding: Vec<usize> = (0..self.plan.calls.len())
            .filter(|&i| self.state[i] != State::Done)
            .collect();
        let required: Vec<String> = outstanding
            .iter()
            .filter(|&&i| !self.plan.calls[i].optional)
            .map(|&i| self.plan.calls[i].name.clone())
            .collect();
        if !required.is_empty() {
            return Err(ComposeError::Deadline {
                deadline_ms: self.plan.deadline.as_millis(),
                outstanding: required,
            });
        }
        for index in outstanding {
            let message = format!(
                "the route's deadline of {:?} passed first",
                self.plan.deadline
            );
            self.failures
                .push((index, CallFailure::new(FailureKind::Deadline, message)));
        }
        Ok(Execution {
            results: self.results,
            failures: self.failures,
        })
    }
}
