//! The credit subgraph: the ledger. Accounts (a wallet per person, an account per store,
//! system accounts for money outside the platform) and immutable double-entry transfers.

pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
mod internal;
pub mod ledger;
mod schema;

use c9pay_platform::{
    database::{Database, Migrations},
    graphql,
    http::Application,
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

/// Connects, migrates and binds; the returned application is ready to run.
pub async fn build(config: &CreditConfig) -> anyhow::Result<Application> {
    let subgraph =
        Subgraph::prepare(NAME, &config.database, &migrations(), &config.internal).await?;
    let routes = graphql::endpoint(
        schema::build(subgraph.database.clone()),
        subgraph.verifier.clone(),
    )
    .merge(internal::routes(subgraph.database.clone()));
    Ok(Application::bind(NAME, &config.listen_address, subgraph.router(routes)).await?)
}

/// Opens the credit database (for demo seeding by `c9pay up`, and for tests).
pub async fn open_database(config: &CreditConfig) -> anyhow::Result<Database> {
    Database::connect(&config.database, &migrations()).await
}
