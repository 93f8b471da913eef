//! A subgraph answers only the router (and services it trusts): never a client directly.

use c9pay_platform::{
    database::Backend,
    id::UserId,
    internal_token::{InternalTokenSigner, Principal, ROUTER_ISSUER, generate_seed},
    on_both_backends,
};
use serde_json::json;

use crate::helpers::spawn_auth;

const QUERY: &str = "mutation { logOut }";

async fn a_request_without_an_internal_token_is_refused(backend: Backend) {
    let app = spawn_auth(backend).await;

    let response = app.auth.execute(None, QUERY, json!({})).await;

    assert_eq!(response.status, 401);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

async fn a_token_signed_with_another_key_is_refused(backend: Backend) {
    let app = spawn_auth(backend).await;
    let forger = InternalTokenSigner::new(ROUTER_ISSUER, &generate_seed())
        .unwrap_or_else(|error| panic!("{error}"));
    let forged = forger
        .sign(&Principal::user(&UserId::generate(), "forged"))
        .unwrap_or_default();

    let response = app
        .auth
        .execute(Some(&format!("Bearer {forged}")), QUERY, json!({}))
        .await;

    assert_eq!(response.status, 401);
}

async fn a_client_supplied_identity_header_is_ignored(backend: Backend) {
    let app = spawn_auth(backend).await;
    let user_id = app.signed_up("ada@example.com", "Ada").await;
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.auth_url))
        .header("x-user-id", user_id.as_str())
        .header("x-internal-identity", format!("user={user_id}"))
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(response.status().as_u16(), 401);
}

async fn the_jwks_and_health_endpoints_are_public(backend: Backend) {
    let app = spawn_auth(backend).await;
    for path in ["/.well-known/jwks.json", "/health", "/ready", "/metrics"] {
        let response = reqwest::get(format!("{}{path}", app.auth_url))
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}

on_both_backends!(
    a_request_without_an_internal_token_is_refused,
    a_token_signed_with_another_key_is_refused,
    a_client_supplied_identity_header_is_ignored,
    the_jwks_and_health_endpoints_are_public,
);
