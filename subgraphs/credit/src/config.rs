//! Configuration of the credit subgraph (`C9PAY_CREDIT__…`).

use c9pay_platform::{
    circuit_breaker::CircuitBreakerConfig, database::DatabaseConfig,
    internal_token::InternalTrustConfig, telemetry::TelemetryConfig,
};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditConfig {
    /// Address to listen on. Default `0.0.0.0:8080`.
    #[serde(default = "default_listen_address")]
    pub listen_address: String,
    /// The ledger database. No default.
    pub database: DatabaseConfig,
    /// Issuers whose internal tokens are accepted: `router` for GraphQL, `stores` for the
    /// internal endpoints; `signing_key` lets credit ask users whether a recipient exists.
    pub internal: InternalTrustConfig,
    /// Base URL of the users service (recipient checks for `sendCredits`), e.g.
    /// `http://users:8080`. Without it, `sendCredits` refuses every recipient.
    #[serde(default)]
    pub users_url: Option<String>,
    /// Auth's JWKS, which verifies payment codes, e.g.
    /// `http://auth:8080/.well-known/jwks.json`. Without it, every code is refused.
    #[serde(default)]
    pub auth_jwks_url: Option<String>,
    /// Largest single top-up. Default 1000000.
    #[serde(default = "default_top_up_max")]
    pub top_up_max: i64,
    /// Most a person may top up per UTC day. Default 2000000.
    #[serde(default = "default_top_up_daily_max")]
    pub top_up_daily_max: i64,
    /// How long an authorised payment waits for its capture before the hold expires and
    /// the credit returns to the payer. Default 120000.
    #[serde(default = "default_hold_lifetime_ms")]
    pub hold_lifetime_ms: i64,
    /// How often expired holds are swept. Default 1000.
    #[serde(default = "default_hold_sweep_interval_ms")]
    pub hold_sweep_interval_ms: u64,
    /// How often the live event feed reads the event table even when nothing announced a
    /// new event: a safety net under the in-process announcement (SQLite) and
    /// PostgreSQL's NOTIFY. Default 2000.
    #[serde(default = "default_events_poll_interval_ms")]
    pub events_poll_interval_ms: u64,
    /// The circuit breaker in front of auth's JWKS: while open, no fetch is sent and the
    /// keys already fetched keep verifying codes. Defaults 5 failures in a row, 10000 ms
    /// cool-down.
    #[serde(default)]
    pub auth_circuit_breaker: CircuitBreakerConfig,
    /// The circuit breaker in front of users (recipient checks). Defaults as above.
    #[serde(default)]
    pub users_circuit_breaker: CircuitBreakerConfig,
    /// Trace export (OTLP). Default: none.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

fn default_listen_address() -> String {
    "0.0.0.0:8080".to_string()
}
fn default_top_up_max() -> i64 {
    1_000_000
}
fn default_top_up_daily_max() -> i64 {
    2_000_000
}
fn default_hold_lifetime_ms() -> i64 {
    120_000
}
fn default_hold_sweep_interval_ms() -> u64 {
    1_000
}
fn default_events_poll_interval_ms() -> u64 {
    2_000
}

impl CreditConfig {
    pub fn new(
        listen_address: impl Into<String>,
        database: DatabaseConfig,
        internal: InternalTrustConfig,
    ) -> Self {
        Self {
            listen_address: listen_address.into(),
            database,
            internal,
            users_url: None,
            auth_jwks_url: None,
            top_up_max: default_top_up_max(),
            top_up_daily_max: default_top_up_daily_max(),
            hold_lifetime_ms: default_hold_lifetime_ms(),
            hold_sweep_interval_ms: default_hold_sweep_interval_ms(),
            events_poll_interval_ms: default_events_poll_interval_ms(),
            auth_circuit_breaker: CircuitBreakerConfig::default(),
            users_circuit_breaker: CircuitBreakerConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }

    pub fn with_users_url(mut self, users_url: impl Into<String>) -> Self {
        self.users_url = Some(users_url.into());
        self
    }

    pub fn with_auth_jwks_url(mut self, auth_jwks_url: impl Into<String>) -> Self {
        self.auth_jwks_url = Some(auth_jwks_url.into());
        self
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.top_up_max > 0 && self.top_up_daily_max >= self.top_up_max,
            "top-up limits must be positive, daily at least single"
        );
        anyhow::ensure!(
            self.hold_lifetime_ms >= 1_000,
            "hold_lifetime_ms must be at least 1000"
        );
        anyhow::ensure!(
            self.hold_sweep_interval_ms >= 10,
            "hold_sweep_interval_ms must be at least 10"
        );
        anyhow::ensure!(
            self.events_poll_interval_ms >= 10,
            "events_poll_interval_ms must be at least 10"
        );
        Ok(())
    }
}
