//! Stage 5: what the schema declares. Every field the operation selects that carries
//! `@authenticated` or `@requiresScopes` in the supergraph is checked against the
//! principal; one unmet requirement refuses the whole request with `FORBIDDEN`, before
//! planning, so nothing is fetched for it. Ownership (whose wallet, whose store) is not
//! declared in the schema and stays with the resolvers.

use c9pay_platform::internal_token::{Principal, PrincipalKind};

use super::Pipeline;
use crate::{
    engine::{Demands, Document, OperationShape, Requirement},
    error::RouterError,
};

/// The requirements the chosen operation meets (computed once per document, see
/// `documents`).
pub(super) fn demands(
    pipeline: &Pipeline,
    document: &Document,
    operation_name: Option<&str>,
    shape: &OperationShape,
) -> Result<Demands, RouterError> {
    pipeline
        .engine
        .demands(document, operation_name, shape.kind)
        .map_err(|error| RouterError::OperationSelection(error.to_string()))
}

pub(super) fn authorize(demands: &Demands, principal: &Principal) -> Result<(), RouterError> {
    let signed_in = principal.kind != PrincipalKind::Anonymous;
    let refused: Vec<String> = demands
        .iter()
        .filter(|(_, requirements)| {
            requirements.iter().any(|requirement| !requirement.is_met(signed_in, &principal.scopes))
        })
        .map(|(coordinate, requirements)| describe(coordinate, requirements.iter()))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    tracing::info!(request_id = principal.request_id, kind = ?principal.kind, ?refused, "refused unauthorized fields");
    Err(RouterError::Forbidden(format!("not allowed: {}", refused.join("; "))))
}

fn describe<'a>(coordinate: &str, requirements: impl Iterator<Item = &'a Requirement>) -> String {
    let needs: Vec<String> = requirements
        .map(|requirement| match requirement {
            Requirement::Authenticated => "signing in".to_string(),
            Requirement::Scopes(groups) => {
                let groups: Vec<String> = groups.iter().map(|group| group.join(" and ")).collect();
                format!("scope {}", groups.join(" or "))
            }
        })
        .collect();
    format!("{coordinate} needs {}", needs.join(", "))
}
