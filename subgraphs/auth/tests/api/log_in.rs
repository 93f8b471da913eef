use c9pay_auth::keys::{ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, AccessClaims};
use c9pay_platform::{database::Backend, on_both_backends};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde_json::json;

use crate::helpers::{PASSWORD, spawn_auth, user_id_of};

async fn a_logged_in_token_verifies_against_the_jwks(backend: Backend) {
    let app = spawn_auth(backend).await;
    let user_id = app.signed_up("ada@example.com", "Ada").await;

    let response = app.log_in("ADA@example.com", PASSWORD).await;

    let payload = &response.data()["logIn"];
    assert_eq!(user_id_of(payload), user_id);
    let token = payload["accessToken"].as_str().unwrap_or_default();
    let jwks: JwkSet = match serde_json::from_value(app.jwks().await) {
        Ok(jwks) => jwks,
        Err(error) => panic!("the JWKS does not parse: {error}"),
    };
    let kid = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|header| header.kid);
    let Some(jwk) = kid.as_deref().and_then(|kid| jwks.find(kid)) else {
        panic!("the token's kid {kid:?} is not in the JWKS");
    };
    let key = match DecodingKey::from_jwk(jwk) {
        Ok(key) => key,
        Err(error) => panic!("JWK: {error}"),
    };
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[ACCESS_TOKEN_AUDIENCE]);
    validation.set_issuer(&[ACCESS_TOKEN_ISSUER]);
    let claims = match jsonwebtoken::decode::<AccessClaims>(token, &key, &validation) {
        Ok(data) => data.claims,
        Err(error) => panic!("the token does not verify: {error}"),
    };
    assert_eq!(claims.sub, user_id.as_str());
    assert!(
        claims.exp - claims.iat <= 900,
        "access tokens live at most 15 minutes"
    );
}

async fn a_token_does_not_verify_with_another_key(backend: Backend) {
    let app = spawn_auth(backend).await;
    app.signed_up("ada@example.com", "Ada").await;
    let response = app.log_in("ada@example.com", PASSWORD).await;
    let token = response.data()["logIn"]["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let other = spawn_auth(backend).await;
    let jwks: JwkSet =
        serde_json::from_value(other.jwks().await).unwrap_or(JwkSet { keys: vec![] });
    let Some(jwk) = jwks.keys.first() else {
        panic!("the other JWKS is empty")
    };
    let key = DecodingKey::from_jwk(jwk).unwrap_or_else(|error| panic!("JWK: {error}"));
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[ACCESS_TOKEN_AUDIENCE]);
    assert!(jsonwebtoken::decode::<AccessClaims>(&token, &key, &validation).is_err());
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_refusal(backend: Backend) {
    let app = spawn_auth(backend).await;
    app.signed_up("ada@example.com", "Ada").await;

    assert_eq!(
        app.log_in("ada@example.com", "not the password")
            .await
            .error_code(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        app.log_in("nobody@example.com", PASSWORD)
            .await
            .error_code(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        app.log_in("not an email", PASSWORD).await.error_code(),
        "INVALID_CREDENTIALS"
    );
}

async fn logging_out_ends_the_sessions_and_needs_a_signed_in_person(backend: Backend) {
    let app = spawn_auth(backend).await;
    let user_id = app.signed_up("ada@example.com", "Ada").await;
    let everywhere = "mutation { logOutEverywhere }";

    let first = app
        .auth
        .execute(Some(&app.trust.user(&user_id)), everywhere, json!({}))
        .await;
    assert_eq!(first.data()["logOutEverywhere"], 1, "the sign-up's session");
    let second = app
        .auth
        .execute(Some(&app.trust.user(&user_id)), everywhere, json!({}))
        .await;
    assert_eq!(second.data()["logOutEverywhere"], 0, "no session was left open");

    // `logOut` ends the session the router names; a principal without one has none.
    let without_session = app
        .auth
        .execute(Some(&app.trust.user(&user_id)), "mutation { logOut }", json!({}))
        .await;
    assert_eq!(without_session.error_code(), "UNAUTHENTICATED");
    let anonymous = app
        .auth
        .execute(Some(&app.trust.anonymous()), everywhere, json!({}))
        .await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
}

on_both_backends!(
    a_logged_in_token_verifies_against_the_jwks,
    a_token_does_not_verify_with_another_key,
    a_wrong_password_and_an_unknown_email_get_the_same_refusal,
    logging_out_ends_the_sessions_and_needs_a_signed_in_person,
);
