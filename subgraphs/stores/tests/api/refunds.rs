//! Refunding paid sales: never more than the sale in total, even when refunds race;
//! once per idempotency key; the store's owner only.

use c9pay_platform::{database::Backend, id::UserId, on_both_backends};

use crate::helpers::{COFFEE_PRICE, ProxyMode, Shop, TestStores, key, sale_id_of, spawn_stores, spawn_stores_behind_proxy};

const BALANCE: i64 = 20_000;

/// A paid sale of two coffees (9000 credits).
async fn paid_sale(app: &TestStores, shop: &Shop) -> String {
    let response = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 2)], &app.codes.code_for(&shop.payer), &key()).await;
    sale_id_of(&response)
}

async fn a_refund_returns_credit_to_the_payer_from_the_store(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;

    let response = app.refund(&shop.owner, &sale_id, 1_000, "  cold coffee ", &key()).await;

    let refund = &response.data()["refundSale"];
    assert_eq!(refund["status"], "COMPLETED");
    assert_eq!(refund["amount"], "1000");
    assert_eq!(refund["reason"], "cold coffee");
    assert_eq!(refund["sale"]["refunded"], "1000");
    assert!(refund["id"].as_str().is_some_and(|id| id.starts_with("ref_")), "{refund:#}");
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - 2 * COFFEE_PRICE + 1_000);
    assert_eq!(app.store_balance(&shop.store_id).await, 2 * COFFEE_PRICE - 1_000);
    let sale = app.sale(&shop.owner, &sale_id).await;
    assert_eq!(sale.data()["sale"]["refunds"][0]["status"], "COMPLETED");
}

async fn a_refund_above_the_sale_is_refused_and_moves_nothing(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;

    let response = app.refund(&shop.owner, &sale_id, 2 * COFFEE_PRICE + 1, "too much", &key()).await;

    assert_eq!(response.error_code(), "REFUND_EXCEEDS_SALE");
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - 2 * COFFEE_PRICE);
    assert_eq!(app.sale(&shop.owner, &sale_id).await.data()["sale"]["refunded"], "0");
}

async fn two_refunds_that_add_up_to_more_than_the_sale_refuse_the_second(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;

    let first = app.refund(&shop.owner, &sale_id, 6_000, "first", &key()).await;
    let second = app.refund(&shop.owner, &sale_id, 3_001, "second", &key()).await;
    let rest = app.refund(&shop.owner, &sale_id, 3_000, "the rest", &key()).await;

    assert_eq!(first.data()["refundSale"]["status"], "COMPLETED");
    assert_eq!(second.error_code(), "REFUND_EXCEEDS_SALE");
    assert_eq!(rest.data()["refundSale"]["sale"]["refunded"], "9000");
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE);
    assert_eq!(app.store_balance(&shop.store_id).await, 0);
}

async fn concurrent_refunds_never_add_up_to_more_than_the_sale(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;

    // Five refunds of 2000 against a sale of 9000: exactly four fit.
    let keys: Vec<String> = (0..5).map(|_| key()).collect();
    let refunds = keys.iter().map(|idempotency_key| app.refund(&shop.owner, &sale_id, 2_000, "racing", idempotency_key));
    let responses = futures::future::join_all(refunds).await;

    let completed = responses.iter().filter(|response| response.body["errors"].is_null()).count();
    assert_eq!(completed, 4, "{responses:#?}");
    let refused = responses.iter().filter(|response| !response.body["errors"].is_null());
    assert!(refused.into_iter().all(|response| response.error_code() == "REFUND_EXCEEDS_SALE"));
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - 2 * COFFEE_PRICE + 8_000);
    assert_eq!(app.sale(&shop.owner, &sale_id).await.data()["sale"]["refunded"], "8000");
}

async fn a_retried_refund_returns_the_same_refund_and_pays_once(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;
    let idempotency_key = key();

    let first = app.refund(&shop.owner, &sale_id, 1_500, "spilled", &idempotency_key).await;
    let second = app.refund(&shop.owner, &sale_id, 1_500, "spilled", &idempotency_key).await;
    let different = app.refund(&shop.owner, &sale_id, 1_600, "spilled", &idempotency_key).await;

    assert_eq!(first.data()["refundSale"]["id"], second.data()["refundSale"]["id"]);
    assert_eq!(different.error_code(), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - 2 * COFFEE_PRICE + 1_500);
}

async fn only_the_owner_may_refund_and_only_a_paid_sale(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;

    assert_eq!(app.refund(&UserId::generate(), &sale_id, 100, "mine", &key()).await.error_code(), "FORBIDDEN");
    assert_eq!(app.refund(&shop.payer, &sale_id, 100, "mine", &key()).await.error_code(), "FORBIDDEN");
    assert_eq!(app.refund(&shop.owner, &sale_id, 0, "zero", &key()).await.error_code(), "INVALID_AMOUNT");
    assert_eq!(app.refund(&shop.owner, &sale_id, -5, "negative", &key()).await.error_code(), "INVALID_AMOUNT");
    assert_eq!(app.refund(&shop.owner, &sale_id, 100, "   ", &key()).await.error_code(), "INVALID_REASON");
    assert_eq!(app.refund(&shop.owner, "sal_0123456789abcdef0123456789abcdef", 100, "none", &key()).await.error_code(), "NOT_FOUND");

    let poor = UserId::generate();
    let failed = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&poor), &key()).await;
    let failed_sale = crate::helpers::error_sale_id(&failed);
    assert_eq!(app.refund(&shop.owner, &failed_sale, 100, "never paid", &key()).await.error_code(), "SALE_NOT_PAID");
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - 2 * COFFEE_PRICE);
}

async fn a_refund_the_ledger_refuses_releases_its_reservation(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;
    // Make stores believe the sale was larger than the payment credit took, so that
    // credit, which caps refunds by its own record, refuses what stores allows.
    sqlx::query("update sale set total = 20000 where id = $1").bind(&sale_id).execute(app.database.pool()).await.expect("enlarging the sale");
    let idempotency_key = key();

    let refused = app.refund(&shop.owner, &sale_id, 10_000, "more than was paid", &idempotency_key).await;

    assert_eq!(refused.error_code(), "REFUND_EXCEEDS_PAYMENT");
    let refund_id = refused.body["errors"][0]["extensions"]["refundId"].clone();
    assert!(refund_id.is_string(), "{:#}", refused.body);
    let sale = app.sale(&shop.owner, &sale_id).await;
    assert_eq!(sale.data()["sale"]["refunded"], "0", "the reservation was released");
    assert_eq!(sale.data()["sale"]["refunds"][0]["status"], "FAILED");
    let replay = app.refund(&shop.owner, &sale_id, 10_000, "more than was paid", &idempotency_key).await;
    assert_eq!(replay.error_code(), "REFUND_EXCEEDS_PAYMENT");
    assert_eq!(replay.body["errors"][0]["extensions"]["refundId"], refund_id);
    let whole = app.refund(&shop.owner, &sale_id, 2 * COFFEE_PRICE, "all of it", &key()).await;
    assert_eq!(whole.data()["refundSale"]["status"], "COMPLETED");
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE);
}

async fn when_credit_does_not_answer_a_refund_stays_pending_and_a_retry_settles_it_once(backend: Backend) {
    let app = spawn_stores_behind_proxy(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = paid_sale(&app, &shop).await;
    let idempotency_key = key();

    app.proxy().set(ProxyMode::LoseAnswers);
    let lost = app.refund(&shop.owner, &sale_id, 2_000, "wrong order", &idempotency_key).await;
    assert_eq!(lost.error_code(), "SERVICE_UNAVAILABLE");
    assert!(lost.body["errors"][0]["extensions"]["refundId"].is_string(), "{:#}", lost.body);
    // The amount stays reserved while the outcome is unknown, so nothing can over-refund.
    assert_eq!(app.refund(&shop.owner, &sale_id, 7_001, "too much now", &key()).await.error_code(), "REFUND_EXCEEDS_SALE");

    app.proxy().set(ProxyMode::Forward);
    let settled = app.refund(&shop.owner, &sale_id, 2_000, "wrong order", &idempotency_key).await;

    assert_eq!(settled.data()["refundSale"]["status"], "COMPLETED");
    assert_eq!(settled.data()["refundSale"]["id"], lost.body["errors"][0]["extensions"]["refundId"]);
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - 2 * COFFEE_PRICE + 2_000, "refunded exactly once");
}

on_both_backends!(
    a_refund_returns_credit_to_the_payer_from_the_store,
    a_refund_above_the_sale_is_refused_and_moves_nothing,
    two_refunds_that_add_up_to_more_than_the_sale_refuse_the_second,
    concurrent_refunds_never_add_up_to_more_than_the_sale,
    a_retried_refund_returns_the_same_refund_and_pays_once,
    only_the_owner_may_refund_and_only_a_paid_sale,
    a_refund_the_ledger_refuses_releases_its_reservation,
    when_credit_does_not_answer_a_refund_stays_pending_and_a_retry_settles_it_once,
);
