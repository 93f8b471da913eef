//! Asks the users service whether a person exists, before credit sends them money: a
//! well-formed but unknown user id would otherwise swallow credits nobody can spend.

use std::time::Duration;

use c9pay_platform::{id::UserId, internal_token::InternalTokenSigner};

use crate::error::CreditError;

const CALL_TIMEOUT_MS: u64 = 3_000;

#[derive(Clone)]
pub struct UserDirectory {
    http: reqwest::Client,
    users_url: Option<String>,
    signer: Option<InternalTokenSigner>,
}

impl UserDirectory {
    pub fn new(
        users_url: Option<&str>,
        signer: Option<InternalTokenSigner>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(CALL_TIMEOUT_MS))
            .build()?;
        Ok(Self {
            http,
            users_url: users_url.map(|url| url.trim_end_matches('/').to_string()),
            signer,
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
        let response = self
            .http
            .get(format!("{users_url}/internal/profiles/{user_id}"))
            .header("authorization", authorization)
            .send()
            .await
            .map_err(|error| CreditError::Unavailable(format!("asking users: {error}")))?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(CreditError::Unavailable(format!(
                "users answered HTTP {status}"
            ))),
        }
    }
}
