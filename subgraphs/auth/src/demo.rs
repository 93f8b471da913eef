//! Demo accounts for `c9pay up`: the same rules and hashing as a real sign-up, written
//! straight into this subgraph's database (the binary seeds each subgraph in turn).

use c9pay_platform::{database::Database, id::UserId};

use crate::{
    db,
    domain::{
        email::Email,
        password::{self, Password},
    },
    error::AuthError,
};

/// Creates a login for `user_id`.
pub async fn create_user(
    database: &Database,
    user_id: &UserId,
    email: &str,
    password: &str,
) -> Result<(), AuthError> {
    let email = Email::parse(email)?;
    let password = Password::parse(password, &email)?;
    let password_hash = password::hash(password).await?;
    db::insert_credential(database, user_id, &email, &password_hash).await
}

/// Whether anyone has signed up yet (seeding happens only into an empty platform).
pub async fn has_users(database: &Database) -> Result<bool, AuthError> {
    let row = sqlx::query("select 1 as found from credential limit 1")
        .fetch_optional(database.pool())
        .await?;
    Ok(row.is_some())
}
