//! How each subgraph fetch went, taken from inside the executor with its plugin hook: the
//! hook starts a timer when a fetch starts and the end callback records how it went, in
//! the fetch metrics and in the subgraph's circuit breaker.
//!
//! A fetch that fails outright (time-out, refused connection) never reaches the end
//! callback: the executor returns early and drops it. The timer therefore records on
//! drop, as `Failed` unless the callback saw an answer, so failed fetches are counted too.
//!
//! A fetch can also be dropped from above: the router's request time-out, or a client
//! that went away, drops the whole execution with its fetches in flight. That says
//! nothing about the subgraph, so such a fetch is `Cancelled`, and the breaker hears
//! neither a success nor a failure (a probe cancelled that way gives its place to another
//! after a cool-down). The two drops are told apart by where they happen: the executor
//! gives up on a fetch while it is being polled, inside [`Executing`]; a drop from above
//! happens outside any poll of it.
//!
//! The hook is also the last line of the breaker: the pipeline refuses a request whose
//! plan needs a subgraph with an open breaker before anything is fetched (see
//! [`super::Engine::admit`]), but a breaker can open while a request is under way (a
//! parallel request saw the last failure); a fetch that finds its breaker open then ends
//! at once with an error instead of waiting out the time-out.

use std::{
    cell::Cell,
    collections::BTreeMap,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use c9pay_platform::circuit_breaker::CircuitBreaker;

use hive_router_plan_executor::{
    response::graphql_error::GraphQLError,
    hooks::{
        on_plugin_init::{OnPluginInitPayload, OnPluginInitResult},
        on_subgraph_execute::{OnSubgraphExecuteStartHookPayload, OnSubgraphExecuteStartHookResult},
    },
    plugin_trait::{EndHookPayload, RouterPlugin, StartHookPayload},
};

use crate::metrics::{FetchOutcome, RouterMetrics};

/// The code of a fetch the breaker stopped (`SUBGRAPH_` like the executor's own codes,
/// so the pipeline masks it the same way).
pub const BREAKER_OPEN_CODE: &str = "SUBGRAPH_CIRCUIT_OPEN";

pub(super) struct FetchOutcomes {
    metrics: RouterMetrics,
    breakers: Arc<BTreeMap<String, CircuitBreaker>>,
}

impl FetchOutcomes {
    pub(super) fn new(metrics: RouterMetrics, breakers: Arc<BTreeMap<String, CircuitBreaker>>) -> Self {
        Self { metrics, breakers }
    }
}

struct FetchTimer {
    metrics: RouterMetrics,
    breaker: Option<CircuitBreaker>,
    subgraph: String,
    started: Instant,
    outcome: FetchOutcome,
}

impl Drop for FetchTimer {
    fn drop(&mut self) {
        if self.outcome == FetchOutcome::Failed && !executing() {
            self.outcome = FetchOutcome::Cancelled;
        }
        self.metrics
            .record_fetch(&self.subgraph, self.started.elapsed(), self.outcome);
        if let Some(breaker) = &self.breaker {
            // An answer with GraphQL errors is an answer: the subgraph is alive.
            match self.outcome {
                FetchOutcome::Failed => breaker.record_failure(),
                FetchOutcome::Ok | FetchOutcome::GraphQLErrors => breaker.record_success(),
                FetchOutcome::Cancelled => {}
            }
        }
    }
}

thread_local! {
    /// How many [`Executing`] polls are under way on this thread (nested: never more
    /// than one per execution, but an execution may drive another's stream).
    static EXECUTING: Cell<u32> = const { Cell::new(0) };
}

/// Whether the executor is being polled on this thread right now.
fn executing() -> bool {
    EXECUTING.with(Cell::get) > 0
}

/// The executor's future (an operation, or one subscription event's entity fetches),
/// polled with [`executing`] true, so that a fetch the executor gives up on is told from
/// one dropped from above.
pub(super) struct Executing<F>(Pin<Box<F>>);

impl<F> Executing<F> {
    pub(super) fn new(inner: F) -> Self {
        Self(Box::pin(inner))
    }

    fn polling<T>(&mut self, poll: impl FnOnce(Pin<&mut F>) -> T) -> T {
        struct Polling;
        impl Drop for Polling {
            fn drop(&mut self) {
                EXECUTING.with(|depth| depth.set(depth.get().saturating_sub(1)));
            }
        }
        EXECUTING.with(|depth| depth.set(depth.get() + 1));
        let _polling = Polling;
        poll(self.0.as_mut())
    }
}

impl<F: Future> Future for Executing<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        self.polling(|inner| inner.poll(context))
    }
}

#[async_trait::async_trait]
impl RouterPlugin for FetchOutcomes {
    fn plugin_name() -> &'static str {
        "c9pay_fetch_outcomes"
    }

    type Config = ();

    /// Never called: the engine constructs this plugin itself rather than loading it
    /// from the Hive router's configuration.
    fn on_plugin_init(_payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        Ok(None)
    }

    async fn on_subgraph_execute<'exec>(
        &'exec self,
        payload: OnSubgraphExecuteStartHookPayload<'exec>,
    ) -> OnSubgraphExecuteStartHookResult<'exec> {
        let breaker = self.breakers.get(payload.subgraph_name).cloned();
        if let Some(Err(refused)) = breaker.as_ref().map(CircuitBreaker::check) {
            let error = GraphQLError::from_message_and_code(refused.to_string(), BREAKER_OPEN_CODE)
                .add_subgraph_name(payload.subgraph_name);
            return payload.end_with_graphql_error(
                error,
                http::StatusCode::SERVICE_UNAVAILABLE,
            );
        }
        let mut timer = FetchTimer {
            metrics: self.metrics.clone(),
            breaker,
            subgraph: payload.subgraph_name.to_string(),
            started: Instant::now(),
            outcome: FetchOutcome::Failed,
        };
        payload.on_end(move |end| {
            let has_errors = end
                .execution_result
                .errors
                .as_ref()
                .is_some_and(|errors| !errors.is_empty());
            timer.outcome = if has_errors {
                FetchOutcome::GraphQLErrors
            } else {
                FetchOutcome::Ok
            };
            drop(timer);
            end.proceed()
        })
    }
}
