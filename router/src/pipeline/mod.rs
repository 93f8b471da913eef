//! The request pipeline, one module per stage, in the order a request meets them:
//! parse → limits → validate → authenticate → authorize → rate limits → plan → execute.
//! Each stage either hands the next one what it needs or refuses the request with a
//! [`RouterError`]; nothing reaches a subgraph before every stage has passed.
//!
//! Limits come before validation on purpose: measuring is linear in the document (see
//! `engine::analysis`), while validation (overlapping fields, fragment spreads) can cost
//! far more on a hostile document, so the cheap check guards the expensive one.
//!
//! What depends on the document alone (parse, limits, validation, the schema's
//! authorization demands, the plan) is done once per document and operation name and
//! kept ([`documents`]); what depends on the request (transport, caller, rights, rate
//! limits) is checked on every request.

mod authenticate;
mod authorize;
pub mod documents;
mod execute;
mod limits;
mod parse;
mod plan;
mod rate_limit;
pub mod trusted_documents;
mod validate;

use std::{collections::HashSet, net::IpAddr, sync::Arc, time::Instant};

use c9pay_platform::{internal_token::InternalTokenSigner, telemetry::TraceParent};
use tracing::{Instrument as _, info_span};

pub use authenticate::{AnonymousRootFields, Authenticated};

use crate::{
    credentials::{
        access_tokens::AccessTokenVerifier, dpop::ProofChecker, internal_credentials::InternalCredentials,
        revocations::RevocationList,
    },
    config::{Limits, ScopesConfig},
    engine::{Engine, EventStream, OperationKind, OperationShape, PlannedOperation, StreamItem},
    error::RouterError,
    metrics::{ActiveSubscription, RouterMetrics},
    rate_limit::RateLimiter,
};

/// Everything the pipeline needs, built once at start-up.
pub struct Pipeline {
    pub engine: Engine,
    /// How callers are checked and spoken for; `None` with `access = "open"` (every
    /// request anonymous, no credential sent to any subgraph).
    pub authentication: Option<Authentication>,
    pub limits: Limits,
    pub anonymous_root_fields: AnonymousRootFields,
    pub rate_limiter: RateLimiter,
    pub metrics: RouterMetrics,
    pub proofs: ProofChecker,
    pub scopes: ScopesConfig,
    /// The URL kiosks' DPoP proofs name (`dpop.public_url`); `None`: from `Host`.
    pub public_url: Option<String>,
    /// The first-party clients' documents, and whether they must use them.
    pub trusted_documents: trusted_documents::TrustedDocuments,
    /// Documents already parsed, measured and validated, with their plans.
    pub documents: documents::DocumentCache,
}

/// What checks callers and speaks for them to the subgraphs (`access = "authenticated"`).
pub struct Authentication {
    pub verifier: AccessTokenVerifier,
    /// Signs the router's own tokens (the revocation feed, the admin log-in).
    pub signer: InternalTokenSigner,
    /// The internal credentials of subgraph fetches, reused per principal and subgraph.
    pub credentials: Arc<InternalCredentials>,
    pub revocations: Arc<RevocationList>,
}

/// How the request arrived: GraphQL over HTTP allows only queries over GET, and
/// subscriptions need a transport that streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Get,
    Post,
    /// GraphQL over WebSocket (`graphql-transport-ws`).
    WebSocket,
    /// Server-sent events (GraphQL over SSE, distinct connections).
    EventStream,
}

impl Transport {
    /// Whether subscriptions may run over this transport.
    pub fn streams(self) -> bool {
        matches!(self, Self::WebSocket | Self::EventStream)
    }
}

/// A GraphQL request as the HTTP layer decoded it.
pub struct GraphQLRequest {
    /// The document's text; empty when the request names a trusted document instead.
    pub query: String,
    /// `documentId` (`sha256:<hex>`): a document of the trusted-documents manifest.
    pub document_id: Option<String>,
    pub operation_name: Option<String>,
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub transport: Transport,
}

/// The caller as the HTTP layer saw it: the `Authorization` header, if any, the client's
/// address (for rate limits) and the id the router gave the request; for kiosks, the
/// `DPoP` proofs, method and URL; for admins, the fingerprint from the session cookie.
pub struct Caller<'request> {
    pub authorization: Option<&'request str>,
    pub client_address: Option<IpAddr>,
    pub request_id: &'request str,
    pub dpop_proofs: Vec<&'request str>,
    pub method: &'request str,
    pub url: String,
    pub admin_fingerprint: Option<&'request str>,
    /// A page of this router's own origin (one of the web clients) sent the request, not
    /// an admin's: it may send only trusted documents when they are enforced.
    pub first_party: bool,
}

/// A response body ready to send, and the first error code in it (for metrics).
pub struct Answer {
    pub body: Vec<u8>,
    pub first_error_code: Option<String>,
}

/// What an operation over a streaming transport opened: one answer (a query or a
/// mutation) or a subscription.
pub enum Opened {
    Answer(Answer),
    Subscription(Subscription),
}

/// A running subscription. It ends when dropped.
pub struct Subscription {
    events: EventStream,
    /// The spans of the events delivered (boxed: a subscription is moved around whole).
    trace: Box<DeliveryTrace>,
    /// When the caller's access token expires (Unix seconds); the transport ends the
    /// subscription then.
    pub expires_at_s: Option<i64>,
    request_id: String,
    active: ActiveSubscription,
    /// The caller's session (or kiosk), looked up in auth's revocation feed while the
    /// subscription runs.
    session_id: Option<String>,
    /// The feed; `None` with `access = "open"`.
    revocations: Option<Arc<RevocationList>>,
}

/// Where the spans of a subscription's events go.
struct DeliveryTrace {
    /// Where the subscribe span is in its trace: the parent of each event's span.
    parent: TraceParent,
    /// The span of the event last handed to the transport; it ends when the transport
    /// asks for the next one (the event has been written) or the subscription ends.
    delivering: Option<tracing::Span>,
}

/// How often a running subscription looks its session up in the revocation feed (a map
/// lookup; the feed itself is refreshed by the router once a second).
const REVOCATION_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl Subscription {
    /// The next event, with executor errors masked as for any response; `None` once the
    /// subscription has ended.
    pub async fn next(&mut self) -> Option<StreamItem> {
        self.trace.delivering = None;
        let mut check = tokio::time::interval(REVOCATION_CHECK_INTERVAL);
        let item = loop {
            tokio::select! {
                item = self.events.next() => break item,
                _ = check.tick() => {
                    // A stale feed (`Unknown`) does not end running subscriptions: new
                    // requests are refused meanwhile, and ending every stream at once on a
                    // hiccup of auth would only make every client reconnect together.
                    let revoked = self.session_id.as_deref().zip(self.revocations.as_deref()).is_some_and(|(session, revocations)| {
                        revocations.standing(session) == crate::credentials::revocations::Standing::Revoked
                    });
                    if revoked {
                        return Some(StreamItem::Revoked);
                    }
                }
            }
        };
        match item {
            Some(StreamItem::Event(body)) => {
                self.active.delivered();
                let span = info_span!("event", otel.name = "router deliver event", trace_id = tracing::field::Empty);
                self.trace.parent.adopt(&span);
                let body = span.in_scope(|| execute::clean_event(body, &self.request_id));
                self.trace.delivering = Some(span);
                Some(StreamItem::Event(body))
            }
            other => other,
        }
    }
}

impl Pipeline {
    /// Runs every stage and records the operation's metrics.
    pub async fn run(
        self: &Arc<Self>,
        request: GraphQLRequest,
        caller: Caller<'_>,
    ) -> Result<Answer, RouterError> {
        let mut observed = Observed::new(&request);
        let result = self.stages(&request, &caller, &mut observed).await;
        let error_code = match &result {
            Ok(answer) => answer.first_error_code.clone(),
            Err(error) => Some(error.code().to_string()),
        };
        self.record(observed, error_code);
        result
    }

    /// Like [`Pipeline::run`], for a streaming transport: a subscription is opened and
    /// returned; anything else is answered.
    pub async fn open(
        self: &Arc<Self>,
        request: GraphQLRequest,
        caller: Caller<'_>,
    ) -> Result<Opened, RouterError> {
        let mut observed = Observed::new(&request);
        let result = self.open_stages(&request, &caller, &mut observed).await;
        let error_code = match &result {
            Ok(Opened::Answer(answer)) => answer.first_error_code.clone(),
            Ok(Opened::Subscription(_)) => None,
            Err(error) => Some(error.code().to_string()),
        };
        self.record(observed, error_code);
        result
    }

    /// The operation's metrics: count, latency and first error code, by operation name.
    fn record(&self, observed: Observed, error_code: Option<String>) {
        let label = self.metrics.operation_label(observed.name.as_deref());
        self.metrics.record_operation(
            &label,
            observed.kind,
            observed.started.elapsed(),
            error_code.as_deref(),
        );
    }

    async fn stages(
        &self,
        request: &GraphQLRequest,
        caller: &Caller<'_>,
        observed: &mut Observed,
    ) -> Result<Answer, RouterError> {
        let (planned, authenticated) = self.prepare(request, caller, observed).await?;
        execute::execute(self, &planned, request, &authenticated.principal)
            .instrument(info_span!("execute"))
            .await
    }

    async fn open_stages(
        &self,
        request: &GraphQLRequest,
        caller: &Caller<'_>,
        observed: &mut Observed,
    ) -> Result<Opened, RouterError> {
        let (planned, authenticated) = self.prepare(request, caller, observed).await?;
        if planned.kind() != OperationKind::Subscription {
            return execute::execute(self, &planned, request, &authenticated.principal)
                .instrument(info_span!("execute"))
                .await
                .map(Opened::Answer);
        }
        // The span of the subscribe itself; each event delivered is a child of it.
        let subscribe = info_span!("subscribe", otel.name = "router subscribe");
        let trace = Box::new(DeliveryTrace { parent: TraceParent::of(&subscribe), delivering: None });
        let events = execute::subscribe(self, planned, request, &authenticated.principal, authenticated.expires_at_s)
            .instrument(subscribe)
            .await?;
        Ok(Opened::Subscription(Subscription {
            events,
            trace,
            expires_at_s: authenticated.expires_at_s,
            request_id: caller.request_id.to_string(),
            active: self.metrics.subscription_started(),
            session_id: authenticated.principal.session_id.clone(),
            revocations: self.authentication.as_ref().map(|authentication| authentication.revocations.clone()),
        }))
    }

    /// Every stage up to a plan: parse, limits, validate, authenticate, plan.
    async fn prepare(
        &self,
        request: &GraphQLRequest,
        caller: &Caller<'_>,
        observed: &mut Observed,
    ) -> Result<(Arc<PlannedOperation>, Authenticated), RouterError> {
        // Each stage is a span of the request's trace.
        let operation_name = request.operation_name.as_deref();
        let text = info_span!("trusted_documents").in_scope(|| trusted_documents::resolve(self, request, caller))?;
        let key = documents::DocumentCache::key(text, operation_name);
        let cached = self.documents.get(&key);
        self.metrics.record_document_cache(cached.is_some());
        let prepared = match cached {
            Some(prepared) => prepared,
            None => {
                let document = info_span!("parse").in_scope(|| parse::parse(self, text))?;
                let shape = info_span!("limits").in_scope(|| limits::check(self, &document, operation_name))?;
                observed.saw(&shape);
                validate::method_allows(&shape, request.transport)?;
                info_span!("validate").in_scope(|| validate::validate(self, &document))?;
                let demands = authorize::demands(self, &document, operation_name, &shape)?;
                let prepared = Arc::new(documents::PreparedDocument::new(document, shape, demands, &key));
                self.documents.insert(&key, prepared.clone());
                prepared
            }
        };
        let shape = &prepared.shape;
        observed.saw(shape);
        validate::method_allows(shape, request.transport)?;
        validate::transport_streams(shape, request.transport)?;
        // Per request: the variables are not part of the cached document.
        info_span!("scalars").in_scope(|| validate::scalars(self, &prepared.document, operation_name, &request.variables))?;
        let authenticated = authenticate::authenticate(self, caller, shape)
            .instrument(info_span!("authenticate"))
            .await?;
        let principal = &authenticated.principal;
        info_span!("authorize").in_scope(|| authorize::authorize(&prepared.demands, principal))?;
        info_span!("rate_limit").in_scope(|| rate_limit::check(self, caller, shape, principal))?;
        let planned = match prepared.planned.get() {
            Some(planned) => planned.clone(),
            None => {
                let planned = info_span!("plan")
                    .in_scope(|| plan::plan(self, &prepared.document, operation_name, caller.request_id))?;
                prepared.planned.get_or_init(|| planned).clone()
            }
        };
        Ok((planned, authenticated))
    }
}

/// What the metrics learn about an operation as it goes through the stages.
struct Observed {
    started: Instant,
    kind: &'static str,
    name: Option<String>,
}

impl Observed {
    fn new(request: &GraphQLRequest) -> Self {
        Self {
            started: Instant::now(),
            kind: "unknown",
            name: request.operation_name.clone(),
        }
    }

    /// The operation's kind, and its name when the request gave none.
    fn saw(&mut self, shape: &OperationShape) {
        self.kind = shape.kind.as_str();
        if self.name.is_none() {
            self.name.clone_from(&shape.name);
        }
    }
}

/// `Type.field` pairs, split once at start-up.
pub(crate) fn split_root_fields(entries: &[String]) -> HashSet<(String, String)> {
    entries
        .iter()
        .filter_map(|entry| entry.split_once('.'))
        .map(|(type_name, field)| (type_name.to_string(), field.to_string()))
        .collect()
}
