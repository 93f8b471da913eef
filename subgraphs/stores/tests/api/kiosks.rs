//! `Store.kiosks` and `adminRevokeKiosk`, against the real auth, which keeps kiosks.

use c9pay_platform::{
    circuit_breaker::CircuitBreakerConfig,
    database::Backend,
    dpop,
    id::UserId,
    on_both_backends,
    testing::{Fault, TestResponse, breaker_state, metric_sample},
};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::helpers::{TestStores, spawn_stores_with_auth, spawn_stores_with_auth_behind_proxy};

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
    when_auth_refuses_connections_its_breaker_opens_kiosk_calls_fail_fast_and_recovery_closes_it,
);

/// Enough tries for the breaker's cool-down to pass many times over.
const RECOVERY_TRIES_MAX: u32 = 200;

async fn when_auth_refuses_connections_its_breaker_opens_kiosk_calls_fail_fast_and_recovery_closes_it(backend: Backend) {
    let breaker = CircuitBreakerConfig { consecutive_failures_max: 2, cool_down_ms: 500 };
    let (app, auth) = spawn_stores_with_auth_behind_proxy(backend, breaker).await;
    let owner = UserId::generate();
    let store_id = app.open_store_ok(&owner, "Cafe Nine").await;
    let owner_authorization = app.trust.user(&owner);
    assert_eq!(breaker_state(&app.address, "auth").await, "0");

    // Auth is down (from the start: a connection stores already held would stay up):
    // two calls in a row fail, which opens the breaker.
    auth.set(Fault::RefuseConnections);
    for _ in 0..2 {
        assert_eq!(kiosks(&app, &owner_authorization, &store_id).await.error_code(), "SERVICE_UNAVAILABLE");
    }
    assert_eq!(breaker_state(&app.address, "auth").await, "2", "open after two failures in a row");

    // Auth is back, but while the breaker is open nothing is sent: refused at once.
    auth.set(Fault::None);
    let refused = kiosks(&app, &owner_authorization, &store_id).await;
    let refusals = metric_sample(&app.address, "c9pay_circuit_breaker_refusals_total{dependency=\"auth\"").await;
    if refused.body.get("errors").is_some() {
        assert_eq!(refused.error_code(), "SERVICE_UNAVAILABLE");
        assert_eq!(refusals, "1", "the call was refused by the breaker, not sent");
    }

    // After the cool-down a call probes auth, gets an answer and closes the breaker.
    let mut listed = refused;
    for _ in 0..RECOVERY_TRIES_MAX {
        if listed.body.get("errors").is_none() {
            break;
        }
        assert_eq!(listed.error_code(), "SERVICE_UNAVAILABLE");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        listed = kiosks(&app, &owner_authorization, &store_id).await;
    }
    assert_eq!(listed.data()["store"]["kiosks"].as_array().map(Vec::len), Some(0));
    assert_eq!(breaker_state(&app.address, "auth").await, "0", "closed again");
    register(&app, &owner, &store_id, "Front till").await;
    let listed = kiosks(&app, &owner_authorization, &store_id).await;
    assert_eq!(listed.data()["store"]["kiosks"].as_array().map(Vec::len), Some(1));
}
