//! `issueKioskToken`: a kiosk proves it holds the key its store's owner registered, named
//! by its kiosk id or, when pairing, found by the key itself.

use c9pay_platform::{
    database::Backend,
    dpop::{self, ProofClaims},
    on_both_backends,
    testing::TestResponse,
};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_auth};

const STORE: &str = "sto_0123456789abcdef0123456789abcdef";
const ISSUE: &str = "mutation($input: IssueKioskTokenInput!) {
    issueKioskToken(input: $input) { accessToken tokenType expiresAt storeId }
}";

fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// A fresh token-request proof by `key`.
fn proof(key: &SigningKey) -> String {
    dpop::sign(
        key,
        &ProofClaims {
            htm: "POST".to_string(),
            htu: "http://127.0.0.1/graphql".to_string(),
            iat: chrono::Utc::now().timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            ath: None,
        },
    )
}

/// What stores does when the owner registers `key`: the new kiosk's id.
async fn register(app: &TestApp, key: &SigningKey) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/internal/kiosks", app.auth_url))
        .header("authorization", app.trust.service("stores"))
        .json(&json!({ "storeId": STORE, "name": "Till 1", "publicKey": dpop::public_jwk(key) }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("registering a kiosk: {error}"));
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body["kioskId"].as_str().unwrap_or_else(|| panic!("no kiosk id in {body:#}")).to_string()
}

async fn revoke(app: &TestApp, kiosk_id: &str) {
    let status = reqwest::Client::new()
        .post(format!("{}/internal/kiosks/{kiosk_id}/revoke", app.auth_url))
        .header("authorization", app.trust.service("stores"))
        .json(&json!({ "storeId": STORE }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("revoking a kiosk: {error}"))
        .status();
    assert_eq!(status.as_u16(), 200);
}

async fn issue(app: &TestApp, input: Value) -> TestResponse {
    app.auth.execute(Some(&app.trust.anonymous()), ISSUE, json!({ "input": input })).await
}

/// The `cnf.jkt` an access token is bound to.
fn bound_key(token: &str) -> Value {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let claims = token.split('.').nth(1).unwrap_or_default();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap_or_default()).unwrap_or_default();
    claims["cnf"]["jkt"].clone()
}

async fn a_kiosk_named_by_its_id_gets_a_token_bound_to_its_key(backend: Backend) {
    let app = spawn_auth(backend).await;
    let key = new_key();
    let kiosk_id = register(&app, &key).await;

    let response = issue(&app, json!({ "kioskId": kiosk_id, "proof": proof(&key) })).await;

    let payload = &response.data()["issueKioskToken"];
    assert_eq!(payload["tokenType"], "DPoP");
    assert_eq!(payload["storeId"], STORE);
    let x = dpop::public_jwk(&key)["x"].as_str().unwrap_or_default().to_string();
    assert_eq!(bound_key(payload["accessToken"].as_str().unwrap_or_default()), dpop::thumbprint(&x));
}

async fn a_pairing_kiosk_is_not_found_until_its_owner_registers_its_key_then_gets_its_token(backend: Backend) {
    let app = spawn_auth(backend).await;
    let key = new_key();
    let someone_else = new_key();
    register(&app, &someone_else).await;

    let before = issue(&app, json!({ "proof": proof(&key) })).await;
    let kiosk_id = register(&app, &key).await;
    let after = issue(&app, json!({ "proof": proof(&key) })).await;

    assert_eq!(before.error_code(), "NOT_FOUND");
    let payload = &after.data()["issueKioskToken"];
    assert_eq!(payload["storeId"], STORE);
    let x = dpop::public_jwk(&key)["x"].as_str().unwrap_or_default().to_string();
    assert_eq!(bound_key(payload["accessToken"].as_str().unwrap_or_default()), dpop::thumbprint(&x), "its own key, not another kiosk's");
    // The kiosk is the one registered: its id names it too.
    let named = issue(&app, json!({ "kioskId": kiosk_id, "proof": proof(&key) })).await;
    assert_eq!(named.data()["issueKioskToken"]["storeId"], STORE);
}

async fn a_revoked_kiosk_gets_no_token_either_way(backend: Backend) {
    let app = spawn_auth(backend).await;
    let key = new_key();
    let kiosk_id = register(&app, &key).await;
    revoke(&app, &kiosk_id).await;

    let by_key = issue(&app, json!({ "proof": proof(&key) })).await;
    let by_id = issue(&app, json!({ "kioskId": kiosk_id, "proof": proof(&key) })).await;

    assert_eq!(by_key.error_code(), "NOT_FOUND");
    assert_eq!(by_id.error_code(), "NOT_FOUND");
}

async fn a_replayed_malformed_or_foreign_proof_is_refused(backend: Backend) {
    let app = spawn_auth(backend).await;
    let key = new_key();
    let kiosk_id = register(&app, &key).await;
    let once = proof(&key);

    let first = issue(&app, json!({ "proof": once })).await;
    let replayed = issue(&app, json!({ "proof": once })).await;
    let garbage = issue(&app, json!({ "proof": "not.a.proof" })).await;
    let foreign = issue(&app, json!({ "kioskId": kiosk_id, "proof": proof(&new_key()) })).await;
    let bad_id = issue(&app, json!({ "kioskId": "sto_0123", "proof": proof(&key) })).await;

    assert!(first.data()["issueKioskToken"]["accessToken"].is_string());
    assert_eq!(replayed.error_code(), "KIOSK_PROOF_INVALID");
    assert_eq!(garbage.error_code(), "KIOSK_PROOF_INVALID");
    assert_eq!(foreign.error_code(), "KIOSK_PROOF_INVALID");
    assert_eq!(bad_id.error_code(), "INVALID_ID");
}

on_both_backends!(
    a_kiosk_named_by_its_id_gets_a_token_bound_to_its_key,
    a_pairing_kiosk_is_not_found_until_its_owner_registers_its_key_then_gets_its_token,
    a_revoked_kiosk_gets_no_token_either_way,
    a_replayed_malformed_or_foreign_proof_is_refused,
);
