//! Rotating auth's signing key (`c9pay keys rotate` runs `c9pay_auth::keys::rotate`):
//! what the previous key signed keeps working until it expires, what the new key signs
//! works at once, retired keys leave the JWKS, and a key auth never published is refused.

use c9pay_platform::{
    database::Backend,
    id::UserId,
    on_both_backends,
    payment_code::{self, PaymentCode},
};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

use crate::helpers::{ME, TestRouter, bearer, spawn_router_with, subject_of};

const SELL: &str = "mutation($store: ID!, $product: ID!, $code: String!, $key: String!) {
    sell(input: { storeId: $store, items: [{ productId: $product, quantity: 1 }], paymentCode: $code, idempotencyKey: $key }) { status }
}";

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).ok().and_then(|header| header.kid).unwrap_or_default()
}

async fn jwks_kids(router: &TestRouter) -> Vec<String> {
    let jwks: Value = router.http.get(format!("{}/.well-known/jwks.json", router.subgraphs["auth"])).send().await
        .unwrap_or_else(|error| panic!("{error}")).json().await.unwrap_or(Value::Null);
    jwks["keys"].as_array().into_iter().flatten().filter_map(|key| key["kid"].as_str().map(str::to_string)).collect()
}

async fn code_of(router: &TestRouter, payer: &str) -> String {
    let issued = router.post(Some(payer), "mutation { issuePaymentCode { token } }", json!({})).await;
    issued.data()["issuePaymentCode"]["token"].as_str().unwrap_or_default().to_string()
}

async fn tokens_and_payment_codes_signed_before_a_rotation_keep_working(backend: Backend) {
    // The router fetches the JWKS again as soon as a token names a key it does not know.
    let router = spawn_router_with(backend, |config| config.access_tokens.jwks_refresh_interval_min_ms = 0).await;
    let merchant = bearer(&router.sign_up("minsu@example.com", "Minsu").await);
    let store = router.post(Some(&merchant), "mutation { openStore(input: { name: \"Cafe Nine\" }) { id } }", json!({})).await.data()["openStore"]["id"].clone();
    let latte = router
        .post(Some(&merchant), "mutation($store: ID!) { addProduct(input: { storeId: $store, name: \"Latte\", price: \"1000\" }) { id } }", json!({ "store": store }))
        .await
        .data()["addProduct"]["id"]
        .clone();
    let payer = bearer(&router.sign_up("ada@example.com", "Ada").await);
    router.post(Some(&payer), "mutation { topUp(input: { amount: \"10000\", idempotencyKey: \"k\" }) { balanceAfter } }", json!({})).await.data();
    let old_code = code_of(&router, &payer).await;
    let old_kid = kid_of(&old_code);

    let rotation = match c9pay_auth::keys::rotate(&router.auth_database, c9pay_auth::keys::RETIRE_AFTER_MS_DEFAULT).await {
        Ok(rotation) => rotation,
        Err(error) => panic!("rotating: {error}"),
    };

    assert!(rotation.retired.is_empty());
    assert_eq!(jwks_kids(&router).await, [rotation.new_kid.clone(), old_kid.clone()], "both keys are published");
    let new_code = code_of(&router, &payer).await;
    assert_eq!(kid_of(&new_code), rotation.new_kid, "the new key signs");
    let sell = |code: &str, key: &str| router.post(Some(&merchant), SELL, json!({ "store": store, "product": latte, "code": code, "key": key }));
    assert_eq!(sell(&old_code, "old").await.data()["sell"]["status"], "PAID", "a code from before the rotation");
    assert_eq!(sell(&new_code, "new").await.data()["sell"]["status"], "PAID", "a code from after it");
    // Access tokens: the one from before (old key) and a new log-in's (new key) both work.
    let fresh = router.log_in("ada@example.com").await;
    assert_eq!(kid_of(&fresh), rotation.new_kid);
    assert_eq!(kid_of(payer.trim_start_matches("Bearer ")), old_kid);
    for token in [payer.clone(), bearer(&fresh)] {
        assert_eq!(router.post(Some(&token), ME, json!({})).await.data()["me"]["displayName"], "Ada");
    }
}

async fn a_payment_code_signed_by_an_unknown_key_is_refused_and_retired_keys_leave_the_jwks(backend: Backend) {
    let router = spawn_router_with(backend, |_| {}).await;
    let merchant = bearer(&router.sign_up("minsu@example.com", "Minsu").await);
    let store = router.post(Some(&merchant), "mutation { openStore(input: { name: \"Cafe Nine\" }) { id } }", json!({})).await.data()["openStore"]["id"].clone();
    let latte = router
        .post(Some(&merchant), "mutation($store: ID!) { addProduct(input: { storeId: $store, name: \"Latte\", price: \"1000\" }) { id } }", json!({ "store": store }))
        .await
        .data()["addProduct"]["id"]
        .clone();
    let payer = router.sign_up("ada@example.com", "Ada").await;
    router.post(Some(&bearer(&payer)), "mutation { topUp(input: { amount: \"10000\", idempotencyKey: \"k\" }) { balanceAfter } }", json!({})).await.data();
    let payer_id = UserId::parse(&subject_of(&payer)).unwrap_or_else(|error| panic!("{error}"));
    // A well-formed code for a real payer, signed by a key auth never published.
    let unknown = SigningKey::generate(&mut rand::rngs::OsRng);
    let der = unknown.to_pkcs8_der().unwrap_or_else(|error| panic!("{error}"));
    let code = PaymentCode::new(payer_id, "unknown-key", chrono::Utc::now().timestamp_millis(), 120);
    let forged = payment_code::sign(&code, "unknown-key", &EncodingKey::from_ed_der(der.as_bytes())).unwrap_or_default();

    let refused = router.post(Some(&merchant), SELL, json!({ "store": store, "product": latte, "code": forged, "key": "forged" })).await;

    assert_eq!(refused.error_code(), "PAYMENT_CODE_INVALID", "{:#}", refused.body);
    let original = jwks_kids(&router).await;
    // Two rotations with no grace: the first key's successor is old enough, so it retires.
    let first = c9pay_auth::keys::rotate(&router.auth_database, 0).await.unwrap_or_else(|error| panic!("{error}"));
    let second = c9pay_auth::keys::rotate(&router.auth_database, 0).await.unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(second.retired.len() + first.retired.len(), 2, "{first:?} {second:?}");
    assert_eq!(jwks_kids(&router).await, vec![second.new_kid]);
    assert!(!jwks_kids(&router).await.contains(&original[0]));
}

on_both_backends!(
    tokens_and_payment_codes_signed_before_a_rotation_keep_working,
    a_payment_code_signed_by_an_unknown_key_is_refused_and_retired_keys_leave_the_jwks,
);
