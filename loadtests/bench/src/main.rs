//! `c9pay-bench`: starts the whole platform in this process on loopback, seeds one
//! person with a wallet and a store, and measures three scenarios with N concurrent
//! clients for a fixed time each:
//!
//! - (a) the router, `me { displayName wallet { balance } stores { name products { name price } } }`
//!   with an access token: one request answered by users, credit and stores;
//! - (b) the users subgraph directly, `me { displayName }` with an internal token signed
//!   with the router's key (what the router itself sends);
//! - (c) the router, `me { displayName }`: the same single-subgraph query as (b), so
//!   (c) against (b) is what the router adds.
//!
//! With `--workload payments` it measures QR payments instead: every iteration a payer
//! issues a payment code and the merchant sells with it, (h) all at one store against (s)
//! each client at its own store (see [`payments`]).
//!
//! It prints a markdown table and the ratios, and exits non-zero when any request failed.
//! `c9pay-bench subscriptions` measures live payment confirmations instead (see
//! `subscriptions.rs`). See `loadtests/README.md`.

mod load;
mod payments;
mod report;
mod stack;
mod subscriptions;

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use serde_json::json;

use crate::{
    load::{Credentials, Measurement, Scenario},
    stack::{Stack, Storage},
};

/// Load benchmark of the router against a direct subgraph call, on loopback only.
#[derive(Parser)]
#[command(name = "c9pay-bench")]
pub struct Options {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Concurrent clients, each with one request in flight at a time.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1_000))]
    clients: u16,
    /// Measured time of each scenario in each round, in seconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=600))]
    duration_s: u16,
    /// Unmeasured load before each measurement, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(0..=120))]
    warm_up_s: u16,
    /// Rounds of all scenarios; each round starts with a different scenario, so slow drift
    /// of a noisy machine does not always fall on the same one. Results add up over rounds.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
    rounds: u8,
    /// Admin URL of a PostgreSQL server to create (and drop) the four databases on,
    /// e.g. `postgres://postgres@127.0.0.1:5432/postgres`. Default: SQLite files in a
    /// temporary directory.
    #[arg(long)]
    postgres: Option<String>,
    /// What to measure: read-only queries (router overhead) or QR payments (hot store
    /// against spread stores).
    #[arg(long, value_enum, default_value_t = Workload::Queries)]
    workload: Workload,
    /// Log as the services do (`RUST_LOG`, default `info`); off by default, so that the
    /// terminal is not part of what is measured.
    #[arg(long)]
    log: bool,
    /// Turn the router's de-duplication of identical query fetches in flight off
    /// (`deduplicate_queries = false`). Every client of the query workload is the same
    /// person with the same token, so with it on, concurrent identical requests share
    /// fetches: the best case, not what many different people cause.
    #[arg(long)]
    no_deduplication: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Workload {
    Queries,
    Payments,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// Commit-to-event latency of payment confirmations with idle subscribers connected,
    /// and memory per subscriber (PostgreSQL; credit in a child process).
    Subscriptions(subscriptions::SubscriptionOptions),
    /// Runs credit alone from a configuration file (what `subscriptions` starts itself).
    #[command(hide = true)]
    CreditProcess {
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

const CROSS_SUBGRAPH_QUERY: &str =
    "{ me { displayName wallet { balance } stores { name products { name price } } } }";
const SINGLE_SUBGRAPH_QUERY: &str = "{ me { displayName } }";

/// The allocator of the `c9pay` binary, so that the platform measured here runs as it
/// ships (without the `mimalloc` feature: the system's, for heaptrack).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    if options.log {
        c9pay_platform::telemetry::init(c9pay_platform::telemetry::LogFormat::Pretty);
    }
    match options.mode {
        Some(Mode::Subscriptions(subscription_options)) => {
            return subscriptions::run(subscription_options).await;
        }
        Some(Mode::CreditProcess { config }) => {
            let config: c9pay_credit::CreditConfig =
                c9pay_platform::config::load(Some(&config), "C9PAY_CREDIT")?;
            let credit = c9pay_credit::build(&config).await?;
            credit.run_until_stopped().await?;
            return Ok(());
        }
        None => {}
    }
    let storage = match &options.postgres {
        Some(admin_url) => Storage::Postgres {
            admin_url: admin_url.clone(),
        },
        None => Storage::Sqlite,
    };
    let clients = usize::from(options.clients);

    eprintln!("starting users, credit, auth, stores and the router on 127.0.0.1 …");
    let stack = Stack::start(&storage, !options.no_deduplication).await?;
    let http = load::http_client(clients)?;
    let person = stack.seed_person(&http).await?;
    if options.workload == Workload::Payments {
        let outcome = measure_payments(&options, &storage, &stack, &http, &person).await;
        stack.stop().await;
        return outcome;
    }
    let scenarios = scenarios(&stack, person)?;
    for scenario in &scenarios {
        load::check(&http, scenario).await?;
    }

    let warm_up = Duration::from_secs(u64::from(options.warm_up_s));
    let duration = Duration::from_secs(u64::from(options.duration_s));
    let mut totals = scenarios
        .iter()
        .map(|_| Measurement::empty())
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (round, index) in schedule(options.rounds, scenarios.len()) {
        let (Some(scenario), Some(total)) = (scenarios.get(index), totals.get_mut(index)) else {
            continue;
        };
        announce(&options, round, scenario.key, scenario.title);
        let measurement = load::run(&http, scenario, clients, warm_up, duration).await?;
        eprintln!(
            "  {:.0} requests/s, p95 {:.2} ms, {} errors",
            measurement.requests_per_second(),
            measurement.latency_ms(0.95),
            measurement.errors
        );
        total.merge_round(measurement)?;
    }

    let results: Vec<(&Scenario, &Measurement)> = scenarios.iter().zip(totals.iter()).collect();
    println!("{}", report::markdown(&options_summary(&options), &results));
    stack.stop().await;

    let errors: u64 = totals
        .iter()
        .map(|total| total.errors + total.warm_up_errors)
        .sum();
    anyhow::ensure!(errors == 0, "{errors} requests failed; the numbers above are not valid");
    Ok(())
}

async fn measure_payments(
    options: &Options,
    storage: &Storage,
    stack: &Stack,
    http: &reqwest::Client,
    merchant: &stack::Person,
) -> anyhow::Result<()> {
    let clients = usize::from(options.clients);
    eprintln!("signing up {clients} payers and opening {clients} more stores …");
    let setup = payments::set_up(stack, storage, http, merchant, clients).await?;
    payments::check(stack, http, &setup).await?;
    let scenarios = payments::scenarios(&setup);
    let warm_up = Duration::from_secs(u64::from(options.warm_up_s));
    let duration = Duration::from_secs(u64::from(options.duration_s));
    let mut totals: Vec<Option<payments::Outcome>> = scenarios.iter().map(|_| None).collect();
    for (round, index) in schedule(options.rounds, scenarios.len()) {
        let (Some(scenario), Some(total)) = (scenarios.get(index), totals.get_mut(index)) else {
            continue;
        };
        announce(options, round, scenario.key, scenario.title);
        let outcome = payments::run(stack, storage, http, &setup, scenario, warm_up, duration).await?;
        eprintln!(
            "  {:.0} payments/s, sell p99 {:.2} ms, {} errors",
            outcome.sales.requests_per_second(),
            outcome.sales.latency_ms(0.99),
            outcome.sales.errors
        );
        *total = Some(match total.take() {
            Some(earlier) => earlier.merge_round(outcome)?,
            None => outcome,
        });
    }
    let results: Vec<(&payments::Scenario, &payments::Outcome)> = scenarios
        .iter()
        .zip(totals.iter())
        .filter_map(|(scenario, outcome)| Some((scenario, outcome.as_ref()?)))
        .collect();
    println!("{}", payments::markdown(&options_summary(options), &results));
    let paid: u64 = results.iter().map(|(_, outcome)| outcome.sales.requests_ok).sum();
    payments::audit(stack, http, &setup, paid).await?;
    let errors: u64 = results
        .iter()
        .map(|(_, outcome)| outcome.sales.errors + outcome.sales.warm_up_errors)
        .sum();
    anyhow::ensure!(errors == 0, "{errors} payments failed; the numbers above are not valid");
    Ok(())
}

/// (round, scenario index) in the order they run: each round starts one scenario later,
/// so the slow drift of a noisy machine does not always fall on the same one.
fn schedule(rounds: u8, scenarios: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..usize::from(rounds)).flat_map(move |round| (0..scenarios).map(move |offset| (round, (round + offset) % scenarios)))
}

fn announce(options: &Options, round: usize, key: &str, title: &str) {
    eprintln!(
        "round {}/{}: ({key}) {title} — {} clients, {} s warm-up, {} s measured",
        round + 1,
        options.rounds,
        options.clients,
        options.warm_up_s,
        options.duration_s
    );
}

fn options_summary(options: &Options) -> String {
    format!(
        "{} concurrent clients (closed loop, keep-alive), {} s warm-up + {} s measured per scenario, {} round(s), {} storage, router de-duplication {}, {} CPU(s) seen",
        options.clients,
        options.warm_up_s,
        options.duration_s,
        options.rounds,
        if options.postgres.is_some() { "PostgreSQL" } else { "SQLite" },
        if options.no_deduplication { "off" } else { "on" },
        std::thread::available_parallelism().map_or(0, usize::from),
    )
}

fn scenarios(stack: &Stack, person: stack::Person) -> anyhow::Result<Vec<Scenario>> {
    let users_url = stack
        .subgraph_urls
        .get("users")
        .context("the stack has no users subgraph")?
        .clone();
    let access_token = Credentials::AccessToken(person.access_token);
    let internal = Credentials::Internal {
        trust: stack.trust.clone(),
        user_id: person.user_id,
    };
    let products: Vec<_> = stack::PRODUCTS
        .iter()
        .map(|(name, price)| json!({ "name": name, "price": price.to_string() }))
        .collect();
    let single_subgraph_data = json!({ "me": { "displayName": stack::DISPLAY_NAME } });
    Ok(vec![
        Scenario {
            key: "a",
            title: "router, cross-subgraph query (users + credit + stores)",
            url: stack.router_url.clone(),
            query: CROSS_SUBGRAPH_QUERY,
            credentials: access_token.clone(),
            expected_data: json!({ "me": {
                "displayName": stack::DISPLAY_NAME,
                "wallet": { "balance": stack::BALANCE.to_string() },
                "stores": [{ "name": stack::STORE_NAME, "products": products }],
            } }),
        },
        Scenario {
            key: "b",
            title: "users subgraph directly, `me { displayName }`",
            url: users_url,
            query: SINGLE_SUBGRAPH_QUERY,
            credentials: internal,
            expected_data: single_subgraph_data.clone(),
        },
        Scenario {
            key: "c",
            title: "router, `me { displayName }` (users only)",
            url: stack.router_url.clone(),
            query: SINGLE_SUBGRAPH_QUERY,
            credentials: access_token,
            expected_data: single_subgraph_data,
        },
    ])
}
