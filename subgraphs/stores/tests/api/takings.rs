//! `Store.sales` (a Relay connection, newest first) and `Store.takings` (paid sales per
//! hour or day), and who may read them: the owner, the store's kiosks, administrators.

use c9pay_platform::{database::Backend, id::UserId, on_both_backends, testing::TestResponse};
use serde_json::{Value, json};

use crate::helpers::{COFFEE_PRICE, Shop, TestStores, key, sale_id_of, spawn_stores};

const SALES: &str = "query ($store: ID!, $first: Int, $after: String) {
    store(id: $store) { sales(first: $first, after: $after) {
        edges { cursor node { id status total } } nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor }
    } }
}";
const TAKINGS: &str = "query ($store: ID!, $since: DateTime!, $until: DateTime, $interval: TakingsInterval) {
    store(id: $store) { takings(since: $since, until: $until, interval: $interval) { total count refunded buckets { start total count } } }
}";
const TAKINGS_DEFAULT_INTERVAL: &str = "query ($store: ID!, $since: DateTime!, $until: DateTime) {
    store(id: $store) { takings(since: $since, until: $until) { count buckets { start } } }
}";

async fn sell_coffees(app: &TestStores, shop: &Shop, quantity: i64) -> String {
    let sold = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, quantity)], &app.codes.code_for(&shop.payer), &key()).await;
    sale_id_of(&sold)
}

async fn sales(app: &TestStores, authorization: &str, store_id: &str, first: Value, after: Value) -> TestResponse {
    app.graphql.execute(Some(authorization), SALES, json!({ "store": store_id, "first": first, "after": after })).await
}

fn sale_ids(response: &TestResponse) -> Vec<String> {
    let nodes = response.data()["store"]["sales"]["nodes"].as_array().cloned().unwrap_or_default();
    nodes.iter().filter_map(|node| node["id"].as_str().map(str::to_string)).collect()
}

/// Moves a sale in time, as if it had been made at `at` (RFC 3339).
async fn made_at(app: &TestStores, sale_id: &str, at: &str) {
    let at_ms = chrono::DateTime::parse_from_rfc3339(at).expect("a date").timestamp_millis();
    sqlx::query("update sale set created_at_ms = $1 where id = $2")
        .bind(at_ms)
        .bind(sale_id)
        .execute(app.database.pool())
        .await
        .expect("moving a sale in time");
}

async fn takings(app: &TestStores, authorization: &str, store_id: &str, since: &str, until: Value, interval: Value) -> TestResponse {
    app.graphql
        .execute(Some(authorization), TAKINGS, json!({ "store": store_id, "since": since, "until": until, "interval": interval }))
        .await
}

async fn a_stores_sales_come_newest_first_a_page_at_a_time(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(50_000).await;
    let first = sell_coffees(&app, &shop, 1).await;
    let second = sell_coffees(&app, &shop, 2).await;
    let third = sell_coffees(&app, &shop, 3).await;
    let owner = app.trust.user(&shop.owner);

    let page = sales(&app, &owner, &shop.store_id, json!(2), Value::Null).await;
    let end_cursor = page.data()["store"]["sales"]["pageInfo"]["endCursor"].clone();
    let rest = sales(&app, &owner, &shop.store_id, json!(2), end_cursor).await;
    let all = sales(&app, &owner, &shop.store_id, Value::Null, Value::Null).await;

    assert_eq!(sale_ids(&page), [third.clone(), second.clone()]);
    assert_eq!(page.data()["store"]["sales"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(page.data()["store"]["sales"]["edges"][0]["node"]["total"], (3 * COFFEE_PRICE).to_string());
    assert_eq!(page.data()["store"]["sales"]["edges"][0]["node"]["status"], "PAID");
    assert_eq!(sale_ids(&rest), std::slice::from_ref(&first));
    assert_eq!(rest.data()["store"]["sales"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest.data()["store"]["sales"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(sale_ids(&all), [third, second, first]);
}

async fn a_stores_sales_are_for_its_owner_its_kiosks_and_administrators(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;
    let sale = sell_coffees(&app, &shop, 1).await;
    let other_store = app.open_store_ok(&UserId::generate(), "Elsewhere").await;
    let stranger = UserId::generate();

    for (authorization, who) in [
        (app.trust.user(&shop.owner), "the owner"),
        (app.kiosk_of(&shop.store_id), "a kiosk of the store"),
        (app.trust.admin(&stranger), "an administrator"),
    ] {
        let response = sales(&app, &authorization, &shop.store_id, Value::Null, Value::Null).await;
        assert_eq!(sale_ids(&response), std::slice::from_ref(&sale), "{who}");
        let read = takings(&app, &authorization, &shop.store_id, "2020-01-01T00:00:00Z", json!("2020-01-02T00:00:00Z"), Value::Null).await;
        assert_eq!(read.data()["store"]["takings"]["count"], 0, "{who}");
    }
    for (authorization, who, code) in [
        (app.trust.user(&stranger), "someone else", "FORBIDDEN"),
        (app.kiosk_of(&other_store), "another store's kiosk", "FORBIDDEN"),
        (app.trust.anonymous(), "nobody signed in", "UNAUTHENTICATED"),
    ] {
        let response = sales(&app, &authorization, &shop.store_id, Value::Null, Value::Null).await;
        assert_eq!(response.error_code(), code, "{who}");
        let read = takings(&app, &authorization, &shop.store_id, "2020-01-01T00:00:00Z", Value::Null, Value::Null).await;
        assert_eq!(read.error_code(), code, "{who}");
    }
}

async fn a_bad_page_size_or_cursor_is_invalid_input(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(0).await;
    let owner = app.trust.user(&shop.owner);

    for (first, after) in [(json!(101), Value::Null), (json!(-1), Value::Null), (Value::Null, json!("not a cursor")), (Value::Null, json!("MTIzOnNhbF8x"))] {
        assert_eq!(sales(&app, &owner, &shop.store_id, first.clone(), after.clone()).await.error_code(), "INVALID_INPUT", "{first} {after}");
    }
    assert!(sales(&app, &owner, &shop.store_id, json!(100), Value::Null).await.data()["store"]["sales"]["edges"].is_array());
}

async fn takings_add_up_paid_sales_per_utc_hour_with_every_bucket_of_the_range(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(100_000).await;
    let early = sell_coffees(&app, &shop, 1).await;
    let also_early = sell_coffees(&app, &shop, 2).await;
    let later = sell_coffees(&app, &shop, 1).await;
    let before_the_range = sell_coffees(&app, &shop, 4).await;
    made_at(&app, &early, "2026-01-01T10:05:00Z").await;
    made_at(&app, &also_early, "2026-01-01T10:59:59.999Z").await;
    made_at(&app, &later, "2026-01-01T12:00:00Z").await;
    made_at(&app, &before_the_range, "2026-01-01T09:59:59Z").await;
    // A refund of part of a sale in the range; and a failed sale, which took nothing.
    app.refund(&shop.owner, &later, 1_000, "cold", &key()).await.data();
    let failed = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 90)], &app.codes.code_for(&shop.payer), &key()).await;
    assert_eq!(failed.error_code(), "INSUFFICIENT_CREDIT");
    let failed_id = failed.body["errors"][0]["extensions"]["saleId"].as_str().unwrap_or_default().to_string();
    made_at(&app, &failed_id, "2026-01-01T11:30:00Z").await;

    let response = takings(&app, &app.trust.user(&shop.owner), &shop.store_id, "2026-01-01T10:00:00Z", json!("2026-01-01T13:00:00Z"), json!("HOUR")).await;

    let read = &response.data()["store"]["takings"];
    assert_eq!(read["count"], 3);
    assert_eq!(read["total"], (4 * COFFEE_PRICE).to_string());
    assert_eq!(read["refunded"], "1000");
    assert_eq!(
        read["buckets"],
        json!([
            { "start": "2026-01-01T10:00:00+00:00", "total": (3 * COFFEE_PRICE).to_string(), "count": 2 },
            { "start": "2026-01-01T11:00:00+00:00", "total": "0", "count": 0 },
            { "start": "2026-01-01T12:00:00+00:00", "total": COFFEE_PRICE.to_string(), "count": 1 },
        ])
    );
}

async fn daily_takings_align_to_utc_midnight_and_the_first_bucket_counts_from_since(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(100_000).await;
    let morning = sell_coffees(&app, &shop, 1).await;
    let evening = sell_coffees(&app, &shop, 2).await;
    let next_day = sell_coffees(&app, &shop, 3).await;
    made_at(&app, &morning, "2026-03-01T06:00:00Z").await;
    made_at(&app, &evening, "2026-03-01T20:00:00Z").await;
    made_at(&app, &next_day, "2026-03-02T00:00:00Z").await;

    let response = takings(&app, &app.trust.user(&shop.owner), &shop.store_id, "2026-03-01T12:00:00Z", json!("2026-03-02T12:00:00Z"), json!("DAY")).await;

    let read = &response.data()["store"]["takings"];
    assert_eq!(read["count"], 2, "the morning sale is before `since`");
    assert_eq!(
        read["buckets"],
        json!([
            { "start": "2026-03-01T00:00:00+00:00", "total": (2 * COFFEE_PRICE).to_string(), "count": 1 },
            { "start": "2026-03-02T00:00:00+00:00", "total": (3 * COFFEE_PRICE).to_string(), "count": 1 },
        ])
    );
}

async fn takings_are_by_the_hour_by_default_and_until_defaults_to_now(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;
    sell_coffees(&app, &shop, 1).await;
    let since = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();

    let response = app
        .graphql
        .execute(Some(&app.trust.user(&shop.owner)), TAKINGS_DEFAULT_INTERVAL, json!({ "store": shop.store_id, "since": since }))
        .await;

    let read = &response.data()["store"]["takings"];
    assert_eq!(read["count"], 1, "the sale just made is before now");
    let buckets = read["buckets"].as_array().map(Vec::len).unwrap_or_default();
    assert!((3..=4).contains(&buckets), "hourly buckets over three hours: {buckets}");
}

async fn a_range_that_is_empty_backwards_or_too_long_is_invalid_input(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(0).await;
    let owner = app.trust.user(&shop.owner);

    for (since, until, interval) in [
        ("2026-01-02T00:00:00Z", json!("2026-01-01T00:00:00Z"), json!("HOUR")),
        ("2026-01-01T00:00:00Z", json!("2026-01-01T00:00:00Z"), json!("DAY")),
        ("2026-01-01T00:00:00Z", json!("2026-02-01T00:00:01Z"), json!("HOUR")),
        ("2025-01-01T00:00:00Z", json!("2026-01-02T00:00:01Z"), json!("DAY")),
    ] {
        let response = takings(&app, &owner, &shop.store_id, since, until.clone(), interval.clone()).await;
        assert_eq!(response.error_code(), "INVALID_INPUT", "{since} {until} {interval}");
    }
    let month = takings(&app, &owner, &shop.store_id, "2026-01-01T00:00:00Z", json!("2026-02-01T00:00:00Z"), json!("HOUR")).await;
    assert_eq!(month.data()["store"]["takings"]["buckets"].as_array().map(Vec::len), Some(31 * 24));
    let year = takings(&app, &owner, &shop.store_id, "2024-01-01T00:00:00Z", json!("2025-01-01T00:00:00Z"), json!("DAY")).await;
    assert_eq!(year.data()["store"]["takings"]["buckets"].as_array().map(Vec::len), Some(366), "a leap year");
}

on_both_backends!(
    a_stores_sales_come_newest_first_a_page_at_a_time,
    a_stores_sales_are_for_its_owner_its_kiosks_and_administrators,
    a_bad_page_size_or_cursor_is_invalid_input,
    takings_add_up_paid_sales_per_utc_hour_with_every_bucket_of_the_range,
    daily_takings_align_to_utc_midnight_and_the_first_bucket_counts_from_since,
    takings_are_by_the_hour_by_default_and_until_defaults_to_now,
    a_range_that_is_empty_backwards_or_too_long_is_invalid_input,
);
