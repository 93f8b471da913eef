//! The whole platform in this process, on loopback ports chosen by the system: users,
//! credit, auth and stores, each with its own fresh database, all trusting one router
//! key; and the router in front of them, loading the committed supergraph. It is the same
//! wiring as the router's integration tests (`router/tests/api/helpers.rs`), so what is
//! measured is the code those tests exercise.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use anyhow::Context as _;
use c9pay_auth::AuthConfig;
use c9pay_platform::{
    database::{Backend, Database, DatabaseConfig},
    id::UserId,
    money::Amount,
    testing::{TestDatabase, TestTrust, fresh_database},
};
use c9pay_router::RouterConfig;
use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _};

/// Every base URL is on this address: the benchmark never sends a request anywhere else.
pub const LOOPBACK: &str = "127.0.0.1:0";

/// Where the databases live.
pub enum Storage {
    /// A temporary directory of SQLite files, removed at the end.
    Sqlite,
    /// Fresh databases created through this admin URL, dropped at the end.
    Postgres { admin_url: String },
}

/// One database of the stack; it lives as long as this value (SQLite) or until
/// [`Stack::stop`] drops it (PostgreSQL).
enum StackDatabase {
    Sqlite(TestDatabase),
    Postgres { admin_url: String, name: String, config: DatabaseConfig },
}

impl StackDatabase {
    async fn create(storage: &Storage) -> anyhow::Result<Self> {
        match storage {
            Storage::Sqlite => Ok(Self::Sqlite(fresh_database(Backend::Sqlite).await)),
            Storage::Postgres { admin_url } => {
                let name = format!("c9pay_bench_{}", uuid::Uuid::new_v4().simple());
                let mut connection = sqlx::PgConnection::connect(admin_url)
                    .await
                    .context("connecting to the --postgres admin URL")?;
                connection
                    .execute(format!("create database {name}").as_str())
                    .await
                    .with_context(|| format!("creating database {name}"))?;
                connection.close().await.ok();
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                Ok(Self::Postgres {
                    admin_url: admin_url.clone(),
                    config: DatabaseConfig::new(format!("{base}/{name}")),
                    name,
                })
            }
        }
    }

    fn config(&self) -> &DatabaseConfig {
        match self {
            Self::Sqlite(database) => &database.config,
            Self::Postgres { config, .. } => config,
        }
    }

    /// Drops a PostgreSQL database (SQLite files go with their directory). Best effort:
    /// a database left behind is named `c9pay_bench_…` and holds only demo data.
    async fn remove(self) {
        if let Self::Postgres { admin_url, name, .. } = self
            && let Ok(mut connection) = sqlx::PgConnection::connect(&admin_url).await
        {
            let dropped = connection
                .execute(format!("drop database if exists {name} with (force)").as_str())
                .await;
            if let Err(error) = dropped {
                eprintln!("could not drop database {name}: {error}");
            }
            connection.close().await.ok();
        }
    }
}

/// Where credit runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CreditPlacement {
    /// On this runtime, like every other part.
    InProcess,
    /// In a child process (this binary, `credit-process`): the subscription benchmark
    /// holds more sockets than one process may open, and measures the router's memory
    /// apart from credit's.
    ChildProcess,
}

pub struct Stack {
    /// `http://127.0.0.1:<port>/graphql` of the router.
    pub router_url: String,
    /// Subgraph name → `http://127.0.0.1:<port>/graphql`, for calling subgraphs directly.
    pub subgraph_urls: BTreeMap<String, String>,
    /// The router's key, to mint the internal tokens a direct subgraph call needs.
    pub trust: Arc<TestTrust>,
    pub credit_config: c9pay_credit::CreditConfig,
    stores_config: c9pay_stores::StoresConfig,
    databases: Vec<StackDatabase>,
    /// Credit, when it runs in a child process.
    pub credit_process: Option<std::process::Child>,
    _credit_config_file: Option<TempFile>,
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The person every client acts as, and what the benchmark expects `me` to answer.
pub struct Person {
    pub user_id: UserId,
    pub access_token: String,
}

pub const EMAIL: &str = "bench@bench.c9pay";
pub const PASSWORD: &str = "correct horse battery staple";
pub const DISPLAY_NAME: &str = "Bench";
pub const STORE_NAME: &str = "Bench Coffee";
/// (name, price in minor units) of the seeded store's products.
pub const PRODUCTS: [(&str, i64); 3] = [("Espresso", 3_000), ("Latte", 4_500), ("Croissant", 2_500)];
/// The seeded wallet balance, in minor units.
pub const BALANCE: i64 = 100_000;

fn supergraph_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/supergraph.graphql")
}

fn base_url(application: &c9pay_platform::http::Application) -> String {
    format!("http://{}", application.address())
}

impl Stack {
    /// Starts the four subgraphs and the router on this runtime; `deduplicate_queries` is
    /// the router's setting of that name.
    pub async fn start(storage: &Storage, deduplicate_queries: bool) -> anyhow::Result<Self> {
        Self::start_with(storage, CreditPlacement::InProcess, |config| config.deduplicate_queries = deduplicate_queries).await
    }

    /// Starts the four subgraphs and the router, credit where `placement` says, the
    /// router with the benchmark's settings and then `configure`'s.
    pub async fn start_with(
        storage: &Storage,
        placement: CreditPlacement,
        configure: impl FnOnce(&mut RouterConfig),
    ) -> anyhow::Result<Self> {
        let trust = TestTrust::new(&["auth", "stores", "credit"]);
        let mut databases = Vec::new();

        let database = StackDatabase::create(storage).await?;
        let users = c9pay_users::build(&c9pay_users::UsersConfig::new(
            LOOPBACK,
            database.config().clone(),
            trust.config_for("users"),
        ))
        .await
        .context("building users")?;
        databases.push(database);
        let users_url = base_url(&users);
        tokio::spawn(users.run_until(std::future::pending()));

        let database = StackDatabase::create(storage).await?;
        let auth = c9pay_auth::build(&AuthConfig::new(
            LOOPBACK,
            database.config().clone(),
            trust.config_for("auth"),
            users_url.clone(),
        ))
        .await
        .context("building auth")?;
        databases.push(database);
        let auth_url = base_url(&auth);
        tokio::spawn(auth.run_until(std::future::pending()));

        // Credit after auth: it verifies payment codes with auth's keys.
        let database = StackDatabase::create(storage).await?;
        let mut credit_config = c9pay_credit::CreditConfig::new(
            LOOPBACK,
            database.config().clone(),
            trust.config_for("credit"),
        )
        .with_users_url(users_url.clone())
        .with_auth_jwks_url(format!("{auth_url}/.well-known/jwks.json"));
        databases.push(database);
        let mut credit_process = None;
        let mut credit_config_file = None;
        let credit_url = match placement {
            CreditPlacement::InProcess => {
                let credit = c9pay_credit::build(&credit_config)
                    .await
                    .context("building credit")?;
                let credit_url = base_url(&credit);
                tokio::spawn(credit.run_until(std::future::pending()));
                credit_url
            }
            CreditPlacement::ChildProcess => {
                let port = std::net::TcpListener::bind(LOOPBACK)?.local_addr()?.port();
                credit_config.listen_address = format!("127.0.0.1:{port}");
                let path = std::env::temp_dir()
                    .join(format!("c9pay-bench-credit-{}.toml", uuid::Uuid::new_v4().simple()));
                std::fs::write(&path, credit_toml(&credit_config))?;
                credit_config_file = Some(TempFile(path.clone()));
                let child = std::process::Command::new(std::env::current_exe()?)
                    .arg("credit-process")
                    .arg("--config")
                    .arg(&path)
                    .stdin(std::process::Stdio::null())
                    .spawn()
                    .context("starting credit in a child process")?;
                credit_process = Some(child);
                let credit_url = format!("http://127.0.0.1:{port}");
                wait_until_healthy(&credit_url).await?;
                credit_url
            }
        };

        let database = StackDatabase::create(storage).await?;
        let stores_config = c9pay_stores::StoresConfig::new(
            LOOPBACK,
            database.config().clone(),
            trust.config_for("stores"),
            credit_url.clone(),
        );
        let stores = c9pay_stores::build(&stores_config)
            .await
            .context("building stores")?;
        databases.push(database);
        let stores_url = base_url(&stores);
        tokio::spawn(stores.run_until(std::future::pending()));

        let subgraph_base_urls: BTreeMap<String, String> = [
            ("auth", auth_url.clone()),
            ("credit", credit_url),
            ("stores", stores_url),
            ("users", users_url),
        ]
        .into_iter()
        .map(|(name, url)| (name.to_string(), url))
        .collect();
        let mut config = RouterConfig::new(
            LOOPBACK,
            supergraph_path(),
            subgraph_base_urls.clone(),
            format!("{auth_url}/.well-known/jwks.json"),
            trust.router_seed(),
        );
        // The benchmark measures capacity: all its clients share one address and a few
        // principals, which the production rate limits would (rightly) stop.
        config.rate_limits.fields.clear();
        configure(&mut config);
        let router = c9pay_router::build(&config)
            .await
            .context("building the router")?;
        let router_url = format!("{}/graphql", base_url(&router));
        tokio::spawn(router.run_until(std::future::pending()));

        Ok(Self {
            router_url,
            subgraph_urls: subgraph_base_urls
                .into_iter()
                .map(|(name, url)| (name, format!("{url}/graphql")))
                .collect(),
            trust: Arc::new(trust),
            credit_config,
            stores_config,
            databases,
            credit_process,
            _credit_config_file: credit_config_file,
        })
    }

    /// Signs a person up and logs them in through the router (as a client would), then
    /// gives them a store with products and a wallet balance with the demo seeders.
    pub async fn seed_person(&self, http: &reqwest::Client) -> anyhow::Result<Person> {
        let signed_up = self
            .post_anonymous(
                http,
                "mutation SignUp($input: SignUpInput!) { signUp(input: $input) { user { id } } }",
                json!({ "input": { "email": EMAIL, "password": PASSWORD, "displayName": DISPLAY_NAME } }),
            )
            .await
            .context("signing up")?;
        let user_id = signed_up["signUp"]["user"]["id"]
            .as_str()
            .context("signUp returned no user id")?;
        let user_id = UserId::parse(user_id).context("signUp returned an invalid user id")?;
        let logged_in = self
            .post_anonymous(
                http,
                "mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken } }",
                json!({ "input": { "email": EMAIL, "password": PASSWORD } }),
            )
            .await
            .context("logging in")?;
        let access_token = logged_in["logIn"]["accessToken"]
            .as_str()
            .context("logIn returned no access token")?
            .to_string();

        let (credit, stores) = self.databases().await?;
        seed_store(&credit, &stores, &user_id, STORE_NAME).await?;
        c9pay_credit::demo::grant(&credit, &user_id, Amount::parse_positive(BALANCE)?)
            .await
            .context("granting the wallet balance")?;
        Ok(Person { user_id, access_token })
    }

    /// Connections to the credit and stores databases, for seeding and auditing.
    pub async fn databases(&self) -> anyhow::Result<(Database, Database)> {
        Ok((
            c9pay_credit::open_database(&self.credit_config).await?,
            c9pay_stores::open_database(&self.stores_config).await?,
        ))
    }

    async fn post_anonymous(&self, http: &reqwest::Client, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response = http
            .post(&self.router_url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(
            status.is_success() && body.get("errors").is_none(),
            "HTTP {status}: {body}"
        );
        Ok(body["data"].clone())
    }

    /// Stops a credit child process and drops PostgreSQL databases; SQLite files go when
    /// this value is dropped.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.credit_process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for database in std::mem::take(&mut self.databases) {
            database.remove().await;
        }
    }
}

/// A store of `owner` called `name` selling [`PRODUCTS`], and its ledger account.
pub async fn seed_store(credit: &Database, stores: &Database, owner: &UserId, name: &str) -> anyhow::Result<()> {
    let products = PRODUCTS
        .iter()
        .map(|(name, price)| Ok((*name, Amount::parse_positive(*price)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = c9pay_stores::demo::seed_store(stores, owner, name, &products)
        .await
        .with_context(|| format!("seeding store {name}"))?;
    c9pay_credit::demo::ensure_store_account(credit, &store.id, owner)
        .await
        .with_context(|| format!("opening the account of store {name}"))?;
    Ok(())
}

/// Credit's configuration as the TOML file `credit-process` reads.
fn credit_toml(config: &c9pay_credit::CreditConfig) -> String {
    let quoted = |text: &str| Value::from(text).to_string();
    let mut toml = format!("listen_address = {}\n", quoted(&config.listen_address));
    if let Some(users_url) = &config.users_url {
        toml.push_str(&format!("users_url = {}\n", quoted(users_url)));
    }
    if let Some(auth_jwks_url) = &config.auth_jwks_url {
        toml.push_str(&format!("auth_jwks_url = {}\n", quoted(auth_jwks_url)));
    }
    toml.push_str(&format!(
        "[database]\nurl = {}\nmax_connections = {}\n",
        quoted(config.database.url.expose()),
        config.database.max_connections
    ));
    toml.push_str("[internal]\n");
    if let Some(seed) = &config.internal.signing_key {
        toml.push_str(&format!("signing_key = {}\n", quoted(seed.expose())));
    }
    toml.push_str("[internal.trusted_issuers]\n");
    for (issuer, public_key) in &config.internal.trusted_issuers {
        toml.push_str(&format!("{issuer} = {}\n", quoted(public_key)));
    }
    toml
}

/// Waits for `<base_url>/health` to answer, for at most 30 s.
async fn wait_until_healthy(base_url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http
            .get(format!("{base_url}/health"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("{base_url} did not become healthy in 30 s")
}
