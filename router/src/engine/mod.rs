//! The query engine: parsing, validation, query planning and plan execution over the
//! supergraph, on The Guild's Hive Router crates (`hive-router-query-planner`,
//! `hive-router-plan-executor`, and `graphql-tools` for the GraphQL AST).
//!
//! This is the only module that touches those crates. Everything outside sees the small
//! surface below — [`Engine`], an opaque [`Document`], [`OperationShape`], an opaque
//! [`PlannedOperation`] and plain errors — so that moving to the maintained `hive-router`
//! crate (or another engine) is a change to this module alone.
//!
//! What the executor does NOT do, and the pipeline therefore does before calling it:
//! validate the document against the public schema (the planner assumes a valid one),
//! and decide who may run it. Client headers never reach this module: the executor sees
//! only the internal credential the pipeline gives it ([`FetchAuthorization`]: one per
//! subgraph, set on each fetch by [`fetch_credentials`], or one for every subgraph) and,
//! for a mutation, the request id.

mod analysis;
mod authorization;
mod fetch_credentials;
mod fetch_outcomes;
mod scalars;
mod subscriptions;
mod upstream;

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use graphql_tools::{
    parser::query::Document as AstDocument,
    validation::{
        rules::defaults::default_rules_validation_plan,
        validate::{ValidationPlan, validate},
    },
};
use hive_router_config::{
    headers::HeadersConfig,
    traffic_shaping::{SupergraphTrafficShapingConfig, TrafficShapingConfig},
};
use hive_router_internal::telemetry::{
    TelemetryContext, traces::spans::graphql::GraphQLOperationSpan,
};
use hive_router_plan_executor::{
    SubgraphExecutorMap,
    execution::{
        client_request_details::{ClientRequestDetails, JwtRequestDetails, OperationDetails},
        jwt_forward::JwtAuthForwardingPlan,
        operation_name::OperationNameFactory,
        plan::{
            CoerceVariablesPayload, ExecutionResultExtensions, QueryPlanExecutionOpts,
            QueryPlanExecutionResult, execute_query_plan,
        },
    },
    extensions::plan::ExtensionsPlan,
    headers::{compile::compile_headers_plan, plan::HeaderRulesPlan, response::ResponseHeaderSink},
    introspection::{
        partition::partition_operation,
        resolve::IntrospectionContext,
        schema::{SchemaMetadata, SchemaWithMetadata},
    },
    plugin_context::{PluginContext, PluginRequestState, RouterHttpRequest},
    plugin_trait::RouterPluginBoxed,
    projection::plan::FieldProjectionPlan,
    request_context::SharedRequestContext,
};
use hive_router_query_planner::{
    ast::{normalization::normalize_operation, operation::OperationDefinition},
    graph::PlannerOverrideContext,
    planner::{
        Planner, QueryPlannerOptions,
        plan_nodes::{PlanNode, QueryPlan},
        query_plan::QUERY_PLAN_KIND,
    },
    state::supergraph_state::OperationKind as PlannerOperationKind,
    utils::{cancellation::CancellationToken, parsing::safe_parse_schema},
};
use c9pay_platform::circuit_breaker::{BreakerMetrics, CircuitBreaker, CircuitBreakerConfig, Refused};
use serde_json::json;

pub use analysis::{OperationShape, SelectionError};
pub use authorization::{Demands, Requirement};
pub use fetch_credentials::PerSubgraph;
pub use fetch_outcomes::BREAKER_OPEN_CODE;
pub use scalars::MalformedScalar;
pub use subscriptions::{CONNECTION_LOST_CODE, EventStream, StreamItem};

use crate::{credentials::internal_credentials::SubscriptionTokens, metrics::RouterMetrics};

/// The three kinds of GraphQL operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }

    /// The root type of this kind in the public schema.
    pub fn root_type_name(self) -> &'static str {
        match self {
            Self::Query => "Query",
            Self::Mutation => "Mutation",
            Self::Subscription => "Subscription",
        }
    }
}

/// How the engine reaches the subgraphs.
pub struct EngineOptions {
    /// Subgraph name → GraphQL endpoint URL. Must name every subgraph of the supergraph
    /// (unless `supergraph_urls_used`), and nothing else.
    pub subgraph_endpoints: BTreeMap<String, String>,
    /// Whether a subgraph missing from `subgraph_endpoints` is called at the URL the
    /// supergraph gives it (`access = "open"`) instead of refusing the supergraph.
    pub supergraph_urls_used: bool,
    /// Subgraph name → fetch time-out.
    pub subgraph_timeouts: BTreeMap<String, Duration>,
    /// Time-out of a fetch from a subgraph not in `subgraph_timeouts`.
    pub default_timeout: Duration,
    pub plan_cache_size_max: u64,
    /// Events buffered per subscription between the engine and the client's connection;
    /// a subscription that falls further behind ends as too slow.
    pub subscription_buffer_size_max: usize,
    /// The settings of each subgraph's circuit breaker.
    pub circuit_breaker: CircuitBreakerConfig,
    pub breaker_metrics: BreakerMetrics,
    pub metrics: RouterMetrics,
    /// Whether identical query fetches in flight share one fetch ([`traffic_shaping`]).
    pub deduplicate_queries: bool,
    /// Upstream WebSocket connections per subgraph that subscriptions share; `0`: one per
    /// subscription.
    pub shared_subscription_connections: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the supergraph does not parse: {0}")]
    Supergraph(String),
    #[error("the query planner refused the supergraph: {0}")]
    Planner(String),
    #[error("no URL is configured for subgraph {0:?} of the supergraph")]
    MissingSubgraphUrl(String),
    #[error("a URL is configured for {0:?}, which is not a subgraph of the supergraph")]
    UnknownSubgraph(String),
    #[error("setting up the executor: {0}")]
    Executor(String),
}

/// A parsed GraphQL document.
pub struct Document(AstDocument<'static, String>);

/// Why a document does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the document has more than {tokens_max} tokens")]
    TooManyTokens { tokens_max: usize },
    #[error("the document nests too deeply to parse")]
    TooDeep,
    #[error("{0}")]
    Syntax(String),
}

/// One validation rule a document breaks.
#[derive(Debug)]
pub struct ValidationFailure {
    pub message: String,
    /// (line, column), 1-based.
    pub locations: Vec<(usize, usize)>,
}

/// An operation normalized and planned, ready to execute any number of times.
pub struct PlannedOperation {
    kind: OperationKind,
    plan: QueryPlan,
    operation_for_plan: Arc<OperationDefinition>,
    introspection_operation: Option<Arc<OperationDefinition>>,
    projection_plan: Arc<Vec<FieldProjectionPlan>>,
    root_type_name: String,
    /// Every subgraph the plan may fetch from, sorted, each once.
    subgraphs: Vec<String>,
    /// A subscription's plan split into its primary fetch and each event's rest; `None`
    /// for a query, a mutation, or a subscription the router answers alone.
    subscription: Option<subscriptions::SubscriptionPlan>,
}

impl PlannedOperation {
    pub fn kind(&self) -> OperationKind {
        self.kind
    }

    /// The subgraphs the plan may fetch from.
    pub fn subgraphs(&self) -> &[String] {
        &self.subgraphs
    }
}

/// The subgraphs a plan node may fetch from (both branches of a condition).
fn collect_subgraphs(node: &PlanNode, subgraphs: &mut std::collections::BTreeSet<String>) {
    match node {
        PlanNode::Fetch(fetch) => {
            subgraphs.insert(fetch.service_name.clone());
        }
        PlanNode::BatchFetch(fetch) => {
            subgraphs.insert(fetch.service_name.clone());
        }
        PlanNode::Sequence(sequence) => sequence.nodes.iter().for_each(|node| collect_subgraphs(node, subgraphs)),
        PlanNode::Parallel(parallel) => parallel.nodes.iter().for_each(|node| collect_subgraphs(node, subgraphs)),
        PlanNode::Flatten(flatten) => collect_subgraphs(&flatten.node, subgraphs),
        PlanNode::Condition(condition) => {
            for clause in [&condition.if_clause, &condition.else_clause].into_iter().flatten() {
                collect_subgraphs(clause, subgraphs);
            }
        }
        PlanNode::Subscription(subscription) => {
            subgraphs.insert(subscription.primary.service_name.clone());
        }
        PlanNode::Defer(defer) => {
            if let Some(node) = &defer.primary.node {
                collect_subgraphs(node, subgraphs);
            }
            for deferred in &defer.deferred {
                if let Some(node) = &deferred.node {
                    collect_subgraphs(node, subgraphs);
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The client's document cannot be normalized against the schema (a client error
    /// validation did not catch).
    #[error("{0}")]
    Normalization(String),
    /// The planner failed on a valid operation: a router bug or a supergraph problem.
    #[error("query planning failed: {0}")]
    Planning(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The variables do not fit the operation's variable definitions.
    #[error("{0}")]
    Variables(String),
    /// The executor failed as a whole (not one fetch: those become errors in the body).
    #[error("executing the query plan: {0}")]
    Failed(String),
}

/// The `Authorization` header of the subgraph fetches of one request.
pub enum FetchAuthorization {
    /// Its own value for each subgraph, asked for at each fetch.
    PerSubgraph(PerSubgraph),
    /// A subscription's: the router's own credential as the `Authorization` of every
    /// fetch of its events (the upstream connection it shares with other subscriptions
    /// is opened with one too), and the principal's credential, for every subgraph, in
    /// each fetch's and the `subscribe` message's `extensions`
    /// (`c9pay_platform::graphql::OPERATION_EXTENSION`): the pair signed when the
    /// subscription started, valid as long as it may run, so that every fetch of a
    /// subscription runs as the principal checked at its start.
    Multiplexed(SubscriptionTokens),
    /// No `Authorization` header (`access = "open"`).
    None,
}

/// The header a mutation's fetches carry the router's request id in.
const REQUEST_ID_HEADER: &str = "x-request-id";

/// A GraphQL response body, ready to send.
pub struct ExecutionOutput {
    pub body: Vec<u8>,
    pub error_count: usize,
}

/// The loaded supergraph with everything derived from it.
pub struct Engine {
    planner: Planner,
    runner: Arc<Runner>,
    validation_plan: ValidationPlan,
    metrics: RouterMetrics,
    /// Plans by operation name and normalized operation text. The key is the text, not
    /// a hash of it: a hash collision would run one client's operation with another's plan.
    plans: moka::sync::Cache<String, Arc<PlannedOperation>>,
    authorization: authorization::AuthorizationRules,
    /// The shared connections subscriptions reach subgraphs over.
    upstreams: upstream::Upstreams,
    subscription_buffer_size_max: usize,
    /// Whether any argument or input field of the public schema is a `Float`. When none
    /// is, a Float literal that passed validation sits where a custom scalar (`Amount`,
    /// `DateTime`) is expected, and none of ours accepts one; see [`Engine::float_literal`].
    schema_accepts_float: bool,
    /// The custom scalars whose format the router checks before planning.
    scalar_formats: scalars::ScalarFormats,
    /// Subgraph name → its circuit breaker.
    breakers: Arc<BTreeMap<String, CircuitBreaker>>,
}

/// What executing a plan needs, shared with the subscription worker's thread.
struct Runner {
    metadata: Arc<SchemaMetadata>,
    executors: Arc<SubgraphExecutorMap>,
    headers_plan: Arc<HeaderRulesPlan>,
    plugins: Arc<Vec<RouterPluginBoxed>>,
    consumer_schema: Arc<graphql_tools::parser::schema::Document<'static, String>>,
}

impl Engine {
    pub fn load(supergraph_sdl: &str, options: EngineOptions) -> Result<Self, EngineError> {
        let document = safe_parse_schema(supergraph_sdl)
            .map_err(|error| EngineError::Supergraph(error.to_string()))?;
        let planner = Planner::new_from_supergraph(&document, QueryPlannerOptions::default())
            .map_err(|error| EngineError::Planner(error.to_string()))?;
        let metadata = Arc::new(planner.consumer_schema.schema_metadata());
        let authorization = authorization::AuthorizationRules::from_supergraph(supergraph_sdl)
            .map_err(EngineError::Supergraph)?;
        tracing::info!(directives = authorization.directive_count(), "read the supergraph's authorization directives");

        // The URLs written into the supergraph are defaults; configuration replaces every
        // one of them, and a subgraph without a configured URL is a start-up error rather
        // than a silent fetch from a URL that may resolve to something else — unless the
        // supergraph's own URLs are to be used (`access = "open"`).
        let mut endpoints = HashMap::new();
        for (name, written) in &planner.supergraph.subgraph_endpoint_map {
            let url = match options.subgraph_endpoints.get(name) {
                Some(url) => url,
                None if options.supergraph_urls_used => written,
                None => return Err(EngineError::MissingSubgraphUrl(name.clone())),
            };
            endpoints.insert(name.clone(), url.clone());
        }
        if let Some(unknown) = options
            .subgraph_endpoints
            .keys()
            .find(|name| !endpoints.contains_key(*name))
        {
            return Err(EngineError::UnknownSubgraph(unknown.clone()));
        }

        let executors = SubgraphExecutorMap::from_http_endpoint_map(
            &endpoints,
            traffic_shaping(&options)?,
            Default::default(),
            // Subscriptions do not go through the executor's transports (`upstream`).
            Default::default(),
            None,
            Arc::new(TelemetryContext::from_propagation_config(
                &Default::default(),
                &Default::default(),
            )),
            Arc::new(Default::default()),
        )
        .map_err(|error| EngineError::Executor(error.to_string()))?;

        // The engine hands the executor a header map holding only the internal credential
        // (for every subgraph, or none when the plugin sets it per subgraph), for a
        // mutation the request id, and for a subscription the `traceparent` of the span
        // that subscribes; this rule forwards them to every subgraph. A query's or
        // mutation's fetch gets its `traceparent` from the executor itself.
        let headers_config: HeadersConfig = serde_json::from_value(json!({
            "all": { "request": [ { "propagate": { "named": ["authorization", REQUEST_ID_HEADER, "traceparent"] } } ] }
        }))
        .map_err(|error| EngineError::Executor(error.to_string()))?;
        let headers_plan = compile_headers_plan(&headers_config)
            .map_err(|error| EngineError::Executor(error.to_string()))?;

        let breakers: Arc<BTreeMap<String, CircuitBreaker>> = Arc::new(
            endpoints
                .keys()
                .map(|name| {
                    let breaker = CircuitBreaker::new(name.clone(), options.circuit_breaker, Some(&options.breaker_metrics));
                    (name.clone(), breaker)
                })
                .collect(),
        );
        let plugins: Vec<RouterPluginBoxed> = vec![
            Box::new(fetch_credentials::FetchCredentials),
            Box::new(fetch_outcomes::FetchOutcomes::new(options.metrics.clone(), breakers.clone())),
            Box::new(subscriptions::SubscriptionEvents),
        ];

        let runner = Arc::new(Runner {
            metadata,
            executors: Arc::new(executors),
            headers_plan: Arc::new(headers_plan),
            plugins: Arc::new(plugins),
            consumer_schema: planner.consumer_schema.document.clone(),
        });
        // Subscriptions reach subgraphs over GraphQL over WebSocket at their GraphQL URL,
        // multiplexed over a few connections per subgraph, so that 50,000 subscriptions
        // cost a handful of sockets; more than one, because a subgraph serves each
        // connection's messages one at a time (and async-graphql polls every subscription
        // of a connection when any of them wakes), so tens of thousands on one connection
        // would queue.
        let upstreams = upstream::Upstreams::new(
            &endpoints,
            usize::try_from(options.shared_subscription_connections).unwrap_or(usize::MAX),
        );
        let schema_text = planner.consumer_schema.document.to_string();
        let schema_accepts_float = schema_text.contains(": Float") || schema_text.contains("[Float");
        let scalar_formats = scalars::ScalarFormats::from_schema(&planner.consumer_schema.document);
        Ok(Self {
            planner,
            runner,
            schema_accepts_float,
            scalar_formats,
            validation_plan: default_rules_validation_plan(),
            metrics: options.metrics,
            plans: moka::sync::Cache::new(options.plan_cache_size_max),
            authorization,
            upstreams,
            subscription_buffer_size_max: options.subscription_buffer_size_max,
            breakers,
        })
    }

    /// The subgraphs of the supergraph.
    pub fn subgraph_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .planner
            .supergraph
            .subgraph_endpoint_map
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Whether every subgraph the plan needs may be called now: refused, with the longest
    /// wait, when a breaker is open. Nothing is fetched from a request that is refused,
    /// so a mutation is never half done because one of its subgraphs is down.
    pub fn admit(&self, planned: &PlannedOperation) -> Result<(), Refused> {
        let mut refusal: Option<Refused> = None;
        for subgraph in &planned.subgraphs {
            let Some(breaker) = self.breakers.get(subgraph) else {
                continue;
            };
            if let Err(refused) = breaker.admit()
                && refusal.as_ref().is_none_or(|longest| longest.retry_after < refused.retry_after)
            {
                refusal = Some(refused);
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Parses a document, refusing one with more than `tokens_max` tokens before the
    /// parser builds anything for it.
    pub fn parse(&self, query: &str, tokens_max: usize) -> Result<Document, ParseError> {
        match graphql_tools::parser::parse_query_with_token_limit::<String>(query, tokens_max) {
            Ok(document) => Ok(Document(document.into_static())),
            Err(error) => {
                let message = error.to_string();
                if message.contains("Token limit exceeded") {
                    Err(ParseError::TooManyTokens { tokens_max })
                } else if message.contains("Recursion limit exceeded") {
                    Err(ParseError::TooDeep)
                } else {
                    Err(ParseError::Syntax(message))
                }
            }
        }
    }

    /// Validates a document against the public schema.
    pub fn validate(&self, document: &Document) -> Vec<ValidationFailure> {
        validate(
            &self.planner.consumer_schema.document,
            &document.0,
            &self.validation_plan,
        )
        .into_iter()
        .map(|error| ValidationFailure {
            message: error.message,
            locations: error
                .locations
                .iter()
                .map(|position| (position.line, position.column))
                .collect(),
        })
        .collect()
    }

    /// Picks the operation to run and measures it.
    pub fn shape(
        &self,
        document: &Document,
        operation_name: Option<&str>,
    ) -> Result<OperationShape, SelectionError> {
        let operation = analysis::select_operation(&document.0, operation_name)?;
        Ok(analysis::shape(&document.0, operation))
    }

    /// A Float literal of the document (an argument, a directive's argument or a
    /// variable's default) where the schema accepts no Float, if there is one.
    ///
    /// The engine prints a whole Float literal such as `1000.0` as `1000` in the document
    /// it sends a subgraph, which then reads an Int: `amount: 1000.0` would top up 1000
    /// credits although an `Amount` is never a Float (the fuzz test found this). So such
    /// a literal is the client's mistake, refused before anything is planned. Variables
    /// keep their JSON numbers as sent and need no such care.
    pub fn float_literal(&self, document: &Document) -> Option<f64> {
        if self.schema_accepts_float {
            return None;
        }
        analysis::float_literal(&document.0)
    }

    /// The first value of the chosen operation, in its variables or its literal arguments,
    /// that does not parse as its custom scalar (`Amount`, `DateTime`).
    pub fn malformed_scalar(
        &self,
        document: &Document,
        operation_name: Option<&str>,
        variables: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), MalformedScalar> {
        // The operation was chosen by the limits stage already; nothing to check without one.
        let Ok(operation) = analysis::select_operation(&document.0, operation_name) else {
            return Ok(());
        };
        self.scalar_formats.check(&document.0, operation, variables)
    }

    /// The `@authenticated` and `@requiresScopes` requirements the chosen operation meets.
    pub fn demands(
        &self,
        document: &Document,
        operation_name: Option<&str>,
        kind: OperationKind,
    ) -> Result<Demands, SelectionError> {
        let operation = analysis::select_operation(&document.0, operation_name)?;
        Ok(self.authorization.demands(&document.0, operation, kind.root_type_name()))
    }

    /// Normalizes and plans the chosen operation, from the plan cache when the same
    /// normalized operation was planned before.
    pub fn plan(
        &self,
        document: &Document,
        operation_name: Option<&str>,
    ) -> Result<Arc<PlannedOperation>, PlanError> {
        let normalized = normalize_operation(&self.planner.supergraph, &document.0, operation_name)
            .map_err(|error| PlanError::Normalization(error.to_string()))?;
        let operation = normalized.operation;
        let key = format!(
            "{}\n{}",
            normalized.operation_name.as_deref().unwrap_or_default(),
            operation
        );
        let cached = self.plans.get(&key);
        self.metrics.record_plan_cache(cached.is_some());
        if let Some(planned) = cached {
            return Ok(planned);
        }
        let kind = match operation.operation_kind {
            None | Some(PlannerOperationKind::Query) => OperationKind::Query,
            Some(PlannerOperationKind::Mutation) => OperationKind::Mutation,
            Some(PlannerOperationKind::Subscription) => OperationKind::Subscription,
        };
        let (root_type_name, projection_plan) =
            FieldProjectionPlan::from_operation(&operation, &self.runner.metadata);
        let root_type_name = root_type_name.to_string();
        let partitioned = partition_operation(operation);
        // An operation the router answers alone (introspection such as `__type`) leaves
        // nothing for the subgraphs; the planner fails on an empty selection rather than
        // returning an empty plan, so the empty plan is made here.
        let plan = if partitioned.downstream_operation.selection_set.items.is_empty() {
            QueryPlan {
                kind: QUERY_PLAN_KIND,
                node: None,
            }
        } else {
            self.planner
                .plan_from_normalized_operation(
                    &partitioned.downstream_operation,
                    PlannerOverrideContext::default(),
                    &CancellationToken::new(),
                )
                .map_err(|error| PlanError::Planning(error.to_string()))?
        };
        let mut subgraphs = std::collections::BTreeSet::new();
        if let Some(node) = &plan.node {
            collect_subgraphs(node, &mut subgraphs);
        }
        let subscription = match kind {
            OperationKind::Subscription => subscriptions::SubscriptionPlan::of(&plan),
            _ => None,
        };
        let planned = Arc::new(PlannedOperation {
            subscription,
            subgraphs: subgraphs.into_iter().collect(),
            kind,
            plan,
            operation_for_plan: Arc::new(partitioned.downstream_operation),
            introspection_operation: partitioned.introspection_operation.map(Arc::new),
            projection_plan: Arc::new(projection_plan),
            root_type_name,
        });
        self.plans.insert(key, planned.clone());
        Ok(planned)
    }

    /// Executes a planned query or mutation: coerces the variables, fetches from the
    /// subgraphs with `authorization` (and `request_id`, if given) as the only headers,
    /// and merges the answers. Identical query fetches in flight at once (same subgraph,
    /// same headers, same document and variables) share one fetch.
    pub async fn execute(
        &self,
        planned: &PlannedOperation,
        query: &str,
        operation_name: Option<&str>,
        variables: serde_json::Map<String, serde_json::Value>,
        authorization: FetchAuthorization,
        request_id: Option<&str>,
    ) -> Result<ExecutionOutput, ExecuteError> {
        let variables = self.runner.coerce(planned, variables)?;
        let operation = Operation { planned, plan: &planned.plan, query, name: operation_name };
        let fetch_headers = FetchHeaders { authorization, request_id, traceparent: None };
        let result = self.runner.run(operation, variables, fetch_headers, None).await?;
        match result {
            QueryPlanExecutionResult::Single(output) => Ok(ExecutionOutput {
                body: output.body,
                error_count: output.error_count,
            }),
            QueryPlanExecutionResult::Stream(_) => Err(ExecuteError::Failed(
                "a query or mutation produced a stream".to_string(),
            )),
        }
    }

    /// Starts a planned subscription: its primary fetch upstream, on one of the shared
    /// connections to its subgraph; each event is a response body with the fields of
    /// every subgraph resolved. The subscription ends when the returned stream is
    /// dropped. The subgraph's subscription continues the current span's trace.
    pub async fn subscribe(
        &self,
        planned: Arc<PlannedOperation>,
        query: &str,
        operation_name: Option<&str>,
        variables: serde_json::Map<String, serde_json::Value>,
        authorization: Option<SubscriptionTokens>,
    ) -> Result<EventStream, ExecuteError> {
        let variables = self.runner.coerce(&planned, variables)?;
        let traceparent = c9pay_platform::telemetry::TraceParent::of(&tracing::Span::current()).traceparent();
        let Some(subscription) = &planned.subscription else {
            if planned.plan.node.is_some() {
                return Err(ExecuteError::Failed("a subscription's plan does not start with its subscription".to_string()));
            }
            // Only `__typename`: the router answers alone, once, without any fetch.
            let fetch_headers = FetchHeaders { authorization: FetchAuthorization::None, request_id: None, traceparent: None };
            let operation = Operation { planned: &planned, plan: &planned.plan, query, name: operation_name };
            return match self.runner.run(operation, variables, fetch_headers, None).await? {
                QueryPlanExecutionResult::Single(output) => Ok(EventStream::once(output.body)),
                QueryPlanExecutionResult::Stream(_) => {
                    Err(ExecuteError::Failed("a subscription without a subgraph produced a stream".to_string()))
                }
            };
        };
        let payload = subscription.subscribe_payload(&variables, authorization.as_ref(), traceparent.as_deref())?;
        let upstream = self
            .upstreams
            .subscribe(
                &subscription.primary.service_name,
                authorization.as_ref().map(|tokens| &*tokens.connection),
                payload,
                subscriptions::REPLAY_EVENTS_MAX + self.subscription_buffer_size_max,
            )
            .map_err(ExecuteError::Failed)?;
        Ok(EventStream::upstream(
            upstream,
            subscriptions::EventContext {
                runner: self.runner.clone(),
                planned,
                query: query.to_string(),
                operation_name: operation_name.map(str::to_string),
                variables,
                authorization,
                traceparent,
            },
        ))
    }
}

/// The operation a plan runs for: the plan itself is the operation's, or one
/// subscription event's rest.
struct Operation<'a> {
    planned: &'a PlannedOperation,
    plan: &'a QueryPlan,
    /// The client's document.
    query: &'a str,
    name: Option<&'a str>,
}

/// What the router tells every subgraph fetch of one operation besides the query.
struct FetchHeaders<'a> {
    authorization: FetchAuthorization,
    /// A mutation's request id (`x-request-id`).
    request_id: Option<&'a str>,
    /// A subscription's `traceparent` (a query's or mutation's fetch gets its own from
    /// the executor).
    traceparent: Option<&'a str>,
}

impl Runner {
    /// The operation's variables, checked against its variable definitions, with their
    /// defaults.
    fn coerce(
        &self,
        planned: &PlannedOperation,
        variables: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<CoerceVariablesPayload>, ExecuteError> {
        let mut raw_variables = HashMap::with_capacity(variables.len());
        for (name, value) in variables {
            let value = sonic_rs::to_value(&value)
                .map_err(|error| ExecuteError::Variables(error.to_string()))?;
            raw_variables.insert(name, value);
        }
        let variables_map = hive_router_plan_executor::variables::collect_variables(
            &planned.operation_for_plan,
            &mut raw_variables,
            &self.metadata,
        )
        .map_err(|error| ExecuteError::Variables(error.to_string()))?;
        Ok(Arc::new(CoerceVariablesPayload { variables_map }))
    }

    /// Runs the operation's plan; a subscription event's rest with the `event` as its
    /// initial data.
    async fn run(
        &self,
        operation: Operation<'_>,
        variable_values: Arc<CoerceVariablesPayload>,
        fetch_headers: FetchHeaders<'_>,
        event: Option<hive_router_plan_executor::response::subgraph_response::SubgraphResponse<'static>>,
    ) -> Result<QueryPlanExecutionResult, ExecuteError> {
        let Operation { planned, plan, query, name: operation_name } = operation;
        let FetchHeaders { authorization, request_id, traceparent } = fetch_headers;
        let header_value = |value: &str| {
            ntex::http::header::HeaderValue::from_str(value).map_err(|error| ExecuteError::Failed(error.to_string()))
        };
        let mut headers = ntex::http::HeaderMap::new();
        let context = PluginContext::default();
        if let Some(event) = event {
            context.insert(subscriptions::EventData(std::sync::Mutex::new(Some(event))));
        }
        let mut operation_extension = None;
        match authorization {
            FetchAuthorization::PerSubgraph(per_subgraph) => {
                context.insert(fetch_credentials::RequestCredentials(per_subgraph));
            }
            FetchAuthorization::None => {}
            FetchAuthorization::Multiplexed(SubscriptionTokens { connection, operation }) => {
                headers.insert(ntex::http::header::AUTHORIZATION, header_value(&connection)?);
                let mut fields = serde_json::Map::new();
                fields.insert("authorization".to_string(), serde_json::Value::from(&*operation));
                if let Some(traceparent) = traceparent {
                    fields.insert("traceparent".to_string(), serde_json::Value::from(traceparent));
                }
                let value = sonic_rs::to_value(&fields).map_err(|error| ExecuteError::Failed(error.to_string()))?;
                operation_extension = Some(Arc::new(JwtAuthForwardingPlan {
                    extension_field_name: c9pay_platform::graphql::OPERATION_EXTENSION.to_string(),
                    extension_field_value: value,
                }));
            }
        }
        if let Some(request_id) = request_id {
            headers.insert(ntex::http::header::HeaderName::from_static(REQUEST_ID_HEADER), header_value(request_id)?);
        }
        if let Some(traceparent) = traceparent.and_then(|value| ntex::http::header::HeaderValue::from_str(value).ok()) {
            headers.insert(ntex::http::header::HeaderName::from_static("traceparent"), traceparent);
        }
        let headers = Arc::new(headers);

        // The executor wants the client's request for its expression language and its
        // telemetry, neither of which the router uses; it gets a neutral description.
        let method = http::Method::POST;
        let url = http::Uri::from_static("http://router/graphql");
        let match_info = ntex::router::Path::new(url.clone());
        let plugin_state = PluginRequestState {
            plugins: self.plugins.clone(),
            router_http_request: RouterHttpRequest {
                uri: &url,
                method: &method,
                version: http::Version::HTTP_11,
                headers: &headers,
                path: "/graphql",
                query_string: "",
                match_info: &match_info,
            },
            context: Arc::new(context),
            request_context: SharedRequestContext::default(),
        };
        let planner_kind = match planned.kind {
            OperationKind::Query => PlannerOperationKind::Query,
            OperationKind::Mutation => PlannerOperationKind::Mutation,
            OperationKind::Subscription => PlannerOperationKind::Subscription,
        };
        // Polled inside `Executing`, so that a fetch dropped with this future (the
        // request's time-out, a client gone) is not taken for a failed one.
        fetch_outcomes::Executing::new(execute_query_plan(QueryPlanExecutionOpts {
            query_plan: plan,
            operation_for_plan: planned.operation_for_plan.clone(),
            projection_plan: planned.projection_plan.clone(),
            headers_plan: self.headers_plan.clone(),
            extensions_plan: Arc::new(ExtensionsPlan::default()),
            variable_values: variable_values.clone(),
            extensions: ExecutionResultExtensions::default(),
            client_request: Arc::new(ClientRequestDetails {
                method: &method,
                url: &url,
                headers: headers.clone(),
                operation: OperationDetails {
                    name: operation_name,
                    query,
                    kind: planned.kind.as_str(),
                },
                jwt: Arc::new(JwtRequestDetails::Unauthenticated),
                path_params: Default::default(),
            }),
            introspection_context: Arc::new(IntrospectionContext {
                query: planned.introspection_operation.clone(),
                schema: self.consumer_schema.clone(),
                metadata: self.metadata.clone(),
                variables: variable_values,
            }),
            operation_type_name: planned.root_type_name.clone(),
            operation_kind: planner_kind,
            executors: self.executors.clone(),
            // The executor's one way to add a field to every fetch's `extensions` (the
            // `subscribe` message's too): here the subscription's own credential.
            jwt_auth_forwarding: operation_extension,
            graphql_error_recorder: None,
            demand_control_context: None,
            initial_errors: Vec::new(),
            span: GraphQLOperationSpan::default(),
            plugin_req_state: Some(plugin_state),
            operation_name_factory: OperationNameFactory::default(),
            response_header_sink: ResponseHeaderSink::default(),
            error_masking_runtime: Arc::new(None),
            connection_fingerprint: None,
        }))
        .await
        .map_err(|error| ExecuteError::Failed(error.to_string()))
    }
}

/// Per-subgraph time-outs, and de-duplication of identical fetches in flight: the
/// executor shares one fetch between query fetches (never mutations, never
/// subscriptions) with the same subgraph, headers and body. The internal credential is
/// per principal and subgraph and reused for 30 s
/// (`credentials::internal_credentials`), so only requests of one principal share: the
/// key covers the `Authorization` header, which differs between principals. The
/// executor keys fetches in flight by a 64-bit hash of all that; a collision between
/// two principals' fetches would need the same hash over two different secret tokens.
fn traffic_shaping(options: &EngineOptions) -> Result<SupergraphTrafficShapingConfig, EngineError> {
    let subgraphs: serde_json::Map<String, serde_json::Value> = options
        .subgraph_timeouts
        .iter()
        .map(|(name, timeout)| {
            (
                name.clone(),
                json!({ "request_timeout": format!("{}ms", timeout.as_millis()) }),
            )
        })
        .collect();
    let config: TrafficShapingConfig = serde_json::from_value(json!({
        "all": {
            "dedupe_enabled": options.deduplicate_queries,
            "request_timeout": format!("{}ms", options.default_timeout.as_millis()),
        },
        "subgraphs": subgraphs,
    }))
    .map_err(|error| EngineError::Executor(format!("traffic shaping: {error}")))?;
    Ok(SupergraphTrafficShapingConfig::from(&config))
}
