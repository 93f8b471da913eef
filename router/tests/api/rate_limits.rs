//! Rate limits through the router: a brute-force log-in from one address and a principal
//! asking for payment codes too fast are refused with `RATE_LIMITED`, HTTP 429 and a
//! `Retry-After`, before anything reaches a subgraph; other callers are not affected.

use c9pay_platform::{database::Backend, on_both_backends};
use c9pay_router::config::{Quota, RateLimitRule};
use serde_json::{Value, json};

use crate::helpers::{LOG_IN, PASSWORD, TestRouter, bearer, metric, spawn_router_with};

const PAYMENT_CODE: &str = "mutation { issuePaymentCode { token } }";

async fn router_limiting(backend: Backend, field: &str, rule: RateLimitRule) -> TestRouter {
    let field = field.to_string();
    spawn_router_with(backend, move |config| {
        config.rate_limits.fields.clear();
        config.rate_limits.fields.insert(field, rule);
    })
    .await
}

fn three_per_minute() -> Option<Quota> {
    Some(Quota { requests: 3, period_s: 60 })
}

/// Posts `query` and returns (status, Retry-After, body).
async fn post_raw(router: &TestRouter, headers: &[(&str, &str)], query: &str, variables: Value) -> (u16, Option<u64>, Value) {
    let mut request = reqwest::Client::new()
        .post(router.graphql_url())
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap_or_else(|error| panic!("posting: {error}"));
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

fn log_in_as(email: &str, password: &str) -> Value {
    json!({ "input": { "email": email, "password": password } })
}

async fn brute_force_log_in_from_one_address_is_rate_limited(backend: Backend) {
    let rule = RateLimitRule { per_ip: three_per_minute(), per_principal: None };
    let router = router_limiting(backend, "Mutation.logIn", rule).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);

    for guess in ["123456", "password", "qwerty"] {
        let refused = router.post(None, LOG_IN, log_in_as("ada@example.com", guess)).await;
        assert_eq!(refused.error_code(), "INVALID_CREDENTIALS");
    }
    // The fourth attempt within the minute is refused before auth sees it — even with the
    // right password, so the limit is no oracle — and a forged X-Forwarded-For does not
    // make the attacker someone else (the router trusts it only when configured to).
    let (status, retry_after, body) = post_raw(
        &router,
        &[("x-forwarded-for", "203.0.113.9")],
        LOG_IN,
        log_in_as("ada@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status, 429, "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(body.get("data").is_none(), "nothing was executed: {body:#}");
    let retry_after = retry_after.unwrap_or_else(|| panic!("no Retry-After header"));
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], retry_after);

    // A signed-in person's other requests are not limited.
    let me = router.post(Some(&ada), "{ me { displayName } }", json!({})).await;
    assert_eq!(me.data()["me"]["displayName"], "Ada");
    let refusals = metric(&router.metrics().await, "c9pay_rate_limited_requests_total", &[("field", "Mutation.logIn"), ("scope", "ip")]);
    assert_eq!(refusals, Some(1.0));
}

async fn aliases_count_as_separate_attempts(backend: Backend) {
    let rule = RateLimitRule { per_ip: three_per_minute(), per_principal: None };
    let router = router_limiting(backend, "Mutation.logIn", rule).await;
    router.sign_up("ada@example.com", "Ada").await;
    let batch = "mutation($a: LogInInput!, $b: LogInInput!, $c: LogInInput!, $d: LogInInput!) {
        a: logIn(input: $a) { accessToken } b: logIn(input: $b) { accessToken }
        c: logIn(input: $c) { accessToken } d: logIn(input: $d) { accessToken }
    }";
    let guesses: Vec<Value> = ["1", "2", "3", "4"]
        .iter()
        .map(|guess| json!({ "email": "ada@example.com", "password": format!("guess-{guess}") }))
        .collect();
    let variables = json!({ "a": guesses[0], "b": guesses[1], "c": guesses[2], "d": guesses[3] });
    let (status, _, body) = post_raw(&router, &[], batch, variables).await;
    assert_eq!(status, 429, "four guesses in one document are four attempts: {body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
}

async fn payment_codes_are_limited_per_principal(backend: Backend) {
    let rule = RateLimitRule { per_ip: None, per_principal: Some(Quota { requests: 2, period_s: 60 }) };
    let router = router_limiting(backend, "Mutation.issuePaymentCode", rule).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let grace = bearer(&router.sign_up("grace@example.com", "Grace").await);

    for _ in 0..2 {
        router.post(Some(&ada), PAYMENT_CODE, json!({})).await.data();
    }
    let (status, retry_after, body) = post_raw(&router, &[("authorization", &ada)], PAYMENT_CODE, json!({})).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].clone()), (429, json!("RATE_LIMITED")), "{body:#}");
    assert!(retry_after.is_some_and(|seconds| (1..=30).contains(&seconds)), "{retry_after:?}");
    // Grace shares Ada's address but has her own quota.
    let code = router.post(Some(&grace), PAYMENT_CODE, json!({})).await;
    assert!(code.data()["issuePaymentCode"]["token"].is_string());
}

on_both_backends!(
    brute_force_log_in_from_one_address_is_rate_limited,
    aliases_count_as_separate_attempts,
    payment_codes_are_limited_per_principal,
);
