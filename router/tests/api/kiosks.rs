//! Kiosks through the router: a store's owner registers the device's Ed25519 key; the
//! kiosk proves it holds the key to get a token bound to it (`cnf.jkt`), and every
//! request carries a fresh DPoP proof by that key. Stolen tokens without the key, proofs
//! by other keys, replayed proofs and proofs for other URLs are refused, and a kiosk
//! sells only for its own store.

use c9pay_platform::{
    database::Backend,
    dpop::{self, ProofClaims},
    on_both_backends,
    testing::TestResponse,
};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::helpers::{TestRouter, bearer, read, spawn_router};

const OPEN_STORE: &str = "mutation($name: String!) { openStore(input: { name: $name }) { id } }";
const ADD_PRODUCT: &str = "mutation($store: ID!) { addProduct(input: { storeId: $store, name: \"Latte\", price: \"4500\" }) { id } }";
const REGISTER: &str = "mutation($store: ID!, $key: String!) {
    registerKiosk(input: { storeId: $store, name: \"Till 1\", publicKey: $key }) { id storeId keyThumbprint }
}";
const REVOKE: &str = "mutation($store: ID!, $kiosk: ID!) { revokeKiosk(input: { storeId: $store, kioskId: $kiosk }) }";
const ISSUE: &str = "mutation($kiosk: ID!, $proof: String!) {
    issueKioskToken(input: { kioskId: $kiosk, proof: $proof }) { accessToken tokenType storeId }
}";
const SELL: &str = "mutation($store: ID!, $product: ID!, $code: String!, $key: String!) {
    sell(input: { storeId: $store, items: [{ productId: $product, quantity: 1 }], paymentCode: $code, idempotencyKey: $key }) { id status total }
}";
const STORE_NAME: &str = "query($store: ID!) { store(id: $store) { name } }";
const WALLET: &str = "{ me { wallet { balance } } }";

struct Shop {
    merchant: String,
    store: String,
    latte: String,
}

pub(crate) struct Kiosk {
    id: String,
    key: SigningKey,
    token: String,
}

async fn open_shop(router: &TestRouter, email: &str, name: &str) -> Shop {
    let merchant = bearer(&router.sign_up(email, "Merchant").await);
    let store = router.post(Some(&merchant), OPEN_STORE, json!({ "name": name })).await.data()["openStore"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let latte = router.post(Some(&merchant), ADD_PRODUCT, json!({ "store": store })).await.data()["addProduct"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Shop { merchant, store, latte }
}

fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

fn jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A proof by `key` for a POST to `url`, for `access_token` (none when asking for one).
fn proof(key: &SigningKey, url: &str, access_token: Option<&str>) -> String {
    dpop::sign(
        key,
        &ProofClaims {
            htm: "POST".to_string(),
            htu: url.to_string(),
            iat: now_s(),
            jti: jti(),
            ath: access_token.map(dpop::access_token_hash),
        },
    )
}

async fn register(router: &TestRouter, shop: &Shop, key: &SigningKey) -> TestResponse {
    let jwk = dpop::public_jwk(key).to_string();
    router.post(Some(&shop.merchant), REGISTER, json!({ "store": shop.store, "key": jwk })).await
}

async fn issue(router: &TestRouter, kiosk_id: &str, proof: &str) -> TestResponse {
    router.post(None, ISSUE, json!({ "kiosk": kiosk_id, "proof": proof })).await
}

/// Registers a kiosk for `shop` and gets its first token.
async fn kiosk_of(router: &TestRouter, shop: &Shop) -> Kiosk {
    register_kiosk(router, &shop.merchant, &shop.store).await
}

/// Registers a kiosk for `store` as its owner `merchant` (an `Authorization` value) and
/// gets the kiosk's first token.
pub(crate) async fn register_kiosk(router: &TestRouter, merchant: &str, store: &str) -> Kiosk {
    let key = new_key();
    let jwk = dpop::public_jwk(&key).to_string();
    let registered = router.post(Some(merchant), REGISTER, json!({ "store": store, "key": jwk })).await;
    let id = registered.data()["registerKiosk"]["id"].as_str().unwrap_or_default().to_string();
    let issued = issue(router, &id, &proof(&key, &router.graphql_url(), None)).await;
    let payload = &issued.data()["issueKioskToken"];
    assert_eq!(payload["tokenType"], "DPoP");
    assert_eq!(payload["storeId"], store);
    let token = payload["accessToken"].as_str().unwrap_or_default().to_string();
    Kiosk { id, key, token }
}

/// Posts as a kiosk: `Authorization: DPoP <token>` and the given `DPoP` header values.
async fn post_as(router: &TestRouter, token: &str, proofs: &[String], query: &str, variables: Value) -> TestResponse {
    let mut request = router
        .http
        .post(router.graphql_url())
        .header("authorization", format!("DPoP {token}"))
        .json(&json!({ "query": query, "variables": variables }));
    for proof in proofs {
        request = request.header("dpop", proof);
    }
    read(request).await
}

/// Posts as a kiosk with a fresh, correct proof.
pub(crate) async fn post_as_kiosk(router: &TestRouter, kiosk: &Kiosk, query: &str, variables: Value) -> TestResponse {
    let fresh = proof(&kiosk.key, &router.graphql_url(), Some(&kiosk.token));
    post_as(router, &kiosk.token, &[fresh], query, variables).await
}

fn assert_refused(response: &TestResponse, why: &str) {
    assert_eq!(response.status, 401, "{why}: {:#}", response.body);
    assert_eq!(response.error_code(), "UNAUTHENTICATED", "{why}");
    assert!(response.body.get("data").is_none(), "{why}: {:#}", response.body);
}

async fn payer_with_code(router: &TestRouter, email: &str) -> (String, String) {
    let payer = bearer(&router.sign_up(email, "Ada").await);
    router
        .post(Some(&payer), "mutation { topUp(input: { amount: \"10000\", idempotencyKey: \"k\" }) { balanceAfter } }", json!({}))
        .await
        .data();
    let code = router.post(Some(&payer), "mutation { issuePaymentCode { token } }", json!({})).await.data()["issuePaymentCode"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (payer, code)
}

async fn balance(router: &TestRouter, payer: &str) -> String {
    router.post(Some(payer), WALLET, json!({})).await.data()["me"]["wallet"]["balance"].as_str().unwrap_or_default().to_string()
}

async fn a_kiosk_of_the_store_sells_with_a_fresh_proof_per_request(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let kiosk = kiosk_of(&router, &shop).await;
    let (payer, code) = payer_with_code(&router, "ada@example.com").await;

    let sold = post_as_kiosk(&router, &kiosk, SELL, json!({ "store": shop.store, "product": shop.latte, "code": code, "key": "k-1" })).await;

    assert_eq!(sold.data()["sell"]["status"], "PAID");
    assert_eq!(balance(&router, &payer).await, "5500");
    let read_back = post_as_kiosk(&router, &kiosk, STORE_NAME, json!({ "store": shop.store })).await;
    assert_eq!(read_back.data()["store"]["name"], "Cafe Nine", "a second request with a second proof");
}

/// Browser libraries name the algorithm of a WebCrypto Ed25519 key `Ed25519` (RFC 9864)
/// rather than `EdDSA`: auth (issuing the token) and the router (every request) take both.
async fn a_kiosk_whose_proofs_name_the_algorithm_ed25519_gets_a_token_and_sells(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let key = new_key();
    let registered = register(&router, &shop, &key).await;
    let kiosk_id = registered.data()["registerKiosk"]["id"].as_str().unwrap_or_default().to_string();
    let claims = |access_token: Option<&str>| ProofClaims {
        htm: "POST".to_string(),
        htu: router.graphql_url(),
        iat: now_s(),
        jti: jti(),
        ath: access_token.map(dpop::access_token_hash),
    };

    let issued = issue(&router, &kiosk_id, &dpop::sign_with_algorithm(&key, &claims(None), "Ed25519")).await;
    let token = issued.data()["issueKioskToken"]["accessToken"].as_str().unwrap_or_default().to_string();
    let (payer, code) = payer_with_code(&router, "ada@example.com").await;
    let fresh = dpop::sign_with_algorithm(&key, &claims(Some(&token)), "Ed25519");
    let sold = post_as(&router, &token, &[fresh], SELL, json!({ "store": shop.store, "product": shop.latte, "code": code, "key": "k-1" })).await;

    assert_eq!(sold.data()["sell"]["status"], "PAID", "{:#}", sold.body);
    assert_eq!(balance(&router, &payer).await, "5500");
    let other_algorithm = dpop::sign_with_algorithm(&key, &claims(Some(&token)), "ES256");
    let refused = post_as(&router, &token, &[other_algorithm], STORE_NAME, json!({ "store": shop.store })).await;
    assert_refused(&refused, "a proof naming another algorithm");
}

async fn a_kiosk_of_another_store_cannot_sell_there_and_moves_no_money(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop_a = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let shop_b = open_shop(&router, "jisoo@example.com", "Tea House").await;
    let kiosk_a = kiosk_of(&router, &shop_a).await;
    let (payer, code) = payer_with_code(&router, "ada@example.com").await;

    let refused = post_as_kiosk(&router, &kiosk_a, SELL, json!({ "store": shop_b.store, "product": shop_b.latte, "code": code, "key": "k-1" })).await;

    assert_eq!(refused.error_code(), "FORBIDDEN", "{:#}", refused.body);
    assert_eq!(balance(&router, &payer).await, "10000");
    // The same code still pays at the kiosk's own store: the refusal did not spend it.
    let sold = post_as_kiosk(&router, &kiosk_a, SELL, json!({ "store": shop_a.store, "product": shop_a.latte, "code": code, "key": "k-2" })).await;
    assert_eq!(sold.data()["sell"]["status"], "PAID");
}

async fn a_kiosk_token_without_a_proof_or_as_a_bearer_token_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let kiosk = kiosk_of(&router, &shop).await;
    let variables = json!({ "store": shop.store });

    assert_refused(&post_as(&router, &kiosk.token, &[], STORE_NAME, variables.clone()).await, "no proof");
    assert_refused(&router.post(Some(&bearer(&kiosk.token)), STORE_NAME, variables.clone()).await, "as a bearer token");
    let fresh = proof(&kiosk.key, &router.graphql_url(), Some(&kiosk.token));
    let two = post_as(&router, &kiosk.token, &[fresh.clone(), fresh], STORE_NAME, variables).await;
    assert_refused(&two, "two proofs");
}

async fn a_proof_signed_by_another_key_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let kiosk = kiosk_of(&router, &shop).await;
    // A thief with the token but not the device's key signs with a key of their own.
    let thief = proof(&new_key(), &router.graphql_url(), Some(&kiosk.token));

    let response = post_as(&router, &kiosk.token, &[thief], STORE_NAME, json!({ "store": shop.store })).await;

    assert_refused(&response, "another key");
    assert!(response.body.to_string().contains("another key"), "{:#}", response.body);
}

async fn a_replayed_proof_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let kiosk = kiosk_of(&router, &shop).await;
    let captured = proof(&kiosk.key, &router.graphql_url(), Some(&kiosk.token));
    let variables = json!({ "store": shop.store });

    let first = post_as(&router, &kiosk.token, std::slice::from_ref(&captured), STORE_NAME, variables.clone()).await;
    let replayed = post_as(&router, &kiosk.token, &[captured], STORE_NAME, variables).await;

    assert_eq!(first.data()["store"]["name"], "Cafe Nine");
    assert_refused(&replayed, "replayed");
    assert!(replayed.body.to_string().contains("used before"), "{:#}", replayed.body);
}

async fn a_proof_for_another_url_token_or_time_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let kiosk = kiosk_of(&router, &shop).await;
    let variables = json!({ "store": shop.store });
    let made = |htm: &str, htu: &str, iat: i64, token: &str| {
        dpop::sign(&kiosk.key, &ProofClaims { htm: htm.to_string(), htu: htu.to_string(), iat, jti: jti(), ath: Some(dpop::access_token_hash(token)) })
    };
    let url = router.graphql_url();

    for (proof, why) in [
        (made("POST", "https://elsewhere.example/graphql", now_s(), &kiosk.token), "another URL"),
        (made("GET", &url, now_s(), &kiosk.token), "another method"),
        (made("POST", &url, now_s(), "another token"), "another token"),
        (made("POST", &url, now_s() - 600, &kiosk.token), "stale"),
    ] {
        assert_refused(&post_as(&router, &kiosk.token, &[proof], STORE_NAME, variables.clone()).await, why);
    }
}

async fn a_kiosk_token_is_issued_only_for_a_fresh_proof_by_the_registered_key(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let key = new_key();
    let registered = register(&router, &shop, &key).await;
    let kiosk_id = registered.data()["registerKiosk"]["id"].as_str().unwrap_or_default().to_string();
    let url = router.graphql_url();

    let other_key = issue(&router, &kiosk_id, &proof(&new_key(), &url, None)).await;
    assert_eq!(other_key.error_code(), "KIOSK_PROOF_INVALID");
    let good = proof(&key, &url, None);
    issue(&router, &kiosk_id, &good).await.data();
    assert_eq!(issue(&router, &kiosk_id, &good).await.error_code(), "KIOSK_PROOF_INVALID", "replayed");
    // Registering the same key twice, or for a store one does not own, is refused.
    assert_eq!(register(&router, &shop, &key).await.error_code(), "KIOSK_KEY_TAKEN");
    let stranger = Shop { merchant: bearer(&router.sign_up("mallory@example.com", "Mallory").await), ..shop };
    assert_eq!(register(&router, &stranger, &new_key()).await.error_code(), "FORBIDDEN");
}

async fn a_revoked_kiosk_loses_its_tokens_and_gets_no_new_ones(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router, "minsu@example.com", "Cafe Nine").await;
    let kiosk = kiosk_of(&router, &shop).await;
    let other_merchant = bearer(&router.sign_up("jisoo@example.com", "Jisoo").await);
    let not_owner = router.post(Some(&other_merchant), REVOKE, json!({ "store": shop.store, "kiosk": kiosk.id })).await;
    assert_eq!(not_owner.error_code(), "FORBIDDEN");

    let revoked = router.post(Some(&shop.merchant), REVOKE, json!({ "store": shop.store, "kiosk": kiosk.id })).await;

    assert_eq!(revoked.data()["revokeKiosk"], true);
    let mut refused = false;
    for _ in 0..100 {
        let response = post_as_kiosk(&router, &kiosk, STORE_NAME, json!({ "store": shop.store })).await;
        if response.status == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "the revoked kiosk's token still works");
    let reissued = issue(&router, &kiosk.id, &proof(&kiosk.key, &router.graphql_url(), None)).await;
    assert_eq!(reissued.error_code(), "NOT_FOUND");
}

on_both_backends!(
    a_kiosk_of_the_store_sells_with_a_fresh_proof_per_request,
    a_kiosk_whose_proofs_name_the_algorithm_ed25519_gets_a_token_and_sells,
    a_kiosk_of_another_store_cannot_sell_there_and_moves_no_money,
    a_kiosk_token_without_a_proof_or_as_a_bearer_token_is_refused,
    a_proof_signed_by_another_key_is_refused,
    a_replayed_proof_is_refused,
    a_proof_for_another_url_token_or_time_is_refused,
    a_kiosk_token_is_issued_only_for_a_fresh_proof_by_the_registered_key,
    a_revoked_kiosk_loses_its_tokens_and_gets_no_new_ones,
);
