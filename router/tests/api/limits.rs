//! Every limit refuses with its own code, before anything reaches a subgraph; a slow or
//! missing subgraph costs the client one clear error, not the whole response.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::json;

use crate::helpers::{bearer, metric, spawn_router, spawn_router_with};

async fn a_query_nested_too_deep_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let mut query = "displayName".to_string();
    for _ in 0..8 {
        query = format!("stores {{ owner {{ {query} }} }}");
    }
    let query = format!("{{ me {{ {query} }} }}");

    let response = router.post(Some(&token), &query, json!({})).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.error_code(), "QUERY_TOO_DEEP");
    assert!(response.body.get("data").is_none());
}

async fn too_many_aliases_are_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let aliases: Vec<String> = (0..31).map(|index| format!("a{index}: me {{ displayName }}")).collect();
    let query = format!("{{ {} }}", aliases.join(" "));

    let response = router.post(Some(&token), &query, json!({})).await;

    assert_eq!(response.error_code(), "TOO_MANY_ALIASES");
    // Thirty are fine.
    let aliases: Vec<String> = (0..30).map(|index| format!("a{index}: me {{ displayName }}")).collect();
    let response = router.post(Some(&token), &format!("{{ {} }}", aliases.join(" ")), json!({})).await;
    assert_eq!(response.data()["a29"]["displayName"], "Ada");
}

async fn a_document_with_too_many_tokens_is_refused(backend: Backend) {
    let router = spawn_router(backend).await;
    let query = format!("{{ {} }}", vec!["__typename"; 5_000].join(" "));

    let response = router.post(None, &query, json!({})).await;

    assert_eq!(response.error_code(), "QUERY_TOO_COMPLEX");
}

async fn a_fragment_bomb_is_refused_without_expanding_it(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let mut query = String::from("query Bomb { ...F0 }\n");
    for level in 0..40 {
        query.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n",
            next = level + 1
        ));
    }
    query.push_str("fragment F40 on Query { me { displayName } }\n");

    let response = router.post(Some(&token), &query, json!({})).await;

    assert_eq!(response.error_code(), "QUERY_TOO_COMPLEX");
}

async fn a_body_over_the_size_limit_is_refused(backend: Backend) {
    let router = spawn_router_with(backend, |config| config.limits.body_size_max_bytes = 1_024).await;
    let padding = " ".repeat(2_000);

    let response = router.post(None, &format!("{{ __typename {padding} }}"), json!({})).await;

    assert_eq!(response.status, 413);
    assert_eq!(response.error_code(), "PAYLOAD_TOO_LARGE");
}

/// A refusal sent before the body was read closes the connection, so that the unread
/// body is never taken for a next request and a client that pools connections does not
/// send its next request on a connection the router is about to drop.
async fn a_refusal_before_the_body_is_read_closes_the_connection(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let router = spawn_router_with(backend, |config| config.limits.body_size_max_bytes = 1_024).await;
    let host = router.address.trim_start_matches("http://").to_string();
    let requests = [
        ("application/json", 4_096, "413"),
        ("text/plain", 64, "415"),
    ];
    for (content_type, length, status) in requests {
        let mut connection = match tokio::net::TcpStream::connect(&host).await {
            Ok(connection) => connection,
            Err(error) => panic!("connecting to the router: {error}"),
        };
        // The headers and only the start of the body: the router answers without reading it.
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n{{\"query\": \"{{"
        );
        if let Err(error) = connection.write_all(head.as_bytes()).await {
            panic!("writing: {error}");
        }
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), connection.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        assert!(read.is_ok(), "the router closed the connection after answering: {answer}");
        assert!(answer.starts_with(&format!("http/1.1 {status}")), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
    }
    // The router goes on answering on new connections.
    let response = router.post(None, "{ __typename }", json!({})).await;
    assert_eq!(response.status, 200);
}

/// A TCP listener that accepts connections and never answers.
async fn black_hole() -> String {
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => panic!("binding: {error}"),
    };
    let address = listener.local_addr().map(|address| address.to_string()).unwrap_or_default();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    format!("http://{address}")
}

async fn a_subgraph_that_does_not_answer_in_time_costs_only_its_fields(backend: Backend) {
    let silent = black_hole().await;
    let router = spawn_router_with(backend, |config| {
        config.subgraph_urls.insert("stores".to_string(), silent);
        config.limits.subgraph_timeouts_ms.insert("stores".to_string(), 300);
    })
    .await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);

    let response = router
        .post(Some(&token), "{ me { displayName wallet { balance } stores { name } } }", json!({}))
        .await;

    assert_eq!(response.status, 200);
    assert_eq!(response.error_code(), "SUBGRAPH_TIMEOUT", "{:#}", response.body);
    assert!(response.body["errors"][0]["extensions"]["requestId"].is_string());
    let metrics = router.metrics().await;
    assert_eq!(
        metric(&metrics, "c9pay_subgraph_fetch_errors_total", &[("subgraph", "stores"), ("kind", "failed")]),
        Some(1.0),
        "{metrics}"
    );
}

async fn an_unreachable_subgraph_is_masked_with_the_request_id(backend: Backend) {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
        listener.local_addr().map(|address| address.port()).unwrap_or_default()
    };
    let router = spawn_router_with(backend, |config| {
        config
            .subgraph_urls
            .insert("credit".to_string(), format!("http://127.0.0.1:{port}"));
    })
    .await;
    let token = bearer(&router.sign_up("ada@example.com", "Ada").await);

    let response = router
        .post(Some(&token), "{ me { displayName wallet { balance } } }", json!({}))
        .await;

    assert_eq!(response.error_code(), "INTERNAL_SERVER_ERROR", "{:#}", response.body);
    let error = &response.body["errors"][0];
    let request_id = error["extensions"]["requestId"].as_str().unwrap_or_default();
    assert!(!request_id.is_empty());
    assert!(error["message"].as_str().is_some_and(|message| message.contains(request_id)));
    assert!(!response.body.to_string().contains(&port.to_string()), "{:#}", response.body);
}

on_both_backends!(
    a_query_nested_too_deep_is_refused,
    too_many_aliases_are_refused,
    a_document_with_too_many_tokens_is_refused,
    a_fragment_bomb_is_refused_without_expanding_it,
    a_body_over_the_size_limit_is_refused,
    a_refusal_before_the_body_is_read_closes_the_connection,
    a_subgraph_that_does_not_answer_in_time_costs_only_its_fields,
    an_unreachable_subgraph_is_masked_with_the_request_id,
);
