//! Profile queries.

use std::collections::HashMap;

use c9pay_platform::{
    database::{Database, placeholders},
    id::UserId,
    text::DisplayName,
    time::now_ms,
};
use sqlx::Row;

use crate::error::UsersError;

#[derive(Clone, Debug)]
pub struct Profile {
    pub user_id: UserId,
    pub display_name: String,
    pub created_at_ms: i64,
}

fn profile_from_row(row: &sqlx::any::AnyRow) -> Result<Profile, UsersError> {
    let user_id: String = row.try_get("user_id")?;
    Ok(Profile {
        user_id: UserId::parse(&user_id)?,
        display_name: row.try_get("display_name")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

/// Creates a profile once. A second call for the same user (a retried sign-up) keeps the
/// first profile: creation is idempotent by user id.
pub async fn create_profile(
    database: &Database,
    user_id: &UserId,
    display_name: &DisplayName,
) -> Result<Profile, UsersError> {
    let now = now_ms();
    sqlx::query(
        "insert into profile (user_id, display_name, created_at_ms, updated_at_ms) values ($1, $2, $3, $3)
         on conflict (user_id) do nothing",
    )
    .bind(user_id.as_str())
    .bind(display_name.as_str())
    .bind(now)
    .execute(database.writer())
    .await?;
    find_profile(database, user_id)
        .await?
        .ok_or(UsersError::NotFound)
}

pub async fn find_profile(
    database: &Database,
    user_id: &UserId,
) -> Result<Option<Profile>, UsersError> {
    let row =
        sqlx::query("select user_id, display_name, created_at_ms from profile where user_id = $1")
            .bind(user_id.as_str())
            .fetch_optional(database.pool())
            .await?;
    row.as_ref().map(profile_from_row).transpose()
}

/// Profiles by id, for the entity loader: one query for a whole batch.
pub async fn find_profiles(
    database: &Database,
    user_ids: &[UserId],
) -> Result<HashMap<UserId, Profile>, UsersError> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "select user_id, display_name, created_at_ms from profile where user_id in ({})",
        placeholders(1, user_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for user_id in user_ids {
        query = query.bind(user_id.as_str());
    }
    let rows = query.fetch_all(database.pool()).await?;
    rows.iter()
        .map(|row| profile_from_row(row).map(|profile| (profile.user_id.clone(), profile)))
        .collect()
}

pub async fn update_display_name(
    database: &Database,
    user_id: &UserId,
    display_name: &DisplayName,
) -> Result<Profile, UsersError> {
    let updated =
        sqlx::query("update profile set display_name = $1, updated_at_ms = $2 where user_id = $3")
            .bind(display_name.as_str())
            .bind(now_ms())
            .bind(user_id.as_str())
            .execute(database.writer())
            .await?;
    if updated.rows_affected() == 0 {
        return Err(UsersError::NotFound);
    }
    find_profile(database, user_id)
        .await?
        .ok_or(UsersError::NotFound)
}
