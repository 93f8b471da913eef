//! Closed-loop load: N client tasks, each sending one request, waiting for the answer and
//! sending the next, over keep-alive connections, for a fixed time. Latency is recorded
//! per request in an HDR histogram (microseconds); a request counts as an error when the
//! answer is not HTTP 200 or carries GraphQL `errors` or no `data`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use c9pay_platform::{id::UserId, testing::TestTrust};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Slowest latency the histograms hold; a slower answer is recorded as this. It is far
/// above the router's own request time-out (30 s), so nothing real is clipped.
pub const LATENCY_MAX_US: u64 = 60_000_000;
/// Significant decimal digits kept by the histograms.
const LATENCY_PRECISION_DIGITS: u8 = 3;
/// Internal tokens live 60 s; each client mints a new one well before that.
const INTERNAL_TOKEN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Time-out of one request: a hung server makes errors, not a hung benchmark.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How a client proves who it is.
#[derive(Clone)]
pub enum Credentials {
    /// An access token from auth, as a real client sends it to the router.
    AccessToken(String),
    /// An internal token signed with the router's key, as the router sends it to a
    /// subgraph; minted per client and renewed before it expires.
    Internal { trust: Arc<TestTrust>, user_id: UserId },
}

impl Credentials {
    fn authorization(&self) -> String {
        match self {
            Self::AccessToken(token) => format!("Bearer {token}"),
            Self::Internal { trust, user_id } => trust.user(user_id),
        }
    }

    fn expires(&self) -> bool {
        matches!(self, Self::Internal { .. })
    }
}

/// One thing to measure: a GraphQL document posted to one URL.
pub struct Scenario {
    pub key: &'static str,
    pub title: &'static str,
    pub url: String,
    pub query: &'static str,
    pub credentials: Credentials,
    /// The `data` every answer must carry.
    pub expected_data: Value,
}

/// What the clients measured in one scenario.
pub struct Measurement {
    pub requests_ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Failed requests during the unmeasured warm-up (they should be zero too).
    pub warm_up_errors: u64,
    /// Latency of successful requests, in microseconds.
    pub latency_us: Histogram<u64>,
    /// The first few error descriptions, to say what went wrong.
    pub error_samples: Vec<String>,
}

const ERROR_SAMPLES_MAX: usize = 5;

impl Measurement {
    pub fn empty() -> anyhow::Result<Self> {
        Ok(Self {
            requests_ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            warm_up_errors: 0,
            latency_us: new_histogram()?,
            error_samples: Vec::new(),
        })
    }

    /// Adds another measurement of the same scenario (another client, another round).
    pub fn merge_counts(&mut self, other: Self) -> anyhow::Result<()> {
        self.requests_ok += other.requests_ok;
        self.errors += other.errors;
        self.latency_us
            .add(&other.latency_us)
            .context("merging latency histograms")?;
        for sample in other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES_MAX {
                self.error_samples.push(sample);
            }
        }
        Ok(())
    }

    /// Counts a failed request and keeps its description if there is room.
    pub fn record_error(&mut self, error: String) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES_MAX {
            self.error_samples.push(error);
        }
    }

    /// Adds a later round of the same scenario: counts, latencies and time all add up.
    pub fn merge_round(&mut self, round: Self) -> anyhow::Result<()> {
        self.elapsed += round.elapsed;
        self.warm_up_errors += round.warm_up_errors;
        self.merge_counts(round)
    }

    pub fn requests_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            // Precision loss starts at 2^53 requests, far beyond any run.
            #[allow(clippy::as_conversions)]
            let requests = self.requests_ok as f64;
            requests / seconds
        } else {
            0.0
        }
    }

    /// The latency at `quantile` (0..=1), in milliseconds.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        #[allow(clippy::as_conversions)] // microseconds far below 2^53
        let micros = self.latency_us.value_at_quantile(quantile) as f64;
        micros / 1_000.0
    }
}

pub fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_PRECISION_DIGITS).context("creating a latency histogram")
}

pub fn http_client(clients: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .build()
        .context("building the HTTP client")
}

fn request_body(query: &str) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(&json!({ "query": query })).context("encoding the request")
}

/// Sends the scenario's request once and checks the whole answer, so that a load run
/// never measures a wrong answer quickly.
pub async fn check(http: &reqwest::Client, scenario: &Scenario) -> anyhow::Result<()> {
    let body = request_body(scenario.query)?;
    let answer = send(http, &scenario.url, &scenario.credentials.authorization(), body).await;
    let data = answer.map_err(|error| anyhow::anyhow!("scenario {}: {error}", scenario.key))?;
    anyhow::ensure!(
        canonical(data.clone()) == canonical(scenario.expected_data.clone()),
        "scenario {}: expected data {} but got {}",
        scenario.key,
        scenario.expected_data,
        data
    );
    Ok(())
}

/// `value` with every list sorted, so that a comparison does not depend on an order the
/// API does not promise (products created in the same millisecond).
fn canonical(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(canonical).collect();
            items.sort_by_cached_key(Value::to_string);
            Value::Array(items)
        }
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(name, field)| (name, canonical(field)))
                .collect(),
        ),
        other => other,
    }
}

/// One request; `Ok(data)` only for HTTP 200 with `data` and no `errors`. An empty
/// `authorization` sends none.
pub async fn send(http: &reqwest::Client, url: &str, authorization: &str, body: Vec<u8>) -> Result<Value, String> {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json, application/json");
    if !authorization.is_empty() {
        request = request.header("authorization", authorization);
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|error| format!("sending: {error}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| format!("reading the answer: {error}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    let mut answer: Value = serde_json::from_slice(&bytes).map_err(|error| format!("not JSON: {error}"))?;
    if answer.get("errors").is_some() {
        return Err(format!("GraphQL errors: {answer}"));
    }
    match answer.get_mut("data").map(Value::take) {
        Some(data) if !data.is_null() => Ok(data),
        _ => Err(format!("no data: {answer}")),
    }
}

/// Runs `clients` tasks against `scenario`: `warm_up` unmeasured (connections opened,
/// plans cached, caches filled), then `duration` measured.
pub async fn run(
    http: &reqwest::Client,
    scenario: &Scenario,
    clients: usize,
    warm_up: Duration,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    let warm_up_errors = if warm_up.is_zero() {
        0
    } else {
        measure(http, scenario, clients, warm_up).await?.errors
    };
    let mut measurement = measure(http, scenario, clients, duration).await?;
    measurement.warm_up_errors = warm_up_errors;
    Ok(measurement)
}

async fn measure(http: &reqwest::Client, scenario: &Scenario, clients: usize, duration: Duration) -> anyhow::Result<Measurement> {
    let body = request_body(scenario.query)?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let http = http.clone();
        let url = scenario.url.clone();
        let credentials = scenario.credentials.clone();
        let body = body.clone();
        tasks.spawn(async move { client(http, url, credentials, body, deadline).await });
    }
    let mut total = Measurement::empty()?;
    while let Some(joined) = tasks.join_next().await {
        total.merge_counts(joined.context("a client task failed")??)?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One client: request after request until `deadline`. The response `data` is checked for
/// presence, not compared: [`check`] compared it once before the run.
async fn client(
    http: reqwest::Client,
    url: String,
    credentials: Credentials,
    body: Vec<u8>,
    deadline: Instant,
) -> anyhow::Result<Measurement> {
    let mut measurement = Measurement::empty()?;
    let mut authorization = credentials.authorization();
    let mut minted = Instant::now();
    loop {
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        if credentials.expires() && sent.duration_since(minted) >= INTERNAL_TOKEN_REFRESH_INTERVAL {
            authorization = credentials.authorization();
            minted = sent;
        }
        match send(&http, &url, &authorization, body.clone()).await {
            Ok(_) => {
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(LATENCY_MAX_US);
                measurement.latency_us.saturating_record(micros.clamp(1, LATENCY_MAX_US));
                measurement.requests_ok += 1;
            }
            Err(error) => measurement.record_error(error),
        }
    }
    Ok(measurement)
}
