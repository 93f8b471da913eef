//! `c9pay-bench subscriptions`: how long a payment takes from its commit to the event at
//! a subscribed client, with N idle subscribers connected to the same router, and what
//! each subscriber costs in memory.
//!
//! Set-up: the platform on PostgreSQL with credit in a child process (one process may not
//! hold the sockets of 10,000 subscriptions on both ends). A merchant follows
//! `storePayments` over one WebSocket; N idle subscriptions follow `walletActivity` of a
//! person nobody pays, multiplexed over WebSocket connections to the router. Each idle
//! subscription first receives one replayed event, which proves it reaches credit.
//!
//! One measurement: the merchant creates a payment request, the payer pays it
//! (`payRequest` through the router), one at a time. The commit instant is when this
//! process receives the `NOTIFY c9pay_ledger_event` the paying transaction sends (it is
//! delivered at commit, to credit's listener and to ours alike); the event instant is
//! when the merchant's `next` message arrives. Both on one monotonic clock.
//!
//! Memory: the resident set of this process (the router, users, auth, stores and the
//! clients) and of the credit process, before the idle subscribers connect and after
//! every one of them has received its first event.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use c9pay_platform::{id::UserId, money::Amount};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::stack::{self, CreditPlacement, Stack, Storage};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// How long the benchmark waits for any one message before it gives up.
const WAIT: Duration = Duration::from_secs(120);
/// Idle connections opened at once.
const CONNECTS_IN_FLIGHT_MAX: usize = 64;

#[derive(clap::Args)]
pub struct SubscriptionOptions {
    /// Idle subscriber counts to measure with, one after the other.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    subscribers: Vec<usize>,
    /// Idle subscriptions per WebSocket connection (a connection runs at most 100).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    subscriptions_per_connection: u16,
    /// Measured payments per subscriber count.
    #[arg(long, default_value_t = 200)]
    payments: usize,
    /// Unmeasured payments before each measurement.
    #[arg(long, default_value_t = 20)]
    warm_up_payments: usize,
    /// Admin URL of the PostgreSQL server to create the databases on.
    #[arg(long)]
    postgres: String,
    /// The router's `shared_subscription_connections`: upstream WebSocket connections to
    /// credit that all subscriptions share; 0 opens one per subscription (the router
    /// before it multiplexed).
    #[arg(long, default_value_t = 64)]
    shared_subscription_connections: u64,
}

struct Person {
    user_id: UserId,
    authorization: String,
}

pub async fn run(options: SubscriptionOptions) -> anyhow::Result<()> {
    let storage = Storage::Postgres {
        admin_url: options.postgres.clone(),
    };
    eprintln!("starting users, auth, stores and the router here, credit in a child process …");
    let shared = options.shared_subscription_connections;
    let stack = Stack::start_with(&storage, CreditPlacement::ChildProcess, |config| {
        config.shared_subscription_connections = shared;
    })
    .await?;
    let result = measure(&stack, &options).await;
    stack.stop().await;
    let rows = result?;
    println!("{}", markdown(&options, &rows));
    Ok(())
}

struct Row {
    subscribers: usize,
    connections: usize,
    latency: Histogram<u64>,
    router_rss_delta_kib: i64,
    credit_rss_delta_kib: i64,
    connect_seconds: f64,
    /// Open file descriptors of this process (router, clients and the other subgraphs)
    /// and of credit, with every idle subscriber connected.
    open_files: (usize, usize),
}

async fn measure(stack: &Stack, options: &SubscriptionOptions) -> anyhow::Result<Vec<Row>> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let merchant_seed = stack.seed_person(&http).await?;
    let merchant = Person {
        user_id: merchant_seed.user_id,
        authorization: format!("Bearer {}", merchant_seed.access_token),
    };
    let store_id = store_of(stack, &http, &merchant).await?;
    let payer = sign_up(stack, &http, "payer@bench.c9pay", "Payer").await?;
    let idle = sign_up(stack, &http, "idle@bench.c9pay", "Idle").await?;
    let credit = c9pay_credit::open_database(&stack.credit_config).await?;
    c9pay_credit::demo::grant(&credit, &payer.user_id, Amount::parse_positive(1_000_000_000)?)
        .await
        .context("granting the payer credit")?;
    // The one event every idle subscription replays first.
    graphql(
        stack,
        &http,
        &payer.authorization,
        "mutation($to: ID!) { sendCredits(input: { toUserId: $to, amount: \"1\", idempotencyKey: \"idle-gift\" }) { transferId } }",
        json!({ "to": idle.user_id }),
    )
    .await?;

    let websocket_url = stack.router_url.replacen("http://", "ws://", 1);
    let mut dashboard = connect(&websocket_url, &merchant.authorization).await?;
    send(
        &mut dashboard,
        json!({ "id": "dashboard", "type": "subscribe", "payload": {
            "query": "subscription($store: ID!) { storePayments(storeId: $store) { id amount payer { displayName } store { name } } }",
            "variables": { "store": store_id },
        }}),
    )
    .await?;
    let database_url = stack.credit_config.database.url.expose().to_string();
    let mut commits = sqlx::postgres::PgListener::connect(&database_url).await?;
    commits.listen(c9pay_credit::events::NOTIFY_CHANNEL).await?;
    let credit_pid = stack
        .credit_process
        .as_ref()
        .map(std::process::Child::id)
        .context("credit runs in a child process")?;

    let mut payment = Payment {
        stack,
        http: &http,
        merchant: &merchant,
        payer: &payer,
        store_id: &store_id,
        sequence: 0,
    };
    let mut rows = Vec::new();
    for &subscribers in &options.subscribers {
        eprintln!("{subscribers} idle subscribers: warming up …");
        for _ in 0..options.warm_up_payments {
            payment.once(&mut commits, &mut dashboard).await?;
        }
        let router_before = rss_kib("self")?;
        let credit_before = rss_kib(&credit_pid.to_string())?;
        let started = Instant::now();
        let idle_connections = connect_idle(
            &websocket_url,
            &idle.authorization,
            subscribers,
            usize::from(options.subscriptions_per_connection),
        )
        .await?;
        let connect_seconds = started.elapsed().as_secs_f64();
        // Let whatever the connections allocated settle before reading the resident set.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let router_after = rss_kib("self")?;
        let credit_after = rss_kib(&credit_pid.to_string())?;
        let open_files = (open_files("self")?, open_files(&credit_pid.to_string())?);
        eprintln!(
            "  connected in {connect_seconds:.1} s; this process +{} KiB, credit +{} KiB; measuring {} payments …",
            router_after - router_before,
            credit_after - credit_before,
            options.payments
        );
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for _ in 0..options.payments {
            let elapsed = payment.once(&mut commits, &mut dashboard).await?;
            latency.record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1))?;
        }
        eprintln!(
            "  p50 {:.2} ms, p99 {:.2} ms",
            ms(latency.value_at_quantile(0.5)),
            ms(latency.value_at_quantile(0.99))
        );
        let connections = idle_connections.len();
        for mut connection in idle_connections {
            let _ = connection.close(None).await;
        }
        rows.push(Row {
            subscribers,
            connections,
            latency,
            router_rss_delta_kib: router_after - router_before,
            credit_rss_delta_kib: credit_after - credit_before,
            connect_seconds,
            open_files,
        });
        // Let the closed subscriptions end on both sides before the next count.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    Ok(rows)
}

struct Payment<'a> {
    stack: &'a Stack,
    http: &'a reqwest::Client,
    merchant: &'a Person,
    payer: &'a Person,
    store_id: &'a str,
    sequence: u64,
}

impl Payment<'_> {
    /// One payment; the time from its commit to the merchant's event.
    async fn once(
        &mut self,
        commits: &mut sqlx::postgres::PgListener,
        dashboard: &mut Socket,
    ) -> anyhow::Result<Duration> {
        self.sequence += 1;
        let amount = (self.sequence % 9_000 + 1_000).to_string();
        let created = graphql(
            self.stack,
            self.http,
            &self.merchant.authorization,
            "mutation($store: ID!, $amount: Amount!) { createPaymentRequest(input: { storeId: $store, amount: $amount }) { token } }",
            json!({ "store": self.store_id, "amount": amount }),
        )
        .await?;
        let token = created["createPaymentRequest"]["token"]
            .as_str()
            .context("no payment request token")?
            .to_string();
        let key = format!("bench-{}-{}", std::process::id(), self.sequence);
        let pay = graphql(
            self.stack,
            self.http,
            &self.payer.authorization,
            "mutation($token: String!, $key: String!) { payRequest(input: { token: $token, idempotencyKey: $key }) { transferId } }",
            json!({ "token": token, "key": key }),
        );
        let committed = async {
            tokio::time::timeout(WAIT, commits.recv())
                .await
                .context("no commit notification")??;
            anyhow::Ok(Instant::now())
        };
        let delivered = async {
            loop {
                let message = next_message(dashboard).await?;
                if message["type"] == "next" && message["id"] == "dashboard" {
                    let event = &message["payload"]["data"]["storePayments"];
                    anyhow::ensure!(
                        event["amount"] == amount.as_str()
                            && event["payer"]["displayName"] == "Payer"
                            && event["store"]["name"] == stack::STORE_NAME,
                        "unexpected event {message}"
                    );
                    return anyhow::Ok(Instant::now());
                }
                anyhow::ensure!(message["type"] != "error" && message["type"] != "complete", "the dashboard subscription ended: {message}");
            }
        };
        let (paid, committed, delivered) = tokio::join!(pay, committed, delivered);
        paid?;
        Ok(delivered?.saturating_duration_since(committed?))
    }
}

async fn store_of(stack: &Stack, http: &reqwest::Client, merchant: &Person) -> anyhow::Result<String> {
    let data = graphql(stack, http, &merchant.authorization, "{ me { stores { id } } }", json!({})).await?;
    Ok(data["me"]["stores"][0]["id"]
        .as_str()
        .context("the merchant has no store")?
        .to_string())
}

async fn sign_up(stack: &Stack, http: &reqwest::Client, email: &str, display_name: &str) -> anyhow::Result<Person> {
    let response = http
        .post(&stack.router_url)
        .json(&json!({
            "query": "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } } }",
            "variables": { "input": { "email": email, "password": stack::PASSWORD, "displayName": display_name } },
        }))
        .send()
        .await?;
    let body: Value = response.json().await?;
    let signed_up = &body["data"]["signUp"];
    Ok(Person {
        user_id: UserId::parse(signed_up["user"]["id"].as_str().context("signUp gave no id")?)?,
        authorization: format!(
            "Bearer {}",
            signed_up["accessToken"].as_str().context("signUp gave no token")?
        ),
    })
}

async fn graphql(
    stack: &Stack,
    http: &reqwest::Client,
    authorization: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let response = http
        .post(&stack.router_url)
        .header("authorization", authorization)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status.is_success() && body.get("errors").is_none(), "HTTP {status}: {body}");
    Ok(body["data"].clone())
}

async fn connect(url: &str, authorization: &str) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    // A small read buffer, so that the clients' share of this process's memory is small.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": authorization } }),
    )
    .await?;
    let ack = next_message(&mut socket).await?;
    anyhow::ensure!(ack["type"] == "connection_ack", "expected connection_ack, got {ack}");
    Ok(socket)
}

async fn send(socket: &mut Socket, message: Value) -> anyhow::Result<()> {
    socket.send(Message::Text(message.to_string().into())).await?;
    Ok(())
}

async fn next_message(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .context("no WebSocket message in time")?
            .context("the WebSocket closed")??;
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text)?;
                if value["type"] == "ping" {
                    send(socket, json!({ "type": "pong" })).await?;
                    continue;
                }
                return Ok(value);
            }
            Message::Close(frame) => anyhow::bail!("the router closed the WebSocket: {frame:?}"),
            _ => {}
        }
    }
}

/// Opens `subscribers` idle subscriptions, `per_connection` on each connection, and
/// returns once every one of them has received its replayed event.
async fn connect_idle(
    url: &str,
    authorization: &str,
    subscribers: usize,
    per_connection: usize,
) -> anyhow::Result<Vec<Socket>> {
    let connection_count = subscribers.div_ceil(per_connection);
    let connections = futures::stream::iter(0..connection_count)
        .map(|index| async move {
            let on_this = per_connection.min(subscribers - index * per_connection);
            let mut socket = connect(url, authorization).await?;
            for id in 0..on_this {
                send(
                    &mut socket,
                    json!({ "id": id.to_string(), "type": "subscribe", "payload": {
                        "query": "subscription { walletActivity(after: \"0\") { id amount } }",
                    }}),
                )
                .await?;
            }
            let mut replayed = 0;
            while replayed < on_this {
                let message = next_message(&mut socket).await?;
                // A `next` carrying errors is a failure too (credit ends the subscription
                // after it), not a replayed event.
                anyhow::ensure!(
                    message["type"] == "next" && message["payload"].get("errors").is_none(),
                    "an idle subscription failed: {message}"
                );
                replayed += 1;
            }
            anyhow::Ok(socket)
        })
        .buffer_unordered(CONNECTS_IN_FLIGHT_MAX)
        .collect::<Vec<_>>()
        .await;
    connections.into_iter().collect()
}

/// Entries of `/proc/<process>/fd`.
fn open_files(process: &str) -> anyhow::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{process}/fd"))?.count())
}

/// `VmRSS` of `/proc/<process>/status`, in KiB.
fn rss_kib(process: &str) -> anyhow::Result<i64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

fn ms(microseconds: u64) -> f64 {
    Duration::from_micros(microseconds).as_secs_f64() * 1_000.0
}

#[allow(clippy::as_conversions)] // kibibytes and counts far below 2^53, for display
fn markdown(options: &SubscriptionOptions, rows: &[Row]) -> String {
    let mut text = format!(
        "{} measured payments per row (after {} unmeasured), one at a time; idle subscriptions {} per WebSocket connection; router → credit: {}; PostgreSQL; {} CPU(s) seen\n\n",
        options.payments,
        options.warm_up_payments,
        options.subscriptions_per_connection,
        match options.shared_subscription_connections {
            0 => "one WebSocket per subscription".to_string(),
            shared => format!("{shared} shared WebSockets"),
        },
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    text.push_str("| idle subscribers | connections | commit → event p50 ms | p99 ms | max ms | router process RSS Δ | per subscriber | credit process RSS Δ | per subscriber | connect time s | open files: router process / credit |\n");
    text.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let per = |delta_kib: i64| {
            let subscribers = i64::try_from(row.subscribers).unwrap_or(i64::MAX).max(1);
            format!("{:.1} KiB", delta_kib as f64 / subscribers as f64)
        };
        text.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} MiB | {} | {:.1} MiB | {} | {:.1} | {} / {} |\n",
            row.subscribers,
            row.connections,
            ms(row.latency.value_at_quantile(0.5)),
            ms(row.latency.value_at_quantile(0.99)),
            ms(row.latency.max()),
            row.router_rss_delta_kib as f64 / 1024.0,
            per(row.router_rss_delta_kib),
            row.credit_rss_delta_kib as f64 / 1024.0,
            per(row.credit_rss_delta_kib),
            row.connect_seconds,
            row.open_files.0,
            row.open_files.1,
        ));
    }
    text
}
