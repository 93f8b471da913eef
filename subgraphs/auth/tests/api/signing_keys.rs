//! Key rotation inside auth: a rotated-in key is published before it signs, so verifiers
//! meet it in the JWKS first; running replicas pick it up without a restart.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{TestApp, spawn_auth_with};

async fn issued_kid(app: &TestApp, user_id: &c9pay_platform::id::UserId) -> String {
    let issued = app.auth.execute(Some(&app.trust.user(user_id)), "mutation { issuePaymentCode { token } }", json!({})).await;
    let token = issued.data()["issuePaymentCode"]["token"].as_str().unwrap_or_default().to_string();
    jsonwebtoken::decode_header(&token).ok().and_then(|header| header.kid).unwrap_or_default()
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks = app.jwks().await;
    jwks["keys"].as_array().into_iter().flatten().filter_map(|key| key["kid"].as_str().map(str::to_string)).collect()
}

async fn a_rotated_key_is_published_before_it_signs(backend: Backend) {
    let app = spawn_auth_with(backend, |config| {
        config.signing_key_reload_interval_ms = 0;
        config.signing_key_publish_ahead_ms = 3_600_000;
    })
    .await;
    let user_id = app.signed_up("ada@example.com", "Ada").await;
    let before = issued_kid(&app, &user_id).await;

    let rotation = c9pay_auth::keys::rotate(&app.database, c9pay_auth::keys::RETIRE_AFTER_MS_DEFAULT)
        .await
        .unwrap_or_else(|error| panic!("rotating: {error}"));

    assert_eq!(published_kids(&app).await, [rotation.new_kid.clone(), before.clone()]);
    assert_eq!(issued_kid(&app, &user_id).await, before, "the new key waits its publish-ahead time");
}

async fn a_rotated_key_signs_once_published_long_enough(backend: Backend) {
    let app = spawn_auth_with(backend, |config| {
        config.signing_key_reload_interval_ms = 0;
        config.signing_key_publish_ahead_ms = 0;
    })
    .await;
    let user_id = app.signed_up("ada@example.com", "Ada").await;
    let before = issued_kid(&app, &user_id).await;

    let rotation = c9pay_auth::keys::rotate(&app.database, c9pay_auth::keys::RETIRE_AFTER_MS_DEFAULT)
        .await
        .unwrap_or_else(|error| panic!("rotating: {error}"));

    assert_ne!(rotation.new_kid, before);
    assert_eq!(issued_kid(&app, &user_id).await, rotation.new_kid);
}

on_both_backends!(a_rotated_key_is_published_before_it_signs, a_rotated_key_signs_once_published_long_enough);
