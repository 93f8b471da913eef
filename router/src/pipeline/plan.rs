//! Stage 5: normalize and plan the operation (from the plan cache when possible).

use std::sync::Arc;

use super::Pipeline;
use crate::{
    engine::{PlanError, PlannedOperation},
    error::RouterError,
};

pub(super) fn plan(
    pipeline: &Pipeline,
    document: &crate::engine::Document,
    operation_name: Option<&str>,
    request_id: &str,
) -> Result<Arc<PlannedOperation>, RouterError> {
    pipeline
        .engine
        .plan(document, operation_name)
        .map_err(|error| match error {
            PlanError::Normalization(message) => RouterError::OperationSelection(message),
            PlanError::Planning(message) => {
                tracing::error!(request_id, error = %message, "query planning failed");
                RouterError::internal(request_id)
            }
        })
}
