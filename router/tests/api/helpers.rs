//! The whole platform on port 0: users, credit, auth and stores, each with a fresh
//! database on the backend under test, all trusting one test router key; and the router
//! in front of them, loading the committed supergraph. Typed helpers send GraphQL the way
//! a client would.

use std::{collections::BTreeMap, path::PathBuf};

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use c9pay_auth::AuthConfig;
use c9pay_platform::{
    database::{Backend, Database},
    testing::{TestDatabase, TestResponse, TestTrust, fresh_database},
};
use c9pay_router::RouterConfig;
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";
/// The one account the test platform treats as an admin (auth's `admin_emails`).
pub const ADMIN_EMAIL: &str = "root@example.com";

pub struct TestRouter {
    /// `http://127.0.0.1:<port>` of the router.
    pub address: String,
    /// Subgraph name → base URL, for calling subgraphs directly.
    pub subgraphs: BTreeMap<String, String>,
    pub trust: TestTrust,
    pub auth_database: Database,
    pub http: reqwest::Client,
    /// The credit subgraph's configuration, for a second replica on the same database.
    pub credit_config: c9pay_credit::CreditConfig,
    _databases: Vec<TestDatabase>,
}

pub fn supergraph_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/supergraph.graphql")
}

pub async fn spawn_router(backend: Backend) -> TestRouter {
    spawn_router_with(backend, |_| {}).await
}

fn started<T>(what: &str, result: anyhow::Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("building {what}: {error:#}"),
    }
}

/// Starts everything; `adjust` may change the router's configuration first.
pub async fn spawn_router_with(backend: Backend, adjust: impl FnOnce(&mut RouterConfig)) -> TestRouter {
    // Logs show only when a test fails (the test runner captures them otherwise).
    c9pay_platform::telemetry::init(c9pay_platform::telemetry::LogFormat::Pretty);
    let trust = TestTrust::new(&["auth", "credit", "stores"]);
    let mut databases = Vec::new();

    let database = fresh_database(backend).await;
    let users = started(
        "users",
        c9pay_users::build(&c9pay_users::UsersConfig::new(
            "127.0.0.1:0",
            database.config.clone(),
            trust.config_for("users"),
        ))
        .await,
    );
    databases.push(database);
    let users_url = format!("http://{}", users.address());
    tokio::spawn(users.run_until(std::future::pending()));

    let database = fresh_database(backend).await;
    let mut auth_config = AuthConfig::new(
        "127.0.0.1:0",
        database.config.clone(),
        trust.config_for("auth"),
        users_url.clone(),
    );
    auth_config.admin_emails = vec![ADMIN_EMAIL.to_string()];
    // A rotated key signs at once and every request sees it: rotation tests need no waits.
    auth_config.signing_key_reload_interval_ms = 0;
    auth_config.signing_key_publish_ahead_ms = 0;
    let auth = started("auth", c9pay_auth::build(&auth_config).await);
    let auth_database = started("the auth database", c9pay_auth::open_database(&auth_config).await);
    databases.push(database);
    let auth_url = format!("http://{}", auth.address());
    tokio::spawn(auth.run_until(std::future::pending()));

    // Credit after auth: it verifies payment codes with auth's keys, and asks users
    // whether the recipient of a gift exists.
    let database = fresh_database(backend).await;
    let credit_config =
        c9pay_credit::CreditConfig::new("127.0.0.1:0", database.config.clone(), trust.config_for("credit"))
            .with_users_url(users_url.clone())
            .with_auth_jwks_url(format!("{auth_url}/.well-known/jwks.json"));
    let credit = started("credit", c9pay_credit::build(&credit_config).await);
    databases.push(database);
    let credit_url = format!("http://{}", credit.address());
    tokio::spawn(credit.run_until(std::future::pending()));

    let database = fresh_database(backend).await;
    let stores = started(
        "stores",
        c9pay_stores::build(&c9pay_stores::StoresConfig::new(
            "127.0.0.1:0",
            database.config.clone(),
            trust.config_for("stores"),
            credit_url.clone(),
        )
        .with_auth_url(auth_url.clone()))
        .await,
    );
    databases.push(database);
    let stores_url = format!("http://{}", stores.address());
    tokio::spawn(stores.run_until(std::future::pending()));

    let subgraphs: BTreeMap<String, String> = [
        ("auth", auth_url.clone()),
        ("credit", credit_url),
        ("stores", stores_url),
        ("users", users_url),
    ]
    .into_iter()
    .map(|(name, url)| (name.to_string(), url))
    .collect();
    let mut config = RouterConfig::new(
        "127.0.0.1:0",
        supergraph_path(),
        subgraphs.clone(),
        format!("{auth_url}/.well-known/jwks.json"),
        trust.router_seed(),
    );
    // Log-outs reach the router within a poll; tests wait for them, so poll often.
    config.revocations.poll_interval_ms = 50;
    adjust(&mut config);
    let router = started("the router", c9pay_router::build(&config).await);
    let address = format!("http://{}", router.address());
    tokio::spawn(router.run_until(std::future::pending()));

    TestRouter {
        address,
        subgraphs,
        trust,
        auth_database,
        http: reqwest::Client::new(),
        credit_config,
        _databases: databases,
    }
}

/// A second router and credit pair, as a second replica of each would run: this credit
/// shares the first one's database (and nothing else), this router sends credit's
/// fetches to it and everything else to the first stack's subgraphs. Returns the second
/// router's address. `adjust` may change the second credit's configuration.
pub async fn spawn_replica(
    first: &TestRouter,
    adjust: impl FnOnce(&mut c9pay_credit::CreditConfig),
) -> String {
    let mut credit_config = first.credit_config.clone();
    adjust(&mut credit_config);
    let credit = started("a second credit", c9pay_credit::build(&credit_config).await);
    let credit_url = format!("http://{}", credit.address());
    tokio::spawn(credit.run_until(std::future::pending()));
    let mut subgraphs = first.subgraphs.clone();
    subgraphs.insert("credit".to_string(), credit_url);
    let auth_url = first.subgraphs.get("auth").cloned().unwrap_or_default();
    let config = RouterConfig::new(
        "127.0.0.1:0",
        supergraph_path(),
        subgraphs,
        format!("{auth_url}/.well-known/jwks.json"),
        first.trust.router_seed(),
    );
    let router = started("a second router", c9pay_router::build(&config).await);
    let address = format!("http://{}", router.address());
    tokio::spawn(router.run_until(std::future::pending()));
    address
}

pub const SIGN_UP: &str = "mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) { accessToken tokenType user { id email } }
}";
pub const LOG_IN: &str = "mutation LogIn($input: LogInInput!) {
    logIn(input: $input) { accessToken user { id } }
}";
pub const LOG_IN_WITH_REFRESH: &str = "mutation LogIn($input: LogInInput!) {
    logIn(input: $input) { accessToken refreshToken expiresAt refreshTokenExpiresAt }
}";
pub const REFRESH: &str = "mutation Refresh($token: String!) {
    refreshSession(input: { refreshToken: $token }) { accessToken refreshToken }
}";
pub const ME: &str = "{ me { displayName } }";

/// One log-in's credentials.
#[derive(Clone, Debug)]
pub struct Session {
    /// `Bearer <access token>`.
    pub authorization: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestRouter {
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.address)
    }

    /// `ws://…/graphql` of the router.
    pub fn websocket_url(&self) -> String {
        websocket_url(&self.address)
    }

    /// Posts `query` with `variables`, and `headers` as given (names and values).
    pub async fn post_with(&self, headers: &[(&str, &str)], query: &str, variables: Value) -> TestResponse {
        let mut request = self
            .http
            .post(self.graphql_url())
            .json(&json!({ "query": query, "variables": variables }));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request).await
    }

    /// Posts as a client with an optional `Authorization` header value.
    pub async fn post(&self, authorization: Option<&str>, query: &str, variables: Value) -> TestResponse {
        match authorization {
            Some(authorization) => {
                self.post_with(&[("authorization", authorization)], query, variables)
                    .await
            }
            None => self.post_with(&[], query, variables).await,
        }
    }

    /// Signs up through the router and returns the access token.
    pub async fn sign_up(&self, email: &str, display_name: &str) -> String {
        let input = json!({ "email": email, "password": PASSWORD, "displayName": display_name });
        let response = self.post(None, SIGN_UP, json!({ "input": input })).await;
        token_of(&response.data()["signUp"])
    }

    /// Logs in through the router and returns the access token.
    pub async fn log_in(&self, email: &str) -> String {
        let input = json!({ "email": email, "password": PASSWORD });
        let response = self.post(None, LOG_IN, json!({ "input": input })).await;
        token_of(&response.data()["logIn"])
    }

    /// Logs in through the router and returns the whole session.
    pub async fn log_in_session(&self, email: &str) -> Session {
        let input = json!({ "email": email, "password": PASSWORD });
        let response = self.post(None, LOG_IN_WITH_REFRESH, json!({ "input": input })).await;
        session_of(&response.data()["logIn"])
    }

    /// `refreshSession` through the router, anonymously as a client would.
    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.post(None, REFRESH, json!({ "token": refresh_token })).await
    }

    /// Whether `authorization` is refused as unauthenticated, waiting up to five seconds
    /// for a revocation to reach the router (it polls auth's feed every 50 ms in tests).
    pub async fn eventually_refused(&self, authorization: &str) -> bool {
        for _ in 0..100 {
            let response = self.post(Some(authorization), ME, json!({})).await;
            if response.status == 401 {
                return response.error_code() == "UNAUTHENTICATED";
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        match self.http.get(format!("{}{path}", self.address)).send().await {
            Ok(response) => response,
            Err(error) => panic!("GET {path}: {error}"),
        }
    }

    /// The router's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap_or_default()
    }

    /// The key auth signs access tokens with: (key id, seed), read from its database.
    pub async fn auth_signing_key(&self) -> (String, [u8; 32]) {
        use sqlx::Row;
        let row = sqlx::query(
            "select kid, private_seed from signing_key where retired_at_ms is null
             order by created_at_ms desc, kid desc limit 1",
        )
        .fetch_one(self.auth_database.pool())
        .await
        .unwrap_or_else(|error| panic!("reading auth's signing key: {error}"));
        let kid: String = row.try_get("kid").unwrap_or_default();
        let seed: String = row.try_get("private_seed").unwrap_or_default();
        let seed: [u8; 32] = STANDARD
            .decode(seed)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .unwrap_or_else(|| panic!("auth's seed is not 32 bytes"));
        (kid, seed)
    }

    /// Publishes a new key in auth's JWKS (as a key rotation would) and returns it.
    pub async fn add_auth_signing_key(&self) -> (String, [u8; 32]) {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let public_key = key.verifying_key().to_bytes();
        let kid = format!("rotated-{}", URL_SAFE_NO_PAD.encode(&public_key[..8]));
        sqlx::query(
            "insert into signing_key (kid, private_seed, public_key, created_at_ms) values ($1, $2, $3, $4)",
        )
        .bind(&kid)
        .bind(STANDARD.encode(key.to_bytes()))
        .bind(STANDARD.encode(public_key))
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(self.auth_database.pool())
        .await
        .unwrap_or_else(|error| panic!("adding a signing key: {error}"));
        (kid, key.to_bytes())
    }
}


pub async fn read(request: reqwest::RequestBuilder) -> TestResponse {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => panic!("sending a request: {error}"),
    };
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    TestResponse { status, body }
}

pub fn session_of(payload: &Value) -> Session {
    let access_token = token_of(payload);
    let refresh_token = match payload["refreshToken"].as_str() {
        Some(token) => token.to_string(),
        None => panic!("no refresh token in {payload:#}"),
    };
    Session { authorization: bearer(&access_token), access_token, refresh_token }
}

fn token_of(payload: &Value) -> String {
    match payload["accessToken"].as_str() {
        Some(token) => token.to_string(),
        None => panic!("no access token in {payload:#}"),
    }
}

/// The value of metric `name` with exactly these labels (besides `service`), if present.
pub fn metric(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, label_text) = series.split_once('{')?;
        if series_name != name {
            return None;
        }
        let mut found: Vec<(String, String)> = label_text
            .trim_end_matches('}')
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('"').to_string()))
            .filter(|(key, _)| key != "service")
            .collect();
        found.sort();
        let mut wanted: Vec<(String, String)> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        wanted.sort();
        (found == wanted).then(|| value.parse().ok()).flatten()
    })
}

/// Claims like auth's, for `subject`, expiring `expires_in_s` from now.
pub fn claims(subject: &str, expires_in_s: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "c9pay-auth", "aud": "c9pay", "sub": subject, "kind": "user",
        "sid": "session", "jti": "jti", "iat": now, "exp": now + expires_in_s,
    })
}

/// An EdDSA token over `claims` signed with `seed`, naming key `kid`.
pub fn sign_eddsa(claims: &Value, kid: &str, seed: &[u8; 32]) -> String {
    let der = SigningKey::from_bytes(seed)
        .to_pkcs8_der()
        .unwrap_or_else(|error| panic!("{error}"));
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes()))
        .unwrap_or_else(|error| panic!("signing: {error}"))
}

/// The user id inside an access token (read without verifying: tests only).
pub fn subject_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
    let claims: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    claims["sub"].as_str().unwrap_or_default().to_string()
}

/// A token made of the given header and claims and a garbage signature part.
pub fn unsigned_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `ws://…/graphql` of a router at `http://…`.
pub fn websocket_url(address: &str) -> String {
    format!("{}/graphql", address.replacen("http://", "ws://", 1))
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
