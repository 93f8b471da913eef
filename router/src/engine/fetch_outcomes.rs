//! How each subgraph fetch went, taken from inside the executor with its plugin hook: the
//! hook starts a timer when a fetch starts and the end callback records how it went, in
//! the fetch metrics and in the subgraph's circuit breaker.
//!
//! A fetch that fails outright (time-out, refused connection) never reaches the end
//! callback: the executor returns early and drops it. The timer therefore records on
//! drop, as `Failed` unless the callback saw an answer, so failed fetches are counted too.
//!
//! The hook is also the last line of the breaker: the pipeline refuses a request whose
//! plan needs a subgraph with an open breaker before anything is fetched (see
//! [`super::Engine::admit`]), but a breaker can open while a request is under way (a
//! parallel request saw the last failure); a fetch that finds its breaker open then ends
//! at once with an error instead of waiting out the time-out.

use std::{collections::BTreeMap, sync::Arc, time::Instant};

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
pub(super) const BREAKER_OPEN_CODE: &str = "SUBGRAPH_CIRCUIT_OPEN";

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
        self.metrics
            .record_fetch(&self.subgraph, self.started.elapsed(), self.outcome);
        if let Some(breaker) = &self.breaker {
            // An answer with GraphQL errors is an answer: the subgraph is alive.
            match self.outcome {
                FetchOutcome::Failed => breaker.record_failure(),
                FetchOutcome::Ok | FetchOutcome::GraphQLErrors => breaker.record_success(),
            }
        }
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
