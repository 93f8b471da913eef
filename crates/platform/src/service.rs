//! What every subgraph does the same way at start-up: connect and migrate its database,
//! set up metrics and internal trust, and assemble its routes behind the standard layers.

use std::sync::Arc;

use axum::{
    Extension, Router,
    extract::FromRequestParts,
    http::{header, request::Parts},
    response::Response,
};

use crate::{
    database::{Database, DatabaseConfig, Migrations},
    graphql::unauthenticated,
    http::{ReadinessCheck, operational_routes, with_standard_layers},
    internal_token::{InternalTokenSigner, InternalTokenVerifier, InternalTrustConfig, Principal},
    metrics::Metrics,
};

/// The shared parts of a running subgraph.
#[derive(Clone)]
pub struct Subgraph {
    pub name: &'static str,
    pub database: Database,
    pub metrics: Metrics,
    pub verifier: Arc<InternalTokenVerifier>,
    /// This service's own signer, for calls to other services (`None` if it has no key).
    pub signer: Option<InternalTokenSigner>,
}

impl Subgraph {
    pub async fn prepare(
        name: &'static str,
        database: &DatabaseConfig,
        migrations: &Migrations,
        trust: &InternalTrustConfig,
    ) -> anyhow::Result<Self> {
        let database = Database::connect(database, migrations).await?;
        let metrics = Metrics::new(name)?;
        let verifier = Arc::new(InternalTokenVerifier::for_service(&trust.trusted_issuers, name)?);
        let signer = trust
            .signing_key
            .as_ref()
            .map(|seed| InternalTokenSigner::new(name, seed))
            .transpose()?;
        Ok(Self {
            name,
            database,
            metrics,
            verifier,
            signer,
        })
    }

    /// The service's signer, or a configuration error naming the missing key.
    pub fn require_signer(&self) -> anyhow::Result<InternalTokenSigner> {
        self.signer.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "{} calls other services and needs internal.signing_key",
                self.name
            )
        })
    }

    /// Operational routes + `routes`, behind the standard layers. `routes` may use the
    /// [`Caller`] extractor.
    pub fn router(&self, routes: Router) -> Router {
        let database = self.database.clone();
        let ready: ReadinessCheck = Arc::new(move || {
            let database = database.clone();
            Box::pin(async move { database.is_ready().await })
        });
        let app = routes
            .layer(Extension(self.verifier.clone()))
            .merge(operational_routes(self.metrics.clone(), ready));
        with_standard_layers(app, self.metrics.clone(), self.name)
    }
}

/// The verified caller of an internal HTTP endpoint; refuses the request with 401 when
/// the internal token is missing or invalid.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(verifier) = parts.extensions.get::<Arc<InternalTokenVerifier>>() else {
            tracing::error!("internal token verifier missing from the router's extensions");
            return Err(unauthenticated("internal endpoint misconfigured"));
        };
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        verifier
            .verify_authorization(authorization)
            .map(Caller)
            .map_err(|error| {
                tracing::warn!(%error, "refused an internal call");
                unauthenticated("internal endpoint: a valid service token is required")
            })
    }
}
