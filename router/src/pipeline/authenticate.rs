//! Stage 4: decide who is asking. A request with an `Authorization` header must carry a
//! valid access token: a bad token is refused, never downgraded to anonymous. A request
//! without one is anonymous and may select only the root fields configured for that
//! (sign-up, log-in) plus introspection; anything else is refused here, before any fetch.
//!
//! Beyond the signature and expiry, each kind of token has its theft defence checked
//! here: its session must not be in auth's revocation feed (log-out, a replayed refresh
//! token, a revoked kiosk); a kiosk's request must carry a fresh DPoP proof by the key
//! its token is bound to; an admin's request must carry the session cookie whose
//! SHA-256 the token names.

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use c9pay_platform::internal_token::{Principal, PrincipalKind};
use sha2::{Digest, Sha256};

use super::{Caller, Pipeline};
use crate::{
    credentials::{access_tokens::{Holder, VerifiedToken, split_authorization}, dpop::ProofContext, revocations::Standing},
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
    // `access = "open"`: every request is anonymous, whatever it sends; what the
    // supergraph itself demands (`@authenticated`, `@requiresScopes`) is still refused
    // by the next stage.
    let Some(authentication) = &pipeline.authentication else {
        return Ok(Authenticated {
            principal: Principal::anonymous(caller.request_id),
            expires_at_s: None,
        });
    };
    let Some(authorization) = caller.authorization else {
        return anonymous(&pipeline.anonymous_root_fields, caller.request_id, shape).map(
            |principal| Authenticated {
                principal,
                expires_at_s: None,
            },
        );
    };
    let refuse = |message: String| {
        tracing::info!(request_id = caller.request_id, %message, "refused an access token");
        RouterError::Unauthenticated(message)
    };
    let token = authentication
        .verifier
        .verify_authorization(authorization)
        .await
        .map_err(|error| refuse(error.to_string()))?;
    match authentication.revocations.standing(&token.session_id) {
        Standing::Valid => {}
        Standing::Revoked => {
            if let Ok((_, revoked)) = split_authorization(authorization) {
                authentication.verifier.forget(revoked);
            }
            return Err(refuse("this session has ended (logged out or revoked): sign in again".to_string()));
        }
        Standing::Unknown => {
            tracing::warn!(request_id = caller.request_id, "auth's revocation feed is stale: refusing signed-in requests");
            return Err(RouterError::Unavailable(
                "the router cannot check sessions right now; try again shortly".to_string(),
            ));
        }
    }
    match &token.holder {
        Holder::Kiosk { jkt, .. } => {
            let access_token = split_authorization(authorization).map(|(_, token)| token).unwrap_or_default();
            let expected = ProofContext { method: caller.method, url: &caller.url, access_token, jkt };
            pipeline
                .proofs
                .check(&caller.dpop_proofs, &expected, c9pay_platform::time::now_ms() / 1000)
                .map_err(|error| refuse(error.to_string()))?;
        }
        Holder::Admin { fingerprint_hash, .. } => {
            let presented = caller.admin_fingerprint.map(|fingerprint| URL_SAFE_NO_PAD.encode(Sha256::digest(fingerprint.as_bytes())));
            if presented.as_deref() != Some(fingerprint_hash.as_str()) {
                return Err(refuse("an admin request needs its session cookie".to_string()));
            }
        }
        Holder::User(_) => {}
    }
    Ok(Authenticated {
        principal: principal_of(pipeline, &token, caller.request_id),
        expires_at_s: Some(token.expires_at_s),
    })
}

fn principal_of(pipeline: &Pipeline, token: &VerifiedToken, request_id: &str) -> Principal {
    let scopes = &pipeline.scopes;
    let (kind, subject, roles, scopes) = match &token.holder {
        Holder::User(user_id) => (PrincipalKind::User, user_id.to_string(), vec!["user".to_string()], scopes.user.clone()),
        Holder::Kiosk { kiosk_id, store_id, .. } => (
            PrincipalKind::Kiosk,
            kiosk_id.to_string(),
            vec!["kiosk".to_string(), format!("store:{store_id}")],
            scopes.kiosk.clone(),
        ),
        Holder::Admin { user_id, .. } => (PrincipalKind::Admin, user_id.to_string(), vec!["admin".to_string()], scopes.admin.clone()),
    };
    Principal {
        kind,
        subject,
        roles,
        scopes,
        request_id: request_id.to_string(),
        session_id: Some(token.session_id.clone()),
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
