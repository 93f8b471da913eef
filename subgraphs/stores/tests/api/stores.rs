//! Opening stores, reading them, and listing a person's stores.

use c9pay_platform::{database::Backend, id::UserId};
use serde_json::json;

use crate::helpers::{spawn_stores, spawn_stores_with_credit_trust, spawn_stores_with_credit_unreachable};

async fn opening_a_store_makes_the_signed_in_user_its_owner(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();

    let response = app.open_store(&owner, "  Corner Café  ").await;

    let store = &response.data()["openStore"];
    assert_eq!(store["name"], "Corner Café");
    assert_eq!(store["owner"]["id"], owner.as_str());
    assert_eq!(store["products"], json!([]));
    let id = store["id"].as_str().expect("a store id");
    assert!(id.starts_with("sto_"), "{id}");
    assert_eq!(app.store(&UserId::generate(), id).await.data()["store"]["name"], "Corner Café");
}

async fn opening_a_store_creates_its_credit_account(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();

    let store_id = app.open_store_ok(&owner, "Bakery").await;

    let response = app.store_account(&owner, &store_id).await;
    assert_eq!(response.data()["_entities"][0]["account"]["balance"], "0");
    assert_eq!(app.store_account(&UserId::generate(), &store_id).await.error_code(), "FORBIDDEN");
}

async fn when_credit_is_unreachable_opening_a_store_fails_and_creates_nothing(backend: Backend) {
    let app = spawn_stores_with_credit_unreachable(backend).await;
    let owner = UserId::generate();

    let response = app.open_store(&owner, "Bakery").await;

    assert_eq!(response.error_code(), "SERVICE_UNAVAILABLE");
    assert_eq!(app.stores_of(&owner, &owner).await.data()["_entities"][0]["stores"], json!([]));
}

async fn when_credit_refuses_the_call_opening_a_store_fails_masked_and_creates_nothing(backend: Backend) {
    // Credit that does not trust the stores service answers 401: a configuration bug,
    // which the client sees only as an internal error with a request id.
    let app = spawn_stores_with_credit_trust(backend, |trust| {
        trust.trusted_issuers.remove("stores");
    })
    .await;
    let owner = UserId::generate();

    let response = app.open_store(&owner, "Bakery").await;

    assert_eq!(response.error_code(), "INTERNAL_SERVER_ERROR");
    assert!(response.body["errors"][0]["extensions"]["requestId"].is_string(), "{:#}", response.body);
    assert!(!response.body.to_string().contains("401"), "credit's answer leaked: {:#}", response.body);
    assert_eq!(app.stores_of(&owner, &owner).await.data()["_entities"][0]["stores"], json!([]));
}

async fn stores_refuses_to_start_without_a_signing_key(backend: Backend) {
    let database = c9pay_platform::testing::fresh_database(backend).await;
    let trust = c9pay_platform::testing::TestTrust::new(&[]);
    let config = c9pay_stores::StoresConfig::new(
        "127.0.0.1:0",
        database.config.clone(),
        trust.config_for("stores"),
        "http://127.0.0.1:9",
    );

    let result = c9pay_stores::build(&config).await;

    match result {
        Ok(_) => panic!("stores started without a signing key"),
        Err(error) => assert!(error.to_string().contains("signing_key"), "{error:#}"),
    }
}

async fn a_store_name_must_have_1_to_64_characters(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();

    for name in ["", "   ", &"x".repeat(65)] {
        assert_eq!(app.open_store(&owner, name).await.error_code(), "INVALID_NAME", "{name:?}");
    }
    assert_eq!(app.stores_of(&owner, &owner).await.data()["_entities"][0]["stores"], json!([]));
    assert!(app.open_store(&owner, &"x".repeat(64)).await.data()["openStore"]["id"].is_string());
}

async fn an_anonymous_request_cannot_open_a_store(backend: Backend) {
    let app = spawn_stores(backend).await;

    let response = app
        .graphql
        .execute(Some(&app.trust.anonymous()), r#"mutation { openStore(input: { name: "Bakery" }) { id } }"#, json!({}))
        .await;

    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn a_request_without_an_internal_token_is_refused_with_401(backend: Backend) {
    let app = spawn_stores(backend).await;

    let response = app.graphql.execute(None, r#"mutation { openStore(input: { name: "Bakery" }) { id } }"#, json!({})).await;

    assert_eq!(response.status, 401);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn an_unknown_store_is_null(backend: Backend) {
    let app = spawn_stores(backend).await;

    let response = app.store(&UserId::generate(), c9pay_platform::id::StoreId::generate().as_str()).await;

    assert_eq!(response.data()["store"], json!(null));
}

async fn a_malformed_store_id_is_an_invalid_id(backend: Backend) {
    let app = spawn_stores(backend).await;

    let response = app.store(&UserId::generate(), "usr_0123").await;

    assert_eq!(response.error_code(), "INVALID_ID");
}

async fn a_user_lists_their_own_stores_oldest_first(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let first = app.open_store_ok(&owner, "First").await;
    let second = app.open_store_ok(&owner, "Second").await;
    app.open_store_ok(&UserId::generate(), "Someone else's").await;

    let response = app.stores_of(&owner, &owner).await;

    assert_eq!(
        response.data()["_entities"][0]["stores"],
        json!([{ "id": first, "name": "First" }, { "id": second, "name": "Second" }])
    );
}

async fn a_user_cannot_list_another_users_stores(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    app.open_store_ok(&owner, "Bakery").await;

    let response = app.stores_of(&UserId::generate(), &owner).await;

    assert_eq!(response.error_code(), "FORBIDDEN");
}

async fn store_entities_resolve_in_one_batch_with_their_products(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let bakery = app.open_store_ok(&owner, "Bakery").await;
    let florist = app.open_store_ok(&owner, "Florist").await;
    app.add_product(&owner, &bakery, "Bread", json!("3500")).await.data();
    app.add_product(&owner, &florist, "Tulip", json!("1200")).await.data();
    app.add_product(&owner, &florist, "Rose", json!("2000")).await.data();

    let response = app
        .execute_as(
            &UserId::generate(),
            r#"query ($representations: [_Any!]!) {
                _entities(representations: $representations) { ... on Store { id name products { name price } } }
            }"#,
            json!({ "representations": [
                { "__typename": "Store", "id": florist },
                { "__typename": "Store", "id": c9pay_platform::id::StoreId::generate() },
                { "__typename": "Store", "id": bakery },
            ] }),
        )
        .await;

    assert_eq!(
        response.data()["_entities"],
        json!([
            { "id": florist, "name": "Florist", "products": [{ "name": "Tulip", "price": "1200" }, { "name": "Rose", "price": "2000" }] },
            null,
            { "id": bakery, "name": "Bakery", "products": [{ "name": "Bread", "price": "3500" }] },
        ])
    );
}

c9pay_platform::on_both_backends!(
    opening_a_store_makes_the_signed_in_user_its_owner,
    opening_a_store_creates_its_credit_account,
    when_credit_is_unreachable_opening_a_store_fails_and_creates_nothing,
    when_credit_refuses_the_call_opening_a_store_fails_masked_and_creates_nothing,
    stores_refuses_to_start_without_a_signing_key,
    a_store_name_must_have_1_to_64_characters,
    an_anonymous_request_cannot_open_a_store,
    a_request_without_an_internal_token_is_refused_with_401,
    an_unknown_store_is_null,
    a_malformed_store_id_is_an_invalid_id,
    a_user_lists_their_own_stores_oldest_first,
    a_user_cannot_list_another_users_stores,
    store_entities_resolve_in_one_batch_with_their_products,
);
