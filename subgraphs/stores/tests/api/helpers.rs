//! Stores on port 0 with a fresh database, next to a real credit subgraph (its own fresh
//! database), both trusting the same test router; and typed ways to talk to them.

use c9pay_platform::{
    database::{Backend, Database},
    id::UserId,
    internal_token::InternalTrustConfig,
    testing::{GraphQLClient, TestDatabase, TestResponse, TestTrust, fresh_database},
};
use c9pay_stores::StoresConfig;
use serde_json::{Value, json};

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
    let credit = spawn_credit(backend, credit_trust).await;
    let credit_url = credit.graphql_base();
    spawn_stores_with(backend, trust, credit_url, Some(credit.into_parts())).await
}

/// Starts stores with a credit URL where nothing listens.
pub async fn spawn_stores_with_credit_unreachable(backend: Backend) -> TestStores {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("reserving a port");
    let port = listener.local_addr().expect("the reserved port").port();
    drop(listener);
    spawn_stores_with(backend, TestTrust::new(&["stores"]), format!("http://127.0.0.1:{port}"), None).await
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

async fn spawn_credit(backend: Backend, trust: InternalTrustConfig) -> SpawnedCredit {
    let test_database = fresh_database(backend).await;
    let config = c9pay_credit::CreditConfig::new("127.0.0.1:0", test_database.config.clone(), trust);
    let application = c9pay_credit::build(&config).await.expect("building the credit subgraph");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let database = c9pay_credit::open_database(&config).await.expect("opening the credit database");
    SpawnedCredit {
        credit: TestCredit { graphql: GraphQLClient::new(format!("{address}/graphql")), database, _database: test_database },
        address,
    }
}

async fn spawn_stores_with(backend: Backend, trust: TestTrust, credit_url: String, credit: Option<TestCredit>) -> TestStores {
    let test_database = fresh_database(backend).await;
    let config = StoresConfig::new("127.0.0.1:0", test_database.config.clone(), trust.config_for("stores"), credit_url);
    let application = c9pay_stores::build(&config).await.expect("building the stores subgraph");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let database = c9pay_stores::open_database(&config).await.expect("opening the stores database");
    TestStores {
        graphql: GraphQLClient::new(format!("{address}/graphql")),
        trust,
        database,
        credit,
        _database: test_database,
    }
}

const STORE_FIELDS: &str = "id name owner { id } products { id name price store { id } } createdAt";

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
        self.execute_as(
            viewer,
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
}
