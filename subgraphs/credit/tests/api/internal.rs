//! `PUT /internal/store-accounts/{store_id}`, the endpoint stores calls when a store opens.

use c9pay_platform::{
    database::Backend,
    id::{StoreId, UserId},
};

use crate::helpers::spawn_credit;

async fn opening_a_store_account_twice_returns_the_same_account(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let stores = credit.trust.service("stores");
    let store = StoreId::generate();
    let owner = UserId::generate();

    let (first_status, first) = credit
        .put_store_account(Some(&stores), &store, &owner)
        .await;
    let (second_status, second) = credit
        .put_store_account(Some(&stores), &store, &owner)
        .await;

    assert_eq!((first_status, second_status), (200, 200));
    assert_eq!(first["accountId"], second["accountId"]);
    assert_eq!(first["ownerUserId"], owner.as_str());
    assert_eq!(first["balance"], "0");
}

async fn another_owner_for_an_existing_store_account_is_a_conflict(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let stores = credit.trust.service("stores");
    let store = StoreId::generate();
    credit
        .put_store_account(Some(&stores), &store, &UserId::generate())
        .await;

    let (status, body) = credit
        .put_store_account(Some(&stores), &store, &UserId::generate())
        .await;

    assert_eq!(status, 409);
    assert_eq!(body["code"], "CONFLICT");
}

async fn the_internal_endpoint_refuses_a_caller_that_is_not_the_stores_service(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let store = StoreId::generate();
    let owner = UserId::generate();

    let (as_users, _) = credit
        .put_store_account(Some(&credit.trust.service("users")), &store, &owner)
        .await;
    let (as_a_person, _) = credit
        .put_store_account(Some(&credit.trust.user(&owner)), &store, &owner)
        .await;
    let (without_a_token, _) = credit.put_store_account(None, &store, &owner).await;

    assert_eq!(as_users, 403);
    assert_eq!(as_a_person, 403);
    assert_eq!(without_a_token, 401);
    // Nothing was opened: the owner still cannot read an account for this store.
    assert_eq!(
        credit.store_account(&owner, &store).await.error_code(),
        "FORBIDDEN"
    );
}

async fn a_malformed_store_id_is_refused(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let response = credit
        .http
        .put(format!(
            "{}/internal/store-accounts/usr_not_a_store",
            credit.address
        ))
        .header("authorization", credit.trust.service("stores"))
        .json(&serde_json::json!({ "ownerUserId": UserId::generate() }))
        .send()
        .await
        .expect("calling the internal endpoint");

    assert_eq!(response.status().as_u16(), 422);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body["code"], "INVALID_ID");
}

c9pay_platform::on_both_backends!(
    opening_a_store_account_twice_returns_the_same_account,
    another_owner_for_an_existing_store_account_is_a_conflict,
    the_internal_endpoint_refuses_a_caller_that_is_not_the_stores_service,
    a_malformed_store_id_is_refused,
);
