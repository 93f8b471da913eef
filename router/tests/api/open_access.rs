//! `access = "open"`: the router as a plain gateway in front of any supergraph, calling
//! the subgraph URLs written in it, with no authentication and no credential sent. (The
//! default refusing anonymous requests is `access_tokens::a_request_without_a_token_reaches_no_subgraph`;
//! that no configuration c9pay ships enables it is checked in `config.rs` and `up.rs`.)

use std::sync::{Arc, Mutex};

use axum::{extract::State, http::HeaderMap, routing};
use c9pay_router::RouterConfig;
use serde_json::{Value, json};

/// One subgraph, `greetings`, at `{url}`: `hello` for anyone, `secret` only signed in.
fn supergraph(url: &str) -> String {
    format!(
        r#"schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY) {{
  query: Query
}}

directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet
scalar link__Import

enum join__Graph {{
  GREETINGS @join__graph(name: "greetings", url: "{url}")
}}

enum link__Purpose {{
  SECURITY
  EXECUTION
}}

type Query @join__type(graph: GREETINGS) {{
  hello: String
  secret: String @authenticated
}}
"#
    )
}

/// What the subgraph was sent: the `Authorization` header of each fetch, if any.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

async fn greetings(State(seen): State<Seen>, headers: HeaderMap) -> axum::Json<Value> {
    let authorization = headers
        .get("authorization")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(authorization);
    axum::Json(json!({ "data": { "hello": "world" } }))
}

/// The subgraph on port 0, and an open router in front of a supergraph naming it.
async fn open_router() -> (String, Seen) {
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|error| panic!("{error}"));
    let address = listener.local_addr().unwrap_or_else(|error| panic!("{error}"));
    let app = axum::Router::new().route("/greetings", routing::post(greetings)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let path = std::env::temp_dir().join(format!("c9pay-open-supergraph-{}.graphql", address.port()));
    std::fs::write(&path, supergraph(&format!("http://{address}/greetings"))).unwrap_or_else(|error| panic!("{error}"));
    let router = match c9pay_router::build(&RouterConfig::open("127.0.0.1:0", &path)).await {
        Ok(router) => router,
        Err(error) => panic!("building the open router: {error:#}"),
    };
    let url = format!("http://{}/graphql", router.address());
    tokio::spawn(router.run_until(std::future::pending()));
    (url, seen)
}

async fn post(url: &str, authorization: Option<&str>, query: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).json(&json!({ "query": query }));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap_or_else(|error| panic!("{error}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_else(|error| panic!("{error}")))
}

#[tokio::test]
async fn an_open_router_serves_a_plain_supergraph_at_its_own_urls_without_credentials() {
    let (url, seen) = open_router().await;

    let (status, body) = post(&url, None, "{ hello }").await;
    // A client's header is neither checked nor passed on.
    let (status_with_header, body_with_header) = post(&url, Some("Bearer not-a-token"), "query Hi { hello }").await;

    assert_eq!((status, &body), (200, &json!({ "data": { "hello": "world" } })));
    assert_eq!((status_with_header, &body_with_header), (200, &json!({ "data": { "hello": "world" } })));
    let seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    assert_eq!(seen, vec![None, None], "the subgraph was called once per request, with no Authorization");
}

#[tokio::test]
async fn an_open_router_still_refuses_what_the_supergraph_reserves_for_signed_in_callers() {
    let (url, seen) = open_router().await;

    let (status, body) = post(&url, Some("Bearer not-a-token"), "{ hello secret }").await;

    assert_eq!(status, 403, "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body:#}");
    assert!(seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).is_empty());
}
