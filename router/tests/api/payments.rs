//! Money through the router: top-up, a kiosk-side sale paid with the payer's QR code,
//! refusals, and parallel payments racing for one balance.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::{Value, json};

use crate::helpers::{TestRouter, bearer, spawn_router, subject_of};

const TOP_UP: &str = "mutation($amount: Amount!, $key: String!) { topUp(input: { amount: $amount, idempotencyKey: $key }) { balanceAfter } }";
const OPEN_STORE: &str = "mutation { openStore(input: { name: \"Cafe Nine\" }) { id } }";
const ADD_PRODUCT: &str = "mutation($store: ID!, $name: String!, $price: Amount!) {
    addProduct(input: { storeId: $store, name: $name, price: $price }) { id }
}";
const PAYMENT_CODE: &str = "mutation { issuePaymentCode { token } }";
pub(crate) const SELL: &str = "mutation($store: ID!, $items: [SaleItemInput!]!, $code: String!, $key: String!) {
    sell(input: { storeId: $store, items: $items, paymentCode: $code, idempotencyKey: $key }) { id status total payer { displayName } }
}";
const WALLET: &str = "{ me { wallet { balance available } } }";
const TAKINGS: &str = "{ me { stores { account { balance } } } }";

pub(crate) struct Shop {
    pub(crate) merchant: String,
    pub(crate) store: String,
    pub(crate) latte: String,
}

pub(crate) async fn open_shop(router: &TestRouter) -> Shop {
    let merchant = bearer(&router.sign_up("minsu@example.com", "Minsu").await);
    let opened = router.post(Some(&merchant), OPEN_STORE, json!({})).await;
    let store = opened.data()["openStore"]["id"].as_str().unwrap_or_default().to_string();
    let added = router.post(Some(&merchant), ADD_PRODUCT, json!({ "store": store, "name": "Latte", "price": "4500" })).await;
    let latte = added.data()["addProduct"]["id"].as_str().unwrap_or_default().to_string();
    Shop { merchant, store, latte }
}

pub(crate) async fn payer_with(router: &TestRouter, email: &str, credits: &str) -> String {
    let payer = bearer(&router.sign_up(email, "Ada").await);
    router.post(Some(&payer), TOP_UP, json!({ "amount": credits, "key": "first-top-up" })).await.data();
    payer
}

pub(crate) async fn payment_code(router: &TestRouter, payer: &str) -> String {
    let issued = router.post(Some(payer), PAYMENT_CODE, json!({})).await;
    issued.data()["issuePaymentCode"]["token"].as_str().unwrap_or_default().to_string()
}

pub(crate) fn lattes(shop: &Shop, quantity: i64) -> Value {
    json!([{ "productId": shop.latte, "quantity": quantity }])
}

async fn balance(router: &TestRouter, token: &str) -> String {
    let wallet = router.post(Some(token), WALLET, json!({})).await;
    wallet.data()["me"]["wallet"]["balance"].as_str().unwrap_or_default().to_string()
}

async fn a_sale_paid_with_a_payment_code_moves_the_catalogue_total_once(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "10000").await;
    let code = payment_code(&router, &payer).await;
    let variables = json!({ "store": shop.store, "items": lattes(&shop, 2), "code": code, "key": "sale-1" });

    let sold = router.post(Some(&shop.merchant), SELL, variables.clone()).await;
    let retried = router.post(Some(&shop.merchant), SELL, variables).await;

    let sale = &sold.data()["sell"];
    assert_eq!(sale["status"], "PAID");
    assert_eq!(sale["total"], "9000", "priced from the catalogue");
    assert_eq!(sale["payer"]["displayName"], "Ada", "resolved from users through the router");
    assert_eq!(retried.data()["sell"]["id"], sale["id"], "the same key is the same sale");
    assert_eq!(balance(&router, &payer).await, "1000");
    let takings = router.post(Some(&shop.merchant), TAKINGS, json!({})).await;
    assert_eq!(takings.data()["me"]["stores"][0]["account"]["balance"], "9000");
}

async fn refused_sales_get_their_codes_and_move_no_money(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "5000").await;
    let code = payment_code(&router, &payer).await;
    let sell = |items: Value, code: String, key: &str| {
        router.post(Some(&shop.merchant), SELL, json!({ "store": shop.store, "items": items, "code": code, "key": key }))
    };

    assert_eq!(sell(lattes(&shop, 0), code.clone(), "q0").await.error_code(), "QUANTITY_INVALID");
    assert_eq!(sell(lattes(&shop, -1), code.clone(), "q-1").await.error_code(), "QUANTITY_INVALID");
    assert_eq!(sell(lattes(&shop, 2), code.clone(), "short").await.error_code(), "INSUFFICIENT_CREDIT");
    let mut tampered = code.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    assert_eq!(sell(lattes(&shop, 1), tampered, "forged").await.error_code(), "PAYMENT_CODE_INVALID");
    sell(lattes(&shop, 1), code.clone(), "paid").await.data();
    assert_eq!(sell(lattes(&shop, 1), code, "twice").await.error_code(), "PAYMENT_CODE_USED");
    assert_eq!(balance(&router, &payer).await, "500", "only the one paid sale moved money");

    // Someone who does not own the store cannot sell there.
    let stranger_code = payment_code(&router, &payer).await;
    let stranger = bearer(&router.sign_up("mallory@example.com", "Mallory").await);
    let refused = router
        .post(Some(&stranger), SELL, json!({ "store": shop.store, "items": lattes(&shop, 1), "code": stranger_code, "key": "x" }))
        .await;
    assert_eq!(refused.error_code(), "FORBIDDEN");
    assert_eq!(balance(&router, &payer).await, "500");
}

async fn parallel_sales_racing_for_one_balance_succeed_only_as_far_as_it_covers(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    // 15000 covers three lattes of 4500, not four.
    let payer = payer_with(&router, "ada@example.com", "15000").await;
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(payment_code(&router, &payer).await);
    }

    let sales = codes.iter().enumerate().map(|(index, code)| {
        router.post(
            Some(&shop.merchant),
            SELL,
            json!({ "store": shop.store, "items": lattes(&shop, 1), "code": code, "key": format!("race-{index}") }),
        )
    });
    let outcomes = futures::future::join_all(sales).await;

    let paid = outcomes.iter().filter(|outcome| outcome.body["data"]["sell"]["status"] == "PAID").count();
    let refused = outcomes.iter().filter(|outcome| outcome.body["errors"][0]["extensions"]["code"] == "INSUFFICIENT_CREDIT").count();
    assert_eq!((paid, refused), (3, 3), "{outcomes:#?}");
    assert_eq!(balance(&router, &payer).await, "1500");
}

const REFUND: &str = "mutation($sale: ID!, $amount: Amount!, $key: String!) {
    refundSale(input: { saleId: $sale, amount: $amount, reason: \"cold\", idempotencyKey: $key }) { id amount status }
}";

/// The payload of a compact JWS with `change` applied, the signature kept: a forgery.
fn tamper(token: &str, change: impl Fn(&mut Value)) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = URL_SAFE_NO_PAD
        .decode(parts.get(1).copied().unwrap_or_default())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    change(&mut claims);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts.first().copied().unwrap_or_default(), parts.get(2).copied().unwrap_or_default())
}

async fn forged_codes_foreign_products_reused_keys_and_over_refunds_are_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "20000").await;
    let grace = bearer(&router.sign_up("grace@example.com", "Grace").await);
    let sell = |items: Value, code: String, key: &str| {
        router.post(Some(&shop.merchant), SELL, json!({ "store": shop.store, "items": items, "code": code, "key": key }))
    };

    // A code whose payer was changed to someone else, signature kept.
    let code = payment_code(&router, &payer).await;
    let grace_id = router.post(Some(&grace), "{ me { id } }", json!({})).await.data()["me"]["id"].clone();
    let other_payer = tamper(&code, |claims| claims["sub"] = grace_id.clone());
    assert_eq!(sell(lattes(&shop, 1), other_payer, "payer").await.error_code(), "PAYMENT_CODE_INVALID");
    // The same code claiming to live an hour longer (payload changed, signature kept).
    let longer = tamper(&code, |claims| claims["exp"] = json!(claims["exp"].as_i64().unwrap_or_default() + 3_600));
    assert_eq!(sell(lattes(&shop, 1), longer, "lifetime").await.error_code(), "PAYMENT_CODE_INVALID");

    // A product of another store.
    let other_merchant = bearer(&router.sign_up("jisoo@example.com", "Jisoo").await);
    let other_store = router.post(Some(&other_merchant), OPEN_STORE, json!({})).await.data()["openStore"]["id"].clone();
    let tea = router
        .post(Some(&other_merchant), ADD_PRODUCT, json!({ "store": other_store, "name": "Tea", "price": "100" }))
        .await
        .data()["addProduct"]["id"]
        .clone();
    let foreign = json!([{ "productId": tea, "quantity": 1 }]);
    assert_eq!(sell(foreign, code.clone(), "foreign").await.error_code(), "PRODUCT_NOT_IN_STORE");

    // The key of a paid sale reused for another cart.
    let sale = sell(lattes(&shop, 1), code.clone(), "sale").await;
    let sale_id = sale.data()["sell"]["id"].clone();
    let fresh = payment_code(&router, &payer).await;
    assert_eq!(sell(lattes(&shop, 2), fresh, "sale").await.error_code(), "IDEMPOTENCY_KEY_REUSED");

    // Refunds: never above the sale, in one go or in parts.
    let refund = |amount: &str, key: &str| router.post(Some(&shop.merchant), REFUND, json!({ "sale": sale_id, "amount": amount, "key": key }));
    assert_eq!(refund("4501", "r1").await.error_code(), "REFUND_EXCEEDS_SALE");
    refund("4000", "r2").await.data();
    assert_eq!(refund("501", "r3").await.error_code(), "REFUND_EXCEEDS_SALE");
    refund("500", "r4").await.data();

    assert_eq!(balance(&router, &payer).await, "20000", "one latte paid, fully refunded, nothing else moved");
}

/// A payment code signed with `seed` under `kid` for `payer`, issued `issued_ago_s` ago
/// and living `lifetime_s`: what auth would sign, or a forger with another key.
fn code_signed_with(payer_token: &str, kid: &str, seed: &[u8; 32], issued_ago_s: i64, lifetime_s: i64) -> String {
    use c9pay_platform::{id::UserId, payment_code};
    use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
    let payer = UserId::parse(&subject_of(payer_token.trim_start_matches("Bearer ")))
        .unwrap_or_else(|error| panic!("payer id: {error:?}"));
    let now_ms = chrono::Utc::now().timestamp_millis() - issued_ago_s * 1000;
    let code = payment_code::PaymentCode::new(payer, kid, now_ms, lifetime_s);
    let der = SigningKey::from_bytes(seed).to_pkcs8_der().unwrap_or_else(|error| panic!("{error}"));
    payment_code::sign(&code, kid, &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()))
        .unwrap_or_else(|error| panic!("signing a payment code: {error}"))
}

async fn expired_codes_and_codes_signed_by_another_key_are_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "20000").await;
    let sell = |code: String, key: &str| {
        router.post(Some(&shop.merchant), SELL, json!({ "store": shop.store, "items": lattes(&shop, 1), "code": code, "key": key }))
    };
    let (kid, seed) = router.auth_signing_key().await;

    // Auth's own key, the right payer, but the code's three minutes ran out a minute ago.
    let expired = code_signed_with(&payer, &kid, &seed, 240, 180);
    assert_eq!(sell(expired, "expired").await.error_code(), "PAYMENT_CODE_EXPIRED");
    // The control: the same construction, still within its life, pays. So the refusal
    // above is the expiry and nothing else.
    let fresh = code_signed_with(&payer, &kid, &seed, 0, 180);
    assert_eq!(sell(fresh, "fresh").await.data()["sell"]["status"], "PAID");

    // Another key claiming to be auth's key id: the signature does not verify.
    let forger = rand::random::<[u8; 32]>();
    let impostor = code_signed_with(&payer, &kid, &forger, 0, 180);
    assert_eq!(sell(impostor, "impostor").await.error_code(), "PAYMENT_CODE_INVALID");
    // Another key under its own key id, which auth never published.
    let unknown = code_signed_with(&payer, "not-a-key-of-auth", &forger, 0, 180);
    assert_eq!(sell(unknown, "unknown-key").await.error_code(), "PAYMENT_CODE_INVALID");

    assert_eq!(balance(&router, &payer).await, "15500", "only the fresh code paid");
    let takings = router.post(Some(&shop.merchant), TAKINGS, json!({})).await;
    assert_eq!(takings.data()["me"]["stores"][0]["account"]["balance"], "4500");
}

on_both_backends!(
    a_sale_paid_with_a_payment_code_moves_the_catalogue_total_once,
    refused_sales_get_their_codes_and_move_no_money,
    parallel_sales_racing_for_one_balance_succeed_only_as_far_as_it_covers,
    forged_codes_foreign_products_reused_keys_and_over_refunds_are_refused,
    expired_codes_and_codes_signed_by_another_key_are_refused,
);
