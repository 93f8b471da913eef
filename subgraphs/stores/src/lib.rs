//! The stores subgraph: merchants' stores, their catalogues, and sales paid with
//! payment codes through credit; a reconciler settles sales no client came back for.

pub mod config;
pub mod credit;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod kiosks;
pub mod metrics;
pub mod reconciler;
mod sales;
mod schema;

use c9pay_platform::{
    circuit_breaker::{BreakerMetrics, CircuitBreaker},
    database::{Database, Migrations},
    graphql,
    http::Application,
    service::Subgraph,
};

pub use config::StoresConfig;

pub const NAME: &str = "stores";

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

/// Connects, migrates and binds; the returned application is ready to run. Fails without
/// `internal.signing_key`, which stores needs to call credit.
pub async fn build(config: &StoresConfig) -> anyhow::Result<Application> {
    let subgraph = Subgraph::prepare(NAME, &config.database, &migrations(), &config.internal).await?;
    let breaker_metrics = BreakerMetrics::register(&subgraph.metrics)?;
    let breaker = CircuitBreaker::new("credit", config.credit_circuit_breaker, Some(&breaker_metrics));
    let credit = credit::CreditClient::new(&config.credit_url, config.credit_timeout_ms, subgraph.require_signer()?, breaker)?;
    anyhow::ensure!(config.reconcile_after_ms > 0 && config.reconcile_interval_ms > 0, "reconcile_after_ms and reconcile_interval_ms must be positive");
    let payments = metrics::PaymentMetrics::register(&subgraph.metrics)?;
    tokio::spawn(reconciler::reconcile_forever(
        subgraph.database.clone(),
        credit.clone(),
        payments.clone(),
        std::time::Duration::from_millis(config.reconcile_interval_ms),
        config.reconcile_after_ms,
    ));
    let auth_breaker = CircuitBreaker::new("auth", config.auth_circuit_breaker, Some(&breaker_metrics));
    let kiosks = kiosks::KioskRegistry::new(config.auth_url.as_deref(), config.credit_timeout_ms, subgraph.require_signer()?, auth_breaker)?;
    let routes = graphql::endpoint(schema::build(subgraph.database.clone(), credit, kiosks, payments), subgraph.verifier.clone());
    Ok(Application::bind(NAME, &config.listen_address, subgraph.router(routes)).await?)
}

/// Opens the stores database (for demo seeding by `c9pay up`, and for tests).
pub async fn open_database(config: &StoresConfig) -> anyhow::Result<Database> {
    Database::connect(&config.database, &migrations()).await
}
