//! Identical queries in flight at once for one principal share one subgraph fetch;
//! different principals never share, and mutations never do. A proxy in front of the
//! stores subgraph counts the fetches that reach it and holds each for a while, so that
//! concurrent requests are in flight together.

use std::{
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::{Value, json};

use crate::helpers::{TestRouter, bearer, spawn_router_with};

/// How long the proxy holds each fetch before passing it on.
const HOLD: Duration = Duration::from_millis(1_500);

/// One fetch as the proxy saw it.
#[derive(Clone, Debug)]
struct Fetch {
    authorization: String,
    request_id: Option<String>,
}

#[derive(Clone)]
struct Proxy {
    target: Arc<OnceLock<String>>,
    fetches: Arc<Mutex<Vec<Fetch>>>,
    http: reqwest::Client,
}

impl Proxy {
    fn seen(&self) -> Vec<Fetch> {
        self.fetches.lock().map(|fetches| fetches.clone()).unwrap_or_default()
    }
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_string);
    if let Ok(mut fetches) = proxy.fetches.lock() {
        fetches.push(Fetch { authorization: header("authorization").unwrap_or_default(), request_id: header("x-request-id") });
    }
    tokio::time::sleep(HOLD).await;
    let target = proxy.target.get().cloned().unwrap_or_default();
    let mut request = proxy.http.post(format!("{target}/graphql")).header("content-type", "application/json").body(body);
    for name in ["authorization", "x-request-id"] {
        if let Some(value) = header(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = response.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], body).into_response()
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// The router with its fetches from stores going through a counting proxy.
async fn router_behind_proxy(backend: Backend) -> (TestRouter, Proxy) {
    let proxy = Proxy { target: Arc::new(OnceLock::new()), fetches: Arc::default(), http: reqwest::Client::new() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|error| panic!("{error}"));
    let address = listener.local_addr().unwrap_or_else(|error| panic!("{error}"));
    let app = axum::Router::new().route("/graphql", post(forward)).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let target = proxy.target.clone();
    let router = spawn_router_with(backend, |config| {
        if let Some(stores) = config.subgraph_urls.insert("stores".to_string(), format!("http://{address}")) {
            let _ = target.set(stores);
        }
    })
    .await;
    (router, proxy)
}

/// The claims of an internal token, unverified (the subgraph verifies them).
fn claims_of(authorization: &str) -> Value {
    let payload = authorization.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

const STORE: &str = "query Store($id: ID!) { store(id: $id) { name } }";

async fn identical_queries_of_one_principal_share_one_fetch(backend: Backend) {
    let (router, proxy) = router_behind_proxy(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let variables = json!({ "id": "sto_00000000000000000000000000000000" });

    let (first, second) = tokio::join!(router.post(Some(&ada), STORE, variables.clone()), router.post(Some(&ada), STORE, variables.clone()));

    assert_eq!(first.body, second.body);
    let fetches = proxy.seen();
    assert_eq!(fetches.len(), 1, "{fetches:?}");
    let claims = claims_of(&fetches[0].authorization);
    assert_eq!(claims["aud"], "c9pay-internal:stores", "{claims}");
    assert!(claims.get("rid").is_none(), "a shared fetch names no request: {claims}");
    assert_eq!(fetches[0].request_id, None);
}

async fn different_principals_never_share_a_fetch(backend: Backend) {
    let (router, proxy) = router_behind_proxy(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let bob = bearer(&router.sign_up("bob@example.com", "Bob").await);
    let variables = json!({ "id": "sto_00000000000000000000000000000000" });

    tokio::join!(router.post(Some(&ada), STORE, variables.clone()), router.post(Some(&bob), STORE, variables.clone()));

    let fetches = proxy.seen();
    assert_eq!(fetches.len(), 2, "{fetches:?}");
    let subjects: Vec<Value> = fetches.iter().map(|fetch| claims_of(&fetch.authorization)["sub"].clone()).collect();
    assert_ne!(subjects[0], subjects[1]);
}

async fn identical_mutations_never_share_a_fetch(backend: Backend) {
    let (router, proxy) = router_behind_proxy(backend).await;
    let ada = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let open = "mutation { openStore(input: { name: \"Ada's Coffee\" }) { name } }";

    tokio::join!(router.post(Some(&ada), open, json!({})), router.post(Some(&ada), open, json!({})));

    let fetches = proxy.seen();
    assert_eq!(fetches.len(), 2, "{fetches:?}");
    // Each carries its own request id beside the shared token.
    assert!(fetches.iter().all(|fetch| fetch.request_id.is_some()), "{fetches:?}");
    assert_ne!(fetches[0].request_id, fetches[1].request_id);
}

on_both_backends!(
    identical_queries_of_one_principal_share_one_fetch,
    different_principals_never_share_a_fetch,
    identical_mutations_never_share_a_fetch,
);
