//! Merchant-presented QR: a store owner asks for an amount, a person scans and pays once.

use c9pay_credit::db;
use c9pay_platform::{database::Backend, id::StoreId, on_both_backends};
use serde_json::json;

use crate::helpers::{TestCredit, spawn_credit};

const CREATE: &str = "mutation($store: ID!, $amount: Amount!, $seconds: Int) {
    createPaymentRequest(input: { storeId: $store, amount: $amount, expiresInSeconds: $seconds }) {
        token svg request { id amount status store { id } }
    }
}";
const PREVIEW: &str =
    "query($token: String!) { paymentRequest(token: $token) { amount status store { id } } }";
const PAY: &str = "mutation($token: String!, $key: String!) {
    payRequest(input: { token: $token, idempotencyKey: $key }) { transferId kind amount balanceAfter }
}";

struct Shop {
    owner: c9pay_platform::id::UserId,
    store: StoreId,
}

async fn open_shop(credit: &TestCredit) -> Shop {
    let owner = credit.person("Minsu").await;
    let store = StoreId::generate();
    db::ensure_store_account(&credit.database, &store, &owner)
        .await
        .expect("a store account");
    Shop { owner, store }
}

async fn request(credit: &TestCredit, shop: &Shop, amount: &str, seconds: i64) -> String {
    let created = credit
        .execute_as(
            &shop.owner,
            CREATE,
            json!({ "store": shop.store.as_str(), "amount": amount, "seconds": seconds }),
        )
        .await;
    let created = &created.data()["createPaymentRequest"];
    assert!(
        created["svg"]
            .as_str()
            .is_some_and(|svg| svg.contains("<svg"))
    );
    assert_eq!(created["request"]["status"], "OPEN");
    created["token"].as_str().unwrap_or_default().to_string()
}

async fn a_scanned_request_shows_its_store_and_amount_and_is_paid_once(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let shop = open_shop(&credit).await;
    let ada = credit.person("Ada").await;
    credit.grant(&ada, 10_000).await;
    let token = request(&credit, &shop, "4500", 300).await;

    let preview = credit
        .execute_as(&ada, PREVIEW, json!({ "token": token }))
        .await;
    assert_eq!(
        preview.data()["paymentRequest"],
        json!({ "amount": "4500", "status": "OPEN", "store": { "id": shop.store.as_str() } })
    );

    let paid = credit
        .execute_as(&ada, PAY, json!({ "token": token, "key": "pay-1" }))
        .await;
    let replay = credit
        .execute_as(&ada, PAY, json!({ "token": token, "key": "pay-1" }))
        .await;
    let again = credit
        .execute_as(&ada, PAY, json!({ "token": token, "key": "pay-2" }))
        .await;

    assert_eq!(paid.data()["payRequest"]["balanceAfter"], "5500");
    assert_eq!(
        replay.data()["payRequest"],
        paid.data()["payRequest"],
        "a retry with the same key is the same payment"
    );
    assert_eq!(again.error_code(), "PAYMENT_REQUEST_PAID");
    assert_eq!(credit.balance_of(&ada).await, 5_500);
    let status = credit
        .execute_as(&ada, PREVIEW, json!({ "token": token }))
        .await;
    assert_eq!(status.data()["paymentRequest"]["status"], "PAID");
    assert_eq!(db::balance_total(&credit.database).await.ok(), Some(0));
}

async fn a_tampered_forged_or_expired_request_is_refused_and_moves_nothing(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let shop = open_shop(&credit).await;
    let ada = credit.person("Ada").await;
    credit.grant(&ada, 10_000).await;
    let token = request(&credit, &shop, "4500", 300).await;

    // The amount in the payload changed to 1: the signature no longer matches.
    let parts: Vec<&str> = token.split('.').collect();
    let payload = base64_decode(parts.get(1).copied().unwrap_or_default());
    let tampered_payload = payload.replace("\"amt\":4500", "\"amt\":1");
    assert_ne!(payload, tampered_payload);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64_encode(&tampered_payload),
        parts[2]
    );
    assert_eq!(
        credit
            .execute_as(&ada, PAY, json!({ "token": tampered, "key": "t" }))
            .await
            .error_code(),
        "PAYMENT_REQUEST_INVALID"
    );

    // A request signed by another credit deployment's key.
    let other = spawn_credit(backend).await;
    let other_shop = open_shop(&other).await;
    let foreign = request(&other, &other_shop, "10", 300).await;
    assert_eq!(
        credit
            .execute_as(&ada, PAY, json!({ "token": foreign, "key": "f" }))
            .await
            .error_code(),
        "PAYMENT_REQUEST_INVALID"
    );
    assert_eq!(
        credit
            .execute_as(&ada, PAY, json!({ "token": "not a token", "key": "g" }))
            .await
            .error_code(),
        "PAYMENT_REQUEST_INVALID"
    );

    // Expired: a one-second request, paid two seconds later.
    let short = request(&credit, &shop, "100", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(
        credit
            .execute_as(&ada, PAY, json!({ "token": short, "key": "e" }))
            .await
            .error_code(),
        "PAYMENT_REQUEST_EXPIRED"
    );

    assert_eq!(credit.balance_of(&ada).await, 10_000);
}

async fn only_the_owner_may_ask_to_be_paid_and_only_sensibly(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let shop = open_shop(&credit).await;
    let mallory = credit.person("Mallory").await;
    for (who, amount, seconds, code) in [
        (&mallory, "100", 60, "FORBIDDEN"),
        (&shop.owner, "0", 60, "INVALID_AMOUNT"),
        (&shop.owner, "-5", 60, "INVALID_AMOUNT"),
        (&shop.owner, "100", 901, "INVALID_LIFETIME"),
    ] {
        let variables =
            json!({ "store": shop.store.as_str(), "amount": amount, "seconds": seconds });
        assert_eq!(
            credit.execute_as(who, CREATE, variables).await.error_code(),
            code,
            "{amount} for {seconds} s"
        );
    }
}

async fn paying_without_enough_credit_is_refused_and_the_request_stays_open(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let shop = open_shop(&credit).await;
    let ada = credit.person("Ada").await;
    credit.grant(&ada, 100).await;
    let token = request(&credit, &shop, "4500", 300).await;

    let refused = credit
        .execute_as(&ada, PAY, json!({ "token": token, "key": "k" }))
        .await;

    assert_eq!(refused.error_code(), "INSUFFICIENT_CREDIT");
    let status = credit
        .execute_as(&ada, PREVIEW, json!({ "token": token }))
        .await;
    assert_eq!(status.data()["paymentRequest"]["status"], "OPEN");
    credit.grant(&ada, 5_000).await;
    let paid = credit
        .execute_as(&ada, PAY, json!({ "token": token, "key": "k" }))
        .await;
    assert_eq!(
        paid.data()["payRequest"]["amount"],
        "4500",
        "the refused attempt stored nothing under its key"
    );
}

fn base64_decode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

on_both_backends!(
    a_scanned_request_shows_its_store_and_amount_and_is_paid_once,
    a_tampered_forged_or_expired_request_is_refused_and_moves_nothing,
    only_the_owner_may_ask_to_be_paid_and_only_sensibly,
    paying_without_enough_credit_is_refused_and_the_request_stays_open,
);
