//! Stage 5: the sensitive root fields (log-in, sign-up, payment codes, payments) are
//! counted against the client's address and, once authenticated, against the principal;
//! a request over either quota is refused here, before anything is planned or fetched, so
//! a refused payment changes nothing and can be retried later with the same idempotency
//! key.

use std::time::Instant;

use c9pay_platform::internal_token::{Principal, PrincipalKind};

use super::{Caller, Pipeline};
use crate::{engine::OperationShape, error::RouterError, rate_limit::Subject};

pub(super) fn check(
    pipeline: &Pipeline,
    caller: &Caller<'_>,
    shape: &OperationShape,
    principal: &Principal,
) -> Result<(), RouterError> {
    let root_type = shape.kind.root_type_name();
    let limiter = &pipeline.rate_limiter;
    let mut subjects = Vec::with_capacity(2);
    if let Some(address) = caller.client_address {
        subjects.push(Subject::Address(address));
    }
    if principal.kind != PrincipalKind::Anonymous {
        subjects.push(Subject::Principal(principal.subject.clone()));
    }
    let now = Instant::now();
    // Every occurrence counts: ten aliases of `logIn` in one document are ten attempts.
    for field in shape.root_fields.iter().filter(|field| limiter.limits(root_type, field)) {
        for subject in &subjects {
            if let Err(refused) = limiter.check(root_type, field, subject, now) {
                pipeline.metrics.record_rate_limited(&format!("{root_type}.{field}"), subject.scope());
                tracing::info!(request_id = caller.request_id, field, scope = subject.scope(), "rate limited");
                return Err(RouterError::RateLimited {
                    field: format!("{root_type}.{field}"),
                    retry_after_s: refused.retry_after_s(),
                });
            }
        }
    }
    Ok(())
}
