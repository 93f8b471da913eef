//! Subscriptions: the plan's primary fetch runs upstream over the router's own shared
//! connections ([`super::upstream`]); the rest of the plan (the entity fetches that fill
//! in fields of other subgraphs, then the projection) runs for each event when the
//! client's side takes it, on the task that delivers it ([`EventStream::next`]).
//!
//! So an idle subscription holds only what it needs to run that rest later: its inbox
//! upstream, and here its plan, variables and credentials. No task, thread or channel of
//! its own. The executor runs each event's rest as a plan of its own, with the event's
//! data put in as the execution's initial data by the [`SubscriptionEvents`] plugin hook.
//!
//! Upstream, a shared connection is opened with the router's own internal token, and
//! each subscription sends its principal's in its `subscribe` message
//! (`FetchAuthorization::Multiplexed`). When a shared connection drops, every
//! subscription on it ends with an error event (`SERVICE_UNAVAILABLE`, "subscribe again
//! with … `after`"; `pipeline::execute`) and the client subscribes again with the id of
//! the last event it received as `after`: credit replays what it missed, so events stay
//! in order, each once, none lost. A later subscription opens a new connection.
//!
//! A subscription never makes its connection wait: a subscription whose queue is full
//! (its client reads slower than events come) ends as too slow.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hive_router_plan_executor::{
    execution::plan::{CoerceVariablesPayload, QueryPlanExecutionResult},
    hooks::{
        on_execute::{OnExecuteStartHookPayload, OnExecuteStartHookResult},
        on_plugin_init::{OnPluginInitPayload, OnPluginInitResult},
    },
    plugin_trait::{RouterPlugin, StartHookPayload},
    response::subgraph_response::SubgraphResponse,
};
use hive_router_query_planner::planner::plan_nodes::{FetchNode, PlanNode, QueryPlan, SequenceNode};

use super::{
    ExecuteError, FetchAuthorization, FetchHeaders, Operation, PlannedOperation, Runner,
    upstream::{Ended, Received, UpstreamSubscription},
};
use crate::credentials::internal_credentials::SubscriptionTokens;

/// Events one subscription may queue beyond its client's buffer: a whole replay, which
/// credit sends at once when a client resumes (at most 1,000 events, credit's
/// `REPLAY_EVENTS_MAX`). The queue only grows while events wait; an idle one is empty.
pub(super) const REPLAY_EVENTS_MAX: usize = 1_000;

/// The code of an event that ends a subscription whose upstream connection failed or
/// dropped (`SUBGRAPH_` like the executor's own codes, so the pipeline masks it); the
/// pipeline tells the client to subscribe again.
pub const CONNECTION_LOST_CODE: &str = "SUBGRAPH_WEBSOCKET_CONNECTION_LOST";

/// A subscription's plan, split: the fetch that subscribes, and what each event needs.
pub(super) struct SubscriptionPlan {
    pub primary: FetchNode,
    /// The plan of each event: the entity fetches after the primary (none when the
    /// subscribed subgraph resolves every field).
    pub rest: QueryPlan,
}

impl SubscriptionPlan {
    /// The split of a subscription's plan; `None` for a plan that does not start with
    /// its subscription (the router answers one without any fetch alone).
    pub(super) fn of(plan: &QueryPlan) -> Option<Self> {
        let (first, rest) = match plan.node.as_ref()? {
            node @ PlanNode::Subscription(_) => (node, &[][..]),
            PlanNode::Sequence(sequence) => sequence.nodes.split_first()?,
            _ => return None,
        };
        let PlanNode::Subscription(subscription) = first else { return None };
        let rest = match rest {
            [] => None,
            [only] => Some(only.clone()),
            more => Some(PlanNode::Sequence(SequenceNode { nodes: more.to_vec() })),
        };
        Some(Self { primary: subscription.primary.clone(), rest: QueryPlan { kind: plan.kind, node: rest } })
    }

    /// The `subscribe` message's payload: the primary fetch's document, the variables
    /// it uses, and (with access control) the principal's token and the `traceparent`.
    pub(super) fn subscribe_payload(
        &self,
        variables: &CoerceVariablesPayload,
        authorization: Option<&SubscriptionTokens>,
        traceparent: Option<&str>,
    ) -> Result<Box<str>, ExecuteError> {
        let mut payload = sonic_rs::Object::new();
        payload.insert("query", self.primary.operation.document_str.as_str());
        let mut selected = sonic_rs::Object::new();
        if let (Some(usages), Some(values)) = (&self.primary.variable_usages, &variables.variables_map) {
            for name in usages {
                if let Some(value) = values.get(name) {
                    selected.insert(name, value.clone());
                }
            }
        }
        payload.insert("variables", selected);
        if let Some(tokens) = authorization {
            let mut fields = sonic_rs::Object::new();
            fields.insert("authorization", &*tokens.operation);
            if let Some(traceparent) = traceparent {
                fields.insert("traceparent", traceparent);
            }
            let mut extensions = sonic_rs::Object::new();
            extensions.insert(c9pay_platform::graphql::OPERATION_EXTENSION, fields);
            payload.insert("extensions", extensions);
        }
        sonic_rs::to_string(&payload)
            .map(String::into_boxed_str)
            .map_err(|error| ExecuteError::Failed(error.to_string()))
    }
}

/// What each event of one subscription runs with.
pub(super) struct EventContext {
    pub runner: Arc<Runner>,
    pub planned: Arc<PlannedOperation>,
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Arc<CoerceVariablesPayload>,
    /// The subscription's internal credentials; none with `access = "open"`.
    pub authorization: Option<SubscriptionTokens>,
    /// The W3C `traceparent` of the span that subscribed.
    pub traceparent: Option<String>,
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

enum Source {
    Upstream(UpstreamSubscription),
    /// A subscription the router answered alone (only `__typename`): its one body.
    Once(Vec<u8>),
    Ended,
}

type Resolving = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, ExecuteError>> + Send>>;

/// The events of one subscription. Dropping it ends the subscription upstream.
pub struct EventStream {
    source: Source,
    /// `None` for a subscription the router answered alone.
    context: Option<Arc<EventContext>>,
    /// The event being resolved: kept here, so that a caller that stops waiting for
    /// [`EventStream::next`] (its `select!` chose a timer) loses no event: the next call
    /// goes on with it.
    resolving: Option<Resolving>,
}

impl EventStream {
    pub(super) fn upstream(upstream: UpstreamSubscription, context: EventContext) -> Self {
        Self { source: Source::Upstream(upstream), context: Some(Arc::new(context)), resolving: None }
    }

    pub(super) fn once(body: Vec<u8>) -> Self {
        Self { source: Source::Once(body), context: None, resolving: None }
    }

    /// The next event, its fields of every subgraph resolved; `None` once the
    /// subscription has ended. Cancel-safe: dropping the future it returns loses nothing.
    pub async fn next(&mut self) -> Option<StreamItem> {
        loop {
            if let Some(resolving) = self.resolving.as_mut() {
                let result = resolving.await;
                self.resolving = None;
                return Some(match result {
                    Ok(body) => StreamItem::Event(body),
                    Err(error) => {
                        // Like a lost connection: the subscription cannot go on, and
                        // subscribing again resumes it.
                        let subgraph = self.subgraph();
                        tracing::error!(subgraph, %error, "a subscription event could not be resolved");
                        let body = connection_lost(subgraph);
                        self.source = Source::Ended;
                        StreamItem::Event(body)
                    }
                });
            }
            let received = match &mut self.source {
                Source::Ended => return None,
                Source::Once(body) => {
                    let body = std::mem::take(body);
                    self.source = Source::Ended;
                    return Some(StreamItem::Event(body));
                }
                Source::Upstream(upstream) => upstream.next().await,
            };
            let payload = match received {
                Some(Received::Event(payload)) => payload,
                None => return None,
                Some(Received::Ended(ended)) => {
                    self.source = Source::Ended;
                    match ended {
                        Ended::Completed => return None,
                        Ended::TooSlow => return Some(StreamItem::TooSlow),
                        Ended::Lost(reason) => {
                            let subgraph = self.subgraph();
                            tracing::warn!(subgraph, reason, "a subscription's upstream connection was lost");
                            return Some(StreamItem::Event(connection_lost(subgraph)));
                        }
                        // The subgraph's errors, resolved and masked as an event's are.
                        Ended::Refused(errors) => {
                            let mut body = Vec::with_capacity(errors.len() + 24);
                            body.extend_from_slice(br#"{"data":null,"errors":"#);
                            body.extend_from_slice(&errors);
                            body.push(b'}');
                            Bytes::from(body)
                        }
                    }
                }
            };
            let context = self.context.clone()?;
            self.resolving = Some(Box::pin(async move { context.run(payload).await }));
        }
    }

    /// The subgraph the subscription runs on.
    fn subgraph(&self) -> &str {
        self.context
            .as_ref()
            .and_then(|context| context.planned.subscription.as_ref())
            .map_or("a", |subscription| subscription.primary.service_name.as_str())
    }
}

impl EventContext {
    /// Runs the rest of the plan on one event: entity fetches, then projection.
    async fn run(&self, payload: Bytes) -> Result<Vec<u8>, ExecuteError> {
        let subscription = self
            .planned
            .subscription
            .as_ref()
            .ok_or_else(|| ExecuteError::Failed("not a subscription".to_string()))?;
        // The event's data borrows from its bytes; this handle keeps them until the
        // execution that reads the data has ended.
        let _bytes = payload.clone();
        let event = SubgraphResponse::deserialize_from_bytes(payload, subscription.primary.custom_scalar_paths.as_ref())
            .map_err(|error| ExecuteError::Failed(format!("a subscription event: {error}")))?;
        let operation = Operation {
            planned: &self.planned,
            plan: &subscription.rest,
            query: &self.query,
            name: self.operation_name.as_deref(),
        };
        let fetch_headers = FetchHeaders {
            authorization: match &self.authorization {
                Some(tokens) => FetchAuthorization::Multiplexed(tokens.clone()),
                None => FetchAuthorization::None,
            },
            request_id: None,
            traceparent: self.traceparent.as_deref(),
        };
        let result = self.runner.run(operation, self.variables.clone(), fetch_headers, Some(event)).await?;
        match result {
            QueryPlanExecutionResult::Single(output) => Ok(output.body),
            QueryPlanExecutionResult::Stream(_) => {
                Err(ExecuteError::Failed("an event's plan produced a stream".to_string()))
            }
        }
    }
}

/// The event that ends a subscription whose upstream connection failed.
fn connection_lost(subgraph: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "data": null,
        "errors": [{
            "message": format!("the connection to the {subgraph} subgraph was lost"),
            "extensions": { "code": CONNECTION_LOST_CODE, "service": subgraph },
        }],
    }))
    .unwrap_or_default()
}

/// One subscription event, put in the plugin context of the execution that resolves it.
/// Its data borrows from its bytes, which [`EventContext::run`] holds until that
/// execution has returned.
pub(super) struct EventData(pub(super) Mutex<Option<SubgraphResponse<'static>>>);

/// Makes a subscription event the initial data (and errors) of the execution that
/// resolves it; executions without one proceed untouched.
pub(super) struct SubscriptionEvents;

#[async_trait::async_trait]
impl RouterPlugin for SubscriptionEvents {
    fn plugin_name() -> &'static str {
        "c9pay_subscription_events"
    }

    type Config = ();

    /// Never called: the engine constructs this plugin itself.
    fn on_plugin_init(_payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        Ok(None)
    }

    async fn on_execute<'exec>(
        &'exec self,
        mut payload: OnExecuteStartHookPayload<'exec>,
    ) -> OnExecuteStartHookResult<'exec> {
        let event = payload
            .context
            .get_ref::<EventData>()
            .and_then(|event| event.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take());
        if let Some(event) = event {
            payload.data = event.data;
            payload.errors.extend(event.errors.unwrap_or_default());
        }
        payload.proceed()
    }
}
