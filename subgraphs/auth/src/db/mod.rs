//! Queries: credentials here, sessions and refresh tokens in [`session`], kiosks in
//! [`kiosk`].

pub mod kiosk;
pub mod session;

use std::collections::HashMap;

use c9pay_platform::{
    database::{Database, ResultExt, contains_pattern, placeholders},
    id::UserId,
    time::now_ms,
};
use sqlx::Row;

use crate::{domain::email::Email, error::AuthError};

pub struct Credential {
    pub user_id: UserId,
    pub password_hash: String,
}

/// Stores a new credential; a taken email is `EmailTaken` (the unique constraint is the
/// arbiter, so two simultaneous sign-ups with one email cannot both succeed).
pub async fn insert_credential(
    database: &Database,
    user_id: &UserId,
    email: &Email,
    password_hash: &str,
) -> Result<(), AuthError> {
    sqlx::query("insert into credential (user_id, email, password_hash, created_at_ms) values ($1, $2, $3, $4)")
        .bind(user_id.as_str())
        .bind(email.as_str())
        .bind(password_hash)
        .bind(now_ms())
        .execute(database.writer())
        .await
        .on_unique_violation(|| AuthError::EmailTaken)?;
    Ok(())
}

pub async fn email_exists(database: &Database, email: &Email) -> Result<bool, AuthError> {
    let row = sqlx::query("select 1 as found from credential where email = $1")
        .bind(email.as_str())
        .fetch_optional(database.pool())
        .await?;
    Ok(row.is_some())
}

/// The person who logs in with `email` (stored normalised, so the match is exact and
/// case-insensitive), if anyone does.
pub async fn find_user_id_by_email(database: &Database, email: &Email) -> Result<Option<UserId>, AuthError> {
    let row = sqlx::query("select user_id from credential where email = $1")
        .bind(email.as_str())
        .fetch_optional(database.pool())
        .await?;
    row.map(|row| Ok(UserId::parse(&row.try_get::<String, _>("user_id")?)?)).transpose()
}

/// Accounts whose email contains `fragment` (lower case; `%`, `_` and `\` match
/// themselves), by email, at most `limit`: (user id, email).
pub async fn search_emails(database: &Database, fragment: &str, limit: i64) -> Result<Vec<(UserId, String)>, AuthError> {
    let pattern = contains_pattern(fragment);
    let rows = sqlx::query("select user_id, email from credential where email like $1 escape '\\' order by email limit $2")
        .bind(pattern)
        .bind(limit)
        .fetch_all(database.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((UserId::parse(&row.try_get::<String, _>("user_id")?)?, row.try_get("email")?)))
        .collect()
}

pub async fn find_credential(
    database: &Database,
    email: &Email,
) -> Result<Option<Credential>, AuthError> {
    let row = sqlx::query("select user_id, password_hash from credential where email = $1")
        .bind(email.as_str())
        .fetch_optional(database.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Credential {
        user_id: UserId::parse(&row.try_get::<String, _>("user_id")?)?,
        password_hash: row.try_get("password_hash")?,
    }))
}

/// Emails by user id, for the entity loader.
pub async fn find_emails(
    database: &Database,
    user_ids: &[UserId],
) -> Result<HashMap<UserId, String>, AuthError> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "select user_id, email from credential where user_id in ({})",
        placeholders(1, user_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for user_id in user_ids {
        query = query.bind(user_id.as_str());
    }
    let mut emails = HashMap::with_capacity(user_ids.len());
    for row in query.fetch_all(database.pool()).await? {
        emails.insert(
            UserId::parse(&row.try_get::<String, _>("user_id")?)?,
            row.try_get("email")?,
        );
    }
    Ok(emails)
}
