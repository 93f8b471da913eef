//! Admin fields of stores (`findStores`, `storeStatistics`) and what administrators may
//! read of any store; each resolver checks the principal, whatever the router did.

use c9pay_platform::{database::Backend, id::UserId, on_both_backends, testing::TestResponse};
use serde_json::{Value, json};

use crate::helpers::{TestStores, key, spawn_stores};

const FIND_STORES: &str = "query ($query: String!, $first: Int) { findStores(query: $query, first: $first) { id name owner { id } } }";
const STATISTICS: &str = "{ storeStatistics { stores salesToday } }";

async fn find_stores(app: &TestStores, authorization: &str, query: &str, first: Value) -> TestResponse {
    app.graphql.execute(Some(authorization), FIND_STORES, json!({ "query": query, "first": first })).await
}

fn names(response: &TestResponse) -> Vec<String> {
    let found = response.data()["findStores"].as_array().cloned().unwrap_or_default();
    found.iter().filter_map(|store| store["name"].as_str().map(str::to_string)).collect()
}

async fn an_administrator_finds_stores_whose_name_contains_the_query_ignoring_case(backend: Backend) {
    let app = spawn_stores(backend).await;
    let admin = app.trust.admin(&UserId::generate());
    let owner = UserId::generate();
    let nine = app.open_store_ok(&owner, "Cafe Nine").await;
    app.open_store_ok(&UserId::generate(), "Blue Café").await;
    app.open_store_ok(&UserId::generate(), "Tea House").await;
    app.open_store_ok(&UserId::generate(), "100% Juice").await;

    let cafes = find_stores(&app, &admin, " CAF", Value::Null).await;
    let first_only = find_stores(&app, &admin, "caf", json!(1)).await;
    let percent = find_stores(&app, &admin, "%", Value::Null).await;

    assert_eq!(names(&cafes), ["Blue Café", "Cafe Nine"], "by name");
    assert_eq!(cafes.data()["findStores"][1]["id"], nine.as_str());
    assert_eq!(cafes.data()["findStores"][1]["owner"]["id"], owner.as_str());
    assert_eq!(names(&first_only), ["Blue Café"]);
    assert_eq!(names(&percent), ["100% Juice"], "% is a character, not a wildcard");
}

async fn find_stores_is_bounded(backend: Backend) {
    let app = spawn_stores(backend).await;
    let admin = app.trust.admin(&UserId::generate());

    for first in [json!(0), json!(101)] {
        assert_eq!(find_stores(&app, &admin, "a", first.clone()).await.error_code(), "INVALID_INPUT", "{first}");
    }
    assert_eq!(find_stores(&app, &admin, &"a".repeat(65), Value::Null).await.error_code(), "INVALID_INPUT");
}

async fn an_administrator_counts_stores_and_todays_paid_sales(backend: Backend) {
    let app = spawn_stores(backend).await;
    let admin = app.trust.admin(&UserId::generate());
    let shop = app.shop(10_000).await;
    app.open_store_ok(&UserId::generate(), "Tea House").await;
    app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await.data();
    // Refused by the ledger: recorded, but not paid.
    let refused = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 9)], &app.codes.code_for(&shop.payer), &key()).await;
    assert_eq!(refused.error_code(), "INSUFFICIENT_CREDIT");

    let response = app.graphql.execute(Some(&admin), STATISTICS, json!({})).await;

    assert_eq!(response.data()["storeStatistics"], json!({ "stores": 2, "salesToday": 1 }));
}

async fn an_administrator_lists_any_persons_stores(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    app.open_store_ok(&owner, "Cafe Nine").await;

    let response = app.stores_of_as(&app.trust.admin(&UserId::generate()), &owner).await;

    assert_eq!(response.data()["_entities"][0]["stores"][0]["name"], "Cafe Nine");
}

async fn a_person_who_is_not_an_administrator_is_refused_every_admin_field(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    app.open_store_ok(&owner, "Cafe Nine").await;
    // An admin-kind token without the admin scope is no administrator either.
    let mut unscoped = c9pay_platform::internal_token::Principal::user(&owner, "test");
    unscoped.kind = c9pay_platform::internal_token::PrincipalKind::Admin;

    for authorization in [app.trust.user(&owner), app.trust.authorization_for(&unscoped), app.kiosk_of("sto_0123456789abcdef0123456789abcdef")] {
        let found = find_stores(&app, &authorization, "cafe", Value::Null).await;
        assert_eq!(found.error_code(), "FORBIDDEN");
        assert!(found.body["data"].is_null(), "{:#}", found.body);
        assert_eq!(app.graphql.execute(Some(&authorization), STATISTICS, json!({})).await.error_code(), "FORBIDDEN");
    }
}

on_both_backends!(
    an_administrator_finds_stores_whose_name_contains_the_query_ignoring_case,
    find_stores_is_bounded,
    an_administrator_counts_stores_and_todays_paid_sales,
    an_administrator_lists_any_persons_stores,
    a_person_who_is_not_an_administrator_is_refused_every_admin_field,
);
