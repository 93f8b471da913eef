//! A store kiosk as real clients drive one, through the router: the payer's app asks for
//! a payment code, the till sells with it under the store owner's credentials, and every
//! sale is asked again with the same idempotency key (and the same request) after any
//! error or time-out until it has a final outcome, or until the till is told to stop.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rand::{Rng as _, rngs::StdRng};
use serde_json::{Value, json};

const ISSUE_CODE: &str = "mutation { issuePaymentCode { token } }";
const SELL: &str = "mutation Sell($input: SellInput!) { sell(input: $input) { id status total } }";

/// How long the till waits for an answer before it asks again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause between two asks of the same sale.
const RETRY_PAUSE: Duration = Duration::from_millis(150);

/// A product the till sells: (product id, price).
#[derive(Clone)]
pub struct Product {
    pub id: String,
    pub price: i64,
}

pub struct Till {
    pub index: usize,
    pub http: reqwest::Client,
    pub router_url: String,
    /// `Bearer …` of the store's owner, and of the payer.
    pub merchant: String,
    pub payer: String,
    pub store_id: String,
    pub products: Vec<Product>,
    pub stop: Arc<AtomicBool>,
    /// The chance that the till walks away from a sale after an answer without an
    /// outcome (the kiosk lost power, the customer left): the reconciler must settle it
    /// if stores recorded it.
    pub walk_away: f64,
    /// Draws the walk-aways; seeded from the test's seed.
    pub random: StdRng,
}

/// How a sale ended, as the till saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Paid,
    /// Refused for good, with the error's `extensions.code`.
    Failed(String),
    /// Left without an outcome: the till walked away from it, or was stopped.
    Unfinished,
}

/// One sale the till rang up.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub store_id: String,
    /// `till<index>-<sequence>`.
    pub key: String,
    pub price: i64,
    /// The sale's id, once an answer named it.
    pub sale_id: Option<String>,
    pub seen: Seen,
    /// How many times `sell` was sent.
    pub asks: u32,
}

/// What a till did: its sales, and the error codes it met on the way (transient ones
/// included), counted.
#[derive(Default)]
pub struct Record {
    pub attempts: Vec<Attempt>,
    pub errors: BTreeMap<String, u64>,
}

enum Answer {
    Paid { sale_id: String, total: i64 },
    Refused { sale_id: String, code: String },
    /// Ask again; the sale id if the answer named one.
    Again { sale_id: Option<String>, error: String },
}

impl Till {
    pub async fn run(mut self) -> Record {
        let mut record = Record::default();
        let mut sequence = 0_usize;
        while !self.stopped() {
            let Some(code) = self.payment_code(&mut record).await else {
                break;
            };
            let product = self.products[sequence % self.products.len()].clone();
            sequence += 1;
            let attempt = self.sell(&mut record, format!("till{}-{sequence}", self.index), &product, &code).await;
            if attempt.asks > 0 {
                record.attempts.push(attempt);
            }
        }
        record
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A fresh payment code from the payer's app; `None` once the till is stopped.
    async fn payment_code(&self, record: &mut Record) -> Option<String> {
        while !self.stopped() {
            match self.post(&self.payer, json!({ "query": ISSUE_CODE })).await {
                Ok(body) => match body["data"]["issuePaymentCode"]["token"].as_str() {
                    Some(token) => return Some(token.to_string()),
                    None => count(record, format!("issuePaymentCode {}", error_code(&body))),
                },
                Err(error) => count(record, format!("issuePaymentCode {error}")),
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        None
    }

    /// Sells one `product` with `code` under `key`, asking again until an outcome.
    async fn sell(&mut self, record: &mut Record, key: String, product: &Product, code: &str) -> Attempt {
        let body = json!({
            "query": SELL,
            "variables": { "input": {
                "storeId": self.store_id,
                "items": [{ "productId": product.id, "quantity": 1 }],
                "paymentCode": code,
                "idempotencyKey": key,
            } },
        });
        let mut attempt = Attempt {
            store_id: self.store_id.clone(),
            key,
            price: product.price,
            sale_id: None,
            seen: Seen::Unfinished,
            asks: 0,
        };
        while !self.stopped() {
            attempt.asks += 1;
            let answer = match self.post(&self.merchant, body.clone()).await {
                Ok(body) => answer_of(&body),
                Err(error) => Answer::Again { sale_id: None, error },
            };
            match answer {
                Answer::Paid { sale_id, total } => {
                    if total != product.price {
                        count(record, format!("sell PAID with total {total} for a price of {}", product.price));
                    }
                    note_sale_id(record, &mut attempt, sale_id);
                    attempt.seen = Seen::Paid;
                    return attempt;
                }
                Answer::Refused { sale_id, code } => {
                    note_sale_id(record, &mut attempt, sale_id);
                    count(record, format!("sell {code}"));
                    attempt.seen = Seen::Failed(code);
                    return attempt;
                }
                Answer::Again { sale_id, error } => {
                    count(record, format!("sell {error}"));
                    if let Some(sale_id) = sale_id {
                        note_sale_id(record, &mut attempt, sale_id);
                    }
                    if self.random.gen_bool(self.walk_away) {
                        count(record, "walked away from a sale without an outcome".to_string());
                        return attempt;
                    }
                }
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        attempt
    }

    /// A GraphQL request through the router; `Err` for no answer, a time-out or a body
    /// that is not JSON.
    async fn post(&self, authorization: &str, body: Value) -> Result<Value, String> {
        let response = self
            .http
            .post(&self.router_url)
            .header("authorization", authorization)
            .timeout(REQUEST_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(|error| if error.is_timeout() { "time-out".to_string() } else { "no answer".to_string() })?;
        let status = response.status();
        response.json().await.map_err(|_| format!("HTTP {status} without a JSON body"))
    }
}

fn count(record: &mut Record, what: String) {
    *record.errors.entry(what).or_default() += 1;
}

/// Every answer for one key must name the same sale.
fn note_sale_id(record: &mut Record, attempt: &mut Attempt, sale_id: String) {
    match &attempt.sale_id {
        Some(known) if *known != sale_id => count(
            record,
            format!("VIOLATION: key {} answered as sale {known} and as sale {sale_id}", attempt.key),
        ),
        _ => attempt.sale_id = Some(sale_id),
    }
}

fn error_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("an error without a code").to_string()
}

/// A sale error names its sale in `extensions.saleId`: `SERVICE_UNAVAILABLE` says it is
/// pending (ask again), any other code that it was refused for good. Anything without a
/// sale id (the router or stores unreachable, a breaker open) says nothing about the sale.
fn answer_of(body: &Value) -> Answer {
    let sale = &body["data"]["sell"];
    if let (Some(sale_id), Some("PAID")) = (sale["id"].as_str(), sale["status"].as_str()) {
        let total = sale["total"].as_str().and_then(|total| total.parse().ok()).unwrap_or(-1);
        return Answer::Paid { sale_id: sale_id.to_string(), total };
    }
    let code = error_code(body);
    match body["errors"][0]["extensions"]["saleId"].as_str() {
        Some(sale_id) if code != "SERVICE_UNAVAILABLE" => Answer::Refused { sale_id: sale_id.to_string(), code },
        sale_id => Answer::Again { sale_id: sale_id.map(str::to_string), error: code },
    }
}
