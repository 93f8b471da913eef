//! The client for credit's internal endpoints, signed as service `stores`.
//!
//! Every payment call is idempotent on credit's side (by payment id = sale id, or by
//! refund id), so a call whose answer was lost can be sent again. This client retries
//! only what may succeed on a second try, a bounded number of times: no answer at all,
//! a time-out, 5xx, 408 and 429. A refusal with a code (422, 409, 404) is an answer and
//! is returned as [`CallError::Refused`] at once.
//!
//! In front of every call sits credit's circuit breaker: while it is open, no new call is
//! sent (nor a retry of one under way), and the call ends as [`CallError::Unavailable`],
//! the outcome stores already treats as unknown: the sale or refund stays pending and a
//! retry with the same idempotency key settles it. The breaker never turns a call that
//! was sent into a failure.

use std::time::Duration;

use c9pay_platform::{
    circuit_breaker::CircuitBreaker,
    id::{StoreId, UserId},
    internal_token::InternalTokenSigner,
    money::Amount,
};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use serde_json::json;

use crate::{
    domain::sale::{RefundId, SaleId},
    error::StoresError,
};

/// How often one payment call is tried before its outcome is reported as unknown.
pub const ATTEMPTS_MAX: u32 = 3;
/// Pause before the second attempt; doubled before each further one.
pub const RETRY_BACKOFF_MS: u64 = 100;
/// How much of an unexpected response from credit goes into the log.
const RESPONSE_BODY_LOGGED_MAX_CHARS: usize = 512;

#[derive(Clone, Debug)]
pub struct CreditClient {
    http: reqwest::Client,
    base_url: String,
    signer: InternalTokenSigner,
    backoff_ms: u64,
    breaker: CircuitBreaker,
}

/// Why a payment call did not succeed.
#[derive(Debug)]
pub enum CallError {
    /// Credit answered with a refusal and a code: the outcome is known and final for
    /// this request.
    Refused { status: u16, code: String, message: String },
    /// No usable answer after every attempt: the outcome is unknown.
    Unavailable { reason: String },
    /// An answer the contract does not allow (401, 400, a body that does not parse): a
    /// bug or a misconfiguration, not the client's doing.
    Unexpected { status: u16, body: String },
    /// Signing the service token failed.
    Signing(c9pay_platform::internal_token::InternalTokenError),
}

/// A payment as credit reports it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub payment_id: String,
    pub status: PaymentStatus,
    #[serde(default)]
    pub hold_id: Option<String>,
    pub payer_user_id: UserId,
    #[serde(deserialize_with = "amount_from_decimal")]
    pub amount: Amount,
    #[serde(default)]
    pub transfer_id: Option<String>,
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

/// A refund credit has made.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RefundReceipt {
    pub refund_id: String,
    pub transfer_id: String,
}

#[derive(Deserialize)]
struct Refusal {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizeBody<'a> {
    payment_id: &'a str,
    store_id: &'a str,
    amount: String,
    payment_code: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefundBody<'a> {
    refund_id: &'a str,
    payment_id: &'a str,
    amount: String,
    reason: &'a str,
}

/// Credit writes amounts as decimal strings (the `Amount` scalar's form); accept a JSON
/// integer as well.
fn amount_from_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Text(String),
        Number(i64),
    }
    let value = match Wire::deserialize(deserializer)? {
        Wire::Text(text) => text.parse::<i64>().map_err(serde::de::Error::custom)?,
        Wire::Number(number) => number,
    };
    Ok(Amount::from_stored(value))
}

impl CreditClient {
    pub fn new(base_url: &str, timeout_ms: u64, signer: InternalTokenSigner, breaker: CircuitBreaker) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .connect_timeout(Duration::from_millis(timeout_ms))
            .build()?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').to_string(), signer, backoff_ms: RETRY_BACKOFF_MS, breaker })
    }

    /// Opens the store's ledger account, or confirms it is open: credit's endpoint is
    /// idempotent, so a retry after a time-out is safe.
    #[tracing::instrument(skip_all, fields(store_id = %store_id))]
    pub async fn open_store_account(&self, store_id: &StoreId, owner_user_id: &UserId, request_id: &str) -> Result<(), StoresError> {
        self.breaker.admit().map_err(|refused| unavailable(refused.to_string()))?;
        let response = self
            .http
            .put(format!("{}/internal/store-accounts/{store_id}", self.base_url))
            .header(reqwest::header::AUTHORIZATION, self.signer.service_authorization(request_id)?)
            .headers(c9pay_platform::telemetry::trace_headers())
            .json(&json!({ "ownerUserId": owner_user_id }))
            .send()
            .await
            .map_err(|error| {
                self.breaker.record_failure();
                unavailable(c9pay_platform::error::chain(&error))
            })?;
        let status = response.status();
        if is_transient(status) {
            self.breaker.record_failure();
        } else {
            self.breaker.record_success();
        }
        if status.is_success() {
            return Ok(());
        }
        let body: String = response.text().await.unwrap_or_default().chars().take(RESPONSE_BODY_LOGGED_MAX_CHARS).collect();
        if status.is_server_error() || status == reqwest::StatusCode::REQUEST_TIMEOUT {
            return Err(unavailable(format!("credit answered {status}: {body}")));
        }
        // Any other refusal (401, 403, 409, 422) is a bug in this call or in the trust
        // configuration, not something the client can fix: an internal error.
        Err(StoresError::CreditRefused { status: status.as_u16(), body })
    }

    /// Places a hold for the sale on the payer named by `payment_code` (which credit
    /// verifies), or reports the payment's current state if it was authorised before.
    #[tracing::instrument(skip_all, fields(sale_id = %sale_id))]
    pub async fn authorize(&self, sale_id: &SaleId, store_id: &StoreId, amount: Amount, payment_code: &str, request_id: &str) -> Result<Payment, CallError> {
        let body = AuthorizeBody { payment_id: sale_id.as_str(), store_id: store_id.as_str(), amount: amount.to_string(), payment_code };
        self.call(Method::POST, "/internal/payments/authorize".to_string(), Some(serde_json::to_value(&body).unwrap_or_default()), request_id).await
    }

    /// Authorises and captures in one call (and one transaction in credit), or reports
    /// the payment's state if it was paid before; a payment authorised before is captured.
    #[tracing::instrument(skip_all, fields(sale_id = %sale_id))]
    pub async fn pay(&self, sale_id: &SaleId, store_id: &StoreId, amount: Amount, payment_code: &str, request_id: &str) -> Result<Payment, CallError> {
        let body = AuthorizeBody { payment_id: sale_id.as_str(), store_id: store_id.as_str(), amount: amount.to_string(), payment_code };
        self.call(Method::POST, "/internal/payments/pay".to_string(), Some(serde_json::to_value(&body).unwrap_or_default()), request_id).await
    }

    /// Posts the held payment to the store.
    #[tracing::instrument(skip_all, fields(sale_id = %sale_id))]
    pub async fn capture(&self, sale_id: &SaleId, request_id: &str) -> Result<Payment, CallError> {
        self.call(Method::POST, format!("/internal/payments/{sale_id}/capture"), Some(json!({})), request_id).await
    }

    /// The payment's current state (`NOT_FOUND` if credit never authorised it).
    #[tracing::instrument(skip_all, fields(sale_id = %sale_id))]
    pub async fn status(&self, sale_id: &SaleId, request_id: &str) -> Result<Payment, CallError> {
        self.call(Method::GET, format!("/internal/payments/{sale_id}"), None, request_id).await
    }

    /// Releases the held payment to the payer (`ALREADY_POSTED` if it was captured).
    #[tracing::instrument(skip_all, fields(sale_id = %sale_id))]
    pub async fn void(&self, sale_id: &SaleId, request_id: &str) -> Result<Payment, CallError> {
        self.call(Method::POST, format!("/internal/payments/{sale_id}/void"), Some(json!({})), request_id).await
    }

    /// Returns `amount` of the sale's payment from the store to the payer.
    #[tracing::instrument(skip_all, fields(refund_id = %refund_id, sale_id = %sale_id))]
    pub async fn refund(&self, refund_id: &RefundId, sale_id: &SaleId, amount: Amount, reason: &str, request_id: &str) -> Result<RefundReceipt, CallError> {
        let body = RefundBody { refund_id: refund_id.as_str(), payment_id: sale_id.as_str(), amount: amount.to_string(), reason };
        self.call(Method::POST, "/internal/refunds".to_string(), Some(serde_json::to_value(&body).unwrap_or_default()), request_id).await
    }

    async fn call<T: DeserializeOwned>(&self, method: Method, path: String, body: Option<serde_json::Value>, request_id: &str) -> Result<T, CallError> {
        let url = format!("{}{path}", self.base_url);
        let mut last_failure = String::new();
        for attempt in 1..=ATTEMPTS_MAX {
            if attempt > 1 {
                let pause_ms = self.backoff_ms.saturating_mul(1_u64 << (attempt - 2).min(8));
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            }
            if let Err(refused) = self.breaker.admit() {
                // Not sent: credit has been failing. What an earlier attempt of this call
                // did stays unknown, as after any failed attempt.
                last_failure = refused.to_string();
                tracing::warn!(attempt, failure = %last_failure, "a payment call was not sent");
                break;
            }
            let authorization = self.signer.service_authorization(request_id).map_err(CallError::Signing)?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::AUTHORIZATION, authorization)
                .headers(c9pay_platform::telemetry::trace_headers());
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    self.breaker.record_failure();
                    last_failure = format!("calling credit: {}", c9pay_platform::error::chain(&error));
                    tracing::warn!(attempt, failure = %last_failure, "a payment call failed");
                    continue;
                }
            };
            let status = response.status();
            let text = match response.text().await {
                Ok(text) => text,
                Err(error) => {
                    self.breaker.record_failure();
                    // The answer was lost on the way: as unknown as no answer at all.
                    last_failure = format!("reading credit's answer: {}", c9pay_platform::error::chain(&error));
                    tracing::warn!(attempt, failure = %last_failure, "a payment call failed");
                    continue;
                }
            };
            if is_transient(status) {
                self.breaker.record_failure();
            } else {
                self.breaker.record_success();
            }
            if status.is_success() {
                return serde_json::from_str(&text).map_err(|error| {
                    tracing::error!(%error, body = %truncate(&text), "credit's answer does not parse");
                    CallError::Unexpected { status: status.as_u16(), body: truncate(&text) }
                });
            }
            if is_transient(status) {
                last_failure = format!("credit answered {status}: {}", truncate(&text));
                tracing::warn!(attempt, failure = %last_failure, "a payment call failed");
                continue;
            }
            return Err(match (status, serde_json::from_str::<Refusal>(&text)) {
                (StatusCode::CONFLICT | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY, Ok(refusal)) => {
                    CallError::Refused { status: status.as_u16(), code: refusal.code, message: refusal.message }
                }
                _ => {
                    tracing::error!(%status, body = %truncate(&text), "credit refused a payment call");
                    CallError::Unexpected { status: status.as_u16(), body: truncate(&text) }
                }
            });
        }
        tracing::warn!(failure = %last_failure, "credit did not answer a payment call");
        Err(CallError::Unavailable { reason: last_failure })
    }
}

/// Whether an answer means "try again": credit (or something in front of it) is
/// overloaded, restarting, or timed out.
fn is_transient(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS
}

fn truncate(text: &str) -> String {
    text.chars().take(RESPONSE_BODY_LOGGED_MAX_CHARS).collect()
}

fn unavailable(reason: String) -> StoresError {
    tracing::warn!(%reason, "credit is unavailable");
    StoresError::CreditUnavailable { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_reads_amounts_as_decimal_strings_or_integers() {
        let payer = UserId::generate();
        let text = json!({
            "paymentId": "sal_0123456789abcdef0123456789abcdef", "status": "pending",
            "holdId": "hld_1", "payerUserId": payer, "amount": "4500", "expiresAtMs": 1
        });
        let payment: Payment = serde_json::from_value(text).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(payment.amount, Amount::from_stored(4500));
        assert_eq!(payment.status, PaymentStatus::Pending);
        assert_eq!(payment.transfer_id, None);

        let posted = json!({ "paymentId": "sal_x", "status": "posted", "payerUserId": payer, "amount": 10, "transferId": "trf_1" });
        let payment: Payment = serde_json::from_value(posted).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(payment.amount, Amount::from_stored(10));
        assert_eq!(payment.transfer_id.as_deref(), Some("trf_1"));
    }

    #[test]
    fn only_overload_and_time_outs_are_retried() {
        assert!(is_transient(StatusCode::BAD_GATEWAY));
        assert!(is_transient(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_transient(StatusCode::REQUEST_TIMEOUT));
        assert!(is_transient(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_transient(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(!is_transient(StatusCode::CONFLICT));
        assert!(!is_transient(StatusCode::UNAUTHORIZED));
    }
}
