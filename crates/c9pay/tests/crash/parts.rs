//! The platform as Kubernetes runs it, on this machine: users, auth, credit, stores and
//! the router as five `c9pay run PART` processes (the binary this crate builds), each
//! subgraph with its own fresh PostgreSQL database, internal calls signed with fresh
//! keys; the same wiring as `loadtests/run-parts`, in Rust, so that a part can be killed
//! with SIGKILL and started again on its port and database.

use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::Context as _;
use c9pay_platform::{
    database::Backend,
    internal_token::InternalTrustConfig,
    testing::{TestDatabase, TestTrust, fresh_database},
};

const BINARY: &str = env!("CARGO_BIN_EXE_c9pay");

/// How long a part may take to answer `/ready` after it was started.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Test settings that shorten what the crash test must wait for, each consistent with
/// the others (every process shares this machine's clock):
/// - a payment code lives 8 s, a hold 8 s;
/// - the stores reconciler settles a pending sale 20 s after it was recorded, when no
///   code or hold of it can still move money (the production rule, scaled down);
/// - the circuit breakers cool down in 0.5 s, so that a restarted part is used at once.
const PAYMENT_CODE_LIFETIME_S: &str = "8";
const HOLD_LIFETIME_MS: &str = "8000";
pub const RECONCILE_AFTER_MS: i64 = 20_000;
const COOL_DOWN_MS: &str = "500";

/// One `c9pay run PART` process, which can be killed and started again as it was.
pub struct Part {
    pub name: &'static str,
    port: u16,
    arguments: Vec<String>,
    environment: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Part {
    fn new(name: &'static str, port: u16, directory: &Path) -> Self {
        Self {
            name,
            port,
            arguments: Vec::new(),
            environment: Vec::new(),
            log: directory.join(format!("{name}.log")),
            child: None,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `C9PAY_<PART>__<name>=value`.
    fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let prefix = format!("C9PAY_{}", self.name.to_uppercase());
        self.environment.push((format!("{prefix}__{name}"), value.into()));
        self
    }

    /// Its database, its signing key and every issuer it trusts, as `run-parts` sets them.
    fn set_database_and_trust(&mut self, database: &TestDatabase, trust: &InternalTrustConfig) -> &mut Self {
        self.set("LISTEN_ADDRESS", format!("127.0.0.1:{}", self.port));
        self.set("DATABASE__URL", database.config.url.expose().clone());
        self.set("DATABASE__MAX_CONNECTIONS", "8");
        if let Some(seed) = &trust.signing_key {
            self.set("INTERNAL__SIGNING_KEY", seed.expose().clone());
        }
        for (issuer, public_key) in &trust.trusted_issuers {
            self.set(&format!("INTERNAL__TRUSTED_ISSUERS__{}", issuer.to_uppercase()), public_key.clone());
        }
        self
    }

    /// Starts the process; its output goes to its log, appended across restarts.
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(BINARY)
            .arg("run")
            .arg(self.name)
            .args(&self.arguments)
            .envs(self.environment.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {BINARY} run {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown, no flushing, requests
    /// in flight cut where they stand.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for `/ready` to answer 200; fails at once if the process exited.
    pub async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let url = format!("{}/ready", self.base_url());
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        while tokio::time::Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                anyhow::bail!("{} exited with {status} before it was ready", self.name);
            }
            let ready = http.get(&url).timeout(Duration::from_secs(2)).send().await;
            if ready.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("{} did not become ready in {READY_WITHIN:?}", self.name)
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_else(|error| format!("(no log: {error})"));
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The five parts and their databases. Dropping it kills the processes, then drops the
/// databases (fields drop in declaration order).
pub struct Parts {
    pub parts: BTreeMap<&'static str, Part>,
    pub credit_database: TestDatabase,
    pub stores_database: TestDatabase,
    _auth_database: TestDatabase,
    _users_database: TestDatabase,
    _directory: tempfile::TempDir,
}

/// A port free on 127.0.0.1 now (the system's choice; the part binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn supergraph_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/supergraph.graphql")
}

/// The load test's raised quotas: every till comes from 127.0.0.1.
fn load_test_quotas() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../loadtests/k6/seed-router.toml")
}

impl Parts {
    /// Creates the databases and configures every part; [`Parts::start_all`] starts them.
    pub async fn create() -> anyhow::Result<Self> {
        let directory = tempfile::tempdir()?;
        let trust = TestTrust::new(&["auth", "stores", "credit"]);
        let users_database = fresh_database(Backend::Postgres).await;
        let auth_database = fresh_database(Backend::Postgres).await;
        let credit_database = fresh_database(Backend::Postgres).await;
        let stores_database = fresh_database(Backend::Postgres).await;

        let mut users = Part::new("users", free_port()?, directory.path());
        users.set_database_and_trust(&users_database, &trust.config_for("users"));
        let mut auth = Part::new("auth", free_port()?, directory.path());
        auth.set_database_and_trust(&auth_database, &trust.config_for("auth"))
            .set("USERS_URL", users.base_url())
            .set("PAYMENT_CODE_LIFETIME_S", PAYMENT_CODE_LIFETIME_S);
        let jwks_url = format!("{}/.well-known/jwks.json", auth.base_url());
        let mut credit = Part::new("credit", free_port()?, directory.path());
        credit
            .set_database_and_trust(&credit_database, &trust.config_for("credit"))
            .set("USERS_URL", users.base_url())
            .set("AUTH_JWKS_URL", jwks_url.clone())
            .set("HOLD_LIFETIME_MS", HOLD_LIFETIME_MS)
            .set("AUTH_CIRCUIT_BREAKER__COOL_DOWN_MS", COOL_DOWN_MS);
        let mut stores = Part::new("stores", free_port()?, directory.path());
        stores
            .set_database_and_trust(&stores_database, &trust.config_for("stores"))
            .set("CREDIT_URL", credit.base_url())
            .set("AUTH_URL", auth.base_url())
            .set("CREDIT_TIMEOUT_MS", "2000")
            .set("RECONCILE_INTERVAL_MS", "500")
            .set("RECONCILE_AFTER_MS", RECONCILE_AFTER_MS.to_string())
            .set("CREDIT_CIRCUIT_BREAKER__COOL_DOWN_MS", COOL_DOWN_MS);

        // The router: k8s/base/router.toml's settings with these addresses, the load
        // test's quotas, and breakers that cool down as fast as the subgraphs' do.
        let mut router = Part::new("router", free_port()?, directory.path());
        let config_path = directory.path().join("router.toml");
        let quotas = std::fs::read_to_string(load_test_quotas()).context("reading loadtests/k6/seed-router.toml")?;
        let quoted = |text: &str| serde_json::Value::from(text).to_string();
        let config = format!(
            "listen_address = {listen}\nsupergraph_path = {supergraph}\njwks_url = {jwks}\n\n\
             [subgraph_urls]\nauth = {auth}\nusers = {users}\ncredit = {credit}\nstores = {stores}\n\n\
             [limits]\nsubgraph_timeout_ms = 5000\nrequest_timeout_ms = 15000\n\n\
             [limits.subgraph_timeouts_ms]\nstores = 8000\n\n\
             [circuit_breaker]\ncool_down_ms = {COOL_DOWN_MS}\n\n{quotas}",
            listen = quoted(&format!("127.0.0.1:{}", router.port)),
            supergraph = quoted(&supergraph_path().display().to_string()),
            jwks = quoted(&jwks_url),
            auth = quoted(&auth.base_url()),
            users = quoted(&users.base_url()),
            credit = quoted(&credit.base_url()),
            stores = quoted(&stores.base_url()),
        );
        std::fs::write(&config_path, config)?;
        router.arguments = vec!["--config".to_string(), config_path.display().to_string()];
        router.set("INTERNAL_SIGNING_KEY", trust.router_seed().expose().clone());

        Ok(Self {
            parts: [users, auth, credit, stores, router].into_iter().map(|part| (part.name, part)).collect(),
            credit_database,
            stores_database,
            _auth_database: auth_database,
            _users_database: users_database,
            _directory: directory,
        })
    }

    /// Starts every part, each once what it calls is ready.
    pub async fn start_all(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        for name in ["users", "auth", "credit", "stores", "router"] {
            let part = self.part(name)?;
            part.start()?;
            part.wait_ready(http).await?;
        }
        Ok(())
    }

    pub fn part(&mut self, name: &str) -> anyhow::Result<&mut Part> {
        self.parts.get_mut(name).with_context(|| format!("no part {name}"))
    }

    pub fn router_url(&self) -> anyhow::Result<String> {
        let router = self.parts.get("router").context("no router")?;
        Ok(format!("{}/graphql", router.base_url()))
    }

    /// Every part's log tail, for a failure report.
    pub fn log_tails(&self, lines: usize) -> String {
        self.parts
            .values()
            .map(|part| format!("== {} (last {lines} lines of its log)\n{}\n", part.name, part.log_tail(lines)))
            .collect()
    }
}
