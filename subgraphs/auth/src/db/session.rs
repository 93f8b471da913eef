//! Sessions (one per log-in), their rotating refresh tokens, and the revocation feed.
//!
//! A session is a refresh-token family: each refresh spends the presented token and
//! stores its successor under the same session. Presenting a spent token means two
//! parties hold the family (the legitimate client and a thief, and nobody can tell which
//! is which), so the whole session is revoked.

use c9pay_platform::{database::Database, id::UserId, time::now_ms};
use sqlx::{Any, Row, Transaction};

use crate::error::AuthError;

/// What presenting a refresh token led to.
pub enum Refreshed {
    /// The token was live: it is spent now and `new_hash` is the session's live token.
    Rotated { user_id: UserId, session_id: String, expires_at_ms: i64 },
    /// The token had been spent before: the session is revoked now.
    Reused { user_id: UserId, session_id: String },
    /// No such token, or its session has ended (expired, logged out, revoked).
    Refused,
}

/// Records a log-in with its first refresh token; returns the session id and when the
/// session (and so every refresh token of it) expires.
pub async fn create(
    database: &Database,
    user_id: &UserId,
    lifetime_ms: i64,
    refresh_hash: &str,
) -> Result<(String, i64), AuthError> {
    let session_id = format!("ses_{}", c9pay_platform::id::uuid_v7_hex());
    let now = now_ms();
    let expires_at_ms = now.saturating_add(lifetime_ms);
    let mut transaction = database.begin_write().await?;
    sqlx::query("insert into session (id, user_id, created_at_ms, expires_at_ms) values ($1, $2, $3, $4)")
        .bind(&session_id)
        .bind(user_id.as_str())
        .bind(now)
        .bind(expires_at_ms)
        .execute(&mut *transaction)
        .await?;
    insert_refresh_token(&mut transaction, &session_id, refresh_hash, now, expires_at_ms).await?;
    transaction.commit().await?;
    Ok((session_id, expires_at_ms))
}

async fn insert_refresh_token(
    transaction: &mut Transaction<'static, Any>,
    session_id: &str,
    refresh_hash: &str,
    now: i64,
    expires_at_ms: i64,
) -> Result<(), AuthError> {
    sqlx::query(
        "insert into refresh_token (token_hash, session_id, created_at_ms, expires_at_ms) values ($1, $2, $3, $4)",
    )
    .bind(refresh_hash)
    .bind(session_id)
    .bind(now)
    .bind(expires_at_ms)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Spends the refresh token whose hash is `presented_hash` and stores `new_hash` as its
/// successor, or, if it was spent already, revokes its session. `keep_ms` is how long
/// the revocation stays in the feed (the longest an access token lives).
pub async fn refresh(
    database: &Database,
    presented_hash: &str,
    new_hash: &str,
    keep_ms: i64,
) -> Result<Refreshed, AuthError> {
    let now = now_ms();
    let mut transaction = database.begin_write().await?;
    let row = sqlx::query(
        "select r.session_id, r.spent_at_ms, r.expires_at_ms, s.user_id, s.revoked_at_ms, s.expires_at_ms as session_expires_at_ms
         from refresh_token r join session s on s.id = r.session_id
         where r.token_hash = $1",
    )
    .bind(presented_hash)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(row) = row else { return Ok(Refreshed::Refused) };
    let session_id: String = row.try_get("session_id")?;
    let user_id = UserId::parse(&row.try_get::<String, _>("user_id")?)?;
    let spent = row.try_get::<Option<i64>, _>("spent_at_ms")?.is_some();
    let session_revoked = row.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some();
    let expires_at_ms: i64 = row.try_get("session_expires_at_ms")?;
    let token_expires_at_ms: i64 = row.try_get("expires_at_ms")?;
    if session_revoked || expires_at_ms <= now || token_expires_at_ms <= now {
        return Ok(Refreshed::Refused);
    }
    // The condition on `spent_at_ms` makes two simultaneous refreshes with one token
    // spend it once: the loser sees no row updated and is treated as a reuse.
    let spent_now = !spent
        && sqlx::query("update refresh_token set spent_at_ms = $1 where token_hash = $2 and spent_at_ms is null")
            .bind(now)
            .bind(presented_hash)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
            == 1;
    if !spent_now {
        revoke_in(&mut transaction, &session_id, now, keep_ms).await?;
        transaction.commit().await?;
        return Ok(Refreshed::Reused { user_id, session_id });
    }
    insert_refresh_token(&mut transaction, &session_id, new_hash, now, expires_at_ms).await?;
    transaction.commit().await?;
    Ok(Refreshed::Rotated { user_id, session_id, expires_at_ms })
}

/// Revokes a session if it is open, and puts it in the revocation feed; returns whether
/// it was open.
async fn revoke_in(
    transaction: &mut Transaction<'static, Any>,
    session_id: &str,
    now: i64,
    keep_ms: i64,
) -> Result<bool, AuthError> {
    let revoked = sqlx::query("update session set revoked_at_ms = $1 where id = $2 and revoked_at_ms is null")
        .bind(now)
        .bind(session_id)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
    if revoked == 1 {
        feed_in(transaction, session_id, now, keep_ms).await?;
    }
    Ok(revoked == 1)
}

/// Adds `session_id` (a session or a kiosk) to the revocation feed.
pub(crate) async fn feed_in(
    transaction: &mut Transaction<'static, Any>,
    session_id: &str,
    now: i64,
    keep_ms: i64,
) -> Result<(), AuthError> {
    sqlx::query("insert into revocation (session_id, revoked_at_ms, expires_at_ms) values ($1, $2, $3)")
        .bind(session_id)
        .bind(now)
        .bind(now.saturating_add(keep_ms))
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Ends one session of `user_id`; returns whether it was open.
pub async fn revoke(
    database: &Database,
    user_id: &UserId,
    session_id: &str,
    keep_ms: i64,
) -> Result<bool, AuthError> {
    let mut transaction = database.begin_write().await?;
    let owned = sqlx::query("select 1 as found from session where id = $1 and user_id = $2")
        .bind(session_id)
        .bind(user_id.as_str())
        .fetch_optional(&mut *transaction)
        .await?
        .is_some();
    let revoked = owned && revoke_in(&mut transaction, session_id, now_ms(), keep_ms).await?;
    transaction.commit().await?;
    Ok(revoked)
}

/// Ends every open session of `user_id`; returns how many were open.
pub async fn revoke_all(database: &Database, user_id: &UserId, keep_ms: i64) -> Result<u64, AuthError> {
    let now = now_ms();
    let mut transaction = database.begin_write().await?;
    let rows = sqlx::query("select id from session where user_id = $1 and revoked_at_ms is null and expires_at_ms > $2")
        .bind(user_id.as_str())
        .bind(now)
        .fetch_all(&mut *transaction)
        .await?;
    let mut revoked = 0;
    for row in rows {
        let session_id: String = row.try_get("id")?;
        if revoke_in(&mut transaction, &session_id, now, keep_ms).await? {
            revoked += 1;
        }
    }
    transaction.commit().await?;
    Ok(revoked)
}

/// One entry of the revocation feed.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    pub session_id: String,
    pub revoked_at_ms: i64,
    pub expires_at_ms: i64,
}

/// Revocations made at or after `since_ms` that still matter (some access token of the
/// session may still be unexpired), oldest first, at most `limit`.
pub async fn revocations_since(
    database: &Database,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<Revocation>, AuthError> {
    let rows = sqlx::query(
        "select session_id, revoked_at_ms, expires_at_ms from revocation
         where revoked_at_ms >= $1 and expires_at_ms > $2 order by revoked_at_ms, sequence limit $3",
    )
    .bind(since_ms)
    .bind(now_ms())
    .bind(limit)
    .fetch_all(database.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Revocation {
                session_id: row.try_get("session_id")?,
                revoked_at_ms: row.try_get("revoked_at_ms")?,
                expires_at_ms: row.try_get("expires_at_ms")?,
            })
        })
        .collect()
}

/// An admin session: who, bound to which cookie fingerprint, until when at most.
pub struct AdminSession {
    pub user_id: UserId,
    pub fingerprint_hash: String,
    pub expires_at_ms: i64,
}

/// Records an admin log-in; returns the session id.
pub async fn create_admin(
    database: &Database,
    user_id: &UserId,
    fingerprint_hash: &str,
    lifetime_ms: i64,
) -> Result<(String, i64), AuthError> {
    let session_id = format!("ses_{}", c9pay_platform::id::uuid_v7_hex());
    let now = now_ms();
    let expires_at_ms = now.saturating_add(lifetime_ms);
    sqlx::query(
        "insert into session (id, user_id, created_at_ms, expires_at_ms, kind, fingerprint_hash) values ($1, $2, $3, $4, 'admin', $5)",
    )
    .bind(&session_id)
    .bind(user_id.as_str())
    .bind(now)
    .bind(expires_at_ms)
    .bind(fingerprint_hash)
    .execute(database.writer())
    .await?;
    Ok((session_id, expires_at_ms))
}

/// The open admin session `session_id` of `user_id`, if it is open.
pub async fn find_open_admin(
    database: &Database,
    user_id: &UserId,
    session_id: &str,
) -> Result<Option<AdminSession>, AuthError> {
    let row = sqlx::query(
        "select user_id, fingerprint_hash, expires_at_ms from session
         where id = $1 and user_id = $2 and kind = 'admin' and revoked_at_ms is null and expires_at_ms > $3",
    )
    .bind(session_id)
    .bind(user_id.as_str())
    .bind(now_ms())
    .fetch_optional(database.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(AdminSession {
        user_id: UserId::parse(&row.try_get::<String, _>("user_id")?)?,
        fingerprint_hash: row.try_get::<Option<String>, _>("fingerprint_hash")?.unwrap_or_default(),
        expires_at_ms: row.try_get("expires_at_ms")?,
    }))
}

/// Counts for the admin's platform statistics.
pub async fn statistics(database: &Database) -> Result<(i64, i64, i64), AuthError> {
    let now = now_ms();
    let count = |sql: &'static str| async move {
        let row = sqlx::query(sql).bind(now).fetch_one(database.pool()).await?;
        Ok::<i64, AuthError>(row.try_get("counted")?)
    };
    let accounts = count("select count(*) as counted from credential where created_at_ms <= $1").await?;
    let sessions = count("select count(*) as counted from session where revoked_at_ms is null and expires_at_ms > $1").await?;
    let kiosks = count("select count(*) as counted from kiosk where revoked_at_ms is null and created_at_ms <= $1").await?;
    Ok((accounts, sessions, kiosks))
}
