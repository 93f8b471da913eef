//! Configuration of the users subgraph (`C9PAY_USERS__…`).

use c9pay_platform::{database::DatabaseConfig, internal_token::InternalTrustConfig};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersConfig {
    /// Address to listen on. Default `0.0.0.0:8080`.
    #[serde(default = "default_listen_address")]
    pub listen_address: String,
    pub database: DatabaseConfig,
    pub internal: InternalTrustConfig,
    /// Trace export (OTLP). Default: none.
    #[serde(default)]
    pub telemetry: c9pay_platform::telemetry::TelemetryConfig,
}

fn default_listen_address() -> String {
    "0.0.0.0:8080".to_string()
}

impl UsersConfig {
    pub fn new(
        listen_address: impl Into<String>,
        database: DatabaseConfig,
        internal: InternalTrustConfig,
    ) -> Self {
        Self {
            listen_address: listen_address.into(),
            database,
            internal,
            telemetry: Default::default(),
        }
    }
}
