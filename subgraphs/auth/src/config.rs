//! Configuration of the auth subgraph (`C9PAY_AUTH__…`).

use c9pay_platform::{
    database::DatabaseConfig, internal_token::InternalTrustConfig,
    payment_code::LIFETIME_MAX_S as PAYMENT_CODE_LIFETIME_MAX_S,
};
use serde::Deserialize;

/// The longest an access token may live (DESIGN: ≤ 15 minutes).
pub const ACCESS_TOKEN_LIFETIME_MAX_S: i64 = 900;

/// How long a revoked session or kiosk stays in the revocation feed: the longest any
/// access token of it can still be unexpired, plus the router's clock leeway.
pub const REVOCATION_KEEP_MS: i64 = (ACCESS_TOKEN_LIFETIME_MAX_S + 60) * 1000;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Address to listen on. Default `0.0.0.0:8080`.
    #[serde(default = "default_listen_address")]
    pub listen_address: String,
    pub database: DatabaseConfig,
    /// Internal trust; auth signs as `auth` when it creates profiles in users.
    pub internal: InternalTrustConfig,
    /// Base URL of the users service (for profile creation at sign-up), e.g. `http://users:8080`.
    pub users_url: String,
    /// Access token lifetime. Default 900 (15 minutes), which is also the maximum.
    #[serde(default = "default_access_token_lifetime_s")]
    pub access_token_lifetime_s: i64,
    /// How long a log-in session lasts. Default 2592000 (30 days).
    #[serde(default = "default_session_lifetime_s")]
    pub session_lifetime_s: i64,
    /// How long a payment code (the QR a person shows at a till) stays valid. Default 120;
    /// at most 180 (`payment_code::LIFETIME_MAX_S`), which verifiers enforce too.
    #[serde(default = "default_payment_code_lifetime_s")]
    pub payment_code_lifetime_s: i64,
    /// How long a kiosk's access token lives. Default 300; at most 900.
    #[serde(default = "default_kiosk_token_lifetime_s")]
    pub kiosk_token_lifetime_s: i64,
    /// How far a kiosk's proof of possession may be in the past when it asks for a token.
    /// Default 60.
    #[serde(default = "default_kiosk_proof_age_max_s")]
    pub kiosk_proof_age_max_s: i64,
    /// How often a replica looks for a newer signing key (after a rotation). Default 10000.
    #[serde(default = "default_signing_key_reload_interval_ms")]
    pub signing_key_reload_interval_ms: u64,
    /// A rotated-in key is published this long before it signs, so that verifiers have
    /// it before they meet it. Default 30000 (beyond the verifiers' minimum JWKS refresh
    /// interval of 10000).
    #[serde(default = "default_signing_key_publish_ahead_ms")]
    pub signing_key_publish_ahead_ms: i64,
    /// The accounts (by log-in email) that may open an admin session. Default none.
    #[serde(default)]
    pub admin_emails: Vec<String>,
    /// Admin idle time-out: an admin token lives this long, and `extendAdminSession`
    /// (while it is still valid) renews it. Default 600; at most 900.
    #[serde(default = "default_admin_idle_timeout_s")]
    pub admin_idle_timeout_s: i64,
    /// Admin absolute time-out: no admin session outlives this. Default 28800 (8 hours).
    #[serde(default = "default_admin_session_lifetime_s")]
    pub admin_session_lifetime_s: i64,
    /// The circuit breaker in front of users (profile creation at sign-up): while open,
    /// sign-ups answer `SERVICE_UNAVAILABLE` at once. Defaults 5 failures in a row,
    /// 10000 ms cool-down.
    #[serde(default)]
    pub users_circuit_breaker: c9pay_platform::circuit_breaker::CircuitBreakerConfig,
    /// Trace export (OTLP). Default: none.
    #[serde(default)]
    pub telemetry: c9pay_platform::telemetry::TelemetryConfig,
}

fn default_listen_address() -> String {
    "0.0.0.0:8080".to_string()
}
fn default_access_token_lifetime_s() -> i64 {
    ACCESS_TOKEN_LIFETIME_MAX_S
}
fn default_session_lifetime_s() -> i64 {
    30 * 24 * 3600
}
fn default_payment_code_lifetime_s() -> i64 {
    120
}
fn default_kiosk_token_lifetime_s() -> i64 {
    300
}
fn default_kiosk_proof_age_max_s() -> i64 {
    60
}
fn default_signing_key_reload_interval_ms() -> u64 {
    10_000
}
fn default_signing_key_publish_ahead_ms() -> i64 {
    30_000
}
fn default_admin_idle_timeout_s() -> i64 {
    600
}
fn default_admin_session_lifetime_s() -> i64 {
    8 * 3600
}

impl AuthConfig {
    pub fn new(
        listen_address: impl Into<String>,
        database: DatabaseConfig,
        internal: InternalTrustConfig,
        users_url: impl Into<String>,
    ) -> Self {
        Self {
            listen_address: listen_address.into(),
            database,
            internal,
            users_url: users_url.into(),
            access_token_lifetime_s: default_access_token_lifetime_s(),
            session_lifetime_s: default_session_lifetime_s(),
            payment_code_lifetime_s: default_payment_code_lifetime_s(),
            kiosk_token_lifetime_s: default_kiosk_token_lifetime_s(),
            kiosk_proof_age_max_s: default_kiosk_proof_age_max_s(),
            signing_key_reload_interval_ms: default_signing_key_reload_interval_ms(),
            signing_key_publish_ahead_ms: default_signing_key_publish_ahead_ms(),
            admin_emails: Vec::new(),
            admin_idle_timeout_s: default_admin_idle_timeout_s(),
            admin_session_lifetime_s: default_admin_session_lifetime_s(),
            users_circuit_breaker: Default::default(),
            telemetry: Default::default(),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=ACCESS_TOKEN_LIFETIME_MAX_S).contains(&self.access_token_lifetime_s),
            "access_token_lifetime_s must be between 1 and {ACCESS_TOKEN_LIFETIME_MAX_S}"
        );
        anyhow::ensure!(
            self.session_lifetime_s > 0,
            "session_lifetime_s must be positive"
        );
        anyhow::ensure!(
            (1..=PAYMENT_CODE_LIFETIME_MAX_S).contains(&self.payment_code_lifetime_s),
            "payment_code_lifetime_s must be between 1 and {PAYMENT_CODE_LIFETIME_MAX_S}"
        );
        anyhow::ensure!(
            (1..=ACCESS_TOKEN_LIFETIME_MAX_S).contains(&self.kiosk_token_lifetime_s),
            "kiosk_token_lifetime_s must be between 1 and {ACCESS_TOKEN_LIFETIME_MAX_S}"
        );
        anyhow::ensure!(
            (1..=300).contains(&self.kiosk_proof_age_max_s),
            "kiosk_proof_age_max_s must be between 1 and 300"
        );
        anyhow::ensure!(
            (1..=ACCESS_TOKEN_LIFETIME_MAX_S).contains(&self.admin_idle_timeout_s),
            "admin_idle_timeout_s must be between 1 and {ACCESS_TOKEN_LIFETIME_MAX_S}"
        );
        anyhow::ensure!(
            self.admin_session_lifetime_s >= self.admin_idle_timeout_s,
            "admin_session_lifetime_s must be at least admin_idle_timeout_s"
        );
        Ok(())
    }
}
