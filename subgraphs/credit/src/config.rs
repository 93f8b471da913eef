//! Configuration of the credit subgraph (`C9PAY_CREDIT__…`).

use c9pay_platform::{database::DatabaseConfig, internal_token::InternalTrustConfig};
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
    /// internal endpoints. Credit calls no other service, so it needs no signing key.
    pub internal: InternalTrustConfig,
}

fn default_listen_address() -> String {
    "0.0.0.0:8080".to_string()
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
        }
    }
}
