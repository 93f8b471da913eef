//! The users service's internal profile endpoint, called at sign-up, behind a circuit
//! breaker: while users keeps failing, sign-ups are refused at once
//! (`SERVICE_UNAVAILABLE`) instead of each waiting out three attempts.

use std::time::Duration;

use c9pay_platform::{circuit_breaker::CircuitBreaker, id::UserId, internal_token::InternalTokenSigner, text::DisplayName};
use serde_json::json;

use crate::error::AuthError;

/// How long one call may take, and how often a failed call is retried.
const CALL_TIMEOUT_MS: u64 = 5_000;
const ATTEMPTS_MAX: u32 = 3;

#[derive(Clone)]
pub struct ProfileDirectory {
    http: reqwest::Client,
    users_url: String,
    signer: InternalTokenSigner,
    breaker: CircuitBreaker,
}

impl ProfileDirectory {
    pub fn new(users_url: &str, signer: InternalTokenSigner, breaker: CircuitBreaker) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(CALL_TIMEOUT_MS))
            .build()?;
        Ok(Self {
            http,
            users_url: users_url.trim_end_matches('/').to_string(),
            signer,
            breaker,
        })
    }

    /// Creates the profile. The call is idempotent on the users side (keyed by user id),
    /// so retrying after a time-out can never create two profiles.
    pub async fn create(
        &self,
        user_id: &UserId,
        display_name: &DisplayName,
        request_id: &str,
    ) -> Result<(), AuthError> {
        let url = format!("{}/internal/profiles/{user_id}", self.users_url);
        let mut last_failure = String::new();
        for attempt in 1..=ATTEMPTS_MAX {
            let authorization = self
                .signer
                .service_authorization(request_id)
                .map_err(|error| AuthError::Signing(error.to_string()))?;
            if let Err(refused) = self.breaker.admit() {
                last_failure = refused.to_string();
                break;
            }
            let response = self
                .http
                .put(&url)
                .header("authorization", authorization)
                .headers(c9pay_platform::telemetry::trace_headers())
                .json(&json!({ "displayName": display_name.as_str() }))
                .send()
                .await;
            // A refusal of the input is an answer: users is alive.
            match &response {
                Ok(response) if !response.status().is_server_error() => self.breaker.record_success(),
                _ => self.breaker.record_failure(),
            }
            match response {
                Ok(response) if response.status().is_success() => return Ok(()),
                // A refusal of the input will not change on retry.
                Ok(response) if response.status().is_client_error() => {
                    last_failure = format!("users refused the profile: HTTP {}", response.status());
                    break;
                }
                Ok(response) => last_failure = format!("users answered HTTP {}", response.status()),
                Err(error) => last_failure = format!("calling users: {error}"),
            }
            tracing::warn!(attempt, failure = %last_failure, "creating a profile failed");
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
        }
        tracing::error!(user_id = %user_id, failure = %last_failure, "could not create a profile");
        Err(AuthError::ProfilesUnavailable(last_failure))
    }
}
