//! The router verifies every access token, and lets anonymous requests reach only
//! sign-up, log-in and introspection.

use c9pay_platform::{database::Backend, on_both_backends};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{
    TestRouter, bearer, claims, sign_eddsa, spawn_router, spawn_router_with, subject_of,
    unsigned_token,
};

const ME: &str = "{ me { displayName } }";

async fn refused(router: &TestRouter, authorization: Option<&str>) -> Value {
    let response = router.post(authorization, ME, json!({})).await;
    assert_eq!(response.status, 401, "{:#}", response.body);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
    assert!(response.body.get("data").is_none(), "{:#}", response.body);
    response.body
}

async fn a_request_without_a_token_reaches_no_subgraph(backend: Backend) {
    let router = spawn_router(backend).await;

    refused(&router, None).await;
    let response = router.post(None, "mutation { logOut }", json!({})).await;

    assert_eq!(response.status, 401);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
    let metrics = router.metrics().await;
    assert!(!metrics.contains("c9pay_subgraph_fetches_total{"), "{metrics}");
}

async fn sign_up_and_log_in_work_without_a_token(backend: Backend) {
    let router = spawn_router(backend).await;

    let signed_up = router.sign_up("ada@example.com", "Ada").await;
    let logged_in = router.log_in("ada@example.com").await;

    assert_eq!(subject_of(&signed_up), subject_of(&logged_in));
    let response = router.post(Some(&bearer(&logged_in)), ME, json!({})).await;
    assert_eq!(response.data()["me"]["displayName"], "Ada");
}

async fn an_anonymous_request_may_not_mix_log_in_with_other_fields(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;

    let response = router
        .post(
            None,
            "mutation { logIn(input: { email: \"ada@example.com\", password: \"x\" }) { accessToken } logOut }",
            json!({}),
        )
        .await;

    assert_eq!(response.status, 401);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn an_expired_token_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let (kid, seed) = router.auth_signing_key().await;
    let expired = sign_eddsa(&claims(&subject_of(&token), -60), &kid, &seed);

    let body = refused(&router, Some(&bearer(&expired))).await;

    assert!(body.to_string().contains("expired"), "{body:#}");
    // The same key and claims, unexpired, are accepted: only the expiry was wrong.
    let fresh = sign_eddsa(&claims(&subject_of(&token), 60), &kid, &seed);
    let response = router.post(Some(&bearer(&fresh)), ME, json!({})).await;
    assert_eq!(response.data()["me"]["displayName"], "Ada");
}

async fn a_token_signed_with_another_key_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let (kid, _) = router.auth_signing_key().await;
    let forged = sign_eddsa(&claims(&subject_of(&token), 600), &kid, &[7; 32]);

    refused(&router, Some(&bearer(&forged))).await;
}

async fn a_tampered_token_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = router.sign_up("ada@example.com", "Ada").await;
    let bob = router.sign_up("bob@example.com", "Bob").await;
    // Ada's header and signature around a payload that names Bob.
    let ada_parts: Vec<&str> = ada.split('.').collect();
    let bob_parts: Vec<&str> = bob.split('.').collect();
    let tampered = format!("{}.{}.{}", ada_parts[0], bob_parts[1], ada_parts[2]);

    refused(&router, Some(&bearer(&tampered))).await;
}

async fn an_unsigned_alg_none_token_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let (kid, _) = router.auth_signing_key().await;
    let claims = claims(&subject_of(&token), 600);

    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
        refused(&router, Some(&bearer(&unsigned_token(&header, &claims, "")))).await;
    }
}

async fn an_hmac_token_keyed_with_the_public_key_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let jwks: Value = router
        .http
        .get(format!("{}/.well-known/jwks.json", router.subgraphs["auth"]))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .json()
        .await
        .unwrap_or(Value::Null);
    let public_key = jwks["keys"][0]["x"].as_str().unwrap_or_default().to_string();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap_or_default().to_string();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid);
    let confused = jsonwebtoken::encode(
        &header,
        &claims(&subject_of(&token), 600),
        &EncodingKey::from_secret(public_key.as_bytes()),
    )
    .unwrap_or_default();

    refused(&router, Some(&bearer(&confused))).await;
}

async fn malformed_credentials_are_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;

    for authorization in [
        "Bearer".to_string(),
        "Bearer ".to_string(),
        "Bearer not-a-jwt".to_string(),
        format!("Basic {token}"),
        token.clone(),
        format!("Bearer {token}x"),
    ] {
        refused(&router, Some(&authorization)).await;
    }
    // A bad credential is refused even for what anonymous callers may do.
    let response = router.post(Some("Bearer not-a-jwt"), "{ __typename }", json!({})).await;
    assert_eq!(response.status, 401);
}

async fn a_token_with_an_unknown_key_id_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let (_, seed) = router.auth_signing_key().await;

    let unknown = sign_eddsa(&claims(&subject_of(&token), 600), "no-such-key", &seed);

    refused(&router, Some(&bearer(&unknown))).await;
}

async fn a_new_signing_key_is_fetched_when_a_token_names_it(backend: Backend) {
    let router = spawn_router_with(backend, |config| {
        config.access_tokens.jwks_refresh_interval_min_ms = 0;
    })
    .await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let (kid, seed) = router.add_auth_signing_key().await;

    let rotated = sign_eddsa(&claims(&subject_of(&token), 600), &kid, &seed);
    let response = router.post(Some(&bearer(&rotated)), ME, json!({})).await;

    assert_eq!(response.data()["me"]["displayName"], "Ada");
}

async fn the_jwks_is_not_fetched_again_within_the_minimum_interval(backend: Backend) {
    let router = spawn_router_with(backend, |config| {
        config.access_tokens.jwks_refresh_interval_min_ms = 3_600_000;
    })
    .await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let (kid, seed) = router.add_auth_signing_key().await;

    let rotated = sign_eddsa(&claims(&subject_of(&token), 600), &kid, &seed);

    // The router fetched the JWKS at start-up and will not fetch again for an hour, so
    // the new key stays unknown: this is what bounds the load forged key ids can cause.
    refused(&router, Some(&bearer(&rotated))).await;
}

async fn a_cached_token_does_not_vouch_for_another_signature_over_its_claims(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let (kid, seed) = router.auth_signing_key().await;
    let claims = claims(&subject_of(&token), 600);
    let genuine = sign_eddsa(&claims, &kid, &seed);
    let forged = sign_eddsa(&claims, &kid, &[7; 32]);

    // The forged token first: refused, and so never remembered as verified.
    refused(&router, Some(&bearer(&forged))).await;
    for _ in 0..2 {
        let response = router.post(Some(&bearer(&genuine)), ME, json!({})).await;
        assert_eq!(response.data()["me"]["displayName"], "Ada");
    }
    // With the genuine token verified and cached, the same header and claims under
    // another signature are still refused, every time.
    refused(&router, Some(&bearer(&forged))).await;
    let parts: Vec<&str> = genuine.split('.').collect();
    let resigned = format!("{}.{}.{}", parts[0], parts[1], forged.split('.').nth(2).unwrap_or_default());
    refused(&router, Some(&bearer(&resigned))).await;
}

async fn a_cached_token_is_refused_once_its_session_is_revoked(backend: Backend) {
    let router = spawn_router(backend).await;
    router.sign_up("ada@example.com", "Ada").await;
    let token = router.log_in("ada@example.com").await;
    let authorization = bearer(&token);
    for _ in 0..3 {
        let response = router.post(Some(&authorization), ME, json!({})).await;
        assert_eq!(response.data()["me"]["displayName"], "Ada");
    }

    let logged_out = router.post(Some(&authorization), "mutation { logOut }", json!({})).await;
    assert_eq!(logged_out.data()["logOut"], true);

    assert!(router.eventually_refused(&authorization).await, "the cached token outlived its session");
    for _ in 0..3 {
        refused(&router, Some(&authorization)).await;
    }
}

on_both_backends!(
    a_cached_token_does_not_vouch_for_another_signature_over_its_claims,
    a_cached_token_is_refused_once_its_session_is_revoked,
    a_request_without_a_token_reaches_no_subgraph,
    sign_up_and_log_in_work_without_a_token,
    an_anonymous_request_may_not_mix_log_in_with_other_fields,
    an_expired_token_is_refused,
    a_token_signed_with_another_key_is_refused,
    a_tampered_token_is_refused,
    an_unsigned_alg_none_token_is_refused,
    an_hmac_token_keyed_with_the_public_key_is_refused,
    malformed_credentials_are_refused,
    a_token_with_an_unknown_key_id_is_refused,
    a_new_signing_key_is_fetched_when_a_token_names_it,
    the_jwks_is_not_fetched_again_within_the_minimum_interval,
);
