//! Stores on port 0 with a fresh database, next to a real credit subgraph (its own fresh
//! database), both trusting the same test router; and typed ways to talk to them.
//!
//! Payment codes are signed by a [`CodeIssuer`] playing auth: it holds an Ed25519 key and
//! publishes it in a JWKS that credit is configured to trust (`auth_jwks_url`), so that
//! tests can make expired, forged or reused codes at will.

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use c9pay_credit::domain::OwnerKind;
use c9pay_platform::{
    circuit_breaker::CircuitBreakerConfig,
    database::{Backend, Database},
    id::{StoreId, UserId},
    internal_token::{InternalTrustConfig, Principal, PrincipalKind},
    jwks::ed25519_jwk,
    money::Amount,
    payment_code::{self, PaymentCode},
    testing::{FaultyProxy, GraphQLClient, TestDatabase, TestResponse, TestTrust, fresh_database},
    time::now_ms,
};
use c9pay_stores::StoresConfig;
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

pub struct TestCredit {
    pub graphql: GraphQLClient,
    pub database: Database,
    _database: TestDatabase,
}

pub struct TestStores {
    pub graphql: GraphQLClient,
    pub trust: TestTrust,
    pub database: Database,
    /// `None` when stores was started with credit unreachable.
    pub credit: Option<TestCredit>,
    /// Signs payment codes that credit accepts.
    pub codes: CodeIssuer,
    /// Between stores and credit, when the test asked for one.
    pub proxy: Option<CreditProxy>,
    /// Where stores calls credit (the proxy when there is one).
    pub credit_url: String,
    /// Auth, when the test started one (for kiosks).
    pub auth: Option<TestAuth>,
    /// `http://127.0.0.1:<port>` of stores.
    pub address: String,
    _database: TestDatabase,
}

/// Auth's database lives as long as the test's stores.
pub struct TestAuth {
    _database: TestDatabase,
}

/// Starts credit, then stores pointing at it.
pub async fn spawn_stores(backend: Backend) -> TestStores {
    spawn_stores_with_credit_trust(backend, |_| {}).await
}

/// Starts credit with its trust configuration changed by `adjust`, then stores.
pub async fn spawn_stores_with_credit_trust(backend: Backend, adjust: impl FnOnce(&mut InternalTrustConfig)) -> TestStores {
    let trust = TestTrust::new(&["stores"]);
    let mut credit_trust = trust.config_for("credit");
    adjust(&mut credit_trust);
    let codes = CodeIssuer::spawn().await;
    let credit = spawn_credit(backend, credit_trust, &codes.jwks_url).await;
    let credit_url = credit.graphql_base();
    spawn_stores_with(backend, trust, credit_url, Some(credit.into_parts()), codes, Spawn::default()).await
}

/// Starts credit and auth (which keeps kiosks), then stores pointing at both.
pub async fn spawn_stores_with_auth(backend: Backend) -> TestStores {
    spawn_stores_with_auth_through(backend, None, CircuitBreakerConfig::default()).await
}

/// Like [`spawn_stores_with_auth`], stores reaching auth through a [`FaultyProxy`] the
/// test controls, with `breaker` in front of auth.
pub async fn spawn_stores_with_auth_behind_proxy(backend: Backend, breaker: CircuitBreakerConfig) -> (TestStores, FaultyProxy) {
    let mut started = None;
    let stores = spawn_stores_with_auth_through(backend, Some(&mut started), breaker).await;
    (stores, started.unwrap_or_else(|| panic!("the proxy in front of auth did not start")))
}

async fn spawn_stores_with_auth_through(
    backend: Backend,
    proxy: Option<&mut Option<FaultyProxy>>,
    auth_breaker: CircuitBreakerConfig,
) -> TestStores {
    let trust = TestTrust::new(&["stores", "auth"]);
    let codes = CodeIssuer::spawn().await;
    let credit = spawn_credit(backend, trust.config_for("credit"), &codes.jwks_url).await;
    let auth_database = fresh_database(backend).await;
    // Auth asks users only when someone signs up, which these tests never do.
    let auth_config = c9pay_auth::AuthConfig::new("127.0.0.1:0", auth_database.config.clone(), trust.config_for("auth"), "http://127.0.0.1:9");
    let auth = c9pay_auth::build(&auth_config).await.expect("building the auth subgraph");
    let mut auth_url = format!("http://{}", auth.address());
    tokio::spawn(auth.run_until(std::future::pending()));
    if let Some(proxy) = proxy {
        let started = FaultyProxy::start(&auth_url);
        auth_url.clone_from(&started.url);
        *proxy = Some(started);
    }
    let credit_url = credit.graphql_base();
    let spawn = Spawn { auth_url: Some(auth_url), auth_breaker, ..Spawn::default() };
    let mut stores = spawn_stores_with(backend, trust, credit_url, Some(credit.into_parts()), codes, spawn).await;
    stores.auth = Some(TestAuth { _database: auth_database });
    stores
}

/// Starts credit, and stores talking to it through a [`CreditProxy`] the test controls.
pub async fn spawn_stores_behind_proxy(backend: Backend) -> TestStores {
    let trust = TestTrust::new(&["stores"]);
    let codes = CodeIssuer::spawn().await;
    let credit = spawn_credit(backend, trust.config_for("credit"), &codes.jwks_url).await;
    let proxy = CreditProxy::spawn(credit.address.trim_start_matches("http://").to_string()).await;
    let proxy_url = proxy.url.clone();
    spawn_stores_with(backend, trust, proxy_url, Some(credit.into_parts()), codes, Spawn { proxy: Some(proxy), ..Spawn::default() }).await
}

/// Like [`spawn_stores_behind_proxy`], with `breaker` in front of credit.
pub async fn spawn_stores_behind_proxy_with_breaker(backend: Backend, breaker: CircuitBreakerConfig) -> TestStores {
    let trust = TestTrust::new(&["stores"]);
    let codes = CodeIssuer::spawn().await;
    let credit = spawn_credit(backend, trust.config_for("credit"), &codes.jwks_url).await;
    let proxy = CreditProxy::spawn(credit.address.trim_start_matches("http://").to_string()).await;
    let proxy_url = proxy.url.clone();
    let stores = Spawn { proxy: Some(proxy), breaker, ..Spawn::default() };
    spawn_stores_with(backend, trust, proxy_url, Some(credit.into_parts()), codes, stores).await
}

/// How the stores under test is set up besides its credit.
#[derive(Default)]
struct Spawn {
    proxy: Option<CreditProxy>,
    auth_url: Option<String>,
    breaker: CircuitBreakerConfig,
    auth_breaker: CircuitBreakerConfig,
}

/// Starts stores with a credit URL where nothing listens.
pub async fn spawn_stores_with_credit_unreachable(backend: Backend) -> TestStores {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("reserving a port");
    let port = listener.local_addr().expect("the reserved port").port();
    drop(listener);
    let codes = CodeIssuer::spawn().await;
    spawn_stores_with(backend, TestTrust::new(&["stores"]), format!("http://127.0.0.1:{port}"), None, codes, Spawn::default()).await
}

struct SpawnedCredit {
    address: String,
    credit: TestCredit,
}

impl SpawnedCredit {
    fn graphql_base(&self) -> String {
        self.address.clone()
    }

    fn into_parts(self) -> TestCredit {
        self.credit
    }
}

async fn spawn_credit(backend: Backend, trust: InternalTrustConfig, jwks_url: &str) -> SpawnedCredit {
    let test_database = fresh_database(backend).await;
    let config = c9pay_credit::CreditConfig::new("127.0.0.1:0", test_database.config.clone(), trust).with_auth_jwks_url(jwks_url);
    let application = c9pay_credit::build(&config).await.expect("building the credit subgraph");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let database = c9pay_credit::open_database(&config).await.expect("opening the credit database");
    SpawnedCredit {
        credit: TestCredit { graphql: GraphQLClient::new(format!("{address}/graphql")), database, _database: test_database },
        address,
    }
}

async fn spawn_stores_with(
    backend: Backend,
    trust: TestTrust,
    credit_url: String,
    credit: Option<TestCredit>,
    codes: CodeIssuer,
    spawn: Spawn,
) -> TestStores {
    let Spawn { proxy, auth_url, .. } = spawn;
    let test_database = fresh_database(backend).await;
    let mut config = StoresConfig::new("127.0.0.1:0", test_database.config.clone(), trust.config_for("stores"), credit_url.clone());
    config.auth_url = auth_url;
    // Short, so that the tests that make credit unreachable do not wait long.
    config.credit_timeout_ms = 2_000;
    config.credit_circuit_breaker = spawn.breaker;
    config.auth_circuit_breaker = spawn.auth_breaker;
    let application = c9pay_stores::build(&config).await.expect("building the stores subgraph");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let database = c9pay_stores::open_database(&config).await.expect("opening the stores database");
    TestStores {
        graphql: GraphQLClient::new(format!("{address}/graphql")),
        trust,
        database,
        credit,
        codes,
        proxy,
        credit_url,
        auth: None,
        address,
        _database: test_database,
    }
}

/// Plays auth for payment codes: an Ed25519 key, published at `jwks_url`.
pub struct CodeIssuer {
    pub kid: String,
    key: EncodingKey,
    pub jwks_url: String,
}

impl CodeIssuer {
    pub async fn spawn() -> Self {
        let (kid, signing_key) = (format!("test-{}", uuid_hex()), SigningKey::generate(&mut rand_core()));
        let document = json!({ "keys": [ed25519_jwk(&kid, &signing_key.verifying_key().to_bytes())] });
        let routes = axum::Router::new().route("/jwks.json", axum::routing::get(move || async move { axum::Json(document) }));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the JWKS server");
        let address = listener.local_addr().expect("the JWKS server's address");
        tokio::spawn(async move { axum::serve(listener, routes).await });
        Self { kid, key: encoding_key(&signing_key), jwks_url: format!("http://{address}/jwks.json") }
    }

    /// A fresh code for `payer`, valid for two minutes.
    pub fn code_for(&self, payer: &UserId) -> String {
        self.code_issued_at(payer, now_ms(), 120)
    }

    pub fn code_issued_at(&self, payer: &UserId, issued_at_ms: i64, lifetime_s: i64) -> String {
        let code = PaymentCode::new(payer.clone(), &self.kid, issued_at_ms, lifetime_s);
        payment_code::sign(&code, &self.kid, &self.key).expect("signing a payment code")
    }

    /// A code for `payer` that names this issuer's key id but is signed by another key.
    pub fn forged_code_for(&self, payer: &UserId) -> String {
        let forger = encoding_key(&SigningKey::generate(&mut rand_core()));
        let code = PaymentCode::new(payer.clone(), &self.kid, now_ms(), 120);
        payment_code::sign(&code, &self.kid, &forger).expect("signing a forged payment code")
    }
}

fn encoding_key(signing_key: &SigningKey) -> EncodingKey {
    EncodingKey::from_ed_der(signing_key.to_pkcs8_der().expect("PKCS#8").as_bytes())
}

fn rand_core() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

fn uuid_hex() -> String {
    c9pay_platform::payment_code::generate_code_id()
}

/// A TCP proxy between stores and credit that the test switches between passing
/// everything, refusing connections, and passing requests but losing credit's answers
/// (the ledger acts, stores never hears: the case that must never be guessed).
pub struct CreditProxy {
    pub url: String,
    mode: Arc<AtomicU8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    Forward,
    Refuse,
    LoseAnswers,
}

impl ProxyMode {
    const fn code(self) -> u8 {
        match self {
            Self::Forward => 0,
            Self::Refuse => 1,
            Self::LoseAnswers => 2,
        }
    }
}

impl CreditProxy {
    async fn spawn(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the proxy");
        let url = format!("http://{}", listener.local_addr().expect("the proxy's address"));
        let mode = Arc::new(AtomicU8::new(ProxyMode::Forward.code()));
        let shared_mode = mode.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = shared_mode.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, &mode).await;
                });
            }
        });
        Self { url, mode }
    }

    /// Takes effect at once, on open connections too (stores' client keeps them alive).
    pub fn set(&self, mode: ProxyMode) {
        self.mode.store(mode.code(), Ordering::SeqCst);
    }
}

/// Relays one connection, looking at the mode before passing on every chunk: `Refuse`
/// hangs up instead of passing a request on, `LoseAnswers` passes requests on but hangs
/// up as soon as an answer starts to come back (credit has acted; stores never hears).
async fn relay(mut client: TcpStream, upstream: &str, mode: &AtomicU8) -> std::io::Result<()> {
    let current = || mode.load(Ordering::SeqCst);
    if current() == ProxyMode::Refuse.code() {
        return Ok(());
    }
    let mut server = TcpStream::connect(upstream).await?;
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let mut request = vec![0_u8; 64 * 1024];
    let mut answer = vec![0_u8; 64 * 1024];
    loop {
        tokio::select! {
            read = client_read.read(&mut request) => {
                let count = read?;
                if count == 0 || current() == ProxyMode::Refuse.code() {
                    return Ok(());
                }
                server_write.write_all(&request[..count]).await?;
            }
            read = server_read.read(&mut answer) => {
                let count = read?;
                if count == 0 || current() != ProxyMode::Forward.code() {
                    return Ok(());
                }
                client_write.write_all(&answer[..count]).await?;
            }
        }
    }
}

const STORE_FIELDS: &str = "id name owner { id } products { id name price store { id } } createdAt";
pub const SALE_FIELDS: &str = "id status total failureCode refunded payer { id } store { id } lines { productId name unitPrice quantity lineTotal } refunds { id amount status } createdAt";
pub const REFUND_FIELDS: &str = "id amount reason status failureCode sale { id refunded } createdAt";

impl TestStores {
    pub async fn execute_as(&self, user: &UserId, query: &str, variables: Value) -> TestResponse {
        self.graphql.execute(Some(&self.trust.user(user)), query, variables).await
    }

    pub async fn open_store(&self, owner: &UserId, name: &str) -> TestResponse {
        let query = format!("mutation ($name: String!) {{ openStore(input: {{ name: $name }}) {{ {STORE_FIELDS} }} }}");
        self.execute_as(owner, &query, json!({ "name": name })).await
    }

    /// Opens a store and returns its id, asserting that it worked.
    pub async fn open_store_ok(&self, owner: &UserId, name: &str) -> String {
        let response = self.open_store(owner, name).await;
        response.data()["openStore"]["id"].as_str().expect("the new store's id").to_string()
    }

    /// `price` goes over the wire as given: a decimal string, or a JSON number.
    pub async fn add_product(&self, viewer: &UserId, store_id: &str, name: &str, price: Value) -> TestResponse {
        self.execute_as(
            viewer,
            "mutation ($input: AddProductInput!) { addProduct(input: $input) { id name price store { id name } } }",
            json!({ "input": { "storeId": store_id, "name": name, "price": price } }),
        )
        .await
    }

    /// Adds a product and returns its id, asserting that it worked.
    pub async fn add_product_ok(&self, owner: &UserId, store_id: &str, name: &str, price: i64) -> String {
        let response = self.add_product(owner, store_id, name, json!(price.to_string())).await;
        response.data()["addProduct"]["id"].as_str().expect("the new product's id").to_string()
    }

    pub async fn store(&self, viewer: &UserId, store_id: &str) -> TestResponse {
        let query = format!("query ($id: ID!) {{ store(id: $id) {{ {STORE_FIELDS} }} }}");
        self.execute_as(viewer, &query, json!({ "id": store_id })).await
    }

    /// The names of a store's products, oldest first.
    pub async fn product_names(&self, viewer: &UserId, store_id: &str) -> Vec<String> {
        let response = self.store(viewer, store_id).await;
        let products = response.data()["store"]["products"].as_array().cloned().unwrap_or_default();
        products.iter().filter_map(|product| product["name"].as_str().map(str::to_string)).collect()
    }

    /// `User.stores` through `_entities`, signed in as `viewer`.
    pub async fn stores_of(&self, viewer: &UserId, owner: &UserId) -> TestResponse {
        self.stores_of_as(&self.trust.user(viewer), owner).await
    }

    /// `User.stores` through `_entities`, with the internal token `authorization`.
    pub async fn stores_of_as(&self, authorization: &str, owner: &UserId) -> TestResponse {
        self.graphql.execute(
            Some(authorization),
            r#"query ($representations: [_Any!]!) {
                _entities(representations: $representations) { ... on User { id stores { id name } } }
            }"#,
            json!({ "representations": [{ "__typename": "User", "id": owner }] }),
        )
        .await
    }

    pub fn credit(&self) -> &TestCredit {
        self.credit.as_ref().expect("this test started credit")
    }

    pub fn proxy(&self) -> &CreditProxy {
        self.proxy.as_ref().expect("this test started a proxy")
    }

    /// `Store.account.balance` from credit's `_entities`, as the router would fetch it.
    pub async fn store_account(&self, viewer: &UserId, store_id: &str) -> TestResponse {
        self.credit()
            .graphql
            .execute(
                Some(&self.trust.user(viewer)),
                r#"query ($representations: [_Any!]!) {
                    _entities(representations: $representations) { ... on Store { account { balance } } }
                }"#,
                json!({ "representations": [{ "__typename": "Store", "id": store_id }] }),
            )
            .await
    }

    /// `Authorization` for a kiosk of `store_id`, as the router would send it.
    pub fn kiosk_of(&self, store_id: &str) -> String {
        self.trust.authorization_for(&Principal {
            kind: PrincipalKind::Kiosk,
            subject: format!("kio_{}", uuid_hex()),
            roles: vec!["kiosk".to_string(), format!("store:{store_id}")],
            scopes: Vec::new(),
            request_id: format!("test-{}", uuid_hex()),
            session_id: None,
        })
    }

    /// `sell`, with `items` as `[(product id, quantity)]`.
    pub async fn sell(&self, authorization: &str, store_id: &str, items: &[(&str, i64)], payment_code: &str, idempotency_key: &str) -> TestResponse {
        let items: Vec<Value> = items.iter().map(|(product_id, quantity)| json!({ "productId": product_id, "quantity": quantity })).collect();
        let query = format!("mutation ($input: SellInput!) {{ sell(input: $input) {{ {SALE_FIELDS} }} }}");
        let input = json!({ "storeId": store_id, "items": items, "paymentCode": payment_code, "idempotencyKey": idempotency_key });
        self.graphql.execute(Some(authorization), &query, json!({ "input": input })).await
    }

    pub async fn sale(&self, viewer: &UserId, sale_id: &str) -> TestResponse {
        let query = format!("query ($id: ID!) {{ sale(id: $id) {{ {SALE_FIELDS} }} }}");
        self.execute_as(viewer, &query, json!({ "id": sale_id })).await
    }

    pub async fn refund(&self, viewer: &UserId, sale_id: &str, amount: i64, reason: &str, idempotency_key: &str) -> TestResponse {
        let query = format!("mutation ($input: RefundSaleInput!) {{ refundSale(input: $input) {{ {REFUND_FIELDS} }} }}");
        let input = json!({ "saleId": sale_id, "amount": amount.to_string(), "reason": reason, "idempotencyKey": idempotency_key });
        self.execute_as(viewer, &query, json!({ "input": input })).await
    }

    /// Gives `user` `amount` credits from the funding account.
    pub async fn grant(&self, user: &UserId, amount: i64) {
        let amount = Amount::parse_positive(amount).expect("a positive test amount");
        c9pay_credit::demo::grant(&self.credit().database, user, amount).await.expect("granting credit");
    }

    /// A person's balance in the ledger (0 without a wallet).
    pub async fn balance_of(&self, user: &UserId) -> i64 {
        c9pay_credit::demo::balance_of_user(&self.credit().database, user).await.expect("reading a balance").get()
    }

    /// A store's balance in the ledger.
    pub async fn store_balance(&self, store_id: &str) -> i64 {
        let store_id = StoreId::parse(store_id).expect("a store id");
        c9pay_credit::db::find_account_by_owner(&self.credit().database, OwnerKind::Store, store_id.as_str())
            .await
            .expect("reading a store account")
            .expect("the store has an account")
            .balance
            .get()
    }

    /// One reconciler round over what is pending and was recorded before `before_ms`,
    /// calling credit as stores does (through the proxy when there is one).
    pub async fn reconcile(&self, before_ms: i64) -> c9pay_stores::reconciler::Reconciled {
        let seed = self.trust.config_for("stores").signing_key.expect("stores has a signing key");
        let signer = c9pay_platform::internal_token::InternalTokenSigner::new("stores", &seed).expect("a signer");
        let credit = c9pay_stores::credit::CreditClient::new(&self.credit_url, 2_000, signer, c9pay_platform::circuit_breaker::CircuitBreaker::new("credit", Default::default(), None)).expect("a credit client");
        c9pay_stores::reconciler::reconcile(&self.database, &credit, before_ms).await.expect("a reconciler round")
    }

    /// Calls one of credit's internal payment endpoints as stores, e.g. `POST
    /// /internal/payments/{id}/capture`: what a stores request did when its answer was lost.
    pub async fn credit_internal(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.credit_internal_with(method, path, json!({})).await
    }

    /// [`Self::credit_internal`] with a body.
    pub async fn credit_internal_with(&self, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
        let url = format!("{}{path}", self.credit_url);
        reqwest::Client::new()
            .request(method, url)
            .header("authorization", self.trust.service("stores"))
            .json(&body)
            .send()
            .await
            .expect("calling credit")
    }

    /// How many sales the stores database holds.
    pub async fn sale_count(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("select count(*) from sale").fetch_one(self.database.pool()).await.expect("counting sales")
    }
}

/// A store with a catalogue, and a payer with credit: what most sale tests start from.
pub struct Shop {
    pub owner: UserId,
    pub store_id: String,
    /// 4500 credits.
    pub coffee: String,
    /// 3200 credits.
    pub bagel: String,
    pub payer: UserId,
}

pub const COFFEE_PRICE: i64 = 4_500;
pub const BAGEL_PRICE: i64 = 3_200;

impl TestStores {
    /// A store selling coffee and bagels, and a payer holding `payer_balance` credits.
    pub async fn shop(&self, payer_balance: i64) -> Shop {
        let owner = UserId::generate();
        let store_id = self.open_store_ok(&owner, "Corner Café").await;
        let coffee = self.add_product_ok(&owner, &store_id, "Coffee", COFFEE_PRICE).await;
        let bagel = self.add_product_ok(&owner, &store_id, "Bagel", BAGEL_PRICE).await;
        let payer = UserId::generate();
        if payer_balance > 0 {
            self.grant(&payer, payer_balance).await;
        }
        Shop { owner, store_id, coffee, bagel, payer }
    }
}

/// A fresh idempotency key.
pub fn key() -> String {
    format!("key-{}", uuid_hex())
}

pub fn sale_id_of(response: &TestResponse) -> String {
    response.data()["sell"]["id"].as_str().expect("a sale id").to_string()
}

/// `extensions.saleId` of the first error.
pub fn error_sale_id(response: &TestResponse) -> String {
    response.body["errors"][0]["extensions"]["saleId"]
        .as_str()
        .unwrap_or_else(|| panic!("no extensions.saleId in {:#}", response.body))
        .to_string()
}
