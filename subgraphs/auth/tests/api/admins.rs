//! Admin fields of auth: each checks the principal itself (an admin in an admin session),
//! whatever the router did before, and refuses everyone else with `FORBIDDEN`.

use c9pay_platform::{database::Backend, id::UserId, on_both_backends, testing::TestResponse};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_auth};

const FIND_USERS: &str = "query($query: String!, $first: Int) { findUsers(query: $query, first: $first) { id email } }";
const END_SESSIONS: &str = "mutation($user: ID!) { endUserSessions(userId: $user) }";

async fn find_users(app: &TestApp, authorization: &str, query: &str, first: Value) -> TestResponse {
    app.auth.execute(Some(authorization), FIND_USERS, json!({ "query": query, "first": first })).await
}

fn emails(response: &TestResponse) -> Vec<String> {
    let found = response.data()["findUsers"].as_array().cloned().unwrap_or_default();
    found.iter().filter_map(|user| user["email"].as_str().map(str::to_string)).collect()
}

async fn an_admin_finds_accounts_whose_email_contains_the_query_ignoring_case(backend: Backend) {
    let app = spawn_auth(backend).await;
    let admin = app.trust.admin(&UserId::generate());
    let ada = app.signed_up("ada@example.com", "Ada").await;
    app.signed_up("adam@example.org", "Adam").await;
    app.signed_up("bo@example.com", "Bo").await;

    let by_name = find_users(&app, &admin, " ADA", Value::Null).await;
    let by_domain = find_users(&app, &admin, "example.com", json!(1)).await;
    let wildcard = find_users(&app, &admin, "%", Value::Null).await;

    assert_eq!(emails(&by_name), ["ada@example.com", "adam@example.org"], "by email");
    assert_eq!(by_name.data()["findUsers"][0]["id"], ada.as_str());
    assert_eq!(emails(&by_domain), ["ada@example.com"], "at most `first`");
    assert!(emails(&wildcard).is_empty(), "% is a character, not a wildcard");
}

async fn find_users_is_bounded(backend: Backend) {
    let app = spawn_auth(backend).await;
    let admin = app.trust.admin(&UserId::generate());

    for first in [json!(0), json!(-1), json!(101)] {
        assert_eq!(find_users(&app, &admin, "a", first.clone()).await.error_code(), "INVALID_INPUT", "first {first}");
    }
    assert_eq!(find_users(&app, &admin, &"a".repeat(255), Value::Null).await.error_code(), "INVALID_INPUT");
    assert!(find_users(&app, &admin, "", json!(100)).await.data()["findUsers"].is_array());
}

async fn an_admin_ends_every_session_of_a_person_and_their_refresh_token_stops_working(backend: Backend) {
    let app = spawn_auth(backend).await;
    let admin = app.trust.admin(&UserId::generate());
    let signed_up = app
        .auth
        .execute(
            Some(&app.trust.anonymous()),
            "mutation($input: SignUpInput!) { signUp(input: $input) { refreshToken user { id } } }",
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD, "displayName": "Ada" } }),
        )
        .await;
    let ada = signed_up.data()["signUp"]["user"]["id"].as_str().unwrap_or_default().to_string();
    let refresh_token = signed_up.data()["signUp"]["refreshToken"].clone();
    app.log_in("ada@example.com", PASSWORD).await.data();

    let ended = app.auth.execute(Some(&admin), END_SESSIONS, json!({ "user": ada })).await;
    let again = app.auth.execute(Some(&admin), END_SESSIONS, json!({ "user": ada })).await;

    assert_eq!(ended.data()["endUserSessions"], 2, "the sign-up's and the log-in's");
    assert_eq!(again.data()["endUserSessions"], 0);
    let refreshed = app
        .auth
        .execute(
            Some(&app.trust.anonymous()),
            "mutation($token: String!) { refreshSession(input: { refreshToken: $token }) { accessToken } }",
            json!({ "token": refresh_token }),
        )
        .await;
    assert_eq!(refreshed.error_code(), "REFRESH_TOKEN_INVALID");
    let router = app
        .trust
        .authorization_for(&c9pay_platform::internal_token::Principal::service(c9pay_platform::internal_token::ROUTER_ISSUER, "feed"));
    let feed: Value = reqwest::Client::new()
        .get(format!("{}/internal/revocations?sinceMs=0", app.auth_url))
        .header("authorization", router)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .json()
        .await
        .unwrap_or(Value::Null);
    assert_eq!(feed["revocations"].as_array().map(Vec::len), Some(2), "the router learns of both: {feed:#}");
    let malformed = app.auth.execute(Some(&admin), END_SESSIONS, json!({ "user": "sto_0123" })).await;
    assert_eq!(malformed.error_code(), "INVALID_ID");
}

async fn a_person_who_is_not_an_admin_is_refused_every_admin_field(backend: Backend) {
    let app = spawn_auth(backend).await;
    let ada = app.signed_up("ada@example.com", "Ada").await;
    let user = app.trust.user(&ada);
    // An admin-kind token without the admin scope is no admin either.
    let mut unscoped = c9pay_platform::internal_token::Principal::user(&ada, "test");
    unscoped.kind = c9pay_platform::internal_token::PrincipalKind::Admin;
    let unscoped = app.trust.authorization_for(&unscoped);

    for authorization in [&user, &unscoped] {
        assert_eq!(find_users(&app, authorization, "ada", Value::Null).await.error_code(), "FORBIDDEN");
        let ended = app.auth.execute(Some(authorization), END_SESSIONS, json!({ "user": ada })).await;
        assert_eq!(ended.error_code(), "FORBIDDEN");
        assert!(ended.body["data"].is_null(), "{:#}", ended.body);
    }
    let statistics = app.auth.execute(Some(&user), "{ platformStatistics { accounts } }", json!({})).await;
    assert_eq!(statistics.error_code(), "FORBIDDEN");
    // Nothing was ended.
    let everywhere = app.auth.execute(Some(&user), "mutation { logOutEverywhere }", json!({})).await;
    assert_eq!(everywhere.data()["logOutEverywhere"], 1);
}

async fn an_admin_reads_any_persons_email_and_others_only_their_own(backend: Backend) {
    let app = spawn_auth(backend).await;
    let ada = app.signed_up("ada@example.com", "Ada").await;
    let bo = app.signed_up("bo@example.com", "Bo").await;
    let email_of = "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { email } } }";
    let representations = json!({ "representations": [{ "__typename": "User", "id": ada }] });

    let by_admin = app.auth.execute(Some(&app.trust.admin(&bo)), email_of, representations.clone()).await;
    let by_other = app.auth.execute(Some(&app.trust.user(&bo)), email_of, representations).await;

    assert_eq!(by_admin.data()["_entities"][0]["email"], "ada@example.com");
    assert_eq!(by_other.error_code(), "FORBIDDEN");
}

on_both_backends!(
    an_admin_finds_accounts_whose_email_contains_the_query_ignoring_case,
    find_users_is_bounded,
    an_admin_ends_every_session_of_a_person_and_their_refresh_token_stops_working,
    a_person_who_is_not_an_admin_is_refused_every_admin_field,
    an_admin_reads_any_persons_email_and_others_only_their_own,
);
