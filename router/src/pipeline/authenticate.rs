//! Stage 4: decide who is asking. A request with an `Authorization` header must carry a
//! valid access token: a bad token is refused, never downgraded to anonymous. A request
//! without one is anonymous and may select only the root fields configured for that
//! (sign-up, log-in) plus introspection; anything else is refused here, before any fetch.

use std::collections::HashSet;

use c9pay_platform::internal_token::Principal;

use super::{Caller, Pipeline};
use crate::{
    engine::{OperationKind, OperationShape},
    error::RouterError,
};

/// `(root type, field)` pairs an anonymous request may select.
pub type AnonymousRootFields = HashSet<(String, String)>;

/// Who the caller is, and until when (`exp` of the access token, Unix seconds).
pub struct Authenticated {
    pub principal: Principal,
    pub expires_at_s: Option<i64>,
}

pub(super) async fn authenticate(
    pipeline: &Pipeline,
    caller: &Caller<'_>,
    shape: &OperationShape,
) -> Result<Authenticated, RouterError> {
    let Some(authorization) = caller.authorization else {
        return anonymous(&pipeline.anonymous_root_fields, caller.request_id, shape).map(
            |principal| Authenticated {
                principal,
                expires_at_s: None,
            },
        );
    };
    match pipeline.verifier.verify_authorization(authorization).await {
        Ok(token) => Ok(Authenticated {
            principal: Principal::user(&token.user_id, caller.request_id),
            expires_at_s: Some(token.expires_at_s),
        }),
        Err(error) => {
            tracing::info!(request_id = caller.request_id, %error, "refused an access token");
            Err(RouterError::Unauthenticated(error.to_string()))
        }
    }
}

fn anonymous(
    allowed: &AnonymousRootFields,
    request_id: &str,
    shape: &OperationShape,
) -> Result<Principal, RouterError> {
    let root_type = shape.kind.root_type_name();
    let refused = shape.root_fields.iter().find(|field| {
        let introspection = field.as_str() == "__typename"
            || (shape.kind == OperationKind::Query
                && matches!(field.as_str(), "__schema" | "__type"));
        !introspection && !allowed.contains(&(root_type.to_string(), (*field).clone()))
    });
    match refused {
        Some(field) => Err(RouterError::Unauthenticated(format!(
            "sign in first: {root_type}.{field} needs an access token"
        ))),
        None => Ok(Principal::anonymous(request_id)),
    }
}

#[cfg(test)]
mod tests {
    use c9pay_platform::internal_token::PrincipalKind;

    use super::*;

    fn shape(kind: OperationKind, root_fields: &[&str]) -> OperationShape {
        OperationShape {
            kind,
            name: None,
            root_fields: root_fields.iter().map(|field| field.to_string()).collect(),
            depth: 1,
            aliases: 0,
            fields: 1,
        }
    }

    fn allowed() -> AnonymousRootFields {
        [("Mutation".to_string(), "logIn".to_string())].into_iter().collect()
    }

    #[test]
    fn anonymous_requests_reach_only_allowed_fields_and_introspection() {
        let allowed = allowed();
        let kind_of = |shape: OperationShape| anonymous(&allowed, "r", &shape).map(|principal| principal.kind);
        assert_eq!(kind_of(shape(OperationKind::Mutation, &["logIn"])).ok(), Some(PrincipalKind::Anonymous));
        assert!(kind_of(shape(OperationKind::Query, &["__typename", "__schema", "__type"])).is_ok());
        assert!(kind_of(shape(OperationKind::Query, &["me"])).is_err());
        assert!(kind_of(shape(OperationKind::Mutation, &["logIn", "logOut"])).is_err());
        assert!(kind_of(shape(OperationKind::Query, &["logIn"])).is_err());
        assert!(kind_of(shape(OperationKind::Mutation, &["__schema"])).is_err());
    }
}
