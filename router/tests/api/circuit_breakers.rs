//! The circuit breaker in front of each subgraph: a subgraph that hangs or refuses
//! connections opens its breaker, requests that need it are refused at once
//! (`SERVICE_UNAVAILABLE`, 503 + `Retry-After`) while requests that do not need it go on,
//! and once the subgraph is back a probe closes the breaker. A sale caught in the middle
//! is never charged twice: retried with the same key, it is paid once.

use c9pay_platform::{
    circuit_breaker::CircuitBreakerConfig,
    database::Backend,
    on_both_backends,
    testing::{Fault, FaultyProxy},
};
use serde_json::{Value, json};

use crate::{
    helpers::{ME, TestRouter, metric, spawn_router_with},
    payments::{SELL, lattes, open_shop, payer_with, payment_code},
};

const WALLET: &str = "{ me { wallet { balance } } }";
const TAKINGS: &str = "{ me { stores { account { balance } } } }";
/// Enough tries for a cool-down of `COOL_DOWN_MS` to pass many times over.
const RECOVERY_TRIES_MAX: u32 = 200;
/// Long enough that the requests right after the breaker opens meet it open, even on a
/// loaded machine.
const COOL_DOWN_MS: u64 = 2_000;

/// The platform with `subgraph` reached through a proxy the test controls; its fetches
/// time out after 500 ms and two failures in a row open its breaker.
async fn spawn_with_faulty(backend: Backend, subgraph: &str) -> (TestRouter, FaultyProxy) {
    let mut proxy = None;
    let router = spawn_router_with(backend, |config| {
        let upstream = config.subgraph_urls.get(subgraph).cloned().unwrap_or_default();
        let started = FaultyProxy::start(&upstream);
        config.subgraph_urls.insert(subgraph.to_string(), started.url.clone());
        config.limits.subgraph_timeouts_ms.insert(subgraph.to_string(), 500);
        config.circuit_breaker = CircuitBreakerConfig { consecutive_failures_max: 2, cool_down_ms: COOL_DOWN_MS };
        proxy = Some(started);
    })
    .await;
    let Some(proxy) = proxy else { panic!("the proxy did not start") };
    (router, proxy)
}

/// Posts as `authorization` and returns the status, the `Retry-After` header and the body.
async fn post_raw(router: &TestRouter, authorization: &str, query: &str, variables: Value) -> (u16, Option<String>, Value) {
    let response = router
        .http
        .post(router.graphql_url())
        .header("authorization", authorization)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("posting: {error}"));
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

fn first_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

async fn breaker_state(router: &TestRouter, subgraph: &str) -> Option<f64> {
    metric(&router.metrics().await, "c9pay_circuit_breaker_state", &[("dependency", subgraph)])
}

/// Repeats `query` until it is answered without errors (the breaker let a probe through
/// and it succeeded), and returns that answer. On a loaded machine a probe may still
/// time out (the breaker then opens again), so a time-out is tolerated too; anything
/// else is not.
async fn until_answered(router: &TestRouter, authorization: &str, query: &str, variables: Value) -> Value {
    for _ in 0..RECOVERY_TRIES_MAX {
        let (status, _, body) = post_raw(router, authorization, query, variables.clone()).await;
        if status == 200 && body.get("errors").is_none() {
            return body;
        }
        let refused = status == 503 && first_code(&body) == "SERVICE_UNAVAILABLE";
        let timed_out = first_code(&body) == "SUBGRAPH_TIMEOUT";
        assert!(refused || timed_out, "while recovering, only the breaker's refusal or a slow probe is expected: HTTP {status} {body:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the breaker never closed again");
}

async fn a_hanging_subgraph_opens_its_breaker_and_a_sale_retried_after_recovery_is_paid_once(backend: Backend) {
    let (router, stores) = spawn_with_faulty(backend, "stores").await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "10000").await;
    let code = payment_code(&router, &payer).await;
    let sale = json!({ "store": shop.store, "items": lattes(&shop, 1), "code": code, "key": "sale-1" });
    assert_eq!(breaker_state(&router, "stores").await, Some(0.0), "closed to begin with");

    // Stores receives the sale (and may well complete it) but its answer never arrives.
    stores.set(Fault::SwallowAnswers);
    let (status, _, first) = post_raw(&router, &shop.merchant, SELL, sale.clone()).await;
    assert_eq!(first_code(&first), "SUBGRAPH_TIMEOUT", "HTTP {status} {first:#}");
    // The client retries with the same key, as it must: the second time-out opens the breaker.
    let (_, _, second) = post_raw(&router, &shop.merchant, SELL, sale.clone()).await;
    assert_eq!(first_code(&second), "SUBGRAPH_TIMEOUT");
    assert_eq!(breaker_state(&router, "stores").await, Some(2.0), "open");

    // Now the router refuses at once, without calling stores.
    let (status, retry_after, refused) = post_raw(&router, &shop.merchant, SELL, sale.clone()).await;
    assert_eq!(status, 503);
    assert_eq!(first_code(&refused), "SERVICE_UNAVAILABLE");
    let retry_after_s: u64 = retry_after.and_then(|value| value.parse().ok()).unwrap_or_default();
    assert!(retry_after_s >= 1, "Retry-After in whole seconds");
    assert_eq!(refused["errors"][0]["extensions"]["retryAfterSeconds"], retry_after_s);
    // What does not need stores goes on.
    let wallet = router.post(Some(&payer), WALLET, json!({})).await;
    assert!(wallet.data()["me"]["wallet"]["balance"].is_string());

    // Stores answers again: after the cool-down a probe goes through and closes the
    // breaker, and the retried sale is the same sale, paid once.
    stores.set(Fault::None);
    let paid = until_answered(&router, &shop.merchant, SELL, sale.clone()).await;
    assert_eq!(paid["data"]["sell"]["status"], "PAID");
    assert_eq!(breaker_state(&router, "stores").await, Some(0.0), "closed again");
    let again = router.post(Some(&shop.merchant), SELL, sale).await;
    assert_eq!(again.data()["sell"]["id"], paid["data"]["sell"]["id"], "the same key is the same sale");

    let wallet = router.post(Some(&payer), WALLET, json!({})).await;
    assert_eq!(wallet.data()["me"]["wallet"]["balance"], "5500", "charged once");
    let takings = router.post(Some(&shop.merchant), TAKINGS, json!({})).await;
    assert_eq!(takings.data()["me"]["stores"][0]["account"]["balance"], "4500", "paid to the store once");
    let metrics = router.metrics().await;
    for state in ["open", "half_open", "closed"] {
        let entered = metric(&metrics, "c9pay_circuit_breaker_transitions_total", &[("dependency", "stores"), ("state", state)]);
        assert!(entered.is_some_and(|count| count >= 1.0), "the breaker went {state}: {metrics}");
    }
}

async fn a_subgraph_that_refuses_connections_opens_its_breaker_until_it_is_back(backend: Backend) {
    let (router, users) = spawn_with_faulty(backend, "users").await;
    let person = crate::helpers::bearer(&router.sign_up("grace@example.com", "Grace").await);

    users.set(Fault::RefuseConnections);
    for _ in 0..2 {
        let (_, _, failed) = post_raw(&router, &person, ME, json!({})).await;
        assert_eq!(first_code(&failed), "INTERNAL_SERVER_ERROR", "{failed:#}");
    }
    let (status, retry_after, refused) = post_raw(&router, &person, ME, json!({})).await;
    assert_eq!((status, first_code(&refused)), (503, "SERVICE_UNAVAILABLE"), "{refused:#}");
    assert!(retry_after.is_some());
    assert_eq!(breaker_state(&router, "users").await, Some(2.0));
    assert_eq!(breaker_state(&router, "credit").await, Some(0.0), "one breaker per subgraph");

    users.set(Fault::None);
    let answered = until_answered(&router, &person, ME, json!({})).await;
    assert_eq!(answered["data"]["me"]["displayName"], "Grace");
    assert_eq!(breaker_state(&router, "users").await, Some(0.0));
}

const STORE_NAME: &str = "query($store: ID!) { store(id: $store) { name } }";

/// The router's request time-out drops a fetch that is still waiting for its subgraph:
/// that says nothing about the subgraph, so the breaker (which one failure would open)
/// stays closed and the fetch is counted as cancelled, not failed.
async fn a_fetch_dropped_by_the_request_time_out_is_neither_a_failure_nor_a_success(backend: Backend) {
    let mut proxy = None;
    let router = spawn_router_with(backend, |config| {
        let upstream = config.subgraph_urls.get("stores").cloned().unwrap_or_default();
        let started = FaultyProxy::start(&upstream);
        config.subgraph_urls.insert("stores".to_string(), started.url.clone());
        // The fetch would wait 30 s; the request gives up after 1 s.
        config.limits.subgraph_timeouts_ms.insert("stores".to_string(), 30_000);
        config.limits.request_timeout_ms = 1_000;
        config.circuit_breaker = CircuitBreakerConfig { consecutive_failures_max: 1, cool_down_ms: COOL_DOWN_MS };
        proxy = Some(started);
    })
    .await;
    let Some(stores) = proxy else { panic!("the proxy did not start") };
    let shop = open_shop(&router).await;
    let variables = json!({ "store": shop.store });

    stores.set(Fault::SwallowAnswers);
    for _ in 0..2 {
        let (status, _, _) = post_raw(&router, &shop.merchant, STORE_NAME, variables.clone()).await;
        assert_eq!(status, 408, "the router's request time-out");
    }
    // The drop is recorded when the executor's future is dropped, just after the answer.
    let mut cancelled = None;
    for _ in 0..RECOVERY_TRIES_MAX {
        let metrics = router.metrics().await;
        cancelled = metric(&metrics, "c9pay_subgraph_fetch_errors_total", &[("subgraph", "stores"), ("kind", "cancelled")]);
        if cancelled == Some(2.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(cancelled, Some(2.0), "both fetches were cancelled");
    let metrics = router.metrics().await;
    assert_eq!(metric(&metrics, "c9pay_subgraph_fetch_errors_total", &[("subgraph", "stores"), ("kind", "failed")]), None, "{metrics}");
    assert_eq!(breaker_state(&router, "stores").await, Some(0.0), "still closed: a cancelled fetch is no failure");

    // Stores answers again; nothing in between had opened the breaker.
    stores.set(Fault::None);
    let (status, _, body) = post_raw(&router, &shop.merchant, STORE_NAME, variables).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["data"]["store"]["name"], "Cafe Nine");
    let opened = metric(&router.metrics().await, "c9pay_circuit_breaker_transitions_total", &[("dependency", "stores"), ("state", "open")]);
    assert_eq!(opened, None, "the breaker never opened");
}

on_both_backends!(
    a_hanging_subgraph_opens_its_breaker_and_a_sale_retried_after_recovery_is_paid_once,
    a_subgraph_that_refuses_connections_opens_its_breaker_until_it_is_back,
    a_fetch_dropped_by_the_request_time_out_is_neither_a_failure_nor_a_success,
);
