//! Subgraphs answer only the router: a client that reaches one directly gets nothing,
//! and identity headers a client makes up are ignored on the way through the router.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{bearer, read, spawn_router, subject_of};

async fn a_subgraph_called_directly_without_the_internal_token_refuses(backend: Backend) {
    let router = spawn_router(backend).await;

    for (name, url) in &router.subgraphs {
        let response = read(
            router
                .http
                .post(format!("{url}/graphql"))
                .json(&json!({ "query": "{ __typename }" })),
        )
        .await;
        assert_eq!(response.status, 401, "{name}: {:#}", response.body);
        assert_eq!(response.error_code(), "UNAUTHENTICATED", "{name}");
    }
}

async fn a_subgraph_refuses_a_clients_access_token(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;

    for (name, url) in &router.subgraphs {
        let response = read(
            router
                .http
                .post(format!("{url}/graphql"))
                .header("authorization", bearer(&token))
                .json(&json!({ "query": "{ me { id } }" })),
        )
        .await;
        assert_eq!(response.status, 401, "{name}: {:#}", response.body);
    }
}

async fn a_spoofed_identity_header_is_ignored(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = router.sign_up("ada@example.com", "Ada").await;
    let bob = router.sign_up("bob@example.com", "Bob").await;
    let bob_id = subject_of(&bob);
    let spoofed = [
        ("x-user-id", bob_id.as_str()),
        ("x-internal-identity", "user=bob"),
        ("x-forwarded-user", bob_id.as_str()),
        ("x-principal", bob_id.as_str()),
    ];

    // Anonymous, claiming to be Bob: still anonymous.
    let response = router.post_with(&spoofed, "{ me { displayName } }", json!({})).await;
    assert_eq!(response.status, 401);

    // Signed in as Ada, claiming to be Bob: still Ada.
    let ada_authorization = bearer(&ada);
    let mut headers = spoofed.to_vec();
    headers.push(("authorization", ada_authorization.as_str()));
    let response = router.post_with(&headers, "{ me { displayName } }", json!({})).await;
    assert_eq!(response.data()["me"]["displayName"], "Ada");
}

async fn an_internal_token_made_by_a_client_is_refused_by_the_router(backend: Backend) {
    let router = spawn_router(backend).await;
    let ada = router.sign_up("ada@example.com", "Ada").await;
    let user_id = c9pay_platform::id::UserId::parse(&subject_of(&ada))
        .unwrap_or_else(|error| panic!("{error}"));
    // Even a genuine internal token is not an access token: the router accepts only
    // what auth issued.
    let internal = router.trust.user(&user_id);

    let response = router.post(Some(&internal), "{ me { displayName } }", json!({})).await;

    assert_eq!(response.status, 401);
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

on_both_backends!(
    a_subgraph_called_directly_without_the_internal_token_refuses,
    a_subgraph_refuses_a_clients_access_token,
    a_spoofed_identity_header_is_ignored,
    an_internal_token_made_by_a_client_is_refused_by_the_router,
);
