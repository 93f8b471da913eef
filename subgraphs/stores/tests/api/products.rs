//! `addProduct` and what it refuses.

use c9pay_platform::{database::Backend, id::UserId};
use serde_json::json;

use crate::helpers::spawn_stores;

async fn the_owner_adds_a_product_and_it_is_listed(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Bakery").await;

    let response = app.add_product(&owner, &store_id, " Sourdough ", json!("4500")).await;

    let product = &response.data()["addProduct"];
    assert_eq!(product["name"], "Sourdough");
    assert_eq!(product["price"], "4500");
    assert_eq!(product["store"]["id"], store_id.as_str());
    assert!(product["id"].as_str().is_some_and(|id| id.starts_with("prd_")), "{product}");
    assert_eq!(app.product_names(&owner, &store_id).await, ["Sourdough"]);
}

async fn a_price_may_be_sent_as_a_json_integer(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Bakery").await;

    let response = app.add_product(&owner, &store_id, "Bagel", json!(1800)).await;

    assert_eq!(response.data()["addProduct"]["price"], "1800");
}

async fn a_negative_or_zero_price_is_an_invalid_amount_and_creates_no_product(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Bakery").await;

    for price in [json!("0"), json!("-1"), json!("-4500"), json!(0), json!(-3)] {
        let response = app.add_product(&owner, &store_id, "Free bread", price.clone()).await;
        assert_eq!(response.error_code(), "INVALID_AMOUNT", "price {price}");
    }

    assert!(app.product_names(&owner, &store_id).await.is_empty());
}

async fn a_price_above_the_maximum_is_an_invalid_amount(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Bakery").await;

    let too_much = app.add_product(&owner, &store_id, "Gold bread", json!("1000000000001")).await;
    let most = app.add_product(&owner, &store_id, "Platinum bread", json!("1000000000000")).await;

    assert_eq!(too_much.error_code(), "INVALID_AMOUNT");
    assert_eq!(most.data()["addProduct"]["price"], "1000000000000");
    assert_eq!(app.product_names(&owner, &store_id).await, ["Platinum bread"]);
}

async fn a_non_owner_cannot_add_a_product(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Bakery").await;

    let response = app.add_product(&UserId::generate(), &store_id, "Croissant", json!("2500")).await;

    assert_eq!(response.error_code(), "FORBIDDEN");
    assert!(app.product_names(&owner, &store_id).await.is_empty());
}

async fn a_product_name_is_unique_within_its_store(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let bakery = app.open_store_ok(&owner, "Bakery").await;
    let cafe = app.open_store_ok(&owner, "Café").await;
    app.add_product(&owner, &bakery, "Croissant", json!("2500")).await.data();

    let again = app.add_product(&owner, &bakery, "Croissant", json!("2600")).await;
    let elsewhere = app.add_product(&owner, &cafe, "Croissant", json!("2700")).await;

    assert_eq!(again.error_code(), "PRODUCT_NAME_TAKEN");
    assert_eq!(elsewhere.data()["addProduct"]["name"], "Croissant");
    assert_eq!(app.product_names(&owner, &bakery).await, ["Croissant"]);
}

async fn a_product_name_must_have_1_to_64_characters(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Bakery").await;

    for name in ["", "  ", &"x".repeat(65)] {
        assert_eq!(app.add_product(&owner, &store_id, name, json!("100")).await.error_code(), "INVALID_NAME", "{name:?}");
    }
    assert!(app.product_names(&owner, &store_id).await.is_empty());
}

async fn adding_a_product_to_an_unknown_store_is_not_found(backend: Backend) {
    let app = spawn_stores(backend).await;
    let store_id = c9pay_platform::id::StoreId::generate();

    let response = app.add_product(&UserId::generate(), store_id.as_str(), "Bread", json!("100")).await;

    assert_eq!(response.error_code(), "NOT_FOUND");
}

c9pay_platform::on_both_backends!(
    the_owner_adds_a_product_and_it_is_listed,
    a_price_may_be_sent_as_a_json_integer,
    a_negative_or_zero_price_is_an_invalid_amount_and_creates_no_product,
    a_price_above_the_maximum_is_an_invalid_amount,
    a_non_owner_cannot_add_a_product,
    a_product_name_is_unique_within_its_store,
    a_product_name_must_have_1_to_64_characters,
    adding_a_product_to_an_unknown_store_is_not_found,
);
