//! The client for credit's internal endpoints, signed as service `stores`.

use std::time::Duration;

use c9pay_platform::{
    id::{StoreId, UserId},
    internal_token::InternalTokenSigner,
};
use serde_json::json;

use crate::error::StoresError;

#[derive(Clone, Debug)]
pub struct CreditClient {
    http: reqwest::Client,
    base_url: String,
    signer: InternalTokenSigner,
}

impl CreditClient {
    pub fn new(base_url: &str, timeout_ms: u64, signer: InternalTokenSigner) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .connect_timeout(Duration::from_millis(timeout_ms))
            .build()?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').to_string(), signer })
    }

    /// Opens the store's ledger account, or confirms it is open: credit's endpoint is
    /// idempotent, so a retry after a time-out is safe.
    #[tracing::instrument(skip_all, fields(store_id = %store_id))]
    pub async fn open_store_account(&self, store_id: &StoreId, owner_user_id: &UserId, request_id: &str) -> Result<(), StoresError> {
        let response = self
            .http
            .put(format!("{}/internal/store-accounts/{store_id}", self.base_url))
            .header(reqwest::header::AUTHORIZATION, self.signer.service_authorization(request_id)?)
            .json(&json!({ "ownerUserId": owner_user_id }))
            .send()
            .await
            .map_err(|error| unavailable(c9pay_platform::error::chain(&error)))?;
        let status = response.status();
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
}

/// How much of an unexpected response from credit goes into the log.
const RESPONSE_BODY_LOGGED_MAX_CHARS: usize = 512;

fn unavailable(reason: String) -> StoresError {
    tracing::warn!(%reason, "credit is unavailable");
    StoresError::CreditUnavailable { reason }
}
