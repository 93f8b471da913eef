use c9pay_platform::{database::Backend, id::UserId, on_both_backends};
use serde_json::json;

use crate::helpers::spawn_users;

const UPDATE: &str =
    "mutation($name: String!) { updateProfile(input: { displayName: $name }) { displayName } }";

async fn me_is_the_profile_auth_created(backend: Backend) {
    let app = spawn_users(backend).await;
    let user_id = app.profile_created("Ada Lovelace").await;

    let response = app
        .graphql
        .execute(
            Some(&app.trust.user(&user_id)),
            "{ me { id displayName createdAt } }",
            json!({}),
        )
        .await;

    let me = &response.data()["me"];
    assert_eq!(me["id"], user_id.as_str());
    assert_eq!(me["displayName"], "Ada Lovelace");
    assert!(me["createdAt"].is_string());
}

async fn creating_a_profile_twice_keeps_the_first(backend: Backend) {
    let app = spawn_users(backend).await;
    let user_id = app.profile_created("Ada").await;

    assert_eq!(
        app.put_profile(Some(&app.trust.service("auth")), &user_id, "Someone else")
            .await,
        200
    );

    let response = app
        .graphql
        .execute(
            Some(&app.trust.user(&user_id)),
            "{ me { displayName } }",
            json!({}),
        )
        .await;
    assert_eq!(response.data()["me"]["displayName"], "Ada");
}

async fn an_empty_display_name_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_users(backend).await;
    let user_id = app.profile_created("Ada").await;

    for empty in ["", "  "] {
        let response = app
            .graphql
            .execute(
                Some(&app.trust.user(&user_id)),
                UPDATE,
                json!({ "name": empty }),
            )
            .await;
        assert_eq!(response.error_code(), "INVALID_DISPLAY_NAME");
    }
    let too_long = app
        .graphql
        .execute(
            Some(&app.trust.user(&user_id)),
            UPDATE,
            json!({ "name": "x".repeat(65) }),
        )
        .await;
    assert_eq!(too_long.error_code(), "INVALID_DISPLAY_NAME");

    let response = app
        .graphql
        .execute(
            Some(&app.trust.user(&user_id)),
            "{ me { displayName } }",
            json!({}),
        )
        .await;
    assert_eq!(response.data()["me"]["displayName"], "Ada");
}

async fn updating_the_profile_changes_the_display_name(backend: Backend) {
    let app = spawn_users(backend).await;
    let user_id = app.profile_created("Ada").await;

    let response = app
        .graphql
        .execute(
            Some(&app.trust.user(&user_id)),
            UPDATE,
            json!({ "name": " Countess of Lovelace " }),
        )
        .await;

    assert_eq!(
        response.data()["updateProfile"]["displayName"],
        "Countess of Lovelace"
    );
}

async fn anonymous_callers_have_no_profile(backend: Backend) {
    let app = spawn_users(backend).await;

    let me = app
        .graphql
        .execute(
            Some(&app.trust.anonymous()),
            "{ me { displayName } }",
            json!({}),
        )
        .await;
    assert_eq!(me.error_code(), "UNAUTHENTICATED");
    let update = app
        .graphql
        .execute(
            Some(&app.trust.anonymous()),
            UPDATE,
            json!({ "name": "Mallory" }),
        )
        .await;
    assert_eq!(update.error_code(), "UNAUTHENTICATED");
}

async fn entities_resolve_in_one_batch_and_unknown_users_are_null(backend: Backend) {
    let app = spawn_users(backend).await;
    let ada = app.profile_created("Ada").await;
    let grace = app.profile_created("Grace").await;
    let query = "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { displayName } } }";
    let representations: Vec<_> = [&grace, &UserId::generate(), &ada]
        .iter()
        .map(|id| json!({ "__typename": "User", "id": id.as_str() }))
        .collect();

    let response = app
        .graphql
        .execute(
            Some(&app.trust.user(&ada)),
            query,
            json!({ "representations": representations }),
        )
        .await;

    let entities = &response.data()["_entities"];
    assert_eq!(entities[0]["displayName"], "Grace");
    assert!(entities[1].is_null());
    assert_eq!(entities[2]["displayName"], "Ada");
}

async fn only_the_auth_service_may_create_profiles(backend: Backend) {
    let app = spawn_users(backend).await;
    let user_id = UserId::generate();

    assert_eq!(app.put_profile(None, &user_id, "Mallory").await, 401);
    assert_eq!(
        app.put_profile(Some(&app.trust.user(&user_id)), &user_id, "Mallory")
            .await,
        403
    );
    assert_eq!(
        app.put_profile(Some(&app.trust.service("stores")), &user_id, "Mallory")
            .await,
        403
    );

    let response = app
        .graphql
        .execute(
            Some(&app.trust.user(&user_id)),
            "{ me { displayName } }",
            json!({}),
        )
        .await;
    assert_eq!(response.error_code(), "NOT_FOUND");
}

async fn a_graphql_request_without_an_internal_token_is_refused(backend: Backend) {
    let app = spawn_users(backend).await;

    let response = app
        .graphql
        .execute(None, "{ me { displayName } }", json!({}))
        .await;

    assert_eq!(response.status, 401);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn services_can_ask_whether_a_person_exists(backend: Backend) {
    let app = spawn_users(backend).await;
    let ada = app.profile_created("Ada").await;
    let ask = |user_id: String, authorization: Option<String>| {
        let url = format!("{}/internal/profiles/{user_id}", app.url);
        async move {
            let mut request = reqwest::Client::new().get(url);
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            request
                .send()
                .await
                .map(|response| response.status().as_u16())
                .unwrap_or_default()
        }
    };

    assert_eq!(
        ask(ada.to_string(), Some(app.trust.service("stores"))).await,
        200
    );
    assert_eq!(
        ask(
            UserId::generate().to_string(),
            Some(app.trust.service("stores"))
        )
        .await,
        404
    );
    assert_eq!(
        ask("not-an-id".to_string(), Some(app.trust.service("stores"))).await,
        404
    );
    assert_eq!(
        ask(ada.to_string(), Some(app.trust.user(&ada))).await,
        403,
        "people may not probe for others"
    );
    assert_eq!(ask(ada.to_string(), None).await, 401);
}

on_both_backends!(
    services_can_ask_whether_a_person_exists,
    me_is_the_profile_auth_created,
    creating_a_profile_twice_keeps_the_first,
    an_empty_display_name_is_refused_and_changes_nothing,
    updating_the_profile_changes_the_display_name,
    anonymous_callers_have_no_profile,
    entities_resolve_in_one_batch_and_unknown_users_are_null,
    only_the_auth_service_may_create_profiles,
    a_graphql_request_without_an_internal_token_is_refused,
);
