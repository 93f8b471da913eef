//! One request, answered by several subgraphs.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{bearer, metric, spawn_router, subject_of};

const OPEN_STORE: &str = "mutation($input: OpenStoreInput!) { openStore(input: $input) { id name } }";
const ADD_PRODUCT: &str = "mutation($input: AddProductInput!) { addProduct(input: $input) { id } }";
const ME: &str = "query Me { me { displayName wallet { balance } stores { name products { name price } } } }";

async fn a_signed_in_person_reads_profile_wallet_and_stores_in_one_request(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let token = bearer(&router.log_in("ada@example.com").await);
    let opened = router
        .post(Some(&token), OPEN_STORE, json!({ "input": { "name": "Ada's Coffee" } }))
        .await;
    let store_id = opened.data()["openStore"]["id"].as_str().unwrap_or_default().to_string();
    for (name, price) in [("Espresso", "3000"), ("Latte", "4500")] {
        router
            .post(
                Some(&token),
                ADD_PRODUCT,
                json!({ "input": { "storeId": store_id, "name": name, "price": price } }),
            )
            .await
            .data();
    }

    let response = router.post(Some(&token), ME, json!({})).await;

    assert_eq!(response.status, 200);
    assert_eq!(
        response.data(),
        &json!({ "me": {
            "displayName": "Ada",
            "wallet": { "balance": "0" },
            "stores": [{ "name": "Ada's Coffee", "products": [
                { "name": "Espresso", "price": "3000" },
                { "name": "Latte", "price": "4500" },
            ] }],
        } })
    );
    // Every subgraph was asked, and the metrics say so.
    let metrics = router.metrics().await;
    for subgraph in ["users", "credit", "stores"] {
        assert!(
            metric(&metrics, "c9pay_subgraph_fetches_total", &[("subgraph", subgraph)]).is_some_and(|count| count >= 1.0),
            "no fetch metric for {subgraph}:\n{metrics}"
        );
    }
    assert_eq!(
        metric(&metrics, "c9pay_graphql_operations_total", &[("operation", "Me"), ("kind", "query")]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "c9pay_graphql_operation_duration_seconds_count", &[("operation", "Me")]),
        Some(1.0)
    );
}

async fn each_person_sees_only_their_own_data(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let bob_token = router.sign_up("bob@example.com", "Bob").await;
    let bob = bearer(&bob_token);

    let as_ada = router.post(Some(&ada), "{ me { id displayName } }", json!({})).await;
    let as_bob = router.post(Some(&bob), "{ me { id displayName } }", json!({})).await;

    assert_eq!(as_ada.data()["me"]["displayName"], "Ada");
    assert_eq!(as_bob.data()["me"]["displayName"], "Bob");
    assert_eq!(as_bob.data()["me"]["id"], subject_of(&bob_token).as_str());
}

async fn a_subgraph_error_passes_through_with_its_code_and_path(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);

    let response = router
        .post(Some(&token), "{ store(id: \"not-a-store-id\") { name } }", json!({}))
        .await;

    assert_eq!(response.status, 200);
    assert_eq!(response.error_code(), "INVALID_ID");
    assert_eq!(response.body["errors"][0]["path"], json!(["store"]));
}

async fn introspection_and_typename_need_no_sign_in(backend: Backend) {
    let router = spawn_router(backend).await;

    let response = router
        .post(None, "{ __typename __schema { queryType { name } } }", json!({}))
        .await;

    assert_eq!(
        response.data(),
        &json!({ "__typename": "Query", "__schema": { "queryType": { "name": "Query" } } })
    );
}

async fn the_same_operation_is_planned_once_and_answered_every_time(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let misses_before = metric(&router.metrics().await, "c9pay_query_plan_cache_lookups_total", &[("result", "miss")]);
    // The same operation, written three ways that normalize alike.
    for query in [
        "{ me { displayName } }",
        "query { me { displayName } }",
        "{ me { ...Name } } fragment Name on User { displayName }",
    ] {
        let response = router.post(Some(&token), query, json!({})).await;
        assert_eq!(response.data()["me"]["displayName"], "Ada");
    }
    let metrics = router.metrics().await;
    let misses = metric(&metrics, "c9pay_query_plan_cache_lookups_total", &[("result", "miss")]);
    assert_eq!(misses, misses_before.map(|misses| misses + 1.0).or(Some(1.0)), "{metrics}");
    assert_eq!(metric(&metrics, "c9pay_query_plan_cache_lookups_total", &[("result", "hit")]), Some(2.0), "{metrics}");
}

async fn an_error_inside_an_entity_fetch_keeps_the_clients_path(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let bob = bearer(&router.sign_up("bob@example.com", "Bob").await);
    let opened = router
        .post(Some(&ada), OPEN_STORE, json!({ "input": { "name": "Ada's Coffee" } }))
        .await;
    let store_id = opened.data()["openStore"]["id"].as_str().unwrap_or_default().to_string();

    // Bob may see the store and its owner's name, but not the owner's wallet (credit
    // refuses, inside an entity fetch the client never wrote).
    let response = router
        .post(
            Some(&bob),
            "query($id: ID!) { store(id: $id) { name owner { displayName wallet { balance } } } }",
            json!({ "id": store_id }),
        )
        .await;

    assert_eq!(response.status, 200);
    assert_eq!(response.error_code(), "FORBIDDEN", "{:#}", response.body);
    assert_eq!(response.body["errors"][0]["path"], json!(["store", "owner", "wallet"]), "{:#}", response.body);
    // `wallet` and `owner` are non-null, so the null reaches the nullable `store`.
    assert_eq!(response.body["data"], json!({ "store": null }));
}

on_both_backends!(
    a_signed_in_person_reads_profile_wallet_and_stores_in_one_request,
    each_person_sees_only_their_own_data,
    a_subgraph_error_passes_through_with_its_code_and_path,
    introspection_and_typename_need_no_sign_in,
    the_same_operation_is_planned_once_and_answered_every_time,
    an_error_inside_an_entity_fetch_keeps_the_clients_path,
);
