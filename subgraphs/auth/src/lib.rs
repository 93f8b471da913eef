//! The auth subgraph: identities, credentials, sessions, signing keys and access tokens.

pub mod admin;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
mod internal;
pub mod keys;
mod profiles;
mod schema;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use c9pay_platform::{
    database::{Database, Migrations},
    graphql,
    http::Application,
    service::Subgraph,
};

pub use config::AuthConfig;

pub const NAME: &str = "auth";

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

/// Connects, migrates, loads the signing key and binds.
pub async fn build(config: &AuthConfig) -> anyhow::Result<Application> {
    config.validate()?;
    let subgraph =
        Subgraph::prepare(NAME, &config.database, &migrations(), &config.internal).await?;
    let keys = Arc::new(
        keys::KeyRing::load(
            subgraph.database.clone(),
            config.signing_key_reload_interval_ms,
            config.signing_key_publish_ahead_ms,
        )
        .await?,
    );
    let breaker_metrics = c9pay_platform::circuit_breaker::BreakerMetrics::register(&subgraph.metrics)?;
    let users_breaker = c9pay_platform::circuit_breaker::CircuitBreaker::new(
        "users",
        config.users_circuit_breaker,
        Some(&breaker_metrics),
    );
    let profiles = profiles::ProfileDirectory::new(&config.users_url, subgraph.require_signer()?, users_breaker)?;
    let lifetimes = schema::Lifetimes {
        access_token_s: config.access_token_lifetime_s,
        session_s: config.session_lifetime_s,
        payment_code_s: config.payment_code_lifetime_s,
        kiosk_token_s: config.kiosk_token_lifetime_s,
        kiosk_proof_age_max_s: config.kiosk_proof_age_max_s,
    };
    let admins = Arc::new(admin::AdminPolicy::from_config(config)?);
    let schema = schema::build(subgraph.database.clone(), keys.clone(), profiles, lifetimes, admins.clone());
    let routes = graphql::endpoint(schema, subgraph.verifier.clone())
        .merge(
            Router::new()
                .route("/.well-known/jwks.json", get(jwks))
                .with_state(subgraph.database.clone()),
        )
        .merge(internal::routes(internal::Internal {
            database: subgraph.database.clone(),
            keys,
            admins,
        }));
    Ok(Application::bind(NAME, &config.listen_address, subgraph.router(routes)).await?)
}

/// The public keys that verify access tokens (public by design: no internal token).
async fn jwks(State(database): State<Database>) -> Response {
    match keys::jwks(&database).await {
        Ok(document) => (
            [(header::CACHE_CONTROL, "public, max-age=60")],
            Json(document),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = %c9pay_platform::error::chain(&error), "reading the JWKS");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Opens the auth database (for demo seeding by `c9pay up`).
pub async fn open_database(config: &AuthConfig) -> anyhow::Result<Database> {
    Database::connect(&config.database, &migrations()).await
}
