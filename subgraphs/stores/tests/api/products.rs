//! `addProduct`, `updateProduct` and what they refuse.

use c9pay_platform::{database::Backend, id::UserId, testing::TestResponse};
use serde_json::{Value, json};

use crate::helpers::{TestStores, key, sale_id_of, spawn_stores};

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

const UPDATE_PRODUCT: &str = "mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { id name price store { id } } }";

async fn update_product(app: &TestStores, viewer: &UserId, input: Value) -> TestResponse {
    app.execute_as(viewer, UPDATE_PRODUCT, json!({ "input": input })).await
}

async fn the_owner_renames_and_reprices_a_product_and_past_sales_keep_their_lines(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;
    let sold = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 2)], &app.codes.code_for(&shop.payer), &key()).await;
    let sale_id = sale_id_of(&sold);

    let renamed = update_product(&app, &shop.owner, json!({ "productId": shop.coffee, "name": " Drip coffee " })).await;
    let repriced = update_product(&app, &shop.owner, json!({ "productId": shop.coffee, "price": "5000" })).await;
    let both = update_product(&app, &shop.owner, json!({ "productId": shop.bagel, "name": "Sesame bagel", "price": 3300 })).await;

    assert_eq!(renamed.data()["updateProduct"]["name"], "Drip coffee");
    assert_eq!(renamed.data()["updateProduct"]["price"], "4500", "the price stays");
    assert_eq!(repriced.data()["updateProduct"]["name"], "Drip coffee", "the name stays");
    assert_eq!(repriced.data()["updateProduct"]["price"], "5000");
    assert_eq!(both.data()["updateProduct"], json!({ "id": shop.bagel, "name": "Sesame bagel", "price": "3300", "store": { "id": shop.store_id } }));
    assert_eq!(app.product_names(&shop.owner, &shop.store_id).await, ["Drip coffee", "Sesame bagel"]);
    let sale = app.sale(&shop.owner, &sale_id).await;
    assert_eq!(
        sale.data()["sale"]["lines"],
        json!([{ "productId": shop.coffee, "name": "Coffee", "unitPrice": "4500", "quantity": 2, "lineTotal": "9000" }]),
        "a sale keeps the name and price it was made at"
    );
    assert_eq!(sale.data()["sale"]["total"], "9000");
    // The next sale charges the new price.
    let next = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;
    assert_eq!(next.data()["sell"]["total"], "5000");
}

async fn renaming_a_product_to_a_name_the_store_uses_is_taken_and_changes_nothing(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(0).await;

    let taken = update_product(&app, &shop.owner, json!({ "productId": shop.bagel, "name": "Coffee", "price": "1" })).await;
    let same = update_product(&app, &shop.owner, json!({ "productId": shop.bagel, "name": "Bagel" })).await;

    assert_eq!(taken.error_code(), "PRODUCT_NAME_TAKEN");
    assert_eq!(same.data()["updateProduct"]["price"], "3200", "neither the name nor the price changed");
    assert_eq!(app.product_names(&shop.owner, &shop.store_id).await, ["Coffee", "Bagel"]);
}

async fn updating_a_product_refuses_bad_input_with_its_code_and_changes_nothing(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(0).await;
    let product = |input: Value| {
        let mut input = input;
        input["productId"] = json!(shop.coffee);
        input
    };

    for (input, expected) in [
        (product(json!({})), "INVALID_INPUT"),
        (product(json!({ "name": "  " })), "INVALID_NAME"),
        (product(json!({ "name": "x".repeat(65) })), "INVALID_NAME"),
        (product(json!({ "price": "0" })), "INVALID_AMOUNT"),
        (product(json!({ "price": -5 })), "INVALID_AMOUNT"),
        (product(json!({ "price": "1000000000001" })), "INVALID_AMOUNT"),
        (json!({ "productId": "sto_0123", "price": "10" }), "INVALID_ID"),
        (json!({ "productId": c9pay_platform::id::ProductId::generate(), "price": "10" }), "NOT_FOUND"),
    ] {
        assert_eq!(update_product(&app, &shop.owner, input.clone()).await.error_code(), expected, "{input}");
    }
    let store = app.store(&shop.owner, &shop.store_id).await;
    assert_eq!(store.data()["store"]["products"][0]["name"], "Coffee");
    assert_eq!(store.data()["store"]["products"][0]["price"], "4500");
}

async fn only_the_owner_may_update_a_product(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(0).await;
    let input = json!({ "productId": shop.coffee, "price": "1" });

    let stranger = update_product(&app, &UserId::generate(), input.clone()).await;
    let kiosk = app.graphql.execute(Some(&app.kiosk_of(&shop.store_id)), UPDATE_PRODUCT, json!({ "input": input.clone() })).await;
    let anonymous = app.graphql.execute(Some(&app.trust.anonymous()), UPDATE_PRODUCT, json!({ "input": input })).await;

    assert_eq!(stranger.error_code(), "FORBIDDEN");
    assert_eq!(kiosk.error_code(), "UNAUTHENTICATED", "a kiosk is not a person");
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
    assert_eq!(app.store(&shop.owner, &shop.store_id).await.data()["store"]["products"][0]["price"], "4500");
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
    the_owner_renames_and_reprices_a_product_and_past_sales_keep_their_lines,
    renaming_a_product_to_a_name_the_store_uses_is_taken_and_changes_nothing,
    updating_a_product_refuses_bad_input_with_its_code_and_changes_nothing,
    only_the_owner_may_update_a_product,
);
