//! Kiosk registration, for a store's owner: stores checks ownership (it knows owners) and
//! asks auth, which keeps kiosks' public keys and issues their tokens, to register or
//! revoke the kiosk, and lists a store's kiosks. Auth's internal endpoints accept only
//! service `stores` for this.
//! Registration is not retried: a lost answer leaves at worst a kiosk nobody was told
//! the id of, and registering the same key again is refused (`KIOSK_KEY_TAKEN`) rather
//! than silently duplicated. A circuit breaker stands in front of auth: while auth keeps
//! failing, calls are refused at once (`SERVICE_UNAVAILABLE`) instead of each waiting out
//! its time-out.

use std::time::Duration;

use c9pay_platform::{
    circuit_breaker::CircuitBreaker,
    error::code as shared,
    id::{KioskId, StoreId},
    internal_token::InternalTokenSigner,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::StoresError;

#[derive(Clone, Debug)]
pub struct KioskRegistry {
    http: reqwest::Client,
    base_url: Option<String>,
    signer: InternalTokenSigner,
    breaker: CircuitBreaker,
}

/// A registered kiosk.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    pub kiosk_id: String,
    pub jkt: String,
}

/// A kiosk as auth lists it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedKiosk {
    pub kiosk_id: String,
    pub name: String,
    pub jkt: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

#[derive(Deserialize)]
struct KioskList {
    kiosks: Vec<ListedKiosk>,
}

/// The codes auth may refuse with that a store's owner can act on.
fn known_code(code: &str) -> Option<&'static str> {
    ["INVALID_KIOSK_KEY", "KIOSK_KEY_TAKEN", shared::NOT_FOUND, shared::INVALID_ID]
        .into_iter()
        .find(|known| *known == code)
}

impl KioskRegistry {
    pub fn new(base_url: Option<&str>, timeout_ms: u64, signer: InternalTokenSigner, breaker: CircuitBreaker) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(timeout_ms)).build()?;
        Ok(Self { http, base_url: base_url.map(|url| url.trim_end_matches('/').to_string()), signer, breaker })
    }

    pub async fn register(&self, store_id: &StoreId, name: &str, public_key: &Value, request_id: &str) -> Result<Registered, StoresError> {
        let body = json!({ "storeId": store_id.to_string(), "name": name, "publicKey": public_key });
        let answer = self.post("/internal/kiosks", &body, request_id).await?;
        serde_json::from_value(answer).map_err(|error| StoresError::AuthUnavailable { reason: format!("auth's answer: {error}") })
    }

    /// Revokes a kiosk of `store_id`; `NOT_FOUND` when it is not one of that store's, or
    /// was revoked already.
    pub async fn revoke(&self, kiosk_id: &KioskId, store_id: &StoreId, request_id: &str) -> Result<(), StoresError> {
        let body = json!({ "storeId": store_id.to_string() });
        self.post(&format!("/internal/kiosks/{kiosk_id}/revoke"), &body, request_id).await?;
        Ok(())
    }

    /// Revokes a kiosk of any store, for an administrator (the caller checked that);
    /// `NOT_FOUND` when there is no such kiosk, or it was revoked already.
    pub async fn revoke_any(&self, kiosk_id: &KioskId, request_id: &str) -> Result<(), StoresError> {
        self.post(&format!("/internal/kiosks/{kiosk_id}/revoke"), &json!({}), request_id).await?;
        Ok(())
    }

    /// A store's kiosks, revoked ones included, oldest first.
    pub async fn list(&self, store_id: &StoreId, request_id: &str) -> Result<Vec<ListedKiosk>, StoresError> {
        let answer = self.call(reqwest::Method::GET, &format!("/internal/kiosks?storeId={store_id}"), None, request_id).await?;
        let listed: KioskList =
            serde_json::from_value(answer).map_err(|error| StoresError::AuthUnavailable { reason: format!("auth's answer: {error}") })?;
        Ok(listed.kiosks)
    }

    async fn post(&self, path: &str, body: &Value, request_id: &str) -> Result<Value, StoresError> {
        self.call(reqwest::Method::POST, path, Some(body), request_id).await
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>, request_id: &str) -> Result<Value, StoresError> {
        let base_url = self.base_url.as_deref().ok_or_else(|| StoresError::AuthUnavailable { reason: "no auth_url configured".to_string() })?;
        let unavailable = |reason: String| {
            tracing::warn!(%reason, "calling auth for a kiosk");
            StoresError::AuthUnavailable { reason }
        };
        let mut request = self
            .http
            .request(method, format!("{base_url}{path}"))
            .header("authorization", self.signer.service_authorization(request_id)?)
            .headers(c9pay_platform::telemetry::trace_headers());
        if let Some(body) = body {
            request = request.json(body);
        }
        self.breaker.admit().map_err(|refused| unavailable(refused.to_string()))?;
        let sent = request.send().await;
        // A refusal with a code is an answer: auth is alive.
        match &sent {
            Ok(response) if !response.status().is_server_error() => self.breaker.record_success(),
            _ => self.breaker.record_failure(),
        }
        let response = sent.map_err(|error| unavailable(error.to_string()))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let code = answer["code"].as_str().and_then(known_code);
        match code {
            Some(code) if status.is_client_error() => Err(StoresError::KioskRefused {
                code,
                message: answer["message"].as_str().unwrap_or("refused").to_string(),
            }),
            _ => Err(unavailable(format!("auth answered {status}: {answer}"))),
        }
    }
}
