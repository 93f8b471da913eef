//! Per-fetch metrics, taken from inside the executor with its plugin hook: the hook starts
//! a timer when a fetch starts and the end callback records how it went.
//!
//! A fetch that fails outright (time-out, refused connection) never reaches the end
//! callback: the executor returns early and drops it. The timer therefore records on
//! drop, as `Failed` unless the callback saw an answer, so failed fetches are counted too.

use std::time::Instant;

use hive_router_plan_executor::{
    hooks::{
        on_plugin_init::{OnPluginInitPayload, OnPluginInitResult},
        on_subgraph_execute::{OnSubgraphExecuteStartHookPayload, OnSubgraphExecuteStartHookResult},
    },
    plugin_trait::{EndHookPayload, RouterPlugin, StartHookPayload},
};

use crate::metrics::{FetchOutcome, RouterMetrics};

pub(super) struct FetchMetrics {
    metrics: RouterMetrics,
}

impl FetchMetrics {
    pub(super) fn new(metrics: RouterMetrics) -> Self {
        Self { metrics }
    }
}

struct FetchTimer {
    metrics: RouterMetrics,
    subgraph: String,
    started: Instant,
    outcome: FetchOutcome,
}

impl Drop for FetchTimer {
    fn drop(&mut self) {
        self.metrics
            .record_fetch(&self.subgraph, self.started.elapsed(), self.outcome);
    }
}

#[async_trait::async_trait]
impl RouterPlugin for FetchMetrics {
    fn plugin_name() -> &'static str {
        "c9pay_fetch_metrics"
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
        let mut timer = FetchTimer {
            metrics: self.metrics.clone(),
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
