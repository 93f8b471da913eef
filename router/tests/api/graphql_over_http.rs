//! GraphQL over HTTP: media types, methods, status codes; GraphiQL and the operational
//! endpoints.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{TestRouter, bearer, metric, read, spawn_router};

const MODERN: &str = "application/graphql-response+json";

async fn post_raw(router: &TestRouter, headers: &[(&str, &str)], body: &str) -> (u16, String, serde_json::Value) {
    let mut request = router.http.post(router.graphql_url()).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap_or_else(|error| panic!("{error}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap_or_default();
    (status, content_type, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

async fn the_response_media_type_follows_accept(backend: Backend) {
    let router = spawn_router(backend).await;
    let body = r#"{"query":"{ __typename }"}"#;
    for (accept, expected) in [
        (None, "application/json"),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (Some(MODERN), MODERN),
        (Some("application/graphql-response+json, application/json;q=0.9"), MODERN),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(accept) = accept {
            headers.push(("accept", accept));
        }
        let (status, content_type, body) = post_raw(&router, &headers, body).await;
        assert_eq!(status, 200, "{accept:?}");
        assert!(content_type.starts_with(expected), "{accept:?} → {content_type}");
        assert_eq!(body["data"]["__typename"], "Query");
    }
    let (status, _, _) = post_raw(&router, &[("content-type", "application/json"), ("accept", "text/plain")], body).await;
    assert_eq!(status, 406);
}

async fn errors_before_execution_are_400_for_modern_clients_and_200_for_legacy_ones(backend: Backend) {
    let router = spawn_router(backend).await;
    for (query, code) in [
        ("{", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let body = json!({ "query": query }).to_string();
        let (status, _, modern) =
            post_raw(&router, &[("content-type", "application/json"), ("accept", MODERN)], &body).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(modern["errors"][0]["extensions"]["code"], code);
        assert!(modern.get("data").is_none());
        let (status, _, legacy) =
            post_raw(&router, &[("content-type", "application/json"), ("accept", "application/json")], &body).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(legacy["errors"][0]["extensions"]["code"], code);
    }
    let validation = json!({ "query": "{ noSuchField }" }).to_string();
    let (_, _, body) = post_raw(&router, &[("content-type", "application/json")], &validation).await;
    assert_eq!(body["errors"][0]["locations"], json!([{ "line": 1, "column": 3 }]));
}

async fn variables_are_coerced_and_bad_ones_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);

    let response = router
        .post(Some(&token), "query($id: ID!) { store(id: $id) { name } }", json!({ "id": null }))
        .await;
    assert_eq!(response.error_code(), "BAD_USER_INPUT");

    let response = router
        .post(
            Some(&token),
            "mutation($input: OpenStoreInput!) { openStore(input: $input) { name } }",
            json!({ "input": { "name": "Corner Shop" } }),
        )
        .await;
    assert_eq!(response.data()["openStore"]["name"], "Corner Shop");
}

async fn malformed_requests_are_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let json_type = ("content-type", "application/json");
    for body in [
        "{ \"not a JSON",
        "[]",
        r#"{"notquery":"{ __typename }"}"#,
        r#"{"query":{"obj":"ect"}}"#,
        r#"{"query":"{ __typename }","variables":"string"}"#,
        r#"{"query":"{ __typename }","variables":[1]}"#,
        r#"{"query":"{ __typename }","operationName":7}"#,
        "",
    ] {
        let (status, _, response) = post_raw(&router, &[json_type], body).await;
        assert_eq!(status, 400, "{body}: {response}");
        assert_eq!(response["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}");
    }
    let (status, _, _) = post_raw(&router, &[], r#"{"query":"{ __typename }"}"#).await;
    assert_eq!(status, 415);
    let (status, _, _) = post_raw(&router, &[("content-type", "text/plain")], r#"{"query":"{ __typename }"}"#).await;
    assert_eq!(status, 415);
}

async fn get_runs_queries_but_not_mutations(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);

    let query = read(
        router
            .http
            .get(router.graphql_url())
            .header("authorization", &token)
            .query(&[("query", "query Me($x: Boolean!) { me { displayName @include(if: $x) } }"), ("variables", "{\"x\":true}")]),
    )
    .await;
    assert_eq!(query.data()["me"]["displayName"], "Ada");

    let response = router
        .http
        .get(router.graphql_url())
        .header("authorization", &token)
        .header("accept", MODERN)
        .query(&[("query", "mutation { logOut }")])
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers().get("allow").and_then(|value| value.to_str().ok()), Some("POST"));
}

async fn a_browser_gets_graphiql_with_its_bundled_assets(backend: Backend) {
    let router = spawn_router(backend).await;

    let response = router
        .http
        .get(router.graphql_url())
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(response.status().as_u16(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_string()
    };
    let content_type = header(&response, "content-type");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let policy = header(&response, "content-security-policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let page = response.text().await.unwrap_or_default();
    assert!(page.contains("<html"));
    assert!(!page.contains("https://") && !page.contains("http://"), "the page must not load anything from elsewhere");

    // The page loads GraphiQL from the router itself, with the content's version in the URL.
    let script = attribute_starting(&page, "src=\"", "/graphiql/graphiql.js?v=");
    let stylesheet = attribute_starting(&page, "href=\"", "/graphiql/graphiql.css?v=");
    for (url, media_type, marker) in [
        (script, "text/javascript", "GraphiQL"),
        (stylesheet, "text/css", ".graphiql-container"),
    ] {
        let response = router.get(&url).await;
        assert_eq!(response.status().as_u16(), 200, "{url}");
        let content_type = header(&response, "content-type");
        assert!(content_type.starts_with(media_type), "{url}: {content_type}");
        let cache_control = header(&response, "cache-control");
        assert!(cache_control.contains("immutable"), "{url}: {cache_control}");
        let body = response.text().await.unwrap_or_default();
        assert!(body.contains(marker), "{url} is not GraphiQL's");
    }
}

/// The value of the `attribute` (`src="`) in `page` that starts with `prefix`.
fn attribute_starting(page: &str, attribute: &str, prefix: &str) -> String {
    page.split(attribute)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|value| value.starts_with(prefix) && value.len() > prefix.len())
        .unwrap_or_else(|| panic!("the page has no {attribute}{prefix}…: {page}"))
        .to_string()
}

async fn operational_endpoints_answer(backend: Backend) {
    let router = spawn_router(backend).await;
    router.post(None, "query Ping { __typename }", json!({})).await.data();

    assert_eq!(router.get("/health").await.status().as_u16(), 200);
    assert_eq!(router.get("/ready").await.status().as_u16(), 200);
    let metrics = router.metrics().await;
    assert_eq!(
        metric(&metrics, "c9pay_graphql_operations_total", &[("operation", "Ping"), ("kind", "query")]),
        Some(1.0),
        "{metrics}"
    );
    assert!(metrics.contains("c9pay_http_requests_total{"), "{metrics}");
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let router = spawn_router(backend).await;
    let response = router
        .http
        .post(router.graphql_url())
        .json(&json!({ "query": "{ me { displayName } }" }))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers().get("www-authenticate").and_then(|value| value.to_str().ok()), Some("Bearer, DPoP algs=\"EdDSA\""));
    let request_id = response.headers().get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default();
    assert_eq!(request_id.len(), 32);
}

on_both_backends!(
    the_response_media_type_follows_accept,
    errors_before_execution_are_400_for_modern_clients_and_200_for_legacy_ones,
    variables_are_coerced_and_bad_ones_refused,
    malformed_requests_are_refused,
    get_runs_queries_but_not_mutations,
    a_browser_gets_graphiql_with_its_bundled_assets,
    operational_endpoints_answer,
    every_response_carries_a_request_id,
);
