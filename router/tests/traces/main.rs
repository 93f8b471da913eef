//! One sale through the router is one trace across router, stores and credit, and one
//! subscription (over WebSocket, and over server-sent events) one trace across router and
//! credit, exported over OTLP/HTTP to a receiver this test runs.
//!
//! A test binary of its own: traces are set up once per process (the tracing subscriber
//! is global), and here they must go to this test's receiver, whatever else runs.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, routing::post};
use c9pay_platform::{
    database::Backend,
    telemetry::{self, LogFormat, TelemetryConfig},
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    trace::v1::{Span, span::SpanKind},
};
use prost::Message as _;
use serde_json::json;

use helpers::{TestRouter, bearer, spawn_router};

/// Spans the receiver got, from every export.
type Received = Arc<Mutex<Vec<Span>>>;

/// Starts an OTLP/HTTP receiver on port 0; returns its traces URL and what it receives.
async fn spawn_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|error| panic!("binding the receiver: {error}"));
    let port = listener.local_addr().map(|address| address.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}/v1/traces"), received)
}

async fn receive(State(received): State<Received>, body: Bytes) -> ([(&'static str, &'static str); 1], Vec<u8>) {
    let request = ExportTraceServiceRequest::decode(body).unwrap_or_else(|error| panic!("an export that does not decode: {error}"));
    let spans = request
        .resource_spans
        .into_iter()
        .flat_map(|resource| resource.scope_spans)
        .flat_map(|scope| scope.spans);
    received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(spans);
    ([("content-type", "application/x-protobuf")], ExportTraceServiceResponse::default().encode_to_vec())
}

const TOP_UP: &str = "mutation { topUp(input: { amount: \"10000\", idempotencyKey: \"first\" }) { balanceAfter } }";
const OPEN_STORE: &str = "mutation { openStore(input: { name: \"Cafe Nine\" }) { id } }";
const ADD_PRODUCT: &str = "mutation($store: ID!) { addProduct(input: { storeId: $store, name: \"Latte\", price: \"4500\" }) { id } }";
const PAYMENT_CODE: &str = "mutation { issuePaymentCode { token } }";
const SELL: &str = "mutation($store: ID!, $product: ID!, $code: String!) {
    sell(input: { storeId: $store, items: [{ productId: $product, quantity: 1 }], paymentCode: $code, idempotencyKey: \"sale-1\" }) { status }
}";

async fn sell_one_latte(router: &TestRouter) {
    let merchant = bearer(&router.sign_up("minsu@example.com", "Minsu").await);
    let store = router.post(Some(&merchant), OPEN_STORE, json!({})).await.data()["openStore"]["id"].clone();
    let product = router.post(Some(&merchant), ADD_PRODUCT, json!({ "store": store })).await.data()["addProduct"]["id"].clone();
    let payer = bearer(&router.sign_up("ada@example.com", "Ada").await);
    router.post(Some(&payer), TOP_UP, json!({})).await.data();
    let code = router.post(Some(&payer), PAYMENT_CODE, json!({})).await.data()["issuePaymentCode"]["token"].clone();
    let sold = router.post(Some(&merchant), SELL, json!({ "store": store, "product": product, "code": code })).await;
    assert_eq!(sold.data()["sell"]["status"], "PAID");
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|attribute| attribute.key == key).and_then(|attribute| {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        match attribute.value.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text.clone()),
            other => Some(format!("{other:?}")),
        }
    })
}

/// The spans of one trace, by span id.
struct Trace<'a> {
    spans: Vec<&'a Span>,
}

impl<'a> Trace<'a> {
    fn named(&self, name: &str) -> Vec<&'a Span> {
        self.spans.iter().copied().filter(|span| span.name == name).collect()
    }

    fn one(&self, name: &str) -> &'a Span {
        let found = self.named(name);
        assert_eq!(found.len(), 1, "one span {name:?} in the trace: {:#?}", self.names());
        found[0]
    }

    fn parent(&self, span: &Span) -> Option<&'a Span> {
        self.spans.iter().copied().find(|candidate| candidate.span_id == span.parent_span_id)
    }

    /// Whether `ancestor` is `span`'s parent, its parent's parent, and so on.
    fn descends_from(&self, span: &Span, ancestor: &Span) -> bool {
        let mut current = self.parent(span);
        while let Some(parent) = current {
            if parent.span_id == ancestor.span_id {
                return true;
            }
            current = self.parent(parent);
        }
        false
    }

    fn names(&self) -> Vec<&str> {
        self.spans.iter().map(|span| span.name.as_str()).collect()
    }
}

/// The trace of the sale: the one with credit's payment in it, once its root (the
/// router's request) has arrived too.
fn sale_trace(spans: &[Span]) -> Option<Trace<'_>> {
    let payment = spans.iter().find(|span| span.name == "credit POST /internal/payments/pay")?;
    let trace: Vec<&Span> = spans.iter().filter(|span| span.trace_id == payment.trace_id).collect();
    trace
        .iter()
        .any(|span| span.name == "router POST /graphql")
        .then_some(Trace { spans: trace })
}

async fn a_sale_through_the_router_is_one_trace_across_router_stores_and_credit(backend: Backend, received: &Received) {
    received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    let router = spawn_router(backend).await;
    sell_one_latte(&router).await;

    // Spans end just after their responses; flush until the whole trace has arrived.
    let spans = received_once(received, |spans| {
        sale_trace(spans).is_some_and(|trace| trace.named("stores POST /graphql").len() == 1)
    })
    .await;
    let Some(trace) = sale_trace(&spans) else {
        panic!("no trace with credit's payment and the router's request among {} spans", spans.len());
    };

    // The router's request is the root; each pipeline stage is its child.
    let root = trace.one("router POST /graphql");
    assert!(root.parent_span_id.is_empty(), "the router's request starts the trace");
    assert_eq!(root.kind, i32::from(SpanKind::Server));
    let stage = |name: &str| {
        let stages: Vec<&Span> = trace.named(name).into_iter().filter(|span| span.parent_span_id == root.span_id).collect();
        assert_eq!(stages.len(), 1, "{name} is a stage of the router's request: {:#?}", trace.names());
        stages[0]
    };
    for name in ["parse", "limits", "validate", "authenticate", "authorize", "rate_limit", "plan"] {
        stage(name);
    }
    let execute = stage("execute");

    // Stores served the fetch the router's executor made for it: a client span per
    // subgraph fetch, under the execute stage, and stores' request under it.
    let stores = trace.one("stores POST /graphql");
    let Some(fetch) = trace.parent(stores) else { panic!("stores' request has no parent in the trace") };
    assert_eq!(fetch.kind, i32::from(SpanKind::Client), "the router's fetch from stores: {fetch:#?}");
    assert!(trace.descends_from(fetch, execute), "the fetch belongs to the execute stage");

    // Credit served stores' one call (authorise and capture at once) under stores'
    // request, through the client call stores made.
    let name = "credit POST /internal/payments/pay";
    let credit = trace.one(name);
    assert!(trace.descends_from(credit, stores), "{name} is part of stores' request");
    let Some(call) = trace.parent(credit) else { panic!("{name} has no parent") };
    assert_eq!(call.name, "pay", "{name} under stores' call");
    assert_eq!(attribute(credit, "service").as_deref(), Some("credit"));
    assert_eq!(attribute(stores, "service").as_deref(), Some("stores"));
    let trace_ids: std::collections::BTreeSet<&[u8]> = trace.spans.iter().map(|span| span.trace_id.as_slice()).collect();
    assert_eq!(trace_ids.len(), 1);
}

const WALLET_ACTIVITY: &str = "subscription { walletActivity(after: \"0\") { id kind amount } }";

/// Flushes until `found` says the spans received are complete, then returns them.
async fn received_once(received: &Received, found: impl Fn(&[Span]) -> bool) -> Vec<Span> {
    let mut spans = Vec::new();
    for _ in 0..100 {
        tokio::task::spawn_blocking(telemetry::flush).await.unwrap_or_else(|error| panic!("{error}"));
        spans = received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if found(&spans) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    spans
}

/// The traces of the subscriptions: those with credit's subscribe span and `root`, and
/// an event delivered by each of router and credit.
fn subscription_traces<'a>(spans: &'a [Span], root: &str) -> Vec<Trace<'a>> {
    spans
        .iter()
        .filter(|span| span.name == "credit subscribe walletActivity")
        .map(|subscribe| Trace { spans: spans.iter().filter(|span| span.trace_id == subscribe.trace_id).collect() })
        .filter(|trace| {
            !trace.named(root).is_empty()
                && !trace.named("router deliver event").is_empty()
                && !trace.named("credit deliver event").is_empty()
        })
        .collect()
}

/// Reads the server-sent events of `response` until `count` `next` events have come.
async fn read_sse_events(response: &mut reqwest::Response, count: usize) {
    let mut text = String::new();
    while text.matches("event: next").count() < count {
        let wait = std::time::Duration::from_millis(c9pay_platform::testing::WEBSOCKET_WAIT_MS);
        match tokio::time::timeout(wait, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("no server-sent event ({other:?}); so far: {text}"),
        }
    }
}

/// The router's subscribe span is a child of `root`; credit's subscribe span a child of
/// it (the `traceparent` the router sent in `connection_init`); each event delivered a
/// child of its side's subscribe span.
fn assert_subscription_trace(trace: &Trace<'_>, root: &str) {
    let root = trace.one(root);
    assert!(root.parent_span_id.is_empty(), "the router's request starts the trace");
    assert_eq!(root.kind, i32::from(SpanKind::Server));
    let subscribe = trace.one("router subscribe");
    assert_eq!(subscribe.parent_span_id, root.span_id, "subscribing is a stage of the request: {:#?}", trace.names());
    let credit = trace.one("credit subscribe walletActivity");
    assert_eq!(credit.parent_span_id, subscribe.span_id, "credit's subscription continues the router's subscribe");
    assert_eq!(credit.kind, i32::from(SpanKind::Server));
    assert_eq!(attribute(credit, "service").as_deref(), Some("credit"));
    for event in trace.named("router deliver event") {
        assert_eq!(event.parent_span_id, subscribe.span_id, "the router delivers each event under its subscribe");
    }
    for event in trace.named("credit deliver event") {
        assert_eq!(event.parent_span_id, credit.span_id, "credit delivers each event under its subscribe");
    }
}

async fn a_subscription_through_the_router_is_traced_from_the_router_to_credit(backend: Backend, received: &Received) {
    received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    let router = spawn_router(backend).await;
    let payer = bearer(&router.sign_up("ada@example.com", "Ada").await);
    // Two top-ups, replayed by `after: "0"`: once the second event has arrived, the
    // first one's spans (router and credit) have ended.
    router.post(Some(&payer), TOP_UP, json!({})).await.data();
    router.post(Some(&payer), TOP_UP.replace("first", "second").as_str(), json!({})).await.data();

    let mut websocket = c9pay_platform::testing::WebSocketClient::connect(&router.websocket_url()).await;
    websocket.init(json!({ "Authorization": payer })).await;
    websocket.subscribe("wallet", WALLET_ACTIVITY, json!({})).await;
    for _ in 0..2 {
        let payload = websocket.next_payload("wallet").await;
        assert_eq!(payload["data"]["walletActivity"]["kind"], "TOP_UP", "{payload:#}");
    }
    let mut events = router
        .http
        .post(router.graphql_url())
        .header("accept", "text/event-stream")
        .header("authorization", &payer)
        .json(&json!({ "query": WALLET_ACTIVITY }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST: {error}"));
    read_sse_events(&mut events, 2).await;

    for root in ["router WebSocket subscribe", "router POST /graphql"] {
        let spans = received_once(received, |spans| !subscription_traces(spans, root).is_empty()).await;
        let traces = subscription_traces(&spans, root);
        assert_eq!(traces.len(), 1, "one subscription under {root:?} among {} spans", spans.len());
        assert_subscription_trace(&traces[0], root);
    }
    websocket.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_and_a_subscription_through_the_router_are_traced_on_both_backends() {
    let (endpoint, received) = spawn_receiver().await;
    let config = TelemetryConfig { otlp_endpoint: Some(endpoint), ..Default::default() };
    telemetry::init_with(LogFormat::Pretty, &config, "c9pay-test").unwrap_or_else(|error| panic!("{error:#}"));
    // One backend after the other in one test: the tracing setup is per process.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        a_sale_through_the_router_is_one_trace_across_router_stores_and_credit(backend, &received).await;
        a_subscription_through_the_router_is_traced_from_the_router_to_credit(backend, &received).await;
    }
}
