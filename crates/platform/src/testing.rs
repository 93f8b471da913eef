//! Helpers for integration tests: a fresh database per test on either backend, internal
//! tokens as the router would mint them, and a small GraphQL client.
//!
//! PostgreSQL tests need `C9PAY_TEST_POSTGRES_URL` (an admin URL of a throwaway server;
//! `scripts/test` starts one). A PostgreSQL test without it fails: it never skips.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::{Connection, Executor};

use crate::{
    config::Secret,
    database::{Backend, DatabaseConfig},
    id::UserId,
    internal_token::{self, InternalTokenSigner, InternalTrustConfig, Principal, ROUTER_ISSUER},
};

/// Runs each named `async fn name(backend: Backend)` once per backend, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::database::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::database::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A database that exists for one test. SQLite files live in a temporary directory that
/// is removed with this value; PostgreSQL databases live in the throwaway test server.
pub struct TestDatabase {
    pub config: DatabaseConfig,
    _directory: Option<tempfile::TempDir>,
    /// PostgreSQL: (admin URL, database name), dropped with this value.
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    /// Drops a PostgreSQL test database, so that a server used for many runs does not
    /// fill its disk (thousands of runs left 28 GB of databases behind before this).
    /// `with (force)` ends the connections the test's services still hold. It runs on a
    /// thread of its own with its own runtime: `Drop` cannot await, and the test's runtime
    /// may be a single thread busy with this very drop.
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin_url).await?;
                connection
                    .execute(format!("drop database if exists {name} with (force)").as_str())
                    .await?;
                connection.close().await?;
                Ok::<(), anyhow::Error>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop a test database: {error:#}");
        }
    }
}

/// A fresh, empty database on `backend`.
pub async fn fresh_database(backend: Backend) -> TestDatabase {
    let name = format!("c9pay_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let directory = match tempfile::tempdir() {
                Ok(directory) => directory,
                Err(error) => panic!("creating a temporary directory: {error}"),
            };
            let path = directory.path().join(format!("{name}.db"));
            TestDatabase {
                config: DatabaseConfig::new(format!("sqlite://{}", path.display())),
                _directory: Some(directory),
                postgres: None,
            }
        }
        Backend::Postgres => {
            let Ok(admin_url) = std::env::var("C9PAY_TEST_POSTGRES_URL") else {
                panic!(
                    "C9PAY_TEST_POSTGRES_URL is not set. PostgreSQL tests never skip: run `scripts/test` \
                     (it starts a throwaway server), or point the variable at a server you own, \
                     or run only SQLite tests with `just test-sqlite`."
                );
            };
            let mut connection = match sqlx::PgConnection::connect(&admin_url).await {
                Ok(connection) => connection,
                Err(error) => panic!("connecting to C9PAY_TEST_POSTGRES_URL: {error}"),
            };
            if let Err(error) = connection
                .execute(format!("create database {name}").as_str())
                .await
            {
                panic!("creating test database {name}: {error}");
            }
            let _ = connection.close().await;
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(base, _)| base);
            let mut config = DatabaseConfig::new(format!("{base}/{name}"));
            // Many tests run at once against one server: keep each pool small.
            config.max_connections = 5;
            TestDatabase {
                config,
                _directory: None,
                postgres: Some((admin_url, name)),
            }
        }
    }
}

/// Internal trust as the router and services have it, with fresh keys.
pub struct TestTrust {
    seeds: BTreeMap<String, Secret<String>>,
    router: InternalTokenSigner,
}

impl TestTrust {
    /// Keys for the router and for each named service.
    pub fn new(services: &[&str]) -> Self {
        let mut seeds = BTreeMap::new();
        for issuer in std::iter::once(&ROUTER_ISSUER).chain(services) {
            seeds.insert((*issuer).to_string(), internal_token::generate_seed());
        }
        let router = match seeds
            .get(ROUTER_ISSUER)
            .map(|seed| InternalTokenSigner::new(ROUTER_ISSUER, seed))
        {
            Some(Ok(signer)) => signer,
            _ => panic!("router signer"),
        };
        Self { seeds, router }
    }

    /// The trust configuration of `service`: its own signing key and every issuer's
    /// public key.
    pub fn config_for(&self, service: &str) -> InternalTrustConfig {
        let trusted_issuers = self
            .seeds
            .iter()
            .map(|(issuer, seed)| match internal_token::public_key_of(seed) {
                Ok(public_key) => (issuer.clone(), public_key),
                Err(error) => panic!("public key of {issuer}: {error}"),
            })
            .collect();
        InternalTrustConfig {
            signing_key: self.seeds.get(service).cloned(),
            trusted_issuers,
        }
    }

    /// The router's private seed, for a test router that must sign as the router these
    /// services trust.
    pub fn router_seed(&self) -> Secret<String> {
        match self.seeds.get(ROUTER_ISSUER) {
            Some(seed) => seed.clone(),
            None => panic!("TestTrust always holds a router key"),
        }
    }

    pub fn authorization_for(&self, principal: &Principal) -> String {
        match self.router.sign(principal) {
            Ok(token) => format!("Bearer {token}"),
            Err(error) => panic!("signing an internal token: {error}"),
        }
    }

    /// `Authorization` header for `principal` as the router would send it, but for
    /// `audience` (see [`internal_token::audience_of`]) and signed `age_s` seconds ago.
    pub fn authorization_as_of(&self, principal: &Principal, audience: &str, age_s: i64) -> String {
        let issued_at = chrono::Utc::now().timestamp() - age_s;
        match self.router.sign_as_of(principal, audience, issued_at) {
            Ok(token) => format!("Bearer {token}"),
            Err(error) => panic!("signing an internal token: {error}"),
        }
    }

    /// `Authorization` header for `principal` under the router's name, signed with a key
    /// nobody trusts.
    pub fn forged(principal: &Principal) -> String {
        let signer = match InternalTokenSigner::new(ROUTER_ISSUER, &internal_token::generate_seed()) {
            Ok(signer) => signer,
            Err(error) => panic!("a signer: {error}"),
        };
        match signer.sign(principal) {
            Ok(token) => format!("Bearer {token}"),
            Err(error) => panic!("signing an internal token: {error}"),
        }
    }

    /// `Authorization` header for a signed-in user, as the router would send it.
    pub fn user(&self, user_id: &UserId) -> String {
        self.authorization_for(&Principal::user(user_id, request_id()))
    }

    /// `Authorization` header for an administrator in an admin session, as the router
    /// would send it (kind `admin`, role and scope `admin`).
    pub fn admin(&self, user_id: &UserId) -> String {
        let mut principal = Principal::user(user_id, request_id());
        principal.kind = internal_token::PrincipalKind::Admin;
        principal.roles = vec!["admin".to_string()];
        principal.scopes = vec!["admin".to_string()];
        principal.session_id = Some(format!("ses_{}", uuid::Uuid::new_v4().simple()));
        self.authorization_for(&principal)
    }

    /// `Authorization` header for an anonymous request, as the router would send it.
    pub fn anonymous(&self) -> String {
        self.authorization_for(&Principal::anonymous(request_id()))
    }

    /// `Authorization` header for `service` calling another service.
    pub fn service(&self, service: &str) -> String {
        let signer = match self
            .seeds
            .get(service)
            .map(|seed| InternalTokenSigner::new(service, seed))
        {
            Some(Ok(signer)) => signer,
            _ => panic!("no key for service {service}"),
        };
        match signer.service_authorization(&request_id()) {
            Ok(header) => header,
            Err(error) => panic!("signing a service token: {error}"),
        }
    }
}

fn request_id() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// A GraphQL response as a test reads it.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub body: Value,
}

impl TestResponse {
    /// `data`, asserting the response has no errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors (HTTP {}): {:#}",
            self.status,
            self.body
        );
        &self.body["data"]
    }

    /// `extensions.code` of the first error, asserting there is one.
    pub fn error_code(&self) -> &str {
        let code = self.body["errors"][0]["extensions"]["code"].as_str();
        match code {
            Some(code) => code,
            None => panic!(
                "expected an error with extensions.code (HTTP {}), got {:#}",
                self.status, self.body
            ),
        }
    }
}

/// Posts GraphQL to one URL.
#[derive(Clone)]
pub struct GraphQLClient {
    http: reqwest::Client,
    url: String,
}

impl GraphQLClient {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into(),
        }
    }

    pub async fn execute(
        &self,
        authorization: Option<&str>,
        query: &str,
        variables: Value,
    ) -> TestResponse {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => panic!("POST {}: {error}", self.url),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        TestResponse { status, body }
    }
}

/// What a GraphQL-over-WebSocket test client reads next.
#[derive(Debug)]
pub enum WebSocketMessage {
    /// A protocol message (`connection_ack`, `next`, `error`, `complete`, `pong`, …).
    Message(Value),
    /// The server closed the connection with this code and reason.
    Closed(u16, String),
}

/// A `graphql-transport-ws` client for tests: sends and reads JSON messages, and waits for
/// each with a generous time-out so that a missing message fails the test instead of
/// hanging it.
pub struct WebSocketClient {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// How long a test waits for one WebSocket message before failing.
pub const WEBSOCKET_WAIT_MS: u64 = 30_000;

impl WebSocketClient {
    /// Connects to `url` (`ws://…`) offering the `graphql-transport-ws` subprotocol.
    pub async fn connect(url: &str) -> Self {
        Self::connect_with(url, Some("graphql-transport-ws")).await
    }

    /// Connects offering `subprotocol`, or none.
    pub async fn connect_with(url: &str, subprotocol: Option<&str>) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = match url.into_client_request() {
            Ok(request) => request,
            Err(error) => panic!("a WebSocket request for {url}: {error}"),
        };
        if let Some(Ok(value)) = subprotocol.map(str::parse) {
            request.headers_mut().insert("sec-websocket-protocol", value);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Self { stream },
            Err(error) => panic!("connecting to {url}: {error}"),
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        if let Err(error) = self.stream.send(Message::Text(text.into())).await {
            panic!("sending a WebSocket message: {error}");
        }
    }

    /// Sends `connection_init` with `payload` and expects `connection_ack`.
    pub async fn init(&mut self, payload: Value) {
        self.send(json!({ "type": "connection_init", "payload": payload })).await;
        match self.read().await {
            WebSocketMessage::Message(message) if message["type"] == "connection_ack" => {}
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    /// Sends `subscribe` for operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Sends `ping` and waits for the `pong` (which [`Self::read`] passes over), failing
    /// on any other message before it.
    pub async fn ping(&mut self) {
        self.send(json!({ "type": "ping" })).await;
        match self.read_any().await {
            WebSocketMessage::Message(message) if message["type"] == "pong" => {}
            other => panic!("expected a pong, got {other:?}"),
        }
    }

    /// The next message other than a ping (answered) or a pong.
    pub async fn read(&mut self) -> WebSocketMessage {
        loop {
            match self.read_any().await {
                WebSocketMessage::Message(message) if message["type"] == "pong" => {}
                other => return other,
            }
        }
    }

    /// The next message other than a ping (answered).
    async fn read_any(&mut self) -> WebSocketMessage {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let wait = std::time::Duration::from_millis(WEBSOCKET_WAIT_MS);
            let message = match tokio::time::timeout(wait, self.stream.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(error))) => panic!("reading a WebSocket message: {error}"),
                Ok(None) => return WebSocketMessage::Closed(1006, "no close frame".to_string()),
                Err(_) => panic!("no WebSocket message within {WEBSOCKET_WAIT_MS} ms"),
            };
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|error| panic!("not JSON ({error}): {text}"));
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                    } else {
                        return WebSocketMessage::Message(value);
                    }
                }
                Message::Close(frame) => {
                    return match frame {
                        Some(frame) => {
                            WebSocketMessage::Closed(frame.code.into(), frame.reason.to_string())
                        }
                        None => WebSocketMessage::Closed(1005, String::new()),
                    };
                }
                _ => {}
            }
        }
    }

    /// The next message, which must be `next` for operation `id`: its `payload`.
    pub async fn next_payload(&mut self, id: &str) -> Value {
        match self.read().await {
            WebSocketMessage::Message(message)
                if message["type"] == "next" && message["id"] == id =>
            {
                message["payload"].clone()
            }
            other => panic!("expected `next` for {id}, got {other:?}"),
        }
    }

    /// Reads until the server closes the connection; its close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            if let WebSocketMessage::Closed(code, reason) = self.read().await {
                return (code, reason);
            }
        }
    }

    /// Closes the connection from the client's side.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// The value of a sample on the `/metrics` page at `base_url` whose line starts with
/// `prefix` (a metric name with the start of its labels), or `"missing"`.
pub async fn metric_sample(base_url: &str, prefix: &str) -> String {
    let page = match reqwest::get(format!("{}/metrics", base_url.trim_end_matches('/'))).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => panic!("reading {base_url}/metrics: {error}"),
    };
    page.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .unwrap_or("missing")
        .to_string()
}

/// The state of the circuit breaker in front of `dependency` in the part at `base_url`:
/// `"0"` closed, `"1"` half-open, `"2"` open.
pub async fn breaker_state(base_url: &str, dependency: &str) -> String {
    metric_sample(base_url, &format!("c9pay_circuit_breaker_state{{dependency=\"{dependency}\"")).await
}
/// What a [`FaultyProxy`] does with the next bytes it sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Everything passes both ways.
    None,
    /// Requests reach the service, but its answers are dropped: the caller sees a
    /// service that hangs after it received the request, the case where a payment's
    /// outcome is unknown.
    SwallowAnswers,
    /// New connections are closed at once, as when the service is down.
    RefuseConnections,
}

/// A TCP proxy in front of a service, on port 0, that can be told to misbehave
/// ([`Fault`]) and to recover, while the service behind it keeps running.
#[derive(Clone)]
pub struct FaultyProxy {
    /// `http://127.0.0.1:<port>` of the proxy.
    pub url: String,
    fault: std::sync::Arc<std::sync::Mutex<Fault>>,
    /// Wakes every relay to close its connection ([`FaultyProxy::sever`]).
    severed: std::sync::Arc<tokio::sync::Notify>,
}

impl FaultyProxy {
    /// Starts a proxy to `upstream` (`http://host:port`). Callable outside async code, as
    /// long as a Tokio runtime is current.
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .and_then(tokio::net::TcpListener::from_std)
            .unwrap_or_else(|error| panic!("binding a proxy: {error}"));
        let port = listener.local_addr().map(|address| address.port()).unwrap_or_default();
        let fault = std::sync::Arc::new(std::sync::Mutex::new(Fault::None));
        let proxy = Self {
            url: format!("http://127.0.0.1:{port}"),
            fault,
            severed: std::sync::Arc::new(tokio::sync::Notify::new()),
        };
        let serving = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if serving.fault() == Fault::RefuseConnections {
                    drop(client);
                    continue;
                }
                tokio::spawn(serving.clone().relay(client, upstream.clone()));
            }
        });
        proxy
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
    }

    /// Closes every connection open through the proxy now (as when the service behind it
    /// restarts); new ones pass as before.
    pub fn sever(&self) {
        self.severed.notify_waiters();
    }

    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn relay(self, client: tokio::net::TcpStream, upstream: String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
            return;
        };
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let requests = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        });
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            let read = tokio::select! {
                read = server_read.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(read) => read,
                },
                () = self.severed.notified() => break,
            };
            if self.fault() == Fault::SwallowAnswers {
                continue;
            }
            let Some(chunk) = buffer.get(..read) else { break };
            if client_write.write_all(chunk).await.is_err() {
                break;
            }
        }
        requests.abort();
    }
}
