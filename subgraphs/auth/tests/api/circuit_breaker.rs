//! The circuit breaker in front of users: sign-ups whose profile cannot be created open
//! it; while it is open a sign-up is refused at once (`SERVICE_UNAVAILABLE`) without
//! calling users; after the cool-down a sign-up probes users and closes it.

use c9pay_platform::{
    circuit_breaker::CircuitBreakerConfig,
    database::Backend,
    on_both_backends,
    testing::{Fault, FaultyProxy, breaker_state, metric_sample},
};

use crate::helpers::{PASSWORD, spawn_auth_with};

/// Enough tries for the cool-down to pass many times over.
const RECOVERY_TRIES_MAX: u32 = 200;

async fn when_users_refuses_connections_its_breaker_opens_sign_ups_fail_fast_and_recovery_closes_it(backend: Backend) {
    let mut users = None;
    let app = spawn_auth_with(backend, |config| {
        let proxy = FaultyProxy::start(&config.users_url);
        config.users_url.clone_from(&proxy.url);
        // Three attempts per sign-up: one sign-up that never reaches users opens it.
        config.users_circuit_breaker = CircuitBreakerConfig { consecutive_failures_max: 3, cool_down_ms: 500 };
        users = Some(proxy);
    })
    .await;
    let Some(users) = users else { panic!("the proxy in front of users did not start") };
    assert_eq!(breaker_state(&app.auth_url, "users").await, "0");

    // Users is down from the start (before auth holds a connection the proxy would keep).
    users.set(Fault::RefuseConnections);
    let failed = app.sign_up("grace@example.com", PASSWORD, "Grace").await;
    assert_eq!(failed.error_code(), "SERVICE_UNAVAILABLE");
    assert_eq!(breaker_state(&app.auth_url, "users").await, "2", "open after three failures in a row");

    // Users is back, but the breaker is open: the next sign-up is refused without a call.
    users.set(Fault::None);
    let refused = app.sign_up("alan@example.com", PASSWORD, "Alan").await;
    if refused.body.get("errors").is_some() {
        assert_eq!(refused.error_code(), "SERVICE_UNAVAILABLE");
        let refusals = metric_sample(&app.auth_url, "c9pay_circuit_breaker_refusals_total{dependency=\"users\"").await;
        assert_eq!(refusals, "1", "refused by the breaker, not sent");
    }

    // After the cool-down a sign-up probes users, succeeds and closes the breaker.
    let mut attempt = refused;
    for try_number in 0..RECOVERY_TRIES_MAX {
        if attempt.body.get("errors").is_none() {
            break;
        }
        assert_eq!(attempt.error_code(), "SERVICE_UNAVAILABLE");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        attempt = app.sign_up(&format!("alan{try_number}@example.com"), PASSWORD, "Alan").await;
    }
    assert!(attempt.data()["signUp"]["accessToken"].is_string());
    assert_eq!(breaker_state(&app.auth_url, "users").await, "0", "closed again");
}

on_both_backends!(when_users_refuses_connections_its_breaker_opens_sign_ups_fail_fast_and_recovery_closes_it);
