//! The payments workload: consumer-presented QR payments through the router, every one
//! a real sale that moves money.
//!
//! Each client is one payer (its own wallet, so payers never wait on each other's rows)
//! paired with the merchant's kiosk side, and loops: the payer's app asks for a payment
//! code (`issuePaymentCode`, router → auth), then the merchant sells one latte with it
//! (`sell`, router → stores → credit, which authorises and captures in one call). Two
//! scenarios:
//!
//! - (h) hot store: every client sells at the same store, so every payment credits one
//!   store account — the case the ledger's shard rows exist for;
//! - (s) spread: client *i* sells at its own store *i*, so no two payments touch the same
//!   store account.
//!
//! If a busy store serialised payments, (h) would fall far behind (s); the ratio of the two
//! in one run is the answer. While a scenario runs, the benchmark also counts the CPU time
//! of this process (router, subgraphs and load generator) and, on PostgreSQL, of the
//! server's processes (its postmaster and children), and samples `pg_stat_activity` for backends waiting on a lock: that
//! is what says what the limit is.
//!
//! After the run every paid sale is accounted for: each store's balance is its number of
//! paid sales times the price, each payer's wallet the grant less its payments.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use c9pay_platform::{id::UserId, money::Amount};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::{
    load::{self, LATENCY_MAX_US, Measurement},
    stack::{self, Stack, Storage},
};

/// The price of what every payment buys (the seeded latte).
const PRICE: i64 = 4_500;
/// What each payer starts with: far more than any run spends.
const PAYER_GRANT: i64 = 1_000_000_000;
const PAYER_PASSWORD: &str = "correct horse battery staple";

const ISSUE_CODE: &str = "mutation { issuePaymentCode { token } }";
const SELL: &str = "mutation Sell($input: SellInput!) { sell(input: $input) { id status total } }";
const MY_STORES: &str = "{ me { stores { id name account { balance } products { id name } } } }";

/// A store to sell at and the product every sale there buys.
#[derive(Clone)]
struct Till {
    store_id: String,
    product_id: String,
}

struct Payer {
    user_id: UserId,
    authorization: String,
}

/// Everything the two scenarios need: the merchant, one hot store, one store per client,
/// one payer per client.
pub struct Setup {
    merchant: String,
    hot: Till,
    spread: Vec<Till>,
    payers: Vec<Payer>,
    /// The PostgreSQL server's postmaster, for its CPU time.
    postmaster: Option<u32>,
}

pub struct Scenario {
    pub key: &'static str,
    pub title: &'static str,
    /// The till of client *i* is `tills[i % tills.len()]`.
    tills: Vec<Till>,
}

/// What one scenario measured.
pub struct Outcome {
    /// Paid sales, with the `sell` latency.
    pub sales: Measurement,
    /// Payment codes issued, with the `issuePaymentCode` latency.
    pub codes: Histogram<u64>,
    /// CPU seconds of this process and of the PostgreSQL server during the measurement.
    pub cpu_process_s: f64,
    pub cpu_postgres_s: Option<f64>,
    /// `pg_stat_activity` samples on PostgreSQL.
    pub activity: Option<Activity>,
}

/// Sums over `pg_stat_activity` samples: active client backends of the benchmark's
/// databases, and those of them waiting on a lock.
#[derive(Clone, Copy, Default)]
pub struct Activity {
    samples: u32,
    active: i64,
    waiting_on_lock: i64,
}

impl Activity {
    fn add(self, other: Self) -> Self {
        Self {
            samples: self.samples + other.samples,
            active: self.active + other.active,
            waiting_on_lock: self.waiting_on_lock + other.waiting_on_lock,
        }
    }

    #[allow(clippy::as_conversions)] // small counts
    fn mean(count: i64, samples: u32) -> f64 {
        count as f64 / f64::from(samples.max(1))
    }

    pub fn mean_active(&self) -> f64 {
        Self::mean(self.active, self.samples)
    }

    pub fn mean_waiting_on_lock(&self) -> f64 {
        Self::mean(self.waiting_on_lock, self.samples)
    }
}

impl Outcome {
    /// Adds a later round of the same scenario.
    pub fn merge_round(mut self, round: Self) -> anyhow::Result<Self> {
        self.sales.merge_round(round.sales)?;
        self.codes.add(&round.codes).context("merging histograms")?;
        self.cpu_process_s += round.cpu_process_s;
        self.cpu_postgres_s = self.cpu_postgres_s.zip(round.cpu_postgres_s).map(|(a, b)| a + b);
        self.activity = self.activity.zip(round.activity).map(|(a, b)| a.add(b));
        Ok(self)
    }
}

/// Signs the payers up, opens the stores and grants the wallets.
pub async fn set_up(stack: &Stack, storage: &Storage, http: &reqwest::Client, merchant: &stack::Person, clients: usize) -> anyhow::Result<Setup> {
    let merchant_authorization = format!("Bearer {}", merchant.access_token);
    let names: Vec<String> = (0..clients).map(|index| format!("{} {}", stack::STORE_NAME, index + 1)).collect();
    let (credit, stores_database) = stack.databases().await?;
    for name in &names {
        stack::seed_store(&credit, &stores_database, &merchant.user_id, name).await?;
    }
    let stores = query(http, &stack.router_url, &merchant_authorization, MY_STORES, json!({})).await?;
    let tills: BTreeMap<String, Till> = stores["me"]["stores"]
        .as_array()
        .context("me.stores is not a list")?
        .iter()
        .filter_map(|store| {
            let latte = store["products"].as_array()?.iter().find(|product| product["name"] == "Latte")?;
            Some((
                store["name"].as_str()?.to_string(),
                Till {
                    store_id: store["id"].as_str()?.to_string(),
                    product_id: latte["id"].as_str()?.to_string(),
                },
            ))
        })
        .collect();
    let hot = tills.get(stack::STORE_NAME).context("the seeded store has no latte")?.clone();
    let spread = names
        .iter()
        .map(|name| tills.get(name).cloned().with_context(|| format!("store {name} was not seeded")))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut payers = Vec::with_capacity(clients);
    for index in 0..clients {
        let email = format!("payer{index}@bench.c9pay");
        let signed_up = query(
            http,
            &stack.router_url,
            "",
            "mutation SignUp($input: SignUpInput!) { signUp(input: $input) { user { id } } }",
            json!({ "input": { "email": email, "password": PAYER_PASSWORD, "displayName": format!("Payer {index}") } }),
        )
        .await?;
        let user_id = UserId::parse(signed_up["signUp"]["user"]["id"].as_str().unwrap_or_default())
            .context("signUp returned an invalid user id")?;
        let logged_in = query(
            http,
            &stack.router_url,
            "",
            "mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken } }",
            json!({ "input": { "email": email, "password": PAYER_PASSWORD } }),
        )
        .await?;
        let token = logged_in["logIn"]["accessToken"].as_str().context("logIn returned no token")?;
        c9pay_credit::demo::grant(&credit, &user_id, Amount::parse_positive(PAYER_GRANT)?)
            .await
            .context("granting a wallet balance")?;
        payers.push(Payer { user_id, authorization: format!("Bearer {token}") });
    }
    let postmaster = postmaster_of(storage).await?;
    Ok(Setup { merchant: merchant_authorization, hot, spread, payers, postmaster })
}

/// One payment before any load, so that a run that cannot pay stops at once instead of
/// measuring refusals.
pub async fn check(stack: &Stack, http: &reqwest::Client, setup: &Setup) -> anyhow::Result<()> {
    let payer = setup.payers.first().context("no payers")?;
    let code = query(http, &stack.router_url, &payer.authorization, ISSUE_CODE, json!({})).await?;
    let code = code["issuePaymentCode"]["token"].as_str().context("no payment code")?;
    let input = json!({ "input": {
        "storeId": setup.hot.store_id,
        "items": [{ "productId": setup.hot.product_id, "quantity": 1 }],
        "paymentCode": code,
        "idempotencyKey": format!("check-{}", uuid::Uuid::new_v4().simple()),
    } });
    let sold = query(http, &stack.router_url, &setup.merchant, SELL, input).await.context("the check payment")?;
    anyhow::ensure!(sold["sell"]["status"] == "PAID", "the check payment was not paid: {sold}");
    Ok(())
}

pub fn scenarios(setup: &Setup) -> Vec<Scenario> {
    vec![
        Scenario {
            key: "h",
            title: "hot store: every payment to the same store",
            tills: vec![setup.hot.clone()],
        },
        Scenario {
            key: "s",
            title: "spread: each client pays at its own store",
            tills: setup.spread.clone(),
        },
    ]
}

/// A GraphQL request that must succeed; an empty `authorization` sends none.
async fn query(http: &reqwest::Client, url: &str, authorization: &str, document: &str, variables: Value) -> anyhow::Result<Value> {
    let body = serde_json::to_vec(&json!({ "query": document, "variables": variables }))?;
    load::send(http, url, authorization, body).await.map_err(|error| anyhow::anyhow!("{error}"))
}

/// Runs `scenario`: `warm_up` unmeasured, then `duration` measured.
pub async fn run(
    stack: &Stack,
    storage: &Storage,
    http: &reqwest::Client,
    setup: &Setup,
    scenario: &Scenario,
    warm_up: Duration,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let warm_up_errors = if warm_up.is_zero() {
        0
    } else {
        measure(stack, http, setup, scenario, warm_up).await?.0.errors
    };
    let cpu_before = cpu_seconds(setup.postmaster);
    let sampler = ActivitySampler::start(storage);
    let (mut sales, codes) = measure(stack, http, setup, scenario, duration).await?;
    let activity = match sampler {
        Some(sampler) => Some(sampler.stop().await?),
        None => None,
    };
    let cpu_after = cpu_seconds(setup.postmaster);
    sales.warm_up_errors = warm_up_errors;
    Ok(Outcome {
        sales,
        codes,
        cpu_process_s: cpu_after.process - cpu_before.process,
        cpu_postgres_s: cpu_after.postgres.zip(cpu_before.postgres).map(|(after, before)| after - before),
        activity,
    })
}

async fn measure(
    stack: &Stack,
    http: &reqwest::Client,
    setup: &Setup,
    scenario: &Scenario,
    duration: Duration,
) -> anyhow::Result<(Measurement, Histogram<u64>)> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, payer) in setup.payers.iter().enumerate() {
        let till = scenario.tills.get(index % scenario.tills.len().max(1)).context("a scenario without tills")?.clone();
        let client = Client {
            http: http.clone(),
            url: stack.router_url.clone(),
            payer: payer.authorization.clone(),
            merchant: setup.merchant.clone(),
            till,
            key_prefix: format!("{}-{}-{}", scenario.key, index, uuid::Uuid::new_v4().simple()),
        };
        tasks.spawn(client.run(deadline));
    }
    let mut sales = Measurement::empty()?;
    let mut codes = load::new_histogram()?;
    while let Some(joined) = tasks.join_next().await {
        let (client_sales, client_codes) = joined.context("a client task failed")??;
        sales.merge_counts(client_sales)?;
        codes.add(&client_codes).context("merging histograms")?;
    }
    sales.elapsed = started.elapsed();
    Ok((sales, codes))
}

struct Client {
    http: reqwest::Client,
    url: String,
    payer: String,
    merchant: String,
    till: Till,
    key_prefix: String,
}

impl Client {
    async fn run(self, deadline: Instant) -> anyhow::Result<(Measurement, Histogram<u64>)> {
        let mut sales = Measurement::empty()?;
        let mut codes = load::new_histogram()?;
        let issue_body = serde_json::to_vec(&json!({ "query": ISSUE_CODE }))?;
        let mut sequence: u64 = 0;
        while Instant::now() < deadline {
            sequence += 1;
            let issued = Instant::now();
            let code = match load::send(&self.http, &self.url, &self.payer, issue_body.clone()).await {
                Ok(data) => match data["issuePaymentCode"]["token"].as_str() {
                    Some(token) => token.to_string(),
                    None => {
                        sales.record_error(format!("no payment code in {data}"));
                        continue;
                    }
                },
                Err(error) => {
                    sales.record_error(format!("issuePaymentCode: {error}"));
                    continue;
                }
            };
            codes.saturating_record(micros_since(issued));
            let sell = serde_json::to_vec(&json!({
                "query": SELL,
                "variables": { "input": {
                    "storeId": self.till.store_id,
                    "items": [{ "productId": self.till.product_id, "quantity": 1 }],
                    "paymentCode": code,
                    "idempotencyKey": format!("{}-{sequence}", self.key_prefix),
                } },
            }))?;
            let sold = Instant::now();
            match load::send(&self.http, &self.url, &self.merchant, sell).await {
                Ok(data) if data["sell"]["status"] == "PAID" && data["sell"]["total"].as_str().and_then(|total| total.parse().ok()) == Some(PRICE) => {
                    sales.latency_us.saturating_record(micros_since(sold));
                    sales.requests_ok += 1;
                }
                Ok(data) => sales.record_error(format!("sale not paid: {data}")),
                Err(error) => sales.record_error(format!("sell: {error}")),
            }
        }
        Ok((sales, codes))
    }
}

fn micros_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(LATENCY_MAX_US).clamp(1, LATENCY_MAX_US)
}

/// Checks the books after all scenarios: every store holds its paid sales times the price,
/// every payer the grant less what it paid, and the sales add up to what the clients saw.
pub async fn audit(stack: &Stack, http: &reqwest::Client, setup: &Setup, paid_sales: u64) -> anyhow::Result<()> {
    let stores = query(http, &stack.router_url, &setup.merchant, MY_STORES, json!({})).await?;
    let mut takings: i64 = 0;
    for store in stores["me"]["stores"].as_array().context("me.stores is not a list")? {
        let balance: i64 = store["account"]["balance"].as_str().unwrap_or_default().parse()?;
        anyhow::ensure!(balance % PRICE == 0, "store {} holds {balance}, not a whole number of sales", store["id"]);
        takings += balance;
    }
    let (credit, _) = stack.databases().await?;
    let mut spent: i64 = 0;
    for payer in &setup.payers {
        let balance = c9pay_credit::demo::balance_of_user(&credit, &payer.user_id).await?;
        spent += PAYER_GRANT - balance.get();
    }
    let expected = i64::try_from(paid_sales)?.checked_mul(PRICE).context("overflow")?;
    // Warm-up sales are paid too, so the books hold at least the measured ones; they must
    // agree with each other exactly.
    anyhow::ensure!(takings == spent, "the stores took {takings} but the payers spent {spent}");
    anyhow::ensure!(takings >= expected, "the stores took {takings}, less than the {expected} of the measured sales");
    eprintln!("books balance: the stores took {takings}, the payers spent {spent} ({} sales)", takings / PRICE);
    Ok(())
}

struct Cpu {
    process: f64,
    postgres: Option<f64>,
}

/// CPU seconds (user + system) used so far by this process and by the PostgreSQL server
/// whose postmaster is `postmaster` (it and its children: backends, writer, WAL writer).
fn cpu_seconds(postmaster: Option<u32>) -> Cpu {
    let ticks = clock_ticks_per_second();
    let process = process_ticks("self").map_or(0.0, |used| used / ticks);
    let postgres = postmaster.map(|postmaster| {
        let mut used = process_ticks(&postmaster.to_string()).unwrap_or(0.0);
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().filter(|pid| pid.bytes().all(|byte| byte.is_ascii_digit())) else {
                    continue;
                };
                if parent_of(pid) == Some(postmaster) {
                    used += process_ticks(pid).unwrap_or(0.0);
                }
            }
        }
        used / ticks
    });
    Cpu { process, postgres }
}

fn parent_of(pid: &str) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("PPid:")).and_then(|value| value.trim().parse().ok())
}

/// The pid of the server's postmaster, from `postmaster.pid` in its data directory (the
/// benchmark runs on the server's machine; every URL is loopback).
pub async fn postmaster_of(storage: &Storage) -> anyhow::Result<Option<u32>> {
    use sqlx::Connection as _;
    let Storage::Postgres { admin_url } = storage else {
        return Ok(None);
    };
    let mut connection = sqlx::PgConnection::connect(admin_url).await?;
    let directory: String = sqlx::query_scalar("select setting from pg_settings where name = 'data_directory'")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await.ok();
    let pid_file = std::fs::read_to_string(format!("{directory}/postmaster.pid"))
        .with_context(|| format!("reading {directory}/postmaster.pid (the server must run on this machine)"))?;
    let pid = pid_file.lines().next().and_then(|line| line.trim().parse().ok());
    Ok(pid)
}

/// utime + stime of `/proc/<pid>/stat`, in clock ticks.
fn process_ticks(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields count from after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Samples `pg_stat_activity` every 50 ms from its own connection.
struct ActivitySampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<Activity>>,
}

const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

impl ActivitySampler {
    fn start(storage: &Storage) -> Option<Self> {
        let Storage::Postgres { admin_url } = storage else {
            return None;
        };
        let admin_url = admin_url.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            use sqlx::{Connection as _, Row as _};
            let mut connection = sqlx::PgConnection::connect(&admin_url).await?;
            let mut activity = Activity::default();
            while !stopped.load(Ordering::Relaxed) {
                let row = sqlx::query(
                    "select count(*) as active, count(*) filter (where wait_event_type = 'Lock') as waiting
                     from pg_stat_activity
                     where state = 'active' and backend_type = 'client backend' and pid <> pg_backend_pid()
                       and datname like 'c9pay_bench_%'",
                )
                .fetch_one(&mut connection)
                .await?;
                activity.active += row.try_get::<i64, _>("active")?;
                activity.waiting_on_lock += row.try_get::<i64, _>("waiting")?;
                activity.samples += 1;
                tokio::time::sleep(SAMPLE_INTERVAL).await;
            }
            Ok(activity)
        });
        Some(Self { stop, task })
    }

    async fn stop(self) -> anyhow::Result<Activity> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.context("the pg_stat_activity sampler failed")?
    }
}

/// The results as markdown.
pub fn markdown(summary: &str, results: &[(&Scenario, &Outcome)]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{summary}\n");
    let _ = writeln!(
        out,
        "| scenario | payments/s | sell p50 ms | sell p99 ms | code p50 ms | code p99 ms | payments | errors | CPU ms/payment (process) | CPU ms/payment (PostgreSQL) | active backends | waiting on a lock |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (scenario, outcome) in results {
        #[allow(clippy::as_conversions)] // counts far below 2^53
        let payments = outcome.sales.requests_ok.max(1) as f64;
        #[allow(clippy::as_conversions)]
        let code_ms = |quantile: f64| outcome.codes.value_at_quantile(quantile) as f64 / 1_000.0;
        let optional = |value: Option<f64>, digits: usize| value.map_or("–".to_string(), |value| format!("{value:.digits$}"));
        let _ = writeln!(
            out,
            "| ({}) {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {:.2} | {} | {} | {} |",
            scenario.key,
            scenario.title,
            outcome.sales.requests_per_second(),
            outcome.sales.latency_ms(0.50),
            outcome.sales.latency_ms(0.99),
            code_ms(0.50),
            code_ms(0.99),
            outcome.sales.requests_ok,
            outcome.sales.errors + outcome.sales.warm_up_errors,
            outcome.cpu_process_s * 1_000.0 / payments,
            optional(outcome.cpu_postgres_s.map(|seconds| seconds * 1_000.0 / payments), 2),
            optional(outcome.activity.map(|activity| activity.mean_active()), 2),
            optional(outcome.activity.map(|activity| activity.mean_waiting_on_lock()), 2),
        );
    }
    let find = |key: &str| results.iter().find(|(scenario, _)| scenario.key == key).map(|(_, outcome)| *outcome);
    if let (Some(hot), Some(spread)) = (find("h"), find("s")) {
        let ratio = |top: f64, bottom: f64| if bottom > 0.0 { top / bottom } else { f64::NAN };
        let _ = writeln!(out, "\nHot store against spread, (h) / (s):");
        let _ = writeln!(
            out,
            "- throughput ratio {:.2} ({:.0} / {:.0} payments/s)",
            ratio(hot.sales.requests_per_second(), spread.sales.requests_per_second()),
            hot.sales.requests_per_second(),
            spread.sales.requests_per_second()
        );
        for (name, quantile) in [("p50", 0.50), ("p99", 0.99)] {
            let (top, bottom) = (hot.sales.latency_ms(quantile), spread.sales.latency_ms(quantile));
            let _ = writeln!(out, "- sell {name} ratio {:.2} ({top:.2} ms / {bottom:.2} ms)", ratio(top, bottom));
        }
    }
    for (scenario, outcome) in results {
        for sample in &outcome.sales.error_samples {
            let _ = writeln!(out, "\nerror in ({}): {sample}", scenario.key);
        }
    }
    out
}
