//! Selling with a payment code, against the real credit subgraph: the total comes from
//! the catalogue, every refusal has its code and moves no money, and a retry never
//! charges twice.

use c9pay_platform::{circuit_breaker::CircuitBreakerConfig, database::Backend, id::UserId, on_both_backends, time::now_ms};
use serde_json::json;

use crate::helpers::{
    BAGEL_PRICE, COFFEE_PRICE, ProxyMode, error_sale_id, key, sale_id_of, spawn_stores, spawn_stores_behind_proxy_with_breaker,
};

async fn selling_charges_exactly_the_catalogue_total_and_records_the_sale_paid(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;
    let total = 2 * COFFEE_PRICE + BAGEL_PRICE;

    let response = app
        .sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 2), (&shop.bagel, 1)], &app.codes.code_for(&shop.payer), &key())
        .await;

    let sale = &response.data()["sell"];
    assert_eq!(sale["status"], "PAID");
    assert_eq!(sale["total"], total.to_string());
    assert_eq!(sale["payer"]["id"], shop.payer.as_str());
    assert_eq!(sale["store"]["id"], shop.store_id.as_str());
    assert_eq!(sale["failureCode"], json!(null));
    assert_eq!(sale["refunded"], "0");
    assert_eq!(
        sale["lines"],
        json!([
            { "productId": shop.coffee, "name": "Coffee", "unitPrice": "4500", "quantity": 2, "lineTotal": "9000" },
            { "productId": shop.bagel, "name": "Bagel", "unitPrice": "3200", "quantity": 1, "lineTotal": "3200" },
        ])
    );
    assert!(sale["id"].as_str().is_some_and(|id| id.starts_with("sal_")), "{sale:#}");
    assert_eq!(app.balance_of(&shop.payer).await, 20_000 - total);
    assert_eq!(app.store_balance(&shop.store_id).await, total);
    let read = app.sale(&shop.owner, sale["id"].as_str().unwrap_or_default()).await;
    assert_eq!(read.data()["sale"]["status"], "PAID");
}

/// `c9pay_payments_total{outcome}`: each sale counted once when it ends, paid or
/// refused; a retry of a paid sale is not a second payment.
async fn each_sale_counts_once_in_the_payments_metric_by_outcome(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(COFFEE_PRICE).await;
    let owner = app.trust.user(&shop.owner);
    let payments = |outcome: &'static str| {
        let address = app.address.clone();
        async move { c9pay_platform::testing::metric_sample(&address, &format!("c9pay_payments_total{{outcome=\"{outcome}\"")).await }
    };
    assert_eq!((payments("paid").await, payments("refused").await), ("0".to_string(), "0".to_string()));

    let sale_key = key();
    let code = app.codes.code_for(&shop.payer);
    let paid = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &sale_key).await;
    assert_eq!(paid.data()["sell"]["status"], "PAID");
    let again = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &sale_key).await;
    assert_eq!(again.data()["sell"]["status"], "PAID");
    // The payer has nothing left: the next sale is refused.
    let refused = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;
    assert_eq!(refused.error_code(), "INSUFFICIENT_CREDIT");

    assert_eq!(payments("paid").await, "1", "the retry is the same payment");
    assert_eq!(payments("refused").await, "1");
    assert_eq!(payments("pending").await, "0");
}

async fn a_kiosk_of_the_store_may_sell(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;

    let response = app.sell(&app.kiosk_of(&shop.store_id), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;

    assert_eq!(response.data()["sell"]["status"], "PAID");
    assert_eq!(app.balance_of(&shop.payer).await, 10_000 - COFFEE_PRICE);
}

async fn a_kiosk_of_another_store_is_forbidden_and_nothing_moves(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;
    let other_store = app.open_store_ok(&UserId::generate(), "Elsewhere").await;

    let response = app.sell(&app.kiosk_of(&other_store), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;

    assert_eq!(response.error_code(), "FORBIDDEN");
    assert_eq!(app.sale_count().await, 0);
    assert_eq!(app.balance_of(&shop.payer).await, 10_000);
}

async fn someone_who_does_not_own_the_store_is_forbidden(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;
    let stranger = UserId::generate();

    let response = app.sell(&app.trust.user(&stranger), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;

    assert_eq!(response.error_code(), "FORBIDDEN");
    let anonymous = app.sell(&app.trust.anonymous(), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
    assert_eq!(app.sale_count().await, 0);
    assert_eq!(app.balance_of(&shop.payer).await, 10_000);
}

async fn a_zero_negative_or_too_large_quantity_is_refused_and_nothing_is_recorded(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;

    for quantity in [0, -1, -5, 100] {
        let response = app
            .sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.bagel, 1), (&shop.coffee, quantity)], &app.codes.code_for(&shop.payer), &key())
            .await;
        assert_eq!(response.error_code(), "QUANTITY_INVALID", "quantity {quantity}");
    }

    assert_eq!(app.sale_count().await, 0);
    assert_eq!(app.balance_of(&shop.payer).await, 10_000);
    assert_eq!(app.store_balance(&shop.store_id).await, 0);
}

async fn an_empty_cart_is_refused(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;

    let response = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[], &app.codes.code_for(&shop.payer), &key()).await;

    assert_eq!(response.error_code(), "INVALID_INPUT");
    assert_eq!(app.sale_count().await, 0);
}

async fn a_product_of_another_store_is_refused_and_nothing_is_recorded(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(10_000).await;
    let other_owner = UserId::generate();
    let other_store = app.open_store_ok(&other_owner, "Elsewhere").await;
    let cheap = app.add_product_ok(&other_owner, &other_store, "Cheap thing", 1).await;

    let response = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1), (&cheap, 1)], &app.codes.code_for(&shop.payer), &key()).await;

    assert_eq!(response.error_code(), "PRODUCT_NOT_IN_STORE");
    assert_eq!(app.sale_count().await, 0);
    assert_eq!(app.balance_of(&shop.payer).await, 10_000);
}

async fn insufficient_credit_fails_the_sale_and_moves_no_money(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(COFFEE_PRICE - 1).await;

    let response = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;

    assert_eq!(response.error_code(), "INSUFFICIENT_CREDIT");
    let sale = app.sale(&shop.owner, &error_sale_id(&response)).await;
    assert_eq!(sale.data()["sale"]["status"], "FAILED");
    assert_eq!(sale.data()["sale"]["failureCode"], "INSUFFICIENT_CREDIT");
    assert_eq!(sale.data()["sale"]["payer"], json!(null));
    assert_eq!(app.balance_of(&shop.payer).await, COFFEE_PRICE - 1);
    assert_eq!(app.store_balance(&shop.store_id).await, 0);
}

async fn expired_forged_and_spent_codes_are_refused_with_their_codes_and_move_no_money(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;
    let owner = app.trust.user(&shop.owner);
    let sell = |code: String| {
        let owner = owner.clone();
        let app = &app;
        let store_id = shop.store_id.clone();
        let coffee = shop.coffee.clone();
        async move { app.sell(&owner, &store_id, &[(&coffee, 1)], &code, &key()).await }
    };

    let expired = app.codes.code_issued_at(&shop.payer, now_ms() - 200_000, 120);
    assert_eq!(sell(expired).await.error_code(), "PAYMENT_CODE_EXPIRED");
    assert_eq!(sell(app.codes.forged_code_for(&shop.payer)).await.error_code(), "PAYMENT_CODE_INVALID");
    assert_eq!(sell("not-a-payment-code".to_string()).await.error_code(), "PAYMENT_CODE_INVALID");
    assert_eq!(sell(String::new()).await.error_code(), "PAYMENT_CODE_INVALID");

    let code = app.codes.code_for(&shop.payer);
    assert_eq!(sell(code.clone()).await.data()["sell"]["status"], "PAID");
    let reused = sell(code).await;
    assert_eq!(reused.error_code(), "PAYMENT_CODE_USED");
    let failed = app.sale(&shop.owner, &error_sale_id(&reused)).await;
    assert_eq!(failed.data()["sale"]["failureCode"], "PAYMENT_CODE_USED");

    assert_eq!(app.balance_of(&shop.payer).await, 20_000 - COFFEE_PRICE, "only the one good sale was charged");
    assert_eq!(app.store_balance(&shop.store_id).await, COFFEE_PRICE);
}

async fn a_retry_with_the_same_key_returns_the_same_sale_and_charges_once(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;
    let code = app.codes.code_for(&shop.payer);
    let idempotency_key = key();
    let owner = app.trust.user(&shop.owner);

    let first = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 2)], &code, &idempotency_key).await;
    let second = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 2)], &code, &idempotency_key).await;

    assert_eq!(first.data()["sell"], second.data()["sell"]);
    assert_eq!(app.sale_count().await, 1);
    assert_eq!(app.balance_of(&shop.payer).await, 20_000 - 2 * COFFEE_PRICE);
    assert_eq!(app.store_balance(&shop.store_id).await, 2 * COFFEE_PRICE);
}

async fn a_failed_sale_replays_its_refusal_for_the_same_key(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(100).await;
    let code = app.codes.code_for(&shop.payer);
    let idempotency_key = key();
    let owner = app.trust.user(&shop.owner);

    let first = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;
    app.grant(&shop.payer, 10_000).await;
    let second = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;

    assert_eq!(first.error_code(), "INSUFFICIENT_CREDIT");
    assert_eq!(second.error_code(), "INSUFFICIENT_CREDIT", "the first outcome stands");
    assert_eq!(error_sale_id(&first), error_sale_id(&second));
    assert_eq!(app.balance_of(&shop.payer).await, 10_100);
}

async fn reusing_the_key_with_another_cart_is_refused_and_charges_nothing_more(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;
    let code = app.codes.code_for(&shop.payer);
    let idempotency_key = key();
    let owner = app.trust.user(&shop.owner);
    app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await.data();

    let other_cart = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 2)], &code, &idempotency_key).await;
    let other_code = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &idempotency_key).await;

    assert_eq!(other_cart.error_code(), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(other_code.error_code(), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.sale_count().await, 1);
    assert_eq!(app.balance_of(&shop.payer).await, 20_000 - COFFEE_PRICE);
}

async fn a_malformed_idempotency_key_is_refused(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;

    for bad in ["", "has space", &"k".repeat(65)] {
        let response = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), bad).await;
        assert_eq!(response.error_code(), "INVALID_IDEMPOTENCY_KEY", "{bad:?}");
    }
    assert_eq!(app.sale_count().await, 0);
}

async fn concurrent_retries_with_the_same_key_charge_once(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;
    let code = app.codes.code_for(&shop.payer);
    let idempotency_key = key();
    let owner = app.trust.user(&shop.owner);

    let items = [(shop.bagel.as_str(), 1)];
    let attempts = (0..4).map(|_| app.sell(&owner, &shop.store_id, &items, &code, &idempotency_key));
    let responses = futures::future::join_all(attempts).await;

    let paid: Vec<String> = responses.iter().map(sale_id_of).collect();
    assert!(paid.iter().all(|id| id == &paid[0]), "one sale: {paid:?}");
    assert!(responses.iter().all(|response| response.data()["sell"]["status"] == "PAID"), "{responses:#?}");
    assert_eq!(app.sale_count().await, 1);
    assert_eq!(app.balance_of(&shop.payer).await, 20_000 - BAGEL_PRICE);
}

async fn when_credit_does_not_answer_the_sale_stays_pending_and_a_retry_settles_it_once(backend: Backend) {
    // The pending-and-retry rule alone: a breaker that never opens (its six failures in a
    // row would open the default one; `circuit_breaker.rs` tests that).
    let never_opens = CircuitBreakerConfig { consecutive_failures_max: 0, ..CircuitBreakerConfig::default() };
    let app = spawn_stores_behind_proxy_with_breaker(backend, never_opens).await;
    let shop = app.shop(20_000).await;
    let code = app.codes.code_for(&shop.payer);
    let idempotency_key = key();
    let owner = app.trust.user(&shop.owner);

    // Credit takes the payment but stores never hears back.
    app.proxy().set(ProxyMode::LoseAnswers);
    let lost = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;
    assert_eq!(lost.error_code(), "SERVICE_UNAVAILABLE");
    let sale_id = error_sale_id(&lost);
    assert_eq!(app.sale(&shop.owner, &sale_id).await.data()["sale"]["status"], "PENDING");

    // Then credit cannot be reached at all: still unknown, still pending, never guessed.
    app.proxy().set(ProxyMode::Refuse);
    let refused = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;
    assert_eq!(refused.error_code(), "SERVICE_UNAVAILABLE");
    assert_eq!(error_sale_id(&refused), sale_id);
    assert_eq!(app.sale(&shop.owner, &sale_id).await.data()["sale"]["status"], "PENDING");

    app.proxy().set(ProxyMode::Forward);
    let settled = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;

    assert_eq!(settled.data()["sell"]["status"], "PAID");
    assert_eq!(sale_id_of(&settled), sale_id);
    assert_eq!(app.sale_count().await, 1);
    assert_eq!(app.balance_of(&shop.payer).await, 20_000 - COFFEE_PRICE, "charged exactly once");
    assert_eq!(app.store_balance(&shop.store_id).await, COFFEE_PRICE);
}

async fn only_the_owner_or_a_kiosk_of_the_store_may_read_a_sale(backend: Backend) {
    let app = spawn_stores(backend).await;
    let shop = app.shop(20_000).await;
    let response = app.sell(&app.trust.user(&shop.owner), &shop.store_id, &[(&shop.coffee, 1)], &app.codes.code_for(&shop.payer), &key()).await;
    let sale_id = sale_id_of(&response);

    assert_eq!(app.sale(&UserId::generate(), &sale_id).await.error_code(), "FORBIDDEN");
    assert_eq!(app.sale(&shop.payer, &sale_id).await.error_code(), "FORBIDDEN");
    let kiosk = app.graphql.execute(Some(&app.kiosk_of(&shop.store_id)), "query ($id: ID!) { sale(id: $id) { id status } }", json!({ "id": sale_id })).await;
    assert_eq!(kiosk.data()["sale"]["status"], "PAID");
    assert_eq!(app.sale(&shop.owner, "sal_0123456789abcdef0123456789abcdef").await.data()["sale"], json!(null));
}

/// A payment still in credit when its code expires, asked for again with the same id (the
/// stores request gave up waiting, the kiosk retried): the two answers agree, with each
/// other and with the ledger. The retry used to be refused at once as
/// `PAYMENT_CODE_EXPIRED`, which fails the sale, while the first request went on to move
/// the money: a sale failed and paid for (the crash test's retries under load make it).
/// The ledger is held busy so that the first request waits after verifying the code: the
/// payer's wallet row on PostgreSQL, the one write lock on SQLite.
async fn a_retry_after_the_code_expires_agrees_with_the_request_still_in_credit(backend: Backend) {
    const BALANCE: i64 = 20_000;
    let app = spawn_stores(backend).await;
    let shop = app.shop(BALANCE).await;
    let issued_at_ms = now_ms();
    let code = app.codes.code_issued_at(&shop.payer, issued_at_ms, 2);
    // Codes carry whole seconds.
    let expires_at_ms = (issued_at_ms + 2_000).div_euclid(1_000) * 1_000;
    let sale_id = c9pay_credit::domain::SaleId::generate().to_string();
    let body = json!({ "paymentId": sale_id, "storeId": shop.store_id, "amount": COFFEE_PRICE.to_string(), "paymentCode": code });
    let pay = || app.credit_internal_with(reqwest::Method::POST, "/internal/payments/pay", body.clone());

    let mut busy = app.credit().database.begin_write().await.expect("a write transaction on credit's database");
    if backend == Backend::Postgres {
        sqlx::query("select id from account where owner_kind = 'user' and owner_id = $1 for update")
            .bind(shop.payer.as_str())
            .fetch_all(&mut *busy)
            .await
            .expect("locking the payer's wallet");
    }
    let first = pay();
    tokio::pin!(first);
    let expired = tokio::time::sleep(std::time::Duration::from_millis(u64::try_from(expires_at_ms + 200 - now_ms()).unwrap_or(0)));
    tokio::select! {
        answered = &mut first => panic!("the first request answered while the ledger was busy: {}", answered.status()),
        () = expired => {}
    }
    let second = pay();
    tokio::pin!(second);
    // The second request may answer on its own while the first still waits (it must not
    // be a refusal then), or wait for the first.
    let early = tokio::select! {
        answered = &mut second => Some(answered),
        () = tokio::time::sleep(std::time::Duration::from_millis(500)) => None,
        answered = &mut first => panic!("the first request answered while the ledger was busy: {}", answered.status()),
    };
    busy.rollback().await.expect("releasing the ledger");
    let first = first.await;
    let second = match early {
        Some(second) => second,
        None => second.await,
    };
    let (first_status, second_status) = (first.status(), second.status());
    let first: serde_json::Value = first.json().await.expect("credit's answer");
    let second: serde_json::Value = second.json().await.expect("credit's answer");

    assert_eq!((first_status, &first), (second_status, &second), "two answers for one payment");
    let paid = first_status.is_success();
    if paid {
        assert_eq!(first["status"], "posted", "{first}");
    } else {
        assert_eq!(first["code"], "PAYMENT_CODE_EXPIRED", "{first}");
    }
    let charged = if paid { COFFEE_PRICE } else { 0 };
    assert_eq!(app.balance_of(&shop.payer).await, BALANCE - charged, "the payer is charged as answered");
    assert_eq!(app.store_balance(&shop.store_id).await, charged, "the store is credited as answered");
}

on_both_backends!(
    each_sale_counts_once_in_the_payments_metric_by_outcome,
    selling_charges_exactly_the_catalogue_total_and_records_the_sale_paid,
    a_kiosk_of_the_store_may_sell,
    a_kiosk_of_another_store_is_forbidden_and_nothing_moves,
    someone_who_does_not_own_the_store_is_forbidden,
    a_zero_negative_or_too_large_quantity_is_refused_and_nothing_is_recorded,
    an_empty_cart_is_refused,
    a_product_of_another_store_is_refused_and_nothing_is_recorded,
    insufficient_credit_fails_the_sale_and_moves_no_money,
    expired_forged_and_spent_codes_are_refused_with_their_codes_and_move_no_money,
    a_retry_with_the_same_key_returns_the_same_sale_and_charges_once,
    a_failed_sale_replays_its_refusal_for_the_same_key,
    reusing_the_key_with_another_cart_is_refused_and_charges_nothing_more,
    a_malformed_idempotency_key_is_refused,
    concurrent_retries_with_the_same_key_charge_once,
    when_credit_does_not_answer_the_sale_stays_pending_and_a_retry_settles_it_once,
    only_the_owner_or_a_kiosk_of_the_store_may_read_a_sale,
    a_retry_after_the_code_expires_agrees_with_the_request_still_in_credit,
);
