//! `issuePaymentCode`: a signed QR token that verifies against auth's published keys.

use c9pay_platform::{
    database::Backend,
    id::UserId,
    internal_token::Principal,
    jwks::{JwksClient, JwksClientLimits},
    on_both_backends,
    payment_code::{self, LIFETIME_MAX_S, PaymentCodeError},
    time::now_ms,
};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_auth};

const ISSUE: &str = "mutation { issuePaymentCode { token svg codeId expiresAt } }";

fn jwks_client(app: &TestApp) -> JwksClient {
    JwksClient::new(
        format!("{}/.well-known/jwks.json", app.auth_url),
        JwksClientLimits::default(),
    )
    .unwrap_or_else(|error| panic!("JWKS client: {error}"))
}

async fn a_payment_code_verifies_against_the_published_keys_and_names_the_payer(backend: Backend) {
    let app = spawn_auth(backend).await;
    let payer = UserId::generate();
    let issued_before_ms = now_ms();

    let response = app
        .auth
        .execute(Some(&app.trust.user(&payer)), ISSUE, json!({}))
        .await;

    let payload = &response.data()["issuePaymentCode"];
    let token = payload["token"].as_str().unwrap_or_default();
    let code = payment_code::verify_with_refresh(token, &jwks_client(&app), now_ms())
        .await
        .unwrap_or_else(|error| panic!("the code does not verify: {error}"));
    assert_eq!(code.payer, payer);
    assert_eq!(payload["codeId"], code.code_id.as_str());
    assert_eq!(code.code_id.len(), 32);
    assert_eq!(
        code.expires_at_ms - code.issued_at_ms,
        120_000,
        "the default lifetime"
    );
    let expires_at = payload["expiresAt"]
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .unwrap_or_else(|| panic!("expiresAt is not a date: {payload:#}"));
    assert_eq!(expires_at.timestamp_millis(), code.expires_at_ms);
    assert!(expires_at.timestamp_millis() <= issued_before_ms + LIFETIME_MAX_S * 1000 + 1000);
    let svg = payload["svg"].as_str().unwrap_or_default();
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{svg:.80}"
    );
}

async fn every_payment_code_has_its_own_id(backend: Backend) {
    let app = spawn_auth(backend).await;
    let payer = UserId::generate();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let response = app
            .auth
            .execute(Some(&app.trust.user(&payer)), ISSUE, json!({}))
            .await;
        ids.push(response.data()["issuePaymentCode"]["codeId"].clone());
    }
    ids.sort_by_key(ToString::to_string);
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

async fn only_a_signed_in_person_gets_a_payment_code(backend: Backend) {
    let app = spawn_auth(backend).await;

    let anonymous = app
        .auth
        .execute(Some(&app.trust.anonymous()), ISSUE, json!({}))
        .await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");

    let kiosk = Principal {
        kind: c9pay_platform::internal_token::PrincipalKind::Kiosk,
        subject: "kio_0123456789abcdef0123456789abcdef".to_string(),
        roles: vec!["kiosk".to_string()],
        scopes: Vec::new(),
        request_id: "test-kiosk".to_string(),
        session_id: None,
    };
    let response = app
        .auth
        .execute(Some(&app.trust.authorization_for(&kiosk)), ISSUE, json!({}))
        .await;
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn an_access_token_is_not_a_payment_code(backend: Backend) {
    let app = spawn_auth(backend).await;
    app.signed_up("ada@example.com", "Ada").await;
    let response = app.log_in("ada@example.com", PASSWORD).await;
    let access_token = response.data()["logIn"]["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let result =
        payment_code::verify_with_refresh(&access_token, &jwks_client(&app), now_ms()).await;

    assert!(
        matches!(result, Err(PaymentCodeError::Invalid(_))),
        "{result:?}"
    );
}

async fn a_payment_code_from_another_auth_does_not_verify(backend: Backend) {
    let app = spawn_auth(backend).await;
    let other = spawn_auth(backend).await;
    let payer = UserId::generate();
    let response = other
        .auth
        .execute(Some(&other.trust.user(&payer)), ISSUE, json!({}))
        .await;
    let token = response.data()["issuePaymentCode"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let result = payment_code::verify_with_refresh(&token, &jwks_client(&app), now_ms()).await;

    assert!(
        matches!(result, Err(PaymentCodeError::UnknownKey(_))),
        "{result:?}"
    );
    assert_eq!(
        result.map_err(|error| error.code()).err(),
        Some("PAYMENT_CODE_INVALID")
    );
}

on_both_backends!(
    a_payment_code_verifies_against_the_published_keys_and_names_the_payer,
    every_payment_code_has_its_own_id,
    only_a_signed_in_person_gets_a_payment_code,
    an_access_token_is_not_a_payment_code,
    a_payment_code_from_another_auth_does_not_verify,
);
