//! The router: the one public GraphQL endpoint of c9pay.
//!
//! It loads the composed supergraph, verifies each client's access token, refuses what
//! the request may not do (anonymous callers, over-limit documents), and executes the
//! rest across the subgraphs with a short-lived internal token it signs itself. The
//! client's own headers never reach a subgraph.
//!
//! Layout, one room per concern: [`transport`] (GraphQL over HTTP, server-sent events,
//! GraphQL over WebSocket); [`credentials`] (access tokens, DPoP, revocations, admin and
//! browser sessions); [`pipeline`], one module per stage; [`engine`] (the only module that
//! knows the query engine is Hive Router's); [`assets`] (the web clients and GraphiQL);
//! and beside them [`config`], [`error`], [`rate_limit`] and [`metrics`].

pub mod assets;
pub mod config;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod pipeline;
pub mod rate_limit;
pub mod transport;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware,
};
use c9pay_platform::{
    circuit_breaker::BreakerMetrics,
    http::{Application, ReadinessCheck, operational_routes},
    internal_token::{InternalTokenSigner, ROUTER_ISSUER},
    metrics::{Metrics, track_http},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

pub use config::{Access, RouterConfig};

use crate::{
    credentials::{
        access_tokens::AccessTokenVerifier,
        admin_session,
        browser_session,
        dpop::ProofChecker,
        revocations::{RevocationFollower, RevocationList},
    },
    engine::{Engine, EngineOptions},
    metrics::RouterMetrics,
    pipeline::{Authentication, Pipeline},
};

pub const NAME: &str = "router";

/// Loads the supergraph, prepares the engine and binds; the returned application is
/// ready to run.
pub async fn build(config: &RouterConfig) -> anyhow::Result<Application> {
    config.validate()?;
    // The executor's HTTP client is built with rustls; with more than one crypto
    // provider linked into the binary, rustls needs to be told which one to use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let supergraph = tokio::fs::read_to_string(&config.supergraph_path)
        .await
        .with_context(|| format!("reading the supergraph {}", config.supergraph_path.display()))?;
    let metrics = Metrics::new(NAME)?;
    let router_metrics = RouterMetrics::register(&metrics)?;
    let breaker_metrics = BreakerMetrics::register(&metrics)?;
    let engine = Engine::load(&supergraph, engine_options(config, router_metrics.clone(), breaker_metrics))?;
    tracing::info!(subgraphs = ?engine.subgraph_names(), "loaded the supergraph");

    let authentication = match config.access {
        Access::Authenticated => Some(authentication(config).await?),
        Access::Open => {
            tracing::warn!(
                "access = \"open\": no caller is authenticated and subgraphs are called at the supergraph's URLs \
                 without credentials; for benchmarks on other supergraphs, never for c9pay"
            );
            None
        }
    };
    let pipeline = Arc::new(Pipeline {
        engine,
        authentication,
        limits: config.limits.clone(),
        anonymous_root_fields: pipeline::split_root_fields(&config.anonymous_root_fields),
        rate_limiter: rate_limit::RateLimiter::new(&config.rate_limits),
        metrics: router_metrics,
        proofs: ProofChecker::new(&config.dpop),
        scopes: config.scopes.clone(),
        public_url: config.dpop.public_url.clone(),
        trusted_documents: pipeline::trusted_documents::TrustedDocuments::new(config.trusted_documents),
        documents: pipeline::documents::DocumentCache::new(config.limits.document_cache_text_bytes_max),
    });

    let ready_pipeline = pipeline.clone();
    let ready: ReadinessCheck = Arc::new(move || {
        let pipeline = ready_pipeline.clone();
        Box::pin(async move {
            match &pipeline.authentication {
                Some(authentication) => {
                    authentication.verifier.is_ready().await && authentication.revocations.has_been_read()
                }
                None => true,
            }
        })
    });
    let trust_forwarded_for = config.rate_limits.trust_forwarded_for;
    let mut app = transport::http::routes(pipeline.clone(), trust_forwarded_for);
    // Sessions and the web clients need signed-in people; an open router has none.
    if let Some(authentication) = &pipeline.authentication {
        let admin_log_in = Arc::new(admin_session::AdminLogIn::new(
            config.subgraph_urls.get("auth").map(String::as_str).unwrap_or_default(),
            authentication.signer.clone(),
            config.limits.subgraph_timeout_ms("auth"),
            pipeline.clone(),
            trust_forwarded_for,
        )?);
        app = app
            .merge(browser_session::routes(pipeline.clone(), trust_forwarded_for))
            .merge(admin_session::routes(admin_log_in))
            .merge(assets::clients::routes());
    }
    let app = app
        .merge(operational_routes(metrics.clone(), ready))
        .layer(middleware::from_fn_with_state(metrics, track_http))
        .layer(middleware::from_fn(transport::http::trace_requests))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(config.limits.request_timeout_ms),
        ))
        .layer(cors(&config.cors_allowed_origins)?)
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new());
    // The platform's standard layers are not used as a whole: their body limit answers
    // 413 in plain text, and the router answers with a GraphQL error (`PAYLOAD_TOO_LARGE`)
    // from its own limit.
    Ok(Application::bind(NAME, &config.listen_address, app).await?)
}

/// The access-token verifier, the internal-token signer and auth's revocation feed
/// (read once before serving, then followed in the background).
async fn authentication(config: &RouterConfig) -> anyhow::Result<Authentication> {
    let jwks_url = config.jwks_url.as_deref().context("jwks_url is required")?;
    let signing_key = config.internal_signing_key.as_ref().context("internal_signing_key is required")?;
    let verifier = AccessTokenVerifier::new(jwks_url, &config.access_tokens)?;
    verifier.prefetch().await;
    let signer = InternalTokenSigner::new(ROUTER_ISSUER, signing_key).context("internal_signing_key")?;
    let revocations = Arc::new(RevocationList::new(config.revocations.staleness_max_ms));
    let follower = RevocationFollower::new(
        revocations.clone(),
        config.revocation_feed_url()?,
        signer.clone(),
        &config.revocations,
    )?;
    // Read once before serving, so that signed-in requests are not refused at start-up
    // for want of a feed; a failure is not fatal (auth may start later) and the follower
    // keeps trying.
    if let Err(error) = follower.poll().await {
        tracing::warn!(error = %format!("{error:#}"), "auth's revocation feed is not available yet");
    }
    tokio::spawn(follower.run());
    Ok(Authentication {
        verifier,
        credentials: Arc::new(credentials::internal_credentials::InternalCredentials::new(
            signer.clone(),
            credentials::internal_credentials::CACHED_TOKENS_MAX,
        )),
        signer,
        revocations,
    })
}

/// CORS for the configured origins only: no wildcard, no credentials (the admin cookie is
/// `SameSite=Strict` and stays with the router's own origin). With no origins configured
/// the layer adds nothing and browsers keep their same-origin rule.
fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')))
        .collect::<Result<Vec<_>, _>>()
        .context("cors_allowed_origins")?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT, HeaderName::from_static("dpop")])
        .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600)))
}

fn engine_options(config: &RouterConfig, metrics: RouterMetrics, breaker_metrics: BreakerMetrics) -> EngineOptions {
    let subgraph_endpoints: BTreeMap<String, String> = config
        .subgraph_urls
        .iter()
        .map(|(name, base_url)| {
            (
                name.clone(),
                format!("{}/graphql", base_url.trim_end_matches('/')),
            )
        })
        .collect();
    let subgraph_timeouts = config
        .subgraph_urls
        .keys()
        .map(|name| {
            (
                name.clone(),
                Duration::from_millis(config.limits.subgraph_timeout_ms(name)),
            )
        })
        .collect();
    EngineOptions {
        subgraph_endpoints,
        supergraph_urls_used: config.access == Access::Open,
        subgraph_timeouts,
        default_timeout: Duration::from_millis(config.limits.subgraph_timeout_ms),
        plan_cache_size_max: u64::try_from(config.limits.plan_cache_size_max).unwrap_or(u64::MAX),
        subscription_buffer_size_max: config.limits.subscription_buffer_size_max,
        circuit_breaker: config.circuit_breaker,
        breaker_metrics,
        metrics,
        deduplicate_queries: config.deduplicate_queries,
        shared_subscription_connections: config.shared_subscription_connections,
    }
}
