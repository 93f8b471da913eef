//! The payment crash test (issue 12): the parts run as separate `c9pay run PART`
//! processes on PostgreSQL; store tills pay continuously through the router, asking again
//! with the same idempotency key after any error until each sale has an outcome; credit
//! and stores are killed with SIGKILL mid-flight and started again on a seeded schedule
//! (the seed is printed; `C9PAY_CRASH_SEED` replays the schedule). Afterwards, with every
//! part up and the reconciler given time to settle what the tills left, the two databases
//! must show every sale paid once or failed, none lost, no payer charged twice, each paid
//! sale moved once in credit's ledger, and both books balancing.
//!
//! It needs `C9PAY_TEST_POSTGRES_URL` like every PostgreSQL test (`scripts/test` sets
//! it); without it, it fails and says so.

mod books;
mod parts;
mod till;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use c9pay_platform::{
    database::Database,
    id::UserId,
    money::Amount,
};
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use serde_json::{Value, json};

use crate::{
    parts::{Parts, RECONCILE_AFTER_MS},
    till::{Product, Till},
};

/// Tills, each with its own payer; till *i* sells at store *i* mod [`STORES`].
const TILLS: usize = 4;
const STORES: usize = 2;
/// What the payers start with: plenty, except the last one, whose credit runs out during
/// the run so that refusals (`INSUFFICIENT_CREDIT`) happen among the crashes too.
const GRANT: i64 = 100_000_000;
const SMALL_GRANT: i64 = 30_000;
const PRODUCTS: [(&str, i64); 2] = [("Latte", 4_500), ("Espresso", 3_000)];
/// The chance that a till walks away from a sale after an answer without an outcome,
/// leaving it to the reconciler.
const WALK_AWAY: f64 = 0.2;
/// Kills per run (each of credit, stores or both), and the bounds of the seeded pauses between them and of each part's
/// time down.
const KILLS: usize = 8;
const PAUSE_MS: std::ops::Range<u64> = 1_500..4_000;
const DOWN_MS: std::ops::Range<u64> = 0..1_500;
/// How long the tills keep paying once the last killed part is back.
const CALM: Duration = Duration::from_secs(3);
/// The most the settling may take: the reconciler's wait plus ample rounds. A bound on a
/// wait for a condition, not a claim about speed.
const SETTLE_WITHIN: Duration = Duration::from_secs(120);
const PASSWORD: &str = "correct horse battery staple";

/// One kill of the schedule: after `pause`, `parts` are killed together and started
/// again after `down`.
#[derive(Debug)]
struct Kill {
    pause: Duration,
    parts: &'static [&'static str],
    down: Duration,
}

/// Who a kill takes down: credit, stores, or both at once.
const VICTIMS: [&[&str]; 3] = [&["credit"], &["stores"], &["credit", "stores"]];

fn schedule(seed: u64) -> Vec<Kill> {
    let mut random = StdRng::seed_from_u64(seed);
    (0..KILLS)
        .map(|_| Kill {
            pause: Duration::from_millis(random.gen_range(PAUSE_MS)),
            parts: VICTIMS[random.gen_range(0..VICTIMS.len())],
            down: Duration::from_millis(random.gen_range(DOWN_MS)),
        })
        .collect()
}

fn seed() -> u64 {
    match std::env::var("C9PAY_CRASH_SEED") {
        Ok(seed) => seed.trim().parse().unwrap_or_else(|error| panic!("C9PAY_CRASH_SEED={seed}: {error}")),
        Err(_) => rand::random(),
    }
}

/// Under `postgres::`, so that `just test-sqlite` (no database server) leaves it out.
mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn payments_survive_sigkill_of_credit_and_stores() {
        super::payments_survive_sigkill_of_credit_and_stores().await;
    }
}

async fn payments_survive_sigkill_of_credit_and_stores() {
    let seed = seed();
    eprintln!("crash test: seed {seed} (replay with C9PAY_CRASH_SEED={seed})");
    let http = reqwest::Client::new();
    let mut parts = match Parts::create().await {
        Ok(parts) => parts,
        Err(error) => panic!("crash test (seed {seed}): preparing the parts: {error:#}"),
    };
    match run(seed, &mut parts, &http).await {
        Ok(summary) => eprintln!("{summary}"),
        Err(error) => panic!(
            "crash test FAILED (seed {seed}; replay with C9PAY_CRASH_SEED={seed}):\n{error:#}\n\n{}",
            parts.log_tails(20)
        ),
    }
}

async fn run(seed: u64, parts: &mut Parts, http: &reqwest::Client) -> anyhow::Result<String> {
    let started = Instant::now();
    parts.start_all(http).await.context("starting the parts")?;
    let router_url = parts.router_url()?;
    let credit_config = parts.credit_database.config.clone();
    let books = books::open(parts.stores_database.config.url.expose(), &credit_config).await?;
    let stores_database = Database::connect(&parts.stores_database.config, &c9pay_stores::migrations()).await?;

    // The merchant and the payers sign up and log in through the router, as people do;
    // the stores, their products and the wallets are seeded as `c9pay up` seeds them.
    let (merchant_id, merchant) = person(http, &router_url, "merchant@crash.c9pay").await?;
    let products = PRODUCTS
        .iter()
        .map(|(name, price)| Ok((*name, Amount::parse_positive(*price)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut stores = Vec::new();
    for index in 0..STORES {
        let store = c9pay_stores::demo::seed_store(&stores_database, &merchant_id, &format!("Crash Coffee {index}"), &products).await?;
        c9pay_credit::demo::ensure_store_account(&books.ledger, &store.id, &merchant_id).await?;
        let rows = sqlx::query_as::<_, (String, i64)>("select id, price from product where store_id = $1 order by name")
            .bind(store.id.as_str())
            .fetch_all(&books.stores)
            .await?;
        let products: Vec<Product> = rows.into_iter().map(|(id, price)| Product { id, price }).collect();
        stores.push((store.id.to_string(), products));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut grants = BTreeMap::new();
    let mut tills = tokio::task::JoinSet::new();
    for index in 0..TILLS {
        let (payer_id, payer) = person(http, &router_url, &format!("payer{index}@crash.c9pay")).await?;
        let grant = if index + 1 == TILLS { SMALL_GRANT } else { GRANT };
        c9pay_credit::demo::grant(&books.ledger, &payer_id, Amount::parse_positive(grant)?).await?;
        grants.insert(payer_id.to_string(), grant);
        let (store_id, products) = stores[index % STORES].clone();
        tills.spawn(
            Till {
                index,
                http: http.clone(),
                router_url: router_url.clone(),
                merchant: merchant.clone(),
                payer,
                store_id,
                products,
                stop: stop.clone(),
                walk_away: WALK_AWAY,
                random: StdRng::seed_from_u64(seed.wrapping_add(1 + u64::try_from(index)?)),
            }
            .run(),
        );
    }

    // The kills, while the tills pay.
    let schedule = schedule(seed);
    eprintln!("crash test: schedule {schedule:?}");
    let load_started = Instant::now();
    let mut kills = BTreeMap::<&str, usize>::new();
    for kill in &schedule {
        tokio::time::sleep(kill.pause).await;
        for name in kill.parts {
            parts.part(name)?.kill();
            *kills.entry(name).or_default() += 1;
        }
        eprintln!("crash test: {:>6.1} s killed {:?} (down {:?})", load_started.elapsed().as_secs_f64(), kill.parts, kill.down);
        tokio::time::sleep(kill.down).await;
        for name in kill.parts {
            let part = parts.part(name)?;
            part.start()?;
            part.wait_ready(http).await.with_context(|| format!("restarting {name}"))?;
        }
    }
    tokio::time::sleep(CALM).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = Vec::new();
    let mut errors = BTreeMap::<String, u64>::new();
    while let Some(record) = tills.join_next().await {
        let record = record.context("a till panicked")?;
        attempts.extend(record.attempts);
        for (error, count) in record.errors {
            *errors.entry(error).or_default() += count;
        }
    }
    let load_s = load_started.elapsed().as_secs_f64();

    // Settling: every part is up; what a till left pending is settled by the reconciler
    // once RECONCILE_AFTER_MS has passed.
    let settle_started = Instant::now();
    loop {
        let (sales, holds) = books.pending().await?;
        if sales == 0 && holds == 0 {
            break;
        }
        anyhow::ensure!(
            settle_started.elapsed() < SETTLE_WITHIN,
            "{sales} sale(s) and {holds} hold(s) still pending {SETTLE_WITHIN:?} after the tills stopped \
             (the reconciler settles sales {RECONCILE_AFTER_MS} ms old)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settle_s = settle_started.elapsed().as_secs_f64();

    let (mut violations, tally) = books.audit(&attempts, &grants).await?;
    violations.extend(errors.keys().filter(|error| error.starts_with("VIOLATION")).cloned());
    let asked_again = attempts.iter().filter(|attempt| attempt.asks > 1).count();
    let summary = format!(
        "crash test: seed {seed}; kills {kills:?}; {} sales rung up in {load_s:.1} s ({asked_again} asked more than once): \
         {} paid, failed {:?} ({} left unfinished by the tills were settled later: {} paid, {} failed; {} never reached stores); \
         settled {settle_s:.1} s after the tills stopped; {:.1} s in all\n\
         errors the tills met on the way (and asked again): {errors:?}",
        attempts.len(),
        tally.paid,
        tally.failed,
        tally.unfinished_paid + tally.unfinished_failed,
        tally.unfinished_paid,
        tally.unfinished_failed,
        tally.never_recorded,
        started.elapsed().as_secs_f64(),
    );
    anyhow::ensure!(
        violations.is_empty(),
        "{} violation(s):\n- {}\n\n{summary}",
        violations.len(),
        violations.join("\n- ")
    );
    anyhow::ensure!(tally.paid > 0, "no sale was paid at all\n\n{summary}");
    books.stores.close().await;
    books.credit.close().await;
    books.ledger.close().await;
    stores_database.close().await;
    Ok(summary)
}

/// Signs a person up and logs them in through the router: their id and `Bearer …`.
async fn person(http: &reqwest::Client, router_url: &str, email: &str) -> anyhow::Result<(UserId, String)> {
    let signed_up = graphql(
        http,
        router_url,
        "mutation SignUp($input: SignUpInput!) { signUp(input: $input) { user { id } } }",
        json!({ "input": { "email": email, "password": PASSWORD, "displayName": email } }),
    )
    .await?;
    let id = UserId::parse(signed_up["signUp"]["user"]["id"].as_str().unwrap_or_default()).context("signUp returned no user id")?;
    let logged_in = graphql(
        http,
        router_url,
        "mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken } }",
        json!({ "input": { "email": email, "password": PASSWORD } }),
    )
    .await?;
    let token = logged_in["logIn"]["accessToken"].as_str().context("logIn returned no access token")?;
    Ok((id, format!("Bearer {token}")))
}

/// An anonymous GraphQL request that must succeed.
async fn graphql(http: &reqwest::Client, url: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
    let response = http.post(url).json(&json!({ "query": query, "variables": variables })).send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status.is_success() && body.get("errors").is_none(), "HTTP {status}: {body}");
    Ok(body["data"].clone())
}

