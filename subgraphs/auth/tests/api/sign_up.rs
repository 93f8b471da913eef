use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{PASSWORD, spawn_auth, user_id_of};

async fn signing_up_creates_an_account_and_its_profile(backend: Backend) {
    let app = spawn_auth(backend).await;

    let response = app
        .sign_up("Ada@Example.com", PASSWORD, "  Ada Lovelace ")
        .await;

    let payload = &response.data()["signUp"];
    assert_eq!(payload["tokenType"], "Bearer");
    assert_eq!(
        payload["user"]["email"], "ada@example.com",
        "emails are normalised"
    );
    let user_id = user_id_of(payload);
    let profile = app
        .users
        .execute(
            Some(&app.trust.user(&user_id)),
            "{ me { id displayName } }",
            json!({}),
        )
        .await;
    assert_eq!(profile.data()["me"]["displayName"], "Ada Lovelace");
}

async fn a_duplicate_email_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_auth(backend).await;
    app.signed_up("grace@example.com", "Grace").await;

    let response = app
        .sign_up("  GRACE@example.com", "another long password", "Impostor")
        .await;

    assert_eq!(response.error_code(), "EMAIL_TAKEN");
    assert!(response.body["data"].is_null());
    app.log_in("grace@example.com", PASSWORD).await.data();
    assert_eq!(
        app.log_in("grace@example.com", "another long password")
            .await
            .error_code(),
        "INVALID_CREDENTIALS"
    );
}

async fn a_weak_password_is_refused_and_creates_nothing(backend: Backend) {
    let app = spawn_auth(backend).await;

    for weak in ["short", "1234567890", "zzzzzzzzzzzz", "linus-the-great-123"] {
        let response = app.sign_up("linus@example.com", weak, "Linus").await;
        assert_eq!(response.error_code(), "WEAK_PASSWORD", "{weak:?}");
    }

    assert_eq!(
        app.log_in("linus@example.com", "1234567890")
            .await
            .error_code(),
        "INVALID_CREDENTIALS"
    );
    app.sign_up("linus@example.com", PASSWORD, "Linus")
        .await
        .data();
}

async fn an_empty_display_name_is_refused_and_creates_nothing(backend: Backend) {
    let app = spawn_auth(backend).await;

    for empty in ["", "   ", "\t"] {
        let response = app.sign_up("barbara@example.com", PASSWORD, empty).await;
        assert_eq!(response.error_code(), "INVALID_DISPLAY_NAME");
    }

    assert_eq!(
        app.log_in("barbara@example.com", PASSWORD)
            .await
            .error_code(),
        "INVALID_CREDENTIALS"
    );
    app.sign_up("barbara@example.com", PASSWORD, "Barbara")
        .await
        .data();
}

async fn a_malformed_email_is_refused(backend: Backend) {
    let app = spawn_auth(backend).await;

    for email in ["", "ada", "ada@", "@example.com", "ada@example"] {
        assert_eq!(
            app.sign_up(email, PASSWORD, "Ada").await.error_code(),
            "INVALID_EMAIL",
            "{email:?}"
        );
    }
}

async fn only_the_person_themself_may_read_their_email(backend: Backend) {
    let app = spawn_auth(backend).await;
    let ada = app.signed_up("ada@example.com", "Ada").await;
    let grace = app.signed_up("grace@example.com", "Grace").await;
    let query = "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { id email } } }";
    let variables = json!({ "representations": [{ "__typename": "User", "id": ada.as_str() }] });

    let own = app
        .auth
        .execute(Some(&app.trust.user(&ada)), query, variables.clone())
        .await;
    assert_eq!(own.data()["_entities"][0]["email"], "ada@example.com");

    let other = app
        .auth
        .execute(Some(&app.trust.user(&grace)), query, variables)
        .await;
    assert_eq!(other.error_code(), "FORBIDDEN");
}

on_both_backends!(
    signing_up_creates_an_account_and_its_profile,
    a_duplicate_email_is_refused_and_changes_nothing,
    a_weak_password_is_refused_and_creates_nothing,
    an_empty_display_name_is_refused_and_creates_nothing,
    a_malformed_email_is_refused,
    only_the_person_themself_may_read_their_email,
);
