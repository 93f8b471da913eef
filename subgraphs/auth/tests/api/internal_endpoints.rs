//! Auth's internal endpoints answer only the service each is for: the revocation feed
//! and admin log-in the router, kiosk registration stores; never a client or a person.

use c9pay_platform::{
    database::Backend,
    internal_token::{Principal, ROUTER_ISSUER},
    on_both_backends,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_auth};

async fn call(app: &TestApp, method: reqwest::Method, path: &str, authorization: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", app.auth_url)).json(&body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap_or_else(|error| panic!("{error}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn the_revocation_feed_answers_the_router_only(backend: Backend) {
    let app = spawn_auth(backend).await;
    let user_id = app.signed_up("ada@example.com", "Ada").await;
    app.auth.execute(Some(&app.trust.user(&user_id)), "mutation { logOutEverywhere }", json!({})).await.data();
    let router = app.trust.authorization_for(&Principal::service(ROUTER_ISSUER, "feed-test"));
    let get = reqwest::Method::GET;

    let (status, feed) = call(&app, get.clone(), "/internal/revocations?sinceMs=0", Some(&router), Value::Null).await;

    assert_eq!(status, 200, "{feed:#}");
    assert_eq!(feed["complete"], true);
    assert_eq!(feed["revocations"].as_array().map(Vec::len), Some(1), "the sign-up's session: {feed:#}");
    assert!(feed["revocations"][0]["sessionId"].as_str().is_some_and(|id| id.starts_with("ses_")));
    assert_eq!(call(&app, get.clone(), "/internal/revocations", None, Value::Null).await.0, 401);
    assert_eq!(call(&app, get.clone(), "/internal/revocations", Some(&app.trust.user(&user_id)), Value::Null).await.0, 403);
    assert_eq!(call(&app, get, "/internal/revocations", Some(&app.trust.service("auth")), Value::Null).await.0, 403);
}

async fn kiosk_registration_and_admin_log_in_answer_their_service_only(backend: Backend) {
    let app = spawn_auth(backend).await;
    let post = reqwest::Method::POST;
    let kiosk = json!({ "storeId": "sto_0123456789abcdef0123456789abcdef", "name": "Till", "publicKey": { "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" } });
    let router = app.trust.authorization_for(&Principal::service(ROUTER_ISSUER, "kiosk-test"));

    assert_eq!(call(&app, post.clone(), "/internal/kiosks", None, kiosk.clone()).await.0, 401);
    assert_eq!(call(&app, post.clone(), "/internal/kiosks", Some(&router), kiosk).await.0, 403, "stores registers kiosks, not the router");
    let log_in = json!({ "email": "root@example.com", "password": "x", "fingerprintHash": "a".repeat(43) });
    assert_eq!(call(&app, post, "/internal/admin-sessions", Some(&app.trust.service("auth")), log_in).await.0, 403);
}

on_both_backends!(
    the_revocation_feed_answers_the_router_only,
    kiosk_registration_and_admin_log_in_answer_their_service_only,
);
