//! `Store.kiosks` and `adminRevokeKiosk`, against the real auth, which keeps kiosks.

use c9pay_platform::{database::Backend, dpop, id::UserId, on_both_backends, testing::TestResponse};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::helpers::{TestStores, spawn_stores_with_auth};

const KIOSKS: &str = "query ($store: ID!) { store(id: $store) { kiosks { id name keyThumbprint createdAt revokedAt status } } }";
const ADMIN_REVOKE: &str = "mutation ($kiosk: ID!) { adminRevokeKiosk(kioskId: $kiosk) }";

/// Registers a new key as a kiosk of `store_id`: its id and thumbprint.
async fn register(app: &TestStores, owner: &UserId, store_id: &str, name: &str) -> (String, String) {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let response = app
        .execute_as(
            owner,
            "mutation ($input: RegisterKioskInput!) { registerKiosk(input: $input) { id keyThumbprint } }",
            json!({ "input": { "storeId": store_id, "name": name, "publicKey": dpop::public_jwk(&key).to_string() } }),
        )
        .await;
    let registered = &response.data()["registerKiosk"];
    (registered["id"].as_str().unwrap_or_default().to_string(), registered["keyThumbprint"].as_str().unwrap_or_default().to_string())
}

async fn kiosks(app: &TestStores, authorization: &str, store_id: &str) -> TestResponse {
    app.graphql.execute(Some(authorization), KIOSKS, json!({ "store": store_id })).await
}

async fn admin_revoke(app: &TestStores, authorization: &str, kiosk_id: &str) -> TestResponse {
    app.graphql.execute(Some(authorization), ADMIN_REVOKE, json!({ "kiosk": kiosk_id })).await
}

async fn the_owner_sees_the_stores_kiosks_active_and_revoked_oldest_first(backend: Backend) {
    let app = spawn_stores_with_auth(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Cafe Nine").await;
    let other_store = app.open_store_ok(&owner, "Tea House").await;
    let (front, front_key) = register(&app, &owner, &store_id, "Front till").await;
    let (back, _) = register(&app, &owner, &store_id, "Back till").await;
    register(&app, &owner, &other_store, "Elsewhere").await;
    let revoked = app
        .execute_as(&owner, "mutation ($store: ID!, $kiosk: ID!) { revokeKiosk(input: { storeId: $store, kioskId: $kiosk }) }", json!({ "store": store_id, "kiosk": back }))
        .await;
    assert_eq!(revoked.data()["revokeKiosk"], true);

    let response = kiosks(&app, &app.trust.user(&owner), &store_id).await;

    let listed = response.data()["store"]["kiosks"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert_eq!(listed[0]["id"], front.as_str());
    assert_eq!(listed[0]["name"], "Front till");
    assert_eq!(listed[0]["keyThumbprint"], front_key.as_str());
    assert_eq!(listed[0]["status"], "ACTIVE");
    assert_eq!(listed[0]["revokedAt"], Value::Null);
    assert!(listed[0]["createdAt"].is_string());
    assert_eq!(listed[1]["id"], back.as_str());
    assert_eq!(listed[1]["status"], "REVOKED");
    assert!(listed[1]["revokedAt"].is_string());
}

async fn a_stores_kiosks_are_for_its_owner_and_administrators_only(backend: Backend) {
    let app = spawn_stores_with_auth(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Cafe Nine").await;
    register(&app, &owner, &store_id, "Till").await;

    let by_admin = kiosks(&app, &app.trust.admin(&UserId::generate()), &store_id).await;
    let by_stranger = kiosks(&app, &app.trust.user(&UserId::generate()), &store_id).await;
    let by_kiosk = kiosks(&app, &app.kiosk_of(&store_id), &store_id).await;
    let by_nobody = kiosks(&app, &app.trust.anonymous(), &store_id).await;

    assert_eq!(by_admin.data()["store"]["kiosks"][0]["name"], "Till");
    assert_eq!(by_stranger.error_code(), "FORBIDDEN");
    assert_eq!(by_kiosk.error_code(), "FORBIDDEN");
    assert_eq!(by_nobody.error_code(), "UNAUTHENTICATED");
}

async fn an_administrator_revokes_any_stores_kiosk_once(backend: Backend) {
    let app = spawn_stores_with_auth(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Cafe Nine").await;
    let (kiosk, _) = register(&app, &owner, &store_id, "Till").await;
    let admin = app.trust.admin(&UserId::generate());

    let revoked = admin_revoke(&app, &admin, &kiosk).await;
    let again = admin_revoke(&app, &admin, &kiosk).await;
    let unknown = admin_revoke(&app, &admin, c9pay_platform::id::KioskId::generate().as_str()).await;
    let malformed = admin_revoke(&app, &admin, "sto_0123").await;

    assert_eq!(revoked.data()["adminRevokeKiosk"], true);
    assert_eq!(again.error_code(), "NOT_FOUND", "revoked already");
    assert_eq!(unknown.error_code(), "NOT_FOUND");
    assert_eq!(malformed.error_code(), "INVALID_ID");
    let listed = kiosks(&app, &app.trust.user(&owner), &store_id).await;
    assert_eq!(listed.data()["store"]["kiosks"][0]["status"], "REVOKED");
}

async fn a_person_who_is_not_an_administrator_cannot_revoke_a_kiosk_that_way(backend: Backend) {
    let app = spawn_stores_with_auth(backend).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Cafe Nine").await;
    let (kiosk, _) = register(&app, &owner, &store_id, "Till").await;

    // Not even the store's own owner: they have `revokeKiosk`.
    for authorization in [app.trust.user(&owner), app.trust.user(&UserId::generate()), app.kiosk_of(&store_id)] {
        let refused = admin_revoke(&app, &authorization, &kiosk).await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
        assert!(refused.body["data"].is_null(), "{:#}", refused.body);
    }
    let listed = kiosks(&app, &app.trust.user(&owner), &store_id).await;
    assert_eq!(listed.data()["store"]["kiosks"][0]["status"], "ACTIVE");
}

on_both_backends!(
    the_owner_sees_the_stores_kiosks_active_and_revoked_oldest_first,
    a_stores_kiosks_are_for_its_owner_and_administrators_only,
    an_administrator_revokes_any_stores_kiosk_once,
    a_person_who_is_not_an_administrator_cannot_revoke_a_kiosk_that_way,
);
