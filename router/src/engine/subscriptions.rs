//! The thread subscriptions run on. The executor's subscription transports spawn their
//! tasks with `ntex::rt::spawn` (a `spawn_local`) and connect with ntex's connector, which
//! works only inside an ntex `System`; queries and mutations need none of that. So one
//! dedicated thread runs an ntex `System`, takes each new subscription as a job, and runs
//! it as a local task that forwards response bodies into a bounded channel the router's
//! connection reads.
//!
//! Upstream, subscriptions to a subgraph share a few WebSockets (the executor's pool; the
//! engine picks each subscription's connection in turn): a connection is opened with the
//! router's own internal token, each subscription sends its principal's in its
//! `subscribe` message (`FetchAuthorization::Multiplexed`). When a shared connection
//! drops, every subscription on it ends with an error event (`SERVICE_UNAVAILABLE`,
//! "subscribe again with … `after`", from the executor's `SUBGRAPH_WEBSOCKET_…` code;
//! `pipeline::execute`) and the client subscribes
//! again with the id of the last event it received as `after`: credit replays what it
//! missed, so events stay in order, each once, none lost. A later subscription opens a
//! new connection. Re-subscribing transparently inside the router would need the
//! executor's stream to resume, which it cannot: it ends at the first transport error.
//!
//! The forwarding task never waits for the client: it offers each event to the channel
//! and, when the channel is full (the client reads slower than events come), ends the
//! subscription as too slow. Waiting instead would stall the executor's stream, and the
//! executor drops events silently when its own buffer overflows.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
};

use futures::StreamExt;
use hive_router_plan_executor::execution::plan::QueryPlanExecutionResult;
use tokio::sync::{mpsc, oneshot};

use super::{ExecuteError, PlannedOperation, Runner};

/// New subscriptions waiting for the worker thread to take them; more wait to be queued.
const JOBS_QUEUED_MAX: usize = 1_024;

pub(super) struct Job {
    pub planned: Arc<PlannedOperation>,
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// The subscription's internal credentials; none with `access = "open"`.
    pub authorization: Option<super::SubscriptionTokens>,
    /// The W3C `traceparent` of the span that subscribes, sent to the subgraph beside the
    /// subscription's credential so that its subscription continues the trace.
    pub traceparent: Option<String>,
    pub buffer_size_max: usize,
}

struct Started {
    job: Job,
    events: mpsc::Sender<Vec<u8>>,
    overflowed: Arc<AtomicBool>,
    started: oneshot::Sender<Result<(), ExecuteError>>,
}

pub(super) struct Worker {
    jobs: mpsc::Sender<Started>,
}

/// Which shared upstream connection each new subscription uses: the next in turn.
struct SharedConnections {
    count: u64,
    next: AtomicU64,
}

impl SharedConnections {
    /// The fingerprint of the next connection in the executor's pool; `None` (a
    /// connection of its own) when none are shared.
    fn next(&self) -> Option<u64> {
        (self.count > 0).then(|| self.next.fetch_add(1, Ordering::Relaxed) % self.count)
    }
}

/// What a subscription yields.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamItem {
    /// A response body (`{"data": …, "errors": …}`).
    Event(Vec<u8>),
    /// The subscription ended because its client fell too far behind.
    TooSlow,
    /// The subscription ended because the caller's session was revoked (log-out, a
    /// replayed refresh token, a revoked kiosk). The engine never yields it; the pipeline
    /// does, from auth's revocation feed.
    Revoked,
}

/// The events of one subscription. Dropping it ends the subscription upstream.
pub struct EventStream {
    events: mpsc::Receiver<Vec<u8>>,
    overflowed: Arc<AtomicBool>,
    ended: bool,
}

impl EventStream {
    /// The next event; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<StreamItem> {
        if self.ended {
            return None;
        }
        match self.events.recv().await {
            Some(body) => Some(StreamItem::Event(body)),
            None => {
                self.ended = true;
                self.overflowed
                    .load(Ordering::Acquire)
                    .then_some(StreamItem::TooSlow)
            }
        }
    }
}

impl Worker {
    pub(super) fn start(runner: Arc<Runner>, shared_connections: u64) -> std::io::Result<Self> {
        let shared = Arc::new(SharedConnections {
            count: shared_connections,
            next: AtomicU64::new(0),
        });
        let (jobs, mut queue) = mpsc::channel::<Started>(JOBS_QUEUED_MAX);
        thread::Builder::new()
            .name("subscriptions".to_string())
            .spawn(move || {
                let system = ntex::rt::System::new("subscriptions", ntex::rt::DefaultRuntime);
                system.block_on(async move {
                    while let Some(started) = queue.recv().await {
                        let runner = runner.clone();
                        let connection = shared.next();
                        drop(ntex::rt::spawn(run(runner, started, connection)));
                    }
                });
            })?;
        Ok(Self { jobs })
    }

    pub(super) async fn subscribe(&self, job: Job) -> Result<EventStream, ExecuteError> {
        let (events, receiver) = mpsc::channel(job.buffer_size_max.max(1));
        let overflowed = Arc::new(AtomicBool::new(false));
        let (started, outcome) = oneshot::channel();
        // A burst of new subscriptions (clients reconnecting after a deploy) waits here
        // for the thread rather than failing.
        self.jobs
            .send(Started {
                job,
                events,
                overflowed: overflowed.clone(),
                started,
            })
            .await
            .map_err(|_| ExecuteError::Failed("the subscription thread stopped".to_string()))?;
        outcome
            .await
            .map_err(|_| ExecuteError::Failed("the subscription thread stopped".to_string()))??;
        Ok(EventStream {
            events: receiver,
            overflowed,
            ended: false,
        })
    }
}

async fn run(runner: Arc<Runner>, started: Started, shared_connection: Option<u64>) {
    let Started {
        job,
        events,
        overflowed,
        started,
    } = started;
    // Boxed: the task lives as long as the subscription, and a task keeps the size of its
    // largest state; unboxed, the start-up future (the whole plan execution) would stay
    // allocated in every idle subscription's task.
    let result = Box::pin(runner.run(
        &job.planned,
        &job.query,
        job.operation_name.as_deref(),
        job.variables,
        super::FetchHeaders {
            authorization: match &job.authorization {
                Some(tokens) => super::FetchAuthorization::Multiplexed(tokens.clone()),
                None => super::FetchAuthorization::None,
            },
            request_id: None,
            traceparent: job.traceparent.as_deref(),
            shared_connection,
        },
    ))
    .await;
    let mut stream = match result {
        Err(error) => {
            let _ = started.send(Err(error));
            return;
        }
        Ok(QueryPlanExecutionResult::Single(output)) => {
            // A subscription the router answered alone (only `__typename`).
            let _ = started.send(Ok(()));
            let _ = events.try_send(output.body);
            return;
        }
        Ok(QueryPlanExecutionResult::Stream(output)) => {
            let _ = started.send(Ok(()));
            // The entity fetches of each event run as the stream is polled; dropped with
            // it when the client leaves, they are cancelled, not failed.
            super::fetch_outcomes::Executing::boxed(output.body)
        }
    };
    loop {
        tokio::select! {
            item = stream.next() => {
                let Some(body) = item else { return };
                match events.try_send(body) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        overflowed.store(true, Ordering::Release);
                        return;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            // The client left: dropping the stream closes the upstream subscription.
            () = events.closed() => return,
        }
    }
}
