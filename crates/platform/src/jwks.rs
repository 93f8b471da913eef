//! Auth's public keys (RFC 7517 JWKS), as the services that verify what auth signs see
//! them: a [`KeySet`] of Ed25519 keys by key id, and a [`JwksClient`] that fetches the
//! set from auth's `/.well-known/jwks.json`, caches it, and refreshes it when a token
//! names a key it does not know yet, never more often than a minimum interval, so that
//! a flood of made-up key ids cannot turn into a flood of requests to auth.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;
use serde_json::{Value, json};
use thiserror::Error;

/// How long a fetch of the JWKS may take.
pub const FETCH_TIMEOUT_MS_DEFAULT: u64 = 3_000;
/// The least time between two fetches, whatever asks for them.
pub const REFRESH_INTERVAL_MIN_MS_DEFAULT: u64 = 10_000;
/// After this long a cached set is fetched again on the next use, so that retired keys
/// stop verifying without a restart.
pub const CACHE_AGE_MAX_MS_DEFAULT: u64 = 300_000;
/// A JWKS document larger than this is refused (auth publishes a handful of keys).
pub const DOCUMENT_SIZE_MAX_BYTES: usize = 64 * 1024;
/// More keys than this in one document is not auth's JWKS.
pub const KEYS_MAX: usize = 32;

#[derive(Debug, Error)]
pub enum JwksError {
    #[error("the JWKS is not valid: {0}")]
    Invalid(String),
    #[error("fetching the JWKS: {0}")]
    Fetch(String),
}

/// Ed25519 verifying keys by key id.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<String, DecodingKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KeySet")
            .field("kids", &self.keys.keys())
            .finish()
    }
}

impl KeySet {
    /// Parses a JWKS document. Keys that are not Ed25519 signing keys (`kty` `OKP`, `crv`
    /// `Ed25519`, and `alg` `EdDSA` and `use` `sig` when present) are skipped, as RFC 7517
    /// asks of keys a reader does not understand; a usable key without a `kid`, or with a
    /// malformed `x`, makes the whole document invalid.
    pub fn from_value(document: &Value) -> Result<Self, JwksError> {
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError::Invalid("no \"keys\" array".to_string()))?;
        if entries.len() > KEYS_MAX {
            return Err(JwksError::Invalid(format!("more than {KEYS_MAX} keys")));
        }
        let mut keys = BTreeMap::new();
        for entry in entries {
            let field = |name: &str| entry.get(name).and_then(Value::as_str);
            let usable = field("kty") == Some("OKP")
                && field("crv") == Some("Ed25519")
                && field("alg").is_none_or(|alg| alg == "EdDSA")
                && field("use").is_none_or(|usage| usage == "sig");
            if !usable {
                continue;
            }
            let kid = field("kid")
                .filter(|kid| !kid.is_empty())
                .ok_or_else(|| JwksError::Invalid("an Ed25519 key without a kid".to_string()))?;
            let x = field("x").ok_or_else(|| JwksError::Invalid(format!("key {kid} has no x")))?;
            let length = URL_SAFE_NO_PAD
                .decode(x)
                .map(|bytes| bytes.len())
                .map_err(|_| JwksError::Invalid(format!("key {kid}: x is not base64url")))?;
            if length != 32 {
                return Err(JwksError::Invalid(format!(
                    "key {kid}: an Ed25519 public key is 32 bytes"
                )));
            }
            let key = DecodingKey::from_ed_components(x)
                .map_err(|error| JwksError::Invalid(format!("key {kid}: {error}")))?;
            keys.insert(kid.to_string(), key);
        }
        Ok(Self { keys })
    }

    pub fn from_json(document: &str) -> Result<Self, JwksError> {
        let value = serde_json::from_str(document)
            .map_err(|error| JwksError::Invalid(error.to_string()))?;
        Self::from_value(&value)
    }

    pub fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The JWK of an Ed25519 public key (RFC 8037), as auth publishes it.
pub fn ed25519_jwk(kid: &str, public_key: &[u8; 32]) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(public_key),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// Limits of a [`JwksClient`].
#[derive(Clone, Copy, Debug)]
pub struct JwksClientLimits {
    pub fetch_timeout_ms: u64,
    pub refresh_interval_min_ms: u64,
    pub cache_age_max_ms: u64,
}

impl Default for JwksClientLimits {
    fn default() -> Self {
        Self {
            fetch_timeout_ms: FETCH_TIMEOUT_MS_DEFAULT,
            refresh_interval_min_ms: REFRESH_INTERVAL_MIN_MS_DEFAULT,
            cache_age_max_ms: CACHE_AGE_MAX_MS_DEFAULT,
        }
    }
}

struct Cached {
    keys: Arc<KeySet>,
    /// When the keys above were fetched; `None` before the first successful fetch.
    fetched_at: Option<Instant>,
}

/// A cached, self-refreshing copy of a JWKS.
pub struct JwksClient {
    http: reqwest::Client,
    /// `None` for a fixed key set that is never fetched.
    url: Option<String>,
    limits: JwksClientLimits,
    cached: RwLock<Cached>,
    /// Serialises fetches and remembers when the last one was tried (successful or
    /// not): the minimum interval holds for failures too.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    /// In front of the JWKS's service, if given: while open, no fetch is sent and the
    /// cached keys (if any) keep serving.
    breaker: Option<crate::circuit_breaker::CircuitBreaker>,
}

impl std::fmt::Debug for JwksClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("JwksClient")
            .field("url", &self.url)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl JwksClient {
    /// A client for the JWKS at `url` (for example `http://auth:8080/.well-known/jwks.json`).
    /// Nothing is fetched until the first use.
    pub fn new(url: impl Into<String>, limits: JwksClientLimits) -> Result<Self, JwksError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(limits.fetch_timeout_ms))
            .connect_timeout(Duration::from_millis(limits.fetch_timeout_ms))
            .build()
            .map_err(|error| JwksError::Fetch(error.to_string()))?;
        Ok(Self {
            http,
            url: Some(url.into()),
            limits,
            cached: RwLock::new(Cached {
                keys: Arc::new(KeySet::default()),
                fetched_at: None,
            }),
            last_attempt: tokio::sync::Mutex::new(None),
            breaker: None,
        })
    }

    /// Puts `breaker` in front of every fetch.
    pub fn with_breaker(mut self, breaker: crate::circuit_breaker::CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// A client that always answers with `keys` and never fetches (tests, and a
    /// single-process deployment that reads auth's keys directly).
    pub fn fixed(keys: KeySet) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: None,
            limits: JwksClientLimits::default(),
            cached: RwLock::new(Cached {
                keys: Arc::new(keys),
                fetched_at: Some(Instant::now()),
            }),
            last_attempt: tokio::sync::Mutex::new(None),
            breaker: None,
        }
    }

    fn snapshot(&self) -> (Arc<KeySet>, Option<Instant>) {
        let cached = self
            .cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (cached.keys.clone(), cached.fetched_at)
    }

    /// The cached keys, fetched first if there are none yet or they are older than the
    /// maximum cache age. A failed re-fetch of a stale set keeps serving the stale set
    /// (auth being briefly away must not stop payments); a failed first fetch is an error.
    pub async fn get(&self) -> Result<Arc<KeySet>, JwksError> {
        let (keys, fetched_at) = self.snapshot();
        match fetched_at {
            Some(fetched_at) if self.url.is_none() || !self.is_stale(fetched_at) => Ok(keys),
            Some(_) => match self.refresh().await {
                Ok(keys) => Ok(keys),
                Err(error) => {
                    tracing::warn!(%error, "refreshing a stale JWKS failed; using the cached one");
                    Ok(keys)
                }
            },
            None => self.refresh().await,
        }
    }

    fn is_stale(&self, fetched_at: Instant) -> bool {
        fetched_at.elapsed() >= Duration::from_millis(self.limits.cache_age_max_ms)
    }

    /// Fetches the set again, unless a fetch was tried less than the minimum interval
    /// ago, in which case it returns what is cached (or the error of having nothing).
    pub async fn refresh(&self) -> Result<Arc<KeySet>, JwksError> {
        let Some(url) = self.url.as_deref() else {
            return Ok(self.snapshot().0);
        };
        let mut last_attempt = self.last_attempt.lock().await;
        let too_soon = last_attempt.is_some_and(|attempt| {
            attempt.elapsed() < Duration::from_millis(self.limits.refresh_interval_min_ms)
        });
        if too_soon {
            let (keys, fetched_at) = self.snapshot();
            return match fetched_at {
                Some(_) => Ok(keys),
                None => Err(JwksError::Fetch(
                    "the last fetch failed moments ago; not trying again yet".to_string(),
                )),
            };
        }
        *last_attempt = Some(Instant::now());
        let keys = Arc::new(self.fetch(url).await?);
        let mut cached = self
            .cached
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cached.keys = keys.clone();
        cached.fetched_at = Some(Instant::now());
        tracing::debug!(keys = keys.len(), "fetched the JWKS");
        Ok(keys)
    }

    async fn fetch(&self, url: &str) -> Result<KeySet, JwksError> {
        if let Some(breaker) = &self.breaker {
            breaker.admit().map_err(|refused| JwksError::Fetch(refused.to_string()))?;
        }
        let sent = self
            .http
            .get(url)
            .headers(crate::telemetry::trace_headers())
            .send()
            .await;
        if let Some(breaker) = &self.breaker {
            match &sent {
                Ok(response) if !response.status().is_server_error() => breaker.record_success(),
                _ => breaker.record_failure(),
            }
        }
        let response = sent.map_err(|error| JwksError::Fetch(crate::error::chain(&error)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Fetch(format!("{url} answered {status}")));
        }
        if response.content_length().is_some_and(|length| {
            length > u64::try_from(DOCUMENT_SIZE_MAX_BYTES).unwrap_or(u64::MAX)
        }) {
            return Err(JwksError::Invalid("the document is too large".to_string()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| JwksError::Fetch(crate::error::chain(&error)))?;
        if body.len() > DOCUMENT_SIZE_MAX_BYTES {
            return Err(JwksError::Invalid("the document is too large".to_string()));
        }
        let document: Value =
            serde_json::from_slice(&body).map_err(|error| JwksError::Invalid(error.to_string()))?;
        KeySet::from_value(&document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(byte: u8) -> String {
        URL_SAFE_NO_PAD.encode([byte; 32])
    }

    #[test]
    fn ed25519_keys_are_read_by_kid_and_other_keys_skipped() {
        let document = json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "x": x(1), "kid": "a", "alg": "EdDSA", "use": "sig" },
            { "kty": "OKP", "crv": "Ed25519", "x": x(2), "kid": "b" },
            { "kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa" },
            { "kty": "OKP", "crv": "X25519", "x": x(3), "kid": "dh" },
            { "kty": "OKP", "crv": "Ed25519", "x": x(4), "kid": "enc", "use": "enc" },
        ]});

        let keys = KeySet::from_value(&document).unwrap_or_default();

        assert_eq!(keys.kids().collect::<Vec<_>>(), vec!["a", "b"]);
        assert!(keys.get("rsa").is_none());
    }

    #[test]
    fn a_usable_key_that_is_broken_makes_the_document_invalid() {
        for key in [
            json!({ "kty": "OKP", "crv": "Ed25519", "x": x(1) }),
            json!({ "kty": "OKP", "crv": "Ed25519", "x": "!!", "kid": "a" }),
            json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([1; 31]), "kid": "a" }),
        ] {
            assert!(
                KeySet::from_value(&json!({ "keys": [key] })).is_err(),
                "{key}"
            );
        }
        assert!(KeySet::from_json("{}").is_err());
        assert!(KeySet::from_json("not json").is_err());
    }

    #[test]
    fn the_published_jwk_shape_reads_back() {
        let jwk = ed25519_jwk("kid-1", &[7; 32]);
        let keys = KeySet::from_value(&json!({ "keys": [jwk] })).unwrap_or_default();
        assert_eq!(keys.len(), 1);
        assert!(keys.get("kid-1").is_some());
    }

    #[tokio::test]
    async fn a_client_that_cannot_fetch_fails_and_then_waits_before_trying_again() {
        // Port 9 (discard) on localhost: nothing listens, the connection is refused.
        let client = match JwksClient::new(
            "http://127.0.0.1:9/.well-known/jwks.json",
            JwksClientLimits::default(),
        ) {
            Ok(client) => client,
            Err(error) => panic!("client: {error}"),
        };
        assert!(matches!(client.get().await, Err(JwksError::Fetch(_))));
        let second = client.refresh().await;
        assert!(
            matches!(&second, Err(JwksError::Fetch(message)) if message.contains("not trying again")),
            "{second:?}"
        );
    }

    #[tokio::test]
    async fn an_unknown_kid_refreshes_at_most_once_per_interval() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let routes = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let fetches = counter.clone();
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({ "keys": [ed25519_jwk("k1", &[1; 32])] }))
                }
            }),
        );
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("binding: {error}"),
        };
        let address = listener
            .local_addr()
            .map(|address| address.to_string())
            .unwrap_or_default();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        let client = match JwksClient::new(
            format!("http://{address}/jwks"),
            JwksClientLimits::default(),
        ) {
            Ok(client) => client,
            Err(error) => panic!("client: {error}"),
        };

        let keys = client.get().await.unwrap_or_default();
        assert!(keys.get("k1").is_some());
        for _ in 0..20 {
            let _ = client.refresh().await;
            let _ = client.get().await;
        }

        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "one fetch within the interval"
        );
    }

    #[tokio::test]
    async fn a_fixed_client_serves_its_keys() {
        let keys = KeySet::from_value(&json!({ "keys": [ed25519_jwk("k", &[1; 32])] }))
            .unwrap_or_default();
        let client = JwksClient::fixed(keys);
        assert_eq!(client.get().await.map(|keys| keys.len()).ok(), Some(1));
        assert_eq!(client.refresh().await.map(|keys| keys.len()).ok(), Some(1));
    }
}
