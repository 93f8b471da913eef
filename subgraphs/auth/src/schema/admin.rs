//! Admin fields: reachable only with an admin token and its cookie (the router checks
//! both, and refuses `@requiresScopes(scopes: [["admin"]])` fields to anyone else before
//! fetching); each resolver checks the principal's kind again.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, client_error, code},
    graphql::principal,
    id::UserId,
    time::from_ms,
};
use chrono::{DateTime, Utc};

use super::entities::User;
use crate::{admin::AdminPolicy, config::REVOCATION_KEEP_MS, db, domain::email::Email, error::AuthError, keys::KeyRing};

/// The most accounts one `findUsers` answers with, and how many without `first`.
pub const FIND_USERS_MAX: i32 = 100;
pub const FIND_USERS_DEFAULT: i32 = 20;

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
    match (principal.is_admin(), principal.user_id(), principal.session_id.clone()) {
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

    /// Accounts whose login email contains `query` (ignoring case), by email, at most
    /// `first` (1 to 100, default 20), with their emails readable. Errors: `FORBIDDEN`,
    /// `INVALID_INPUT` (`first` out of range, or a query longer than an email can be).
    #[graphql(requires_scopes = "admin")]
    async fn find_users(&self, context: &Context<'_>, query: String, first: Option<i32>) -> async_graphql::Result<Vec<User>> {
        require_admin(context)?;
        let first = first.unwrap_or(FIND_USERS_DEFAULT);
        if !(1..=FIND_USERS_MAX).contains(&first) {
            return Err(client_error(code::INVALID_INPUT, format!("first must be between 1 and {FIND_USERS_MAX}")));
        }
        // Emails are stored trimmed and in lower case; the query is compared the same way.
        let fragment = query.trim().to_lowercase();
        if fragment.len() > Email::LENGTH_MAX_BYTES {
            return Err(client_error(code::INVALID_INPUT, "no email is that long"));
        }
        let found = db::search_emails(context.data::<Database>()?, &fragment, i64::from(first)).await.graphql()?;
        Ok(found.into_iter().map(|(id, email)| User { id, email: Some(email) }).collect())
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Ends every session of a person (every device, admin sessions included), as
    /// `logOutEverywhere` does for themself: their refresh tokens stop working at once,
    /// and the router refuses their access tokens within its revocation poll interval.
    /// Returns how many sessions were open (0 for an unknown person). Errors:
    /// `FORBIDDEN`, `INVALID_ID`.
    #[graphql(requires_scopes = "admin")]
    async fn end_user_sessions(&self, context: &Context<'_>, user_id: ID) -> async_graphql::Result<u64> {
        let (admin_id, _) = require_admin(context)?;
        let user_id = UserId::try_from(&user_id).map_err(AuthError::from).graphql()?;
        let ended = db::session::revoke_all(context.data::<Database>()?, &user_id, REVOCATION_KEEP_MS).await.graphql()?;
        tracing::warn!(%admin_id, %user_id, ended, "an admin ended a person's sessions");
        Ok(ended)
    }

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
