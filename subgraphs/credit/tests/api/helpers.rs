//! A credit subgraph on port 0 with a fresh database, and typed ways to talk to it.

use c9pay_credit::{
    CreditConfig, db, demo,
    domain::{Account, OwnerKind},
};
use c9pay_platform::{
    database::{Backend, Database},
    id::{StoreId, UserId},
    money::Amount,
    testing::{GraphQLClient, TestDatabase, TestResponse, TestTrust, fresh_database},
};
use serde_json::{Value, json};

pub struct TestCredit {
    pub address: String,
    pub graphql: GraphQLClient,
    pub trust: TestTrust,
    /// The same database the service uses, for seeding and for checking what it wrote.
    pub database: Database,
    /// The users service's database, to create the people credit may send credits to.
    pub users_database: Database,
    pub http: reqwest::Client,
    /// The configuration it was built with (for a second replica on the same database).
    pub config: CreditConfig,
    _database: TestDatabase,
    _users_database: TestDatabase,
}

/// Starts credit with a fresh database. It trusts the router and the stores service.
pub async fn spawn_credit(backend: Backend) -> TestCredit {
    let trust = TestTrust::new(&["stores", "credit", "users"]);
    // The real users service, which credit asks whether a recipient exists.
    let users_database = fresh_database(backend).await;
    let users_config = c9pay_users::UsersConfig::new(
        "127.0.0.1:0",
        users_database.config.clone(),
        trust.config_for("users"),
    );
    let users = c9pay_users::build(&users_config)
        .await
        .expect("building the users subgraph");
    let users_url = format!("http://{}", users.address());
    tokio::spawn(users.run_until(std::future::pending()));
    let users_database_handle = c9pay_users::open_database(&users_config)
        .await
        .expect("opening the users database");
    let test_database = fresh_database(backend).await;
    let config = CreditConfig::new(
        "127.0.0.1:0",
        test_database.config.clone(),
        trust.config_for("credit"),
    )
    .with_users_url(users_url);
    let application = c9pay_credit::build(&config)
        .await
        .expect("building the credit subgraph");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let database = c9pay_credit::open_database(&config)
        .await
        .expect("opening the credit database");
    TestCredit {
        graphql: GraphQLClient::new(format!("{address}/graphql")),
        address,
        trust,
        database,
        users_database: users_database_handle,
        http: reqwest::Client::new(),
        config,
        _database: test_database,
        _users_database: users_database,
    }
}

impl TestCredit {
    /// The GraphQL-over-WebSocket URL.
    pub fn websocket_url(&self) -> String {
        format!("{}/graphql", self.address.replacen("http://", "ws://", 1))
    }

    /// Another credit process on the same database, as a second replica would be; its
    /// `ws://…/graphql` URL.
    pub async fn spawn_replica(&self, adjust: impl FnOnce(&mut CreditConfig)) -> String {
        let mut config = self.config.clone();
        adjust(&mut config);
        let application = c9pay_credit::build(&config)
            .await
            .expect("building a second credit replica");
        let url = format!("ws://127.0.0.1:{}/graphql", application.port());
        tokio::spawn(application.run_until_stopped());
        url
    }

    /// `User.wallet.balance` through `_entities`, as the router would ask for it, signed
    /// in as `viewer`.
    pub async fn wallet(&self, viewer: &UserId, owner: &UserId) -> TestResponse {
        self.graphql
            .execute(
                Some(&self.trust.user(viewer)),
                r#"query ($representations: [_Any!]!) {
                    _entities(representations: $representations) { ... on User { wallet { balance } } }
                }"#,
                json!({ "representations": [{ "__typename": "User", "id": owner }] }),
            )
            .await
    }

    /// `Store.account.balance` through `_entities`, signed in as `viewer`.
    pub async fn store_account(&self, viewer: &UserId, store_id: &StoreId) -> TestResponse {
        self.graphql
            .execute(
                Some(&self.trust.user(viewer)),
                r#"query ($representations: [_Any!]!) {
                    _entities(representations: $representations) { ... on Store { account { balance } } }
                }"#,
                json!({ "representations": [{ "__typename": "Store", "id": store_id }] }),
            )
            .await
    }

    /// `PUT /internal/store-accounts/{store_id}` with the given `Authorization` header.
    pub async fn put_store_account(
        &self,
        authorization: Option<&str>,
        store_id: &StoreId,
        owner: &UserId,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .put(format!(
                "{}/internal/store-accounts/{store_id}",
                self.address
            ))
            .json(&json!({ "ownerUserId": owner }));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.expect("calling the internal endpoint");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A person that exists in the users service.
    pub async fn person(&self, name: &str) -> UserId {
        let user_id = UserId::generate();
        let display_name = c9pay_platform::text::DisplayName::parse(name).expect("a display name");
        c9pay_users::db::create_profile(&self.users_database, &user_id, &display_name)
            .await
            .expect("creating a profile");
        user_id
    }

    pub async fn execute_as(
        &self,
        user_id: &UserId,
        query: &str,
        variables: Value,
    ) -> TestResponse {
        self.graphql
            .execute(Some(&self.trust.user(user_id)), query, variables)
            .await
    }

    pub async fn grant(&self, user_id: &UserId, amount: i64) {
        let amount = Amount::parse_positive(amount).expect("a positive test amount");
        demo::grant(&self.database, user_id, amount)
            .await
            .expect("granting demo credit");
    }

    /// A person's balance straight from the database (0 without an account).
    pub async fn balance_of(&self, user_id: &UserId) -> i64 {
        demo::balance_of_user(&self.database, user_id)
            .await
            .expect("reading a balance")
            .get()
    }

    /// The person's wallet account, made if they have none.
    pub async fn wallet_account(&self, user_id: &UserId) -> Account {
        db::ensure_user_account(&self.database, user_id)
            .await
            .expect("a wallet account")
    }

    /// The account of a new store that `owner` owns.
    pub async fn new_store_account(&self, owner: &UserId) -> Account {
        db::ensure_store_account(&self.database, &StoreId::generate(), owner)
            .await
            .expect("a store account")
    }

    /// A write transaction on credit's database, for tests that call the ledger directly.
    pub async fn begin_write(&self) -> sqlx::Transaction<'static, sqlx::Any> {
        self.database
            .begin_write()
            .await
            .expect("a write transaction")
    }

    /// The books balance: all balances add up to zero, and every account's balance is
    /// the sum of its entries.
    pub async fn assert_books_balance(&self) {
        assert_eq!(db::balance_total(&self.database).await.ok(), Some(0), "balances add up to zero");
        let out_of_balance = db::accounts_out_of_balance(&self.database)
            .await
            .expect("reading the entries");
        assert!(out_of_balance.is_empty(), "accounts out of balance: {out_of_balance:?}");
    }

    pub async fn funding_balance(&self) -> i64 {
        db::find_account_by_owner(&self.database, OwnerKind::System, "funding")
            .await
            .expect("reading the funding account")
            .expect("the funding account exists")
            .balance
            .get()
    }
}

/// The `balance` under `_entities[0]` at `path` (`wallet` or `account`).
pub fn entity_balance<'a>(response: &'a TestResponse, field: &str) -> &'a str {
    response.data()["_entities"][0][field]["balance"]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}.balance in {:#}", response.body))
}
