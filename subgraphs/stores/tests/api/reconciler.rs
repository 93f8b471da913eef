//! The reconciler settles sales and refunds that no client came back for, from credit's
//! state and never by a guess: a payment credit posted makes the sale paid, a hold still
//! pending is voided first, a payment credit never saw fails the sale, a pending refund is
//! driven to its end; and nothing younger than the wait is touched.

use c9pay_platform::{database::Backend, on_both_backends, time::now_ms};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{COFFEE_PRICE, ProxyMode, Shop, TestStores, error_sale_id, key, sale_id_of, spawn_stores_behind_proxy};

const BALANCE: i64 = 20_000;

/// Every pending row counts as old enough.
fn everything() -> i64 {
    now_ms() + 1
}

/// A sale whose answer was lost: credit has taken the payment, stores has it pending.
async fn abandoned_sale(app: &TestStores, shop: &Shop) -> String {
    app.proxy().set(ProxyMode::LoseAnswers);
    let code = app.codes.code_for(&shop.payer);
    let lost = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &code, &key()).await;
    assert_eq!(lost.error_code(), "SERVICE_UNAVAILABLE");
    app.proxy().set(ProxyMode::Forward);
    error_sale_id(&lost)
}

async fn sale_status(app: &TestStores, shop: &Shop, sale_id: &str) -> (String, Option<String>) {
    let sale = app.sale(&shop.owner, sale_id).await;
    let sale = &sale.data()["sale"];
    (sale["status"].as_str().unwrap_or_default().to_string(), sale["failureCode"].as_str().map(str::to_string))
}

async fn a_sale_credit_posted_becomes_paid(backend: Backend) {
    let app = spawn_stores_behind_proxy(backend).await;
    let shop = app.shop(BALANCE).await;
    let sale_id = abandoned_sale(&app, &shop).await;
    // The payment reached credit; only its answer was lost (capturing it again changes
    // nothing and answers it as captured).
    let captured = app.credit_internal(Method::POST, &format!("/internal/payments/{sale_id}/capture")).await;
    assert!(captured.status().is_success(), "{}", captured.text().await.unwrap_or_default());
    assert_eq!(sale_status(&app, &shop, &sale_id).await.0, "PENDING");

    let done = app.reconcile(everything()).await;

    assert_eq!((done.sales_paid, done.sales_failed, done.deferred), (1, 0, 0));
    assert_eq!(sale_status(&app, &shop, &sale_id).await, ("PAID".to_string(), None));
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - COFFEE_PRICE, "charged once");
    assert_eq!(app.store_balance(&shop.store_id).await, COFFEE_PRICE);
    // A second round finds nothing to do.
    assert_eq!(app.reconcile(everything()).await, Default::default());
}

async fn a_sale_whose_hold_is_still_pending_is_voided_and_fails(backend: Backend) {
    let app = spawn_stores_behind_proxy(backend).await;
    let shop = app.shop(BALANCE).await;
    // Stores recorded the sale while credit was unreachable; then only an authorisation
    // reached credit (as stores sent it before it paid in one call): the hold is pending.
    app.proxy().set(ProxyMode::Refuse);
    let code = app.codes.code_for(&shop.payer);
    let unanswered = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &code, &key()).await;
    let sale_id = error_sale_id(&unanswered);
    app.proxy().set(ProxyMode::Forward);
    let body = json!({ "paymentId": sale_id, "storeId": shop.store_id, "amount": COFFEE_PRICE.to_string(), "paymentCode": code });
    let held = app.credit_internal_with(Method::POST, "/internal/payments/authorize", body).await;
    assert!(held.status().is_success(), "{}", held.text().await.unwrap_or_default());

    let done = app.reconcile(everything()).await;

    assert_eq!((done.sales_paid, done.sales_failed), (0, 1));
    assert_eq!(sale_status(&app, &shop, &sale_id).await, ("FAILED".to_string(), Some("HOLD_VOIDED".to_string())));
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE);
    // The hold is released: the payer can spend the whole balance again.
    let code = app.codes.code_for(&shop.payer);
    let all = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 4)], &code, &key()).await;
    assert_eq!(all.data()["sell"]["status"], "PAID");
    // A late capture of the voided payment is refused: the sale cannot become paid now.
    let late = app.credit_internal(Method::POST, &format!("/internal/payments/{sale_id}/capture")).await;
    assert_eq!(late.status().as_u16(), 409);
}

async fn a_sale_credit_never_saw_fails_and_moves_nothing(backend: Backend) {
    let app = spawn_stores_behind_proxy(backend).await;
    let shop = app.shop(BALANCE).await;
    app.proxy().set(ProxyMode::Refuse);
    let code = app.codes.code_for(&shop.payer);
    let unanswered = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &code, &key()).await;
    let sale_id = error_sale_id(&unanswered);

    // While credit cannot be reached, the reconciler changes nothing either.
    let deferred = app.reconcile(everything()).await;
    assert_eq!((deferred.deferred, deferred.sales_failed), (1, 0));
    assert_eq!(sale_status(&app, &shop, &sale_id).await.0, "PENDING");

    app.proxy().set(ProxyMode::Forward);
    let done = app.reconcile(everything()).await;

    assert_eq!(done.sales_failed, 1);
    assert_eq!(sale_status(&app, &shop, &sale_id).await, ("FAILED".to_string(), Some("PAYMENT_CODE_EXPIRED".to_string())));
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE);
    assert_eq!(app.store_balance(&shop.store_id).await, 0);
}

async fn a_pending_refund_is_driven_to_its_end(backend: Backend) {
    let app = spawn_stores_behind_proxy(backend).await;
    let shop = app.shop(BALANCE).await;
    let code = app.codes.code_for(&shop.payer);
    let sale = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &code, &key()).await;
    let sale_id = sale_id_of(&sale);
    app.proxy().set(ProxyMode::Refuse);
    let pending = app.refund(&shop.owner, &sale_id, 1_000, "cold", &key()).await;
    assert_eq!(pending.error_code(), "SERVICE_UNAVAILABLE");
    app.proxy().set(ProxyMode::Forward);

    let done = app.reconcile(everything()).await;

    assert_eq!(done.refunds_settled, 1);
    let refunds = app.sale(&shop.owner, &sale_id).await;
    assert_eq!(refunds.data()["sale"]["refunds"][0]["status"], "COMPLETED");
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - COFFEE_PRICE + 1_000, "refunded once");
}

async fn nothing_younger_than_the_wait_is_touched(backend: Backend) {
    let app = spawn_stores_behind_proxy(backend).await;
    let shop = app.shop(BALANCE).await;
    let before_the_sale = now_ms() - 1;
    let sale_id = abandoned_sale(&app, &shop).await;

    assert_eq!(app.reconcile(before_the_sale).await, Default::default());
    assert_eq!(sale_status(&app, &shop, &sale_id).await.0, "PENDING");
}

on_both_backends!(
    a_sale_credit_posted_becomes_paid,
    a_sale_whose_hold_is_still_pending_is_voided_and_fails,
    a_sale_credit_never_saw_fails_and_moves_nothing,
    a_pending_refund_is_driven_to_its_end,
    nothing_younger_than_the_wait_is_touched,
);
