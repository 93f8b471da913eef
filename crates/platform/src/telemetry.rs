//! Logs and traces, initialised once per process.
//!
//! **Logs**: JSON lines in production, readable lines on a terminal; the filter comes from
//! `RUST_LOG` (default `info`). A JSON line written inside a span of a trace (a request
//! served, a subscription's event, a call between services) carries the trace id as a
//! top-level `trace_id` field, next to its spans' fields; so does a masked internal error's
//! message, next to the request id.
//!
//! **Traces**: OpenTelemetry through `tracing-opentelemetry`. Every `tracing` span (the
//! router's request and its pipeline stages, each subgraph fetch, each request a
//! subgraph serves, each call between services) is an OpenTelemetry span. The W3C
//! `traceparent` header carries the trace across processes: the router's executor sets it
//! on every subgraph fetch, [`trace_headers`] on every call between services, and
//! [`trace_requests`] reads it on every request a subgraph serves. Spans are exported
//! over OTLP/HTTP (protobuf) only when `otlp_endpoint` is configured; without it, trace
//! ids still propagate and reach the logs, and nothing is recorded.

use std::{
    sync::{Once, OnceLock},
    time::Duration,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::HeaderMap,
    middleware::Next,
    response::Response,
};
use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracerProvider},
};
use serde::Deserialize;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// How a part exports its traces (`telemetry` in each part's configuration, e.g.
/// `C9PAY_STORES__TELEMETRY__OTLP_ENDPOINT`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Where spans go, over OTLP/HTTP with protobuf: the full traces URL of a collector,
    /// e.g. `http://otel-collector:4318/v1/traces`. Default none: nothing is exported.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// Share of the traces this part starts that are recorded, from 0.0 to 1.0; a trace
    /// that arrives with a `traceparent` keeps its caller's decision, so a trace is
    /// recorded whole or not at all. Only the router starts traces of requests. Default 1.0.
    #[serde(default = "default_sampling_ratio")]
    pub sampling_ratio: f64,
    /// How long one export may take. Default 10000.
    #[serde(default = "default_export_timeout_ms")]
    pub export_timeout_ms: u64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            sampling_ratio: default_sampling_ratio(),
            export_timeout_ms: default_export_timeout_ms(),
        }
    }
}

fn default_sampling_ratio() -> f64 {
    1.0
}

fn default_export_timeout_ms() -> u64 {
    10_000
}

impl TelemetryConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.sampling_ratio),
            "telemetry.sampling_ratio must be between 0.0 and 1.0"
        );
        Ok(())
    }
}

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Logs only, no export (tests, and commands that serve nothing).
pub fn init(format: LogFormat) {
    if let Err(error) = init_with(format, &TelemetryConfig::default(), "c9pay") {
        eprintln!("telemetry: {error:#}");
    }
}

/// Logs, and traces as `config` says, for the process named `service_name`
/// (`service.name` of its spans). Only the first call in a process counts.
pub fn init_with(format: LogFormat, config: &TelemetryConfig, service_name: &str) -> anyhow::Result<()> {
    config.validate()?;
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| result = install(format, config, service_name));
    result
}

fn install(format: LogFormat, config: &TelemetryConfig, service_name: &str) -> anyhow::Result<()> {
    // Without an exporter nothing is recorded, but every span still gets ids (from its
    // parent, or new), so that trace ids propagate and reach the logs.
    let root = match &config.otlp_endpoint {
        Some(_) => Sampler::TraceIdRatioBased(config.sampling_ratio),
        None => Sampler::AlwaysOff,
    };
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(root)))
        .with_resource(Resource::builder().with_service_name(service_name.to_string()).build());
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .with_timeout(Duration::from_millis(config.export_timeout_ms))
            .with_headers(Default::default())
            .build()?;
        let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::TokioCurrentThread,
        )
        .build();
        builder = builder.with_span_processor(processor);
    }
    let provider = builder.build();
    let tracer = provider.tracer("c9pay");
    let _ = PROVIDER.set(provider);

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let traces = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false);
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    let installed = match format {
        LogFormat::Json => registry.with(json_logs(std::io::stdout)).try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
    if let Err(error) = installed {
        eprintln!("logging was already initialised: {error}");
    }
    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(%endpoint, sampling_ratio = config.sampling_ratio, "exporting traces over OTLP");
    }
    Ok(())
}

/// JSON lines, one per event, written to `writer`: the event's fields at the top level,
/// its spans' fields under `span` and `spans`, and the trace id as a top-level `trace_id`
/// whenever the event happens inside a span of a trace.
fn json_logs<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> fmt::MakeWriter<'writer> + 'static,
{
    fmt::layer()
        .fmt_fields(fmt::format::JsonFields::new())
        .event_format(WithTraceId(fmt::format().json().flatten_event(true)))
        .with_writer(writer)
}

/// An event format that puts `"trace_id"` first in each JSON line written inside a span
/// of a trace. The OpenTelemetry layer makes an entered span's context current (context
/// activation), which is where the trace id is read from: asking the span itself would
/// call back into the subscriber that is writing the line.
struct WithTraceId<F>(F);

impl<S, N, F> fmt::FormatEvent<S, N> for WithTraceId<F>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    N: for<'writer> fmt::FormatFields<'writer> + 'static,
    F: fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &fmt::FmtContext<'_, S, N>,
        mut writer: fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let current = opentelemetry::Context::current();
        let span_context = current.span().span_context().clone();
        if !span_context.is_valid() {
            return self.0.format_event(context, writer, event);
        }
        let mut line = String::new();
        self.0.format_event(context, fmt::format::Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"trace_id\":\"{}\",{rest}", span_context.trace_id()),
            None => writer.write_str(&line),
        }
    }
}

/// Sends the spans recorded so far (tests; shutdown). Blocks: call it off the async
/// threads (`spawn_blocking`).
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.force_flush()
    {
        eprintln!("flushing traces: {error}");
    }
}

/// Flushes and stops the exporter, at the end of the process.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        eprintln!("stopping the trace exporter: {error}");
    }
}

/// The trace id of the current span (32 hex digits), if it belongs to a trace.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

/// The `traceparent` of the current span, to send with a call to another service.
pub fn trace_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut HeaderInjector(&mut headers));
    headers
}

/// Middleware of every subgraph: serves the request inside a server span that continues
/// the caller's trace (its `traceparent`), named after the service and route.
pub async fn trace_requests(State(service): State<&'static str>, request: Request, next: Next) -> Response {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{service} {} {route}", request.method()),
        otel.kind = "server",
        service,
        http.route = %route,
        trace_id = tracing::field::Empty,
    );
    if let Err(error) = span.set_parent(parent) {
        tracing::debug!(%error, "no parent for the request's span");
    }
    record_trace_id(&span);
    next.run(request).instrument(span).await
}

/// Writes the span's trace id into its `trace_id` field (for the logs).
pub fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", span_context.trace_id().to_string());
    }
}

/// A span's place in its trace, kept after the span has ended, to parent spans that come
/// later: each event a subscription delivers is a child of the span that subscribed,
/// which ended when the subscription was set up. Empty (a new trace) when there is none.
#[derive(Clone, Debug, Default)]
pub struct TraceParent(opentelemetry::Context);

impl TraceParent {
    /// The place of `span`.
    pub fn of(span: &tracing::Span) -> Self {
        Self(span.context())
    }

    /// The caller's place from a W3C `traceparent` value (a subscription's
    /// `connection_init` payload carries it; a WebSocket has no other room for it).
    pub fn from_traceparent(traceparent: &str) -> Self {
        let mut headers = HeaderMap::new();
        if let Ok(value) = axum::http::HeaderValue::from_str(traceparent) {
            headers.insert("traceparent", value);
        }
        Self(TraceContextPropagator::new().extract(&HeaderExtractor(&headers)))
    }

    /// The `traceparent` value that continues this place in another process, if it is in
    /// a trace.
    pub fn traceparent(&self) -> Option<String> {
        let mut headers = HeaderMap::new();
        TraceContextPropagator::new().inject_context(&self.0, &mut HeaderInjector(&mut headers));
        headers
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    }

    /// Makes `span` a child of this place and records its `trace_id` field.
    pub fn adopt(&self, span: &tracing::Span) {
        if self.0.span().span_context().is_valid()
            && let Err(error) = span.set_parent(self.0.clone())
        {
            tracing::debug!(%error, "no parent for a span");
        }
        record_trace_id(span);
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(key.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_exporter_spans_still_get_trace_ids_for_the_logs_and_the_next_hop() {
        init(LogFormat::Pretty);
        let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
        let _entered = span.enter();
        let trace_id = current_trace_id();
        assert!(trace_id.as_deref().is_some_and(|id| id.len() == 32), "{trace_id:?}");
        let headers = trace_headers();
        let traceparent = headers.get("traceparent").and_then(|value| value.to_str().ok()).unwrap_or_default();
        assert!(traceparent.contains(trace_id.as_deref().unwrap_or("none")), "{traceparent}");
        assert!(traceparent.ends_with("-00"), "not recorded, so not sampled: {traceparent}");
    }

    /// What a [`json_logs`] layer wrote, line by line.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<serde_json::Value> {
            let bytes = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
                .collect()
        }
    }

    #[test]
    fn every_json_line_written_in_a_traced_span_names_its_trace_id_at_the_top_level_as_does_a_masked_internal_error() {
        let captured = Captured::default();
        let writer = captured.clone();
        let tracer = SdkTracerProvider::builder().build().tracer("test");
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(json_logs(move || writer.clone()));
        let (trace_id, error) = tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before any span");
            let request = tracing::info_span!("request", trace_id = tracing::field::Empty);
            let _entered = request.enter();
            // A stage nested in the request: the line names the trace all the same.
            let stage = tracing::info_span!("stage");
            let _stage = stage.enter();
            let trace_id = current_trace_id().unwrap_or_else(|| panic!("the span is in a trace"));
            let failure = std::io::Error::other("the disk is on fire");
            let error = crate::error::REQUEST_ID.sync_scope("request-7".to_string(), || crate::error::internal_error(&failure));
            (trace_id, error)
        });
        let lines = captured.lines();
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert_eq!(lines[0]["message"], "before any span");
        assert!(lines[0].get("trace_id").is_none(), "no trace outside a span: {:#}", lines[0]);
        assert_eq!(lines[1]["message"], "internal error");
        assert_eq!(lines[1]["trace_id"], trace_id.as_str(), "{:#}", lines[1]);
        assert_eq!(lines[1]["request_id"], "request-7");
        assert_eq!(error.message, format!("internal error (request id request-7, trace id {trace_id})"));
        let extensions = error.extensions.as_ref().map(|extensions| serde_json::to_value(extensions).unwrap_or_default());
        assert_eq!(extensions.as_ref().map(|extensions| extensions["traceId"].clone()), Some(serde_json::Value::from(trace_id)));
    }

    #[test]
    fn a_sampling_ratio_outside_zero_to_one_is_refused() {
        let config = TelemetryConfig { sampling_ratio: 1.5, ..TelemetryConfig::default() };
        assert!(config.validate().is_err());
    }
}
