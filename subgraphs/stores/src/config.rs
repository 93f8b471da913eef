//! Configuration of the stores subgraph (`C9PAY_STORES__…`).

use c9pay_platform::{circuit_breaker::CircuitBreakerConfig, database::DatabaseConfig, internal_token::InternalTrustConfig, telemetry::TelemetryConfig};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoresConfig {
    /// Address to listen on. Default `0.0.0.0:8080`.
    #[serde(default = "default_listen_address")]
    pub listen_address: String,
    /// The catalogue database. No default.
    pub database: DatabaseConfig,
    /// Internal trust. `signing_key` is required: stores calls credit as service `stores`.
    pub internal: InternalTrustConfig,
    /// Base URL of the credit service, for example `http://credit:8080`. No default.
    pub credit_url: String,
    /// How long a call to credit may take before stores gives up and reports
    /// `SERVICE_UNAVAILABLE`. Default 5000.
    #[serde(default = "default_credit_timeout_ms")]
    pub credit_timeout_ms: u64,
    /// How often the reconciler looks for sales and refunds no client came back for.
    /// Default 30000.
    #[serde(default = "default_reconcile_interval_ms")]
    pub reconcile_interval_ms: u64,
    /// How old a pending sale or refund must be before the reconciler settles it from
    /// credit's state. Longer than a payment code's life plus clock skew (4 minutes) and
    /// than credit's hold lifetime (2 minutes by default), so that the outcome can no
    /// longer change. Default 600000.
    #[serde(default = "default_reconcile_after_ms")]
    pub reconcile_after_ms: i64,
    /// Base URL of the auth service, for example `http://auth:8080`: kiosks are
    /// registered there (auth issues their tokens). Without it, `registerKiosk` and
    /// `revokeKiosk` answer `SERVICE_UNAVAILABLE`. Default none.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// The circuit breaker in front of credit: after `consecutive_failures_max` calls in
    /// a row without a usable answer, new calls are refused at once for `cool_down_ms`
    /// (a sale then stays pending and the client gets `SERVICE_UNAVAILABLE`, as when
    /// credit does not answer), then one call probes. Defaults 5 and 10000.
    #[serde(default)]
    pub credit_circuit_breaker: CircuitBreakerConfig,
    /// The circuit breaker in front of auth (kiosk registration, revocation and lists):
    /// while open, those answer `SERVICE_UNAVAILABLE` at once. Defaults 5 and 10000.
    #[serde(default)]
    pub auth_circuit_breaker: CircuitBreakerConfig,
    /// Trace export (OTLP). Default: none.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

fn default_reconcile_interval_ms() -> u64 {
    30_000
}

fn default_reconcile_after_ms() -> i64 {
    600_000
}

fn default_listen_address() -> String {
    "0.0.0.0:8080".to_string()
}

fn default_credit_timeout_ms() -> u64 {
    5_000
}

impl StoresConfig {
    pub fn new(
        listen_address: impl Into<String>,
        database: DatabaseConfig,
        internal: InternalTrustConfig,
        credit_url: impl Into<String>,
    ) -> Self {
        Self {
            listen_address: listen_address.into(),
            database,
            internal,
            credit_url: credit_url.into(),
            credit_timeout_ms: default_credit_timeout_ms(),
            auth_url: None,
            reconcile_interval_ms: default_reconcile_interval_ms(),
            reconcile_after_ms: default_reconcile_after_ms(),
            credit_circuit_breaker: CircuitBreakerConfig::default(),
            auth_circuit_breaker: CircuitBreakerConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }

    /// Where auth is, for kiosk registration.
    pub fn with_auth_url(mut self, auth_url: impl Into<String>) -> Self {
        self.auth_url = Some(auth_url.into());
        self
    }
}
