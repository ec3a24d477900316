//! The planning pool: a few dedicated OS threads that parse, check,
//! validate, normalize and plan operations, so this CPU work never runs on
//! the serving worker threads (a REST request on a worker never waits
//! behind a GraphQL plan). It is bounded three ways:
//!
//! * `threads` operations are prepared at once (the concurrency cap);
//! * at most `max_queued` more wait; beyond that a request is refused at
//!   once with 503 `PLANNING_OVERLOADED` (and `Retry-After`);
//! * each operation has a time budget, counted from when it was submitted
//!   (queueing included). The waiting request is answered 503
//!   `PLANNING_TIMEOUT` when the budget runs out; the work is abandoned:
//!   a job that has not started is skipped, a running one stops at its
//!   next step boundary (the planner itself checks the deadline as it
//!   searches), and its result is discarded, not cached.
//!
//! The steps that cannot be interrupted (parsing, validation,
//! normalization) are bounded by the protection limits, checked first in
//! linear time (see [`super::limits`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hive_router_query_planner::utils::cancellation::CancellationToken;
use tokio::sync::oneshot;

use super::error::RequestError;
pub use crate::config::model::PlanningSettings;

/// Stack size of a planning thread: parsing and validation recurse once
/// per nesting level, and the token limit allows thousands of levels.
const STACK_BYTES: usize = 16 * 1024 * 1024;

/// The time budget of one operation, as seen by the work.
pub struct Budget {
    deadline: Instant,
    timeout: Duration,
    abandoned: Arc<AtomicBool>,
}

impl Budget {
    /// Fails once the budget is spent or the requester gave up.
    pub fn check(&self) -> Result<(), RequestError> {
        if self.abandoned.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
            return Err(self.timed_out());
        }
        Ok(())
    }

    /// A planner cancellation token that fires at the deadline.
    pub fn planner_token(&self) -> CancellationToken {
        CancellationToken::with_timeout(self.deadline.saturating_duration_since(Instant::now()))
    }

    pub fn timed_out(&self) -> RequestError {
        RequestError::PlanningTimeout {
            budget: self.timeout,
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool. Dropping it lets its threads finish their job and exit.
pub struct PlanningPool {
    settings: PlanningSettings,
    sender: SyncSender<Job>,
    /// Threads running a job now.
    busy: Arc<AtomicUsize>,
    /// Jobs admitted and not finished (running or queued).
    admitted: Arc<AtomicUsize>,
}

impl std::fmt::Debug for PlanningPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanningPool")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PlanningPool {
    pub fn new(settings: PlanningSettings) -> Self {
        let capacity = settings.threads.max(1) + settings.max_queued;
        let (sender, receiver) = mpsc::sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let busy = Arc::new(AtomicUsize::new(0));
        for index in 0..settings.threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let busy = Arc::clone(&busy);
            let spawned = std::thread::Builder::new()
                .name(format!("graphql-plan-{index}"))
                .stack_size(STACK_BYTES)
                .spawn(move || run_jobs(&receiver, &busy));
            if let Err(error) = spawned {
                tracing::error!(%error, "a GraphQL planning thread could not start");
            }
        }
        PlanningPool {
            settings,
            sender,
            busy,
            admitted: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn settings(&self) -> &PlanningSettings {
        &self.settings
    }

    /// How many threads are preparing an operation now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Runs `work` on the pool within the budget and returns its result.
    pub async fn run<T, F>(&self, work: F) -> Result<T, RequestError>
    where
        T: Send + 'static,
        F: FnOnce(&Budget) -> Result<T, RequestError> + Send + 'static,
    {
        let deadline = Instant::now() + self.settings.timeout;
        let abandoned = Arc::new(AtomicBool::new(false));
        let budget = Budget {
            deadline,
            timeout: self.settings.timeout,
            abandoned: Arc::clone(&abandoned),
        };
        let capacity = self.settings.threads.max(1) + self.settings.max_queued;
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(RequestError::PlanningOverloaded {
                threads: self.settings.threads,
                queued: self.settings.max_queued,
            });
        }
        let admission = Admission(Arc::clone(&self.admitted));
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _admission = admission;
            // Skipped when the requester has already been answered.
            if budget.check().is_err() {
                return;
            }
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&budget)))
                .unwrap_or_else(|_| {
                    Err(RequestError::Planning(
                        "the query planner failed on this operation".to_owned(),
                    ))
                });
            let _ = reply.send(result);
        });
        // Admission bounds the jobs in the channel, so it is never full.
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(RequestError::Planning(
                    "the planning pool is not running".to_owned(),
                ));
            }
        }
        let timed_out = RequestError::PlanningTimeout {
            budget: self.settings.timeout,
        };
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), answer).await {
            Ok(Ok(result)) => result,
            // The job was skipped: its budget ran out in the queue.
            Ok(Err(_)) => Err(timed_out),
            Err(_) => {
                abandoned.store(true, Ordering::Relaxed);
                Err(timed_out)
            }
        }
    }
}

/// One admitted job; dropping it (the job ran, was skipped or was
/// dropped unrun) frees its place.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn run_jobs(receiver: &Mutex<Receiver<Job>>, busy: &AtomicUsize) {
    loop {
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = next else { return };
        busy.fetch_add(1, Ordering::Relaxed);
        job();
        busy.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn pool(threads: usize, max_queued: usize, timeout: Duration) -> PlanningPool {
        PlanningPool::new(PlanningSettings {
            threads,
            max_queued,
            timeout,
        })
    }

    #[tokio::test]
    async fn work_runs_off_the_calling_thread() {
        let pool = pool(1, 4, Duration::from_secs(30));
        let caller = std::thread::current().id();
        let name = pool
            .run(move |_| {
                assert_ne!(std::thread::current().id(), caller);
                Ok(std::thread::current().name().map(str::to_owned))
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("graphql-plan-0"));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_and_a_spent_budget_times_out() {
        let pool = Arc::new(pool(1, 0, Duration::from_millis(200)));
        let (started_tx, started) = channel();
        let (release, wait) = channel::<()>();
        let busy_pool = Arc::clone(&pool);
        let busy = tokio::spawn(async move {
            busy_pool
                .run(move |budget| {
                    started_tx.send(()).unwrap();
                    let _ = wait.recv();
                    budget.check()
                })
                .await
        });
        tokio::task::spawn_blocking(move || started.recv().unwrap())
            .await
            .unwrap();
        // The only thread is busy and nothing may queue.
        let refused = pool.run(|_| Ok(())).await.unwrap_err();
        assert_eq!(refused.code(), "PLANNING_OVERLOADED");
        // The busy job outlives its budget: its requester gets the timeout.
        let timed_out = busy.await.unwrap().unwrap_err();
        assert_eq!(timed_out.code(), "PLANNING_TIMEOUT");
        let _ = release.send(());
    }

    #[tokio::test]
    async fn a_panic_in_the_work_is_an_error_not_a_dead_thread() {
        let pool = pool(1, 4, Duration::from_secs(30));
        let error = pool
            .run(|_| -> Result<(), RequestError> { panic!("planner bug") })
            .await
            .unwrap_err();
        assert_eq!(error.code(), "QUERY_PLANNING_FAILED");
        assert_eq!(pool.run(|_| Ok(7)).await.unwrap(), 7);
    }
}
