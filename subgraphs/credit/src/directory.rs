//! Asks the users service whether a person exists, before credit sends them money: a
//! well-formed but unknown user id would otherwise swallow credits nobody can spend.

use std::time::Duration;

use c9pay_platform::{circuit_breaker::CircuitBreaker, id::UserId, internal_token::InternalTokenSigner};

use crate::error::CreditError;

const CALL_TIMEOUT_MS: u64 = 3_000;

#[derive(Clone)]
pub struct UserDirectory {
    http: reqwest::Client,
    users_url: Option<String>,
    signer: Option<InternalTokenSigner>,
    /// In front of users: while open, recipients cannot be checked (`SERVICE_UNAVAILABLE`).
    breaker: CircuitBreaker,
}

impl UserDirectory {
    pub fn new(
        users_url: Option<&str>,
        signer: Option<InternalTokenSigner>,
        breaker: CircuitBreaker,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(CALL_TIMEOUT_MS))
            .build()?;
        Ok(Self {
            http,
            users_url: users_url.map(|url| url.trim_end_matches('/').to_string()),
            signer,
            breaker,
        })
    }

    pub async fn exists(&self, user_id: &UserId, request_id: &str) -> Result<bool, CreditError> {
        let (Some(users_url), Some(signer)) = (&self.users_url, &self.signer) else {
            tracing::warn!("credit has no users_url or signing key: recipients cannot be checked");
            return Ok(false);
        };
        let authorization = signer
            .service_authorization(request_id)
            .map_err(|error| CreditError::Unavailable(error.to_string()))?;
        self.breaker
            .admit()
            .map_err(|refused| CreditError::Unavailable(refused.to_string()))?;
        let sent = self
            .http
            .get(format!("{users_url}/internal/profiles/{user_id}"))
            .header("authorization", authorization)
            .headers(c9pay_platform::telemetry::trace_headers())
            .send()
            .await;
        match &sent {
            Ok(response) if !response.status().is_server_error() => self.breaker.record_success(),
            _ => self.breaker.record_failure(),
        }
        let response =
            sent.map_err(|error| CreditError::Unavailable(format!("asking users: {error}")))?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(CreditError::Unavailable(format!(
                "users answered HTTP {status}"
            ))),
        }
    }
}
