//! The router's own metrics, next to the HTTP metrics every target has: per GraphQL
//! operation (by operation name) and per subgraph fetch, each a count, a latency histogram
//! and an error count.
//!
//! Operation names come from clients, so they are not trusted as label values: names are
//! cut to a short length, and once `OPERATION_NAMES_MAX` distinct names have been seen,
//! new ones are counted as `other`. Otherwise a client could create time series without
//! bound and exhaust the memory of the router and of Prometheus.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use c9pay_platform::metrics::{LATENCY_BUCKETS_S, Metrics};
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts};

/// Distinct operation names tracked before new names are counted as `other`.
pub const OPERATION_NAMES_MAX: usize = 256;
/// Longest operation name used as a label value.
pub const OPERATION_NAME_LENGTH_MAX: usize = 64;

#[derive(Clone)]
pub struct RouterMetrics {
    operations: IntCounterVec,
    operation_duration: HistogramVec,
    operation_errors: IntCounterVec,
    fetches: IntCounterVec,
    fetch_duration: HistogramVec,
    fetch_errors: IntCounterVec,
    plan_cache: IntCounterVec,
    document_cache: IntCounterVec,
    rate_limited: IntCounterVec,
    subscriptions_active: IntGauge,
    subscription_events: IntCounter,
    subscriptions_ended: IntCounterVec,
    operation_names: Arc<Mutex<HashSet<String>>>,
}

/// One open subscription, counted in `graphql_subscriptions_active` while it lives.
pub struct ActiveSubscription {
    metrics: RouterMetrics,
}

impl ActiveSubscription {
    /// One event went to the client.
    pub fn delivered(&self) {
        self.metrics.subscription_events.inc();
    }
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.metrics.subscriptions_active.dec();
    }
}

/// How one subgraph fetch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The subgraph answered without errors.
    Ok,
    /// The subgraph answered, with GraphQL errors.
    GraphQLErrors,
    /// No usable answer: time-out, connection failure, malformed response.
    Failed,
    /// Dropped before it ended, because the request it served was (the router's request
    /// time-out, a client that went away, a subscription that ended).
    Cancelled,
}

impl RouterMetrics {
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let operations = IntCounterVec::new(
            Opts::new(
                "graphql_operations_total",
                "GraphQL operations received, by operation name and kind",
            ),
            &["operation", "kind"],
        )?;
        let operation_duration = HistogramVec::new(
            HistogramOpts::new(
                "graphql_operation_duration_seconds",
                "GraphQL operation latency in the router, by operation name",
            )
            .buckets(LATENCY_BUCKETS_S.to_vec()),
            &["operation"],
        )?;
        let operation_errors = IntCounterVec::new(
            Opts::new(
                "graphql_operation_errors_total",
                "GraphQL operations that ended with errors, by operation name and first error code",
            ),
            &["operation", "code"],
        )?;
        let fetches = IntCounterVec::new(
            Opts::new("subgraph_fetches_total", "Fetches from subgraphs, by subgraph"),
            &["subgraph"],
        )?;
        let fetch_duration = HistogramVec::new(
            HistogramOpts::new(
                "subgraph_fetch_duration_seconds",
                "Latency of fetches from subgraphs, by subgraph",
            )
            .buckets(LATENCY_BUCKETS_S.to_vec()),
            &["subgraph"],
        )?;
        let fetch_errors = IntCounterVec::new(
            Opts::new(
                "subgraph_fetch_errors_total",
                "Fetches from subgraphs that failed (`failed`), answered with GraphQL errors (`graphql`) or were dropped with the request they served (`cancelled`), by subgraph",
            ),
            &["subgraph", "kind"],
        )?;
        let plan_cache = IntCounterVec::new(
            Opts::new(
                "query_plan_cache_lookups_total",
                "Query plan cache lookups, by result (`hit` or `miss`)",
            ),
            &["result"],
        )?;
        let document_cache = IntCounterVec::new(
            Opts::new(
                "document_cache_lookups_total",
                "Lookups of documents already parsed, measured and validated, by result (`hit` or `miss`)",
            ),
            &["result"],
        )?;
        // Fields come from configuration, scopes are `ip` or `principal`: bounded labels.
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_requests_total",
                "Requests refused with RATE_LIMITED, by root field and scope (`ip` or `principal`)",
            ),
            &["field", "scope"],
        )?;
        let subscriptions_active = IntGauge::new(
            "graphql_subscriptions_active",
            "Subscriptions open now, over WebSocket and server-sent events",
        )?;
        let subscription_events = IntCounter::new(
            "graphql_subscription_events_total",
            "Subscription events delivered to clients",
        )?;
        let subscriptions_ended = IntCounterVec::new(
            Opts::new(
                "graphql_subscriptions_ended_total",
                "Subscriptions the router ended, by reason (`too_slow`, `token_expired`, `revoked`)",
            ),
            &["reason"],
        )?;
        let registry = metrics.registry();
        registry.register(Box::new(subscriptions_active.clone()))?;
        registry.register(Box::new(subscription_events.clone()))?;
        registry.register(Box::new(subscriptions_ended.clone()))?;
        registry.register(Box::new(plan_cache.clone()))?;
        registry.register(Box::new(document_cache.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(operations.clone()))?;
        registry.register(Box::new(operation_duration.clone()))?;
        registry.register(Box::new(operation_errors.clone()))?;
        registry.register(Box::new(fetches.clone()))?;
        registry.register(Box::new(fetch_duration.clone()))?;
        registry.register(Box::new(fetch_errors.clone()))?;
        Ok(Self {
            operations,
            operation_duration,
            operation_errors,
            fetches,
            fetch_duration,
            fetch_errors,
            plan_cache,
            document_cache,
            rate_limited,
            subscriptions_active,
            subscription_events,
            subscriptions_ended,
            operation_names: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// A subscription opened; it counts as active until the returned guard is dropped.
    pub fn subscription_started(&self) -> ActiveSubscription {
        self.subscriptions_active.inc();
        ActiveSubscription {
            metrics: self.clone(),
        }
    }

    /// The router ended a subscription (`too_slow`, `token_expired`, `revoked`).
    pub fn subscription_ended(&self, reason: &str) {
        self.subscriptions_ended.with_label_values(&[reason]).inc();
    }

    /// The label value for a client-supplied operation name.
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".to_string();
        };
        let name: String = name.chars().take(OPERATION_NAME_LENGTH_MAX).collect();
        let Ok(mut seen) = self.operation_names.lock() else {
            return "other".to_string();
        };
        if seen.contains(&name) {
            return name;
        }
        if seen.len() >= OPERATION_NAMES_MAX {
            return "other".to_string();
        }
        seen.insert(name.clone());
        name
    }

    /// One operation, after it was answered; `error_code` is the first error's code.
    pub fn record_operation(
        &self,
        operation: &str,
        kind: &str,
        elapsed: Duration,
        error_code: Option<&str>,
    ) {
        self.operations.with_label_values(&[operation, kind]).inc();
        self.operation_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
        if let Some(code) = error_code {
            self.operation_errors
                .with_label_values(&[operation, code])
                .inc();
        }
    }

    /// One lookup in the query plan cache.
    pub fn record_plan_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.plan_cache.with_label_values(&[result]).inc();
    }

    /// One lookup in the cache of prepared documents.
    pub fn record_document_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.document_cache.with_label_values(&[result]).inc();
    }

    /// One request refused by the rate limit of `field` for this `scope`.
    pub fn record_rate_limited(&self, field: &str, scope: &str) {
        self.rate_limited.with_label_values(&[field, scope]).inc();
    }

    /// One fetch from `subgraph`.
    pub fn record_fetch(&self, subgraph: &str, elapsed: Duration, outcome: FetchOutcome) {
        self.fetches.with_label_values(&[subgraph]).inc();
        self.fetch_duration
            .with_label_values(&[subgraph])
            .observe(elapsed.as_secs_f64());
        let kind = match outcome {
            FetchOutcome::Ok => return,
            FetchOutcome::GraphQLErrors => "graphql",
            FetchOutcome::Failed => "failed",
            FetchOutcome::Cancelled => "cancelled",
        };
        self.fetch_errors.with_label_values(&[subgraph, kind]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_beyond_the_maximum_become_other() {
        let Ok(metrics) = Metrics::new("test").and_then(|metrics| RouterMetrics::register(&metrics)) else {
            panic!("metrics")
        };
        for index in 0..OPERATION_NAMES_MAX {
            assert_eq!(metrics.operation_label(Some(&format!("Op{index}"))), format!("Op{index}"));
        }
        assert_eq!(metrics.operation_label(Some("OneTooMany")), "other");
        assert_eq!(metrics.operation_label(Some("Op0")), "Op0");
        assert_eq!(metrics.operation_label(None), "anonymous");
    }
}
