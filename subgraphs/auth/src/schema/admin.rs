//! Admin fields: reachable only with an admin token and its cookie (the router checks
//! both, and refuses `@requiresScopes(scopes: [["admin"]])` fields to anyone else before
//! fetching); each resolver checks the principal's kind again.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::GraphQLResultExt,
    graphql::principal,
    internal_token::PrincipalKind,
    time::from_ms,
};
use chrono::{DateTime, Utc};

use crate::{admin::AdminPolicy, db, error::AuthError, keys::KeyRing};

/// Counts an administrator watches.
#[derive(SimpleObject)]
pub struct PlatformStatistics {
    /// Accounts that can log in.
    pub accounts: i64,
    /// Sessions (app and admin) neither expired nor ended.
    pub open_sessions: i64,
    /// Registered, unrevoked kiosks.
    pub kiosks: i64,
}

/// A renewed admin token (same session, same cookie).
#[derive(SimpleObject)]
pub struct AdminTokenPayload {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    /// When the admin session ends whatever the activity (the absolute time-out).
    pub session_expires_at: DateTime<Utc>,
}

fn require_admin(context: &Context<'_>) -> async_graphql::Result<(c9pay_platform::id::UserId, String)> {
    let principal = principal(context)?;
    let admin = principal.kind == PrincipalKind::Admin && principal.has_scope("admin");
    match (admin, principal.user_id(), principal.session_id.clone()) {
        (true, Some(user_id), Some(session_id)) => Ok((user_id, session_id)),
        _ => Err(AuthError::Forbidden).graphql(),
    }
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Platform-wide counts, for administrators. Errors: `FORBIDDEN`.
    #[graphql(requires_scopes = "admin")]
    async fn platform_statistics(&self, context: &Context<'_>) -> async_graphql::Result<PlatformStatistics> {
        require_admin(context)?;
        let (accounts, open_sessions, kiosks) = db::session::statistics(context.data::<Database>()?).await.graphql()?;
        Ok(PlatformStatistics { accounts, open_sessions, kiosks })
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Renews the admin token while it is still valid (the idle time-out), never past the
    /// admin session's end (the absolute time-out). Errors: `FORBIDDEN`,
    /// `UNAUTHENTICATED` (the session ended).
    #[graphql(requires_scopes = "admin")]
    async fn extend_admin_session(&self, context: &Context<'_>) -> async_graphql::Result<AdminTokenPayload> {
        let (user_id, session_id) = require_admin(context)?;
        let session = db::session::find_open_admin(context.data::<Database>()?, &user_id, &session_id)
            .await
            .graphql()?
            .ok_or(AuthError::Unauthenticated)
            .graphql()?;
        let policy = context.data::<Arc<AdminPolicy>>()?;
        let expires_at_ms = session
            .expires_at_ms
            .min(c9pay_platform::time::now_ms().saturating_add(policy.idle_timeout_s.saturating_mul(1000)));
        let signer = context.data::<Arc<KeyRing>>()?.signer().await.graphql()?;
        let (access_token, expires_at_ms) = signer
            .admin_token(&session.user_id, &session_id, &session.fingerprint_hash, expires_at_ms)
            .graphql()?;
        Ok(AdminTokenPayload {
            access_token,
            expires_at: from_ms(expires_at_ms),
            session_expires_at: from_ms(session.expires_at_ms),
        })
    }
}
