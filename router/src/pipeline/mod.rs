//! The request pipeline, one module per stage, in the order a request meets them:
//! parse → limits → validate → authenticate → authorize → rate limits → plan → execute. Each stage either hands the
//! next one what it needs or refuses the request with a [`RouterError`]; nothing reaches a
//! subgraph before every stage has passed.
//!
//! Limits come before validation on purpose: measuring is linear in the document (see
//! `engine::analysis`), while validation (overlapping fields, fragment spreads) can cost
//! far more on a hostile document, so the cheap check guards the expensive one.

mod authenticate;
mod authorize;
mod execute;
mod limits;
mod parse;
mod plan;
mod rate_limit;
mod validate;

use std::{collections::HashSet, net::IpAddr, sync::Arc, time::Instant};

use c9pay_platform::internal_token::InternalTokenSigner;

pub use authenticate::AnonymousRootFields;

use crate::{
    auth::AccessTokenVerifier,
    config::{Limits, ScopesConfig},
    dpop::ProofChecker,
    engine::Engine,
    error::RouterError,
    metrics::RouterMetrics,
    rate_limit::RateLimiter,
    revocations::RevocationList,
};

/// Everything the pipeline needs, built once at start-up.
pub struct Pipeline {
    pub engine: Engine,
    pub verifier: AccessTokenVerifier,
    pub signer: InternalTokenSigner,
    pub limits: Limits,
    pub anonymous_root_fields: AnonymousRootFields,
    pub rate_limiter: RateLimiter,
    pub metrics: RouterMetrics,
    pub revocations: Arc<RevocationList>,
    pub proofs: ProofChecker,
    pub scopes: ScopesConfig,
    /// The URL kiosks' DPoP proofs name (`dpop.public_url`); `None`: from `Host`.
    pub public_url: Option<String>,
}

/// How the request arrived: GraphQL over HTTP allows only queries over GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Get,
    Post,
}

/// A GraphQL request as the HTTP layer decoded it.
pub struct GraphQLRequest {
    pub query: String,
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
}

/// A response body ready to send, and the first error code in it (for metrics).
pub struct Answer {
    pub body: Vec<u8>,
    pub first_error_code: Option<String>,
}

impl Pipeline {
    /// Runs every stage and records the operation's metrics.
    pub async fn run(
        self: &Arc<Self>,
        request: GraphQLRequest,
        caller: Caller<'_>,
    ) -> Result<Answer, RouterError> {
        let started = Instant::now();
        let mut observed = Observed {
            kind: "unknown",
            name: request.operation_name.clone(),
        };
        let result = self.stages(&request, &caller, &mut observed).await;
        let label = self.metrics.operation_label(observed.name.as_deref());
        let error_code = match &result {
            Ok(answer) => answer.first_error_code.clone(),
            Err(error) => Some(error.code().to_string()),
        };
        self.metrics.record_operation(
            &label,
            observed.kind,
            started.elapsed(),
            error_code.as_deref(),
        );
        result
    }

    async fn stages(
        &self,
        request: &GraphQLRequest,
        caller: &Caller<'_>,
        observed: &mut Observed,
    ) -> Result<Answer, RouterError> {
        let operation_name = request.operation_name.as_deref();
        let document = parse::parse(self, &request.query)?;
        let shape = limits::check(self, &document, operation_name)?;
        observed.kind = shape.kind.as_str();
        if observed.name.is_none() {
            observed.name.clone_from(&shape.name);
        }
        validate::validate(self, &document, &shape, request.transport)?;
        let principal = authenticate::authenticate(self, caller, &shape).await?;
        authorize::authorize(self, &document, operation_name, &shape, &principal)?;
        rate_limit::check(self, caller, &shape, &principal)?;
        let planned = plan::plan(self, &document, operation_name, caller.request_id)?;
        execute::execute(self, &planned, request, &principal).await
    }
}

/// What the metrics learn about an operation as it goes through the stages.
struct Observed {
    kind: &'static str,
    name: Option<String>,
}

/// `Type.field` pairs, split once at start-up.
pub(crate) fn split_root_fields(entries: &[String]) -> HashSet<(String, String)> {
    entries
        .iter()
        .filter_map(|entry| entry.split_once('.'))
        .map(|(type_name, field)| (type_name.to_string(), field.to_string()))
        .collect()
}
