//! CORS: only configured origins may call the router from a browser; by default none.

use c9pay_platform::{database::Backend, on_both_backends};

use crate::helpers::{TestRouter, spawn_router, spawn_router_with};

/// A browser's preflight for a POST with a bearer token from `origin`:
/// the `Access-Control-Allow-Origin` it gets back, if any.
async fn preflight(router: &TestRouter, origin: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, router.graphql_url())
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap_or_else(|error| panic!("preflight: {error}"));
    let allowed_headers = response
        .headers()
        .get("access-control-allow-headers")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let origin = response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    if origin.is_some() {
        assert!(allowed_headers.contains("authorization"), "{allowed_headers}");
    }
    origin
}

async fn only_configured_origins_may_call_from_a_browser(backend: Backend) {
    let router = spawn_router_with(backend, |config| {
        config.cors_allowed_origins = vec!["https://shop.example.com".to_string()];
    })
    .await;
    assert_eq!(preflight(&router, "https://shop.example.com").await.as_deref(), Some("https://shop.example.com"));
    assert_eq!(preflight(&router, "https://evil.example.net").await, None);
    assert_eq!(preflight(&router, "null").await, None);
}

async fn by_default_no_origin_is_allowed(backend: Backend) {
    let router = spawn_router(backend).await;
    assert_eq!(preflight(&router, "https://shop.example.com").await, None);
}

on_both_backends!(only_configured_origins_may_call_from_a_browser, by_default_no_origin_is_allowed);
