//! The HTTP shell every target shares: an [`Application`] that binds (port 0 in tests),
//! reports its port, and serves until stopped (zero2prod `startup.rs`); the operational
//! routes `/health`, `/ready` and `/metrics`; and the standard middleware stack.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::get,
};
use tokio::net::TcpListener;
use tower_http::{
    catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::metrics::{Metrics, track_http};

/// Largest request body a subgraph accepts. GraphQL requests from the router are small;
/// anything larger is a mistake or an attack.
pub const REQUEST_BODY_SIZE_MAX_BYTES: usize = 256 * 1024;
/// A request that takes longer than this is abandoned with 408.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;

pub type ReadinessCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Operational {
    metrics: Metrics,
    ready: ReadinessCheck,
}

/// `/health` (the process is alive), `/ready` (its dependencies answer) and `/metrics`.
pub fn operational_routes(metrics: Metrics, ready: ReadinessCheck) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(readiness))
        .route("/metrics", get(render_metrics))
        .with_state(Operational { metrics, ready })
}

async fn readiness(State(state): State<Operational>) -> impl IntoResponse {
    if (state.ready)().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn render_metrics(State(state): State<Operational>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Wraps an application's routes in the standard stack: a span per request that
/// continues the caller's trace, metrics, a body limit, a time-out, and panics turned
/// into 500s instead of dropped connections. `service` names the spans.
pub fn with_standard_layers(router: Router, metrics: Metrics, service: &'static str) -> Router {
    router
        .layer(middleware::from_fn_with_state(metrics, track_http))
        .layer(middleware::from_fn_with_state(service, crate::telemetry::trace_requests))
        .layer(RequestBodyLimitLayer::new(REQUEST_BODY_SIZE_MAX_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(REQUEST_TIMEOUT_MS),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
}

/// A bound, not yet running HTTP server.
pub struct Application {
    name: &'static str,
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
}

impl Application {
    /// Binds `address` (`127.0.0.1:0` picks a free port).
    pub async fn bind(name: &'static str, address: &str, router: Router) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        Ok(Self {
            name,
            listener,
            router,
            address,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the process receives Ctrl-C or SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(target = self.name, address = %self.address, "listening");
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .await
    }
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes sends before killing a pod).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "listening for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "listening for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
