//! The circuit breaker in front of credit: calls that keep failing open it; while it is
//! open no call is sent and a sale stays pending (`SERVICE_UNAVAILABLE`), exactly as when
//! credit does not answer; after the cool-down a retry with the same key probes credit,
//! closes the breaker and settles the sale, charged once.

use c9pay_platform::{circuit_breaker::CircuitBreakerConfig, database::Backend, on_both_backends};

use crate::helpers::{COFFEE_PRICE, ProxyMode, TestStores, error_sale_id, key, sale_id_of, spawn_stores_behind_proxy_with_breaker};

/// Enough tries for the cool-down to pass many times over.
const RECOVERY_TRIES_MAX: u32 = 200;

async fn credit_breaker_state(app: &TestStores) -> String {
    c9pay_platform::testing::breaker_state(&app.address, "credit").await
}

async fn when_credit_keeps_failing_its_breaker_opens_and_the_pending_sale_settles_once_after_recovery(backend: Backend) {
    // Three attempts per call (`ATTEMPTS_MAX`): one call that never gets an answer opens it.
    let breaker = CircuitBreakerConfig { consecutive_failures_max: 3, cool_down_ms: 1_000 };
    let app = spawn_stores_behind_proxy_with_breaker(backend, breaker).await;
    let shop = app.shop(20_000).await;
    let code = app.codes.code_for(&shop.payer);
    let idempotency_key = key();
    let owner = app.trust.user(&shop.owner);
    assert_eq!(credit_breaker_state(&app).await, "0");

    // Credit places the hold but its answers are lost: the outcome is unknown.
    app.proxy().set(ProxyMode::LoseAnswers);
    let lost = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;
    assert_eq!(lost.error_code(), "SERVICE_UNAVAILABLE");
    let sale_id = error_sale_id(&lost);
    assert_eq!(credit_breaker_state(&app).await, "2", "open after three failures in a row");
    let pending = c9pay_platform::testing::metric_sample(&app.address, "c9pay_payments_total{outcome=\"pending\"").await;
    assert_eq!(pending, "1", "a sale left pending is counted as such");

    // Credit is back, but the breaker is open: nothing is sent, the sale stays pending,
    // never failed.
    app.proxy().set(ProxyMode::Forward);
    let refused = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;
    if refused.body.get("errors").is_some() {
        assert_eq!(refused.error_code(), "SERVICE_UNAVAILABLE");
        assert_eq!(error_sale_id(&refused), sale_id);
        assert_eq!(app.sale(&shop.owner, &sale_id).await.data()["sale"]["status"], "PENDING");
    }

    // The client keeps retrying with the same key; after the cool-down one retry probes
    // credit, which answers with the first outcome: paid, once.
    let mut settled = refused;
    for _ in 0..RECOVERY_TRIES_MAX {
        if settled.body.get("errors").is_none() {
            break;
        }
        assert_eq!(settled.error_code(), "SERVICE_UNAVAILABLE", "pending while the breaker is open");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        settled = app.sell(&owner, &shop.store_id, &[(&shop.coffee, 1)], &code, &idempotency_key).await;
    }
    assert_eq!(settled.data()["sell"]["status"], "PAID");
    assert_eq!(sale_id_of(&settled), sale_id);
    assert_eq!(credit_breaker_state(&app).await, "0", "closed again");
    assert_eq!(app.sale_count().await, 1);
    let paid = c9pay_platform::testing::metric_sample(&app.address, "c9pay_payments_total{outcome=\"paid\"").await;
    assert_eq!(paid, "1", "paid once");
    assert_eq!(app.balance_of(&shop.payer).await, 20_000 - COFFEE_PRICE, "charged exactly once");
    assert_eq!(app.store_balance(&shop.store_id).await, COFFEE_PRICE);
}

on_both_backends!(when_credit_keeps_failing_its_breaker_opens_and_the_pending_sale_settles_once_after_recovery);
