//! The credit subgraph: the ledger. Accounts (a wallet per person, an account per store,
//! system accounts for money outside the platform) and immutable double-entry transfers.

pub mod config;
pub mod db;
pub mod demo;
pub mod directory;
pub mod domain;
pub mod error;
pub mod events;
pub mod funding;
pub mod idempotency;
mod internal;
pub mod ledger;
pub mod operations;
pub mod payment_requests;
pub mod payments;
mod schema;
mod sweeper;

use c9pay_platform::{
    database::{Database, Migrations},
    graphql,
    http::Application,
    circuit_breaker::{BreakerMetrics, CircuitBreaker},
    jwks::{JwksClient, JwksClientLimits, KeySet},
    money::Amount,
    service::Subgraph,
};

pub use config::CreditConfig;

pub const NAME: &str = "credit";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: sqlx::migrate!("./migrations/postgres"),
        sqlite: sqlx::migrate!("./migrations/sqlite"),
    }
}

/// The exported federation SDL.
pub fn schema_sdl() -> String {
    schema::sdl()
}

/// Connects, migrates and binds; the returned application is ready to run. Also starts
/// the sweeper that expires holds whose capture never came.
pub async fn build(config: &CreditConfig) -> anyhow::Result<Application> {
    config.validate()?;
    let subgraph =
        Subgraph::prepare(NAME, &config.database, &migrations(), &config.internal).await?;
    let breaker_metrics = BreakerMetrics::register(&subgraph.metrics)?;
    let events = events::EventHub::start(
        subgraph.database.clone(),
        config.database.url.expose(),
        std::time::Duration::from_millis(config.events_poll_interval_ms),
    )
    .await?
    .measure_delivery_lag(&subgraph.metrics)?;
    let services = schema::Services {
        funding: std::sync::Arc::new(funding::DemoFundingProvider),
        directory: directory::UserDirectory::new(
            config.users_url.as_deref(),
            subgraph.signer.clone(),
            CircuitBreaker::new("users", config.users_circuit_breaker, Some(&breaker_metrics)),
        )?,
        top_up_limits: operations::TopUpLimits {
            single_max: Amount::parse_positive(config.top_up_max)?,
            daily_max: Amount::parse_positive(config.top_up_daily_max)?,
        },
        request_keys: config
            .internal
            .signing_key
            .as_ref()
            .map(payment_requests::RequestKeys::from_seed)
            .transpose()?,
        events,
    };
    let routes = graphql::endpoint(
        schema::build(subgraph.database.clone(), services),
        subgraph.verifier.clone(),
    )
    .merge(internal::routes(internal::Internal {
        database: subgraph.database.clone(),
        jwks: std::sync::Arc::new(match &config.auth_jwks_url {
            Some(url) => JwksClient::new(url.clone(), JwksClientLimits::default())?
                .with_breaker(CircuitBreaker::new("auth", config.auth_circuit_breaker, Some(&breaker_metrics))),
            // Without auth's keys no payment code verifies: every one is refused.
            None => JwksClient::fixed(KeySet::default()),
        }),
        hold_lifetime_ms: config.hold_lifetime_ms,
    }));
    tokio::spawn(sweeper::expire_holds_forever(
        subgraph.database.clone(),
        std::time::Duration::from_millis(config.hold_sweep_interval_ms),
    ));
    Ok(Application::bind(NAME, &config.listen_address, subgraph.router(routes)).await?)
}

/// Opens the credit database (for demo seeding by `c9pay up`, and for tests).
pub async fn open_database(config: &CreditConfig) -> anyhow::Result<Database> {
    Database::connect(&config.database, &migrations()).await
}
