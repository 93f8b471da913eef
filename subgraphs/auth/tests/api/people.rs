//! `findPerson`: someone to send credits to, by their exact email.

use c9pay_platform::{database::Backend, id::UserId, on_both_backends, testing::TestResponse};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_auth};

const FIND_PERSON: &str = "query($email: String!) { findPerson(email: $email) { id } }";

async fn find(app: &TestApp, viewer: &UserId, email: &str) -> TestResponse {
    app.auth.execute(Some(&app.trust.user(viewer)), FIND_PERSON, json!({ "email": email })).await
}

async fn a_person_is_found_by_their_exact_email_whatever_its_case(backend: Backend) {
    let app = spawn_auth(backend).await;
    let ada = app.signed_up("ada@example.com", "Ada").await;
    let bo = app.signed_up("bo@example.com", "Bo").await;

    let exact = find(&app, &bo, "ada@example.com").await;
    let shouted = find(&app, &bo, "  ADA@Example.COM ").await;

    assert_eq!(exact.data()["findPerson"]["id"], ada.as_str());
    assert_eq!(shouted.data()["findPerson"]["id"], ada.as_str());
}

async fn nobody_with_that_email_is_null_and_a_part_of_an_email_finds_nobody(backend: Backend) {
    let app = spawn_auth(backend).await;
    let bo = app.signed_up("bo@example.com", "Bo").await;
    app.signed_up("ada@example.com", "Ada").await;

    for email in ["nobody@example.com", "da@example.com", "ada@example.co"] {
        assert_eq!(find(&app, &bo, email).await.data()["findPerson"], Value::Null, "{email}");
    }
}

async fn the_found_persons_email_stays_theirs(backend: Backend) {
    let app = spawn_auth(backend).await;
    app.signed_up("ada@example.com", "Ada").await;
    let bo = app.signed_up("bo@example.com", "Bo").await;

    let response = app
        .auth
        .execute(Some(&app.trust.user(&bo)), "query { findPerson(email: \"ada@example.com\") { id email } }", json!({}))
        .await;

    assert_eq!(response.error_code(), "FORBIDDEN");
}

async fn a_malformed_email_is_invalid_and_an_anonymous_caller_is_refused(backend: Backend) {
    let app = spawn_auth(backend).await;
    let bo = app.signed_up("bo@example.com", "Bo").await;

    assert_eq!(find(&app, &bo, "not an email").await.error_code(), "INVALID_EMAIL");
    let anonymous = app.auth.execute(Some(&app.trust.anonymous()), FIND_PERSON, json!({ "email": "bo@example.com" })).await;
    assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
}

on_both_backends!(
    a_person_is_found_by_their_exact_email_whatever_its_case,
    nobody_with_that_email_is_null_and_a_part_of_an_email_finds_nobody,
    the_found_persons_email_stays_theirs,
    a_malformed_email_is_invalid_and_an_anonymous_caller_is_refused,
);
