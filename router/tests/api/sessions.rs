//! Log-in sessions through the router: short access tokens, rotating refresh tokens whose
//! replay ends the whole log-in, and log-outs that stop access tokens at once.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{ME, spawn_router};

fn claims_of(token: &str) -> serde_json::Value {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let payload = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default()).unwrap_or_default()
}

async fn a_refresh_spends_the_old_refresh_token_and_returns_a_new_one(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let session = router.log_in_session("ada@example.com").await;
    let claims = claims_of(&session.access_token);
    let lifetime_s = claims["exp"].as_i64().unwrap_or_default() - claims["iat"].as_i64().unwrap_or_default();
    assert!((1..=900).contains(&lifetime_s), "access tokens live at most 15 minutes: {lifetime_s}");

    let refreshed = router.refresh(&session.refresh_token).await;

    let payload = &refreshed.data()["refreshSession"];
    let new_refresh = payload["refreshToken"].as_str().unwrap_or_default();
    let new_access = payload["accessToken"].as_str().unwrap_or_default();
    assert!(!new_refresh.is_empty() && new_refresh != session.refresh_token, "{payload:#}");
    assert_eq!(claims_of(new_access)["sid"], claims["sid"], "the same log-in");
    let me = router.post(Some(&format!("Bearer {new_access}")), ME, json!({})).await;
    assert_eq!(me.data()["me"]["displayName"], "Ada");
    // Refresh tokens are stored hashed: the token itself is nowhere in auth's database.
    let stored = sqlx::query("select token_hash from refresh_token")
        .fetch_all(router.auth_database.pool())
        .await
        .unwrap_or_default();
    assert_eq!(stored.len(), 3, "sign-up, log-in and the refresh each stored one");
    for row in stored {
        use sqlx::Row;
        let hash: String = row.try_get("token_hash").unwrap_or_default();
        assert!(hash != session.refresh_token && hash != new_refresh && hash.len() == 64);
    }
}

async fn a_replayed_refresh_token_ends_the_whole_log_in_for_the_thief_and_the_owner(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let stolen = router.log_in_session("ada@example.com").await;
    let other_device = router.log_in_session("ada@example.com").await;
    // The owner refreshes, spending the token the thief copied.
    let owner = router.refresh(&stolen.refresh_token).await;
    let owner_access = format!("Bearer {}", owner.data()["refreshSession"]["accessToken"].as_str().unwrap_or_default());
    let owner_refresh = owner.data()["refreshSession"]["refreshToken"].as_str().unwrap_or_default().to_string();

    let replayed = router.refresh(&stolen.refresh_token).await;

    assert_eq!(replayed.error_code(), "REFRESH_TOKEN_REUSED");
    // The family is revoked: the owner's newer refresh token and access token stop too.
    assert_eq!(router.refresh(&owner_refresh).await.error_code(), "REFRESH_TOKEN_INVALID");
    assert!(router.eventually_refused(&owner_access).await, "the owner's access token still works");
    assert!(router.eventually_refused(&stolen.authorization).await);
    // Another log-in of the same person is another family, untouched.
    let me = router.post(Some(&other_device.authorization), ME, json!({})).await;
    assert_eq!(me.data()["me"]["displayName"], "Ada");
    assert!(router.refresh(&other_device.refresh_token).await.body["data"]["refreshSession"].is_object());
}

async fn log_out_stops_this_sessions_access_and_refresh_tokens_at_once(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let phone = router.log_in_session("ada@example.com").await;
    let laptop = router.log_in_session("ada@example.com").await;

    let logged_out = router.post(Some(&phone.authorization), "mutation { logOut }", json!({})).await;

    assert_eq!(logged_out.data()["logOut"], true);
    assert!(router.eventually_refused(&phone.authorization).await, "a logged-out token still works");
    assert_eq!(router.refresh(&phone.refresh_token).await.error_code(), "REFRESH_TOKEN_INVALID");
    let me = router.post(Some(&laptop.authorization), ME, json!({})).await;
    assert_eq!(me.data()["me"]["displayName"], "Ada", "only the one session ended");
}

async fn log_out_everywhere_ends_every_session(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let phone = router.log_in_session("ada@example.com").await;
    let laptop = router.log_in_session("ada@example.com").await;

    let logged_out = router.post(Some(&laptop.authorization), "mutation { logOutEverywhere }", json!({})).await;

    assert_eq!(logged_out.data()["logOutEverywhere"], 3, "sign-up, phone and laptop");
    assert!(router.eventually_refused(&phone.authorization).await);
    assert!(router.eventually_refused(&laptop.authorization).await);
    assert_eq!(router.refresh(&laptop.refresh_token).await.error_code(), "REFRESH_TOKEN_INVALID");
}

async fn a_garbage_refresh_token_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;

    for token in ["", "rt_nope", "Bearer x"] {
        assert_eq!(router.refresh(token).await.error_code(), "REFRESH_TOKEN_INVALID");
    }
}

on_both_backends!(
    a_refresh_spends_the_old_refresh_token_and_returns_a_new_one,
    a_replayed_refresh_token_ends_the_whole_log_in_for_the_thief_and_the_owner,
    log_out_stops_this_sessions_access_and_refresh_tokens_at_once,
    log_out_everywhere_ends_every_session,
    a_garbage_refresh_token_is_refused,
);
