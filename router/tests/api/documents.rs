//! Documents already seen are answered without parsing, measuring and validating them
//! again; refused documents are never kept, and what depends on the request is checked
//! on every request.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{TestRouter, bearer, metric, spawn_router};

const ME: &str = "{ me { displayName } }";

/// (misses, hits) of the document cache so far.
async fn lookups(router: &TestRouter) -> (f64, f64) {
    let metrics = router.metrics().await;
    let count = |result: &str| metric(&metrics, "c9pay_document_cache_lookups_total", &[("result", result)]).unwrap_or(0.0);
    (count("miss"), count("hit"))
}

async fn a_document_seen_before_comes_from_the_cache(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let bob = bearer(&router.sign_up("bob@example.com", "Bob").await);
    let (misses, hits) = lookups(&router).await;

    for (token, name) in [(&ada, "Ada"), (&bob, "Bob"), (&ada, "Ada")] {
        let response = router.post(Some(token), ME, json!({})).await;
        assert_eq!(response.data()["me"]["displayName"], name, "each caller gets their own answer");
    }

    assert_eq!(lookups(&router).await, (misses + 1.0, hits + 2.0));
    // Another operation name is another entry: the name chooses the operation.
    let two = "query A { me { displayName } } query B { __typename }";
    for (name, expected) in [("A", json!({ "me": { "displayName": "Ada" } })), ("B", json!({ "__typename": "Query" }))] {
        let response = read_named(&router, &ada, two, name).await;
        assert_eq!(response, expected);
    }
}

async fn read_named(router: &TestRouter, authorization: &str, query: &str, operation_name: &str) -> serde_json::Value {
    let response = router
        .http
        .post(router.graphql_url())
        .header("authorization", authorization)
        .json(&json!({ "query": query, "operationName": operation_name }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["data"].clone()
}

async fn a_refused_document_is_refused_again_with_the_same_code(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let too_deep = format!("{{ {}x{} }}", "a { ".repeat(20), " }".repeat(20));

    for (query, code) in [
        ("{ me { displayName ", "GRAPHQL_PARSE_FAILED"),
        ("{ me { noSuchField } }", "GRAPHQL_VALIDATION_FAILED"),
        (too_deep.as_str(), "QUERY_TOO_DEEP"),
        ("query A { me { displayName } } query B { me { displayName } }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let (misses, hits) = lookups(&router).await;
        let first = router.post(Some(&ada), query, json!({})).await;
        let second = router.post(Some(&ada), query, json!({})).await;
        assert_eq!(first.error_code(), code, "{query}: {:#}", first.body);
        assert_eq!(second.error_code(), code, "{query}: {:#}", second.body);
        assert_eq!(second.status, first.status);
        assert_eq!(lookups(&router).await, (misses + 2.0, hits), "{query} was kept");
    }
}

async fn what_depends_on_the_request_is_checked_every_time(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);

    // Kept from Ada's request, the document still needs a token from anyone else.
    assert_eq!(router.post(Some(&ada), ME, json!({})).await.data()["me"]["displayName"], "Ada");
    let anonymous = router.post(None, ME, json!({})).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");

    // A mutation kept from a POST is still refused over GET.
    let log_in = "mutation { logIn(input: { email: \"nobody@example.com\", password: \"wrong password\" }) { accessToken } }";
    router.post(None, log_in, json!({})).await;
    let response = router
        .http
        .get(router.graphql_url())
        .query(&[("query", log_in)])
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status().as_u16(), 405);

    // A subscription is refused over POST however often it is sent.
    let subscription = "subscription { walletActivity { id } }";
    for _ in 0..2 {
        let response = router.post(Some(&ada), subscription, json!({})).await;
        assert_eq!(response.error_code(), "OPERATION_NOT_SUPPORTED", "{:#}", response.body);
    }
}

on_both_backends!(
    a_document_seen_before_comes_from_the_cache,
    a_refused_document_is_refused_again_with_the_same_code,
    what_depends_on_the_request_is_checked_every_time,
);
