//! `User.wallet` and `Store.account` through `_entities`.

use c9pay_platform::{
    database::Backend,
    id::{StoreId, UserId},
    testing::GraphQLClient,
};
use serde_json::json;

use crate::helpers::{entity_balance, spawn_credit};

async fn a_new_user_has_a_balance_of_zero(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let user = UserId::generate();

    let response = credit.wallet(&user, &user).await;

    assert_eq!(entity_balance(&response, "wallet"), "0");
}

async fn after_a_grant_the_wallet_holds_the_granted_amount(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let user = UserId::generate();

    credit.grant(&user, 15_000).await;

    assert_eq!(
        entity_balance(&credit.wallet(&user, &user).await, "wallet"),
        "15000"
    );
}

async fn a_user_cannot_read_another_users_wallet(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let owner = UserId::generate();
    let stranger = UserId::generate();
    credit.grant(&owner, 500).await;

    let response = credit.wallet(&stranger, &owner).await;

    assert_eq!(response.error_code(), "FORBIDDEN");
    assert!(
        !response.body.to_string().contains("500"),
        "the balance leaked: {:#}",
        response.body
    );
}

async fn an_anonymous_request_cannot_read_a_wallet(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let user = UserId::generate();

    let response = credit
        .graphql
        .execute(
            Some(&credit.trust.anonymous()),
            r#"query ($representations: [_Any!]!) {
                _entities(representations: $representations) { ... on User { wallet { balance } } }
            }"#,
            json!({ "representations": [{ "__typename": "User", "id": user }] }),
        )
        .await;

    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn a_malformed_user_id_is_an_invalid_id(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let user = UserId::generate();

    let response = credit
        .graphql
        .execute(
            Some(&credit.trust.user(&user)),
            r#"{ _entities(representations: [{ __typename: "User", id: "sto_nope" }]) { ... on User { wallet { balance } } } }"#,
            json!({}),
        )
        .await;

    assert_eq!(response.error_code(), "INVALID_ID");
}

async fn many_wallets_in_one_request_are_each_checked(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let me = UserId::generate();
    let other = UserId::generate();
    credit.grant(&me, 70).await;
    credit.grant(&other, 90).await;

    let response = credit
        .graphql
        .execute(
            Some(&credit.trust.user(&me)),
            r#"query ($representations: [_Any!]!) {
                _entities(representations: $representations) { ... on User { id wallet { balance } } }
            }"#,
            json!({ "representations": [
                { "__typename": "User", "id": me },
                { "__typename": "User", "id": other },
            ] }),
        )
        .await;

    assert_eq!(
        response.body["data"]["_entities"][0]["wallet"]["balance"],
        "70"
    );
    // The second wallet is withheld (async-graphql leaves the entity with just its id).
    assert_eq!(
        response.body["data"]["_entities"][1]["wallet"],
        serde_json::Value::Null
    );
    assert!(
        !response.body.to_string().contains("\"90\""),
        "the balance leaked: {:#}",
        response.body
    );
    assert_eq!(response.error_code(), "FORBIDDEN");
}

async fn the_owner_of_a_store_reads_its_account(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let owner = UserId::generate();
    let store = StoreId::generate();
    let (status, _) = credit
        .put_store_account(Some(&credit.trust.service("stores")), &store, &owner)
        .await;
    assert_eq!(status, 200);

    let response = credit.store_account(&owner, &store).await;

    assert_eq!(entity_balance(&response, "account"), "0");
}

async fn only_the_owner_of_a_store_reads_its_account(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let owner = UserId::generate();
    let store = StoreId::generate();
    credit
        .put_store_account(Some(&credit.trust.service("stores")), &store, &owner)
        .await;

    let response = credit.store_account(&UserId::generate(), &store).await;

    assert_eq!(response.error_code(), "FORBIDDEN");
}

async fn a_store_without_an_account_is_forbidden(backend: Backend) {
    let credit = spawn_credit(backend).await;

    let response = credit
        .store_account(&UserId::generate(), &StoreId::generate())
        .await;

    assert_eq!(response.error_code(), "FORBIDDEN");
}

async fn a_request_without_an_internal_token_is_refused_with_401(backend: Backend) {
    let credit = spawn_credit(backend).await;

    let response = credit
        .graphql
        .execute(None, "{ _service { sdl } }", json!({}))
        .await;

    assert_eq!(response.status, 401);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn a_token_from_an_unknown_signer_is_refused_with_401(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let other_trust = c9pay_platform::testing::TestTrust::new(&[]);
    let forged = other_trust.user(&UserId::generate());

    let response = GraphQLClient::new(format!("{}/graphql", credit.address))
        .execute(Some(&forged), "{ _service { sdl } }", json!({}))
        .await;

    assert_eq!(response.status, 401);
}

c9pay_platform::on_both_backends!(
    a_new_user_has_a_balance_of_zero,
    after_a_grant_the_wallet_holds_the_granted_amount,
    a_user_cannot_read_another_users_wallet,
    an_anonymous_request_cannot_read_a_wallet,
    a_malformed_user_id_is_an_invalid_id,
    many_wallets_in_one_request_are_each_checked,
    the_owner_of_a_store_reads_its_account,
    only_the_owner_of_a_store_reads_its_account,
    a_store_without_an_account_is_forbidden,
    a_request_without_an_internal_token_is_refused_with_401,
    a_token_from_an_unknown_signer_is_refused_with_401,
);
