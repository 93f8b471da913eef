//! Kiosk devices and the proofs they present.

use c9pay_platform::{
    database::{Database, ResultExt},
    id::{KioskId, StoreId},
    time::now_ms,
};
use sqlx::Row;

use crate::error::AuthError;

pub struct Kiosk {
    pub id: KioskId,
    pub store_id: StoreId,
    /// Base64url of the 32-byte Ed25519 public key (the JWK's `x`).
    pub public_key: String,
    /// RFC 7638 thumbprint of the public key.
    pub jkt: String,
    pub revoked: bool,
}

/// Registers a kiosk; a key registered already (to any kiosk) is `KioskKeyTaken`.
pub async fn register(
    database: &Database,
    kiosk_id: &KioskId,
    store_id: &StoreId,
    name: &str,
    public_key: &str,
    jkt: &str,
) -> Result<(), AuthError> {
    sqlx::query(
        "insert into kiosk (id, store_id, name, public_key, jkt, created_at_ms) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kiosk_id.as_str())
    .bind(store_id.as_str())
    .bind(name)
    .bind(public_key)
    .bind(jkt)
    .bind(now_ms())
    .execute(database.pool())
    .await
    .on_unique_violation(|| AuthError::KioskKeyTaken)?;
    Ok(())
}

pub async fn find(database: &Database, kiosk_id: &KioskId) -> Result<Option<Kiosk>, AuthError> {
    let row = sqlx::query("select id, store_id, public_key, jkt, revoked_at_ms from kiosk where id = $1")
        .bind(kiosk_id.as_str())
        .fetch_optional(database.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Kiosk {
        id: KioskId::parse(&row.try_get::<String, _>("id")?)?,
        store_id: StoreId::parse(&row.try_get::<String, _>("store_id")?)?,
        public_key: row.try_get("public_key")?,
        jkt: row.try_get("jkt")?,
        revoked: row.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some(),
    }))
}

/// Revokes a kiosk of `store_id` and puts it in the revocation feed, so that the router
/// refuses its unexpired tokens too; returns whether it was registered and unrevoked.
pub async fn revoke(
    database: &Database,
    kiosk_id: &KioskId,
    store_id: &StoreId,
    keep_ms: i64,
) -> Result<bool, AuthError> {
    let now = now_ms();
    let mut transaction = database.begin_write().await?;
    let revoked = sqlx::query(
        "update kiosk set revoked_at_ms = $1 where id = $2 and store_id = $3 and revoked_at_ms is null",
    )
    .bind(now)
    .bind(kiosk_id.as_str())
    .bind(store_id.as_str())
    .execute(&mut *transaction)
    .await?
    .rows_affected();
    if revoked == 1 {
        super::session::feed_in(&mut transaction, kiosk_id.as_str(), now, keep_ms).await?;
    }
    transaction.commit().await?;
    Ok(revoked == 1)
}

/// Records the proof `jti` of `kiosk_id` as used; returns false if it was used before.
/// Proofs past their freshness window are forgotten first: they are refused as stale.
pub async fn use_proof(
    database: &Database,
    kiosk_id: &KioskId,
    jti: &str,
    expires_at_ms: i64,
) -> Result<bool, AuthError> {
    sqlx::query("delete from kiosk_proof where expires_at_ms < $1")
        .bind(now_ms())
        .execute(database.pool())
        .await?;
    let inserted = sqlx::query("insert into kiosk_proof (jti, kiosk_id, expires_at_ms) values ($1, $2, $3)")
        .bind(jti)
        .bind(kiosk_id.as_str())
        .bind(expires_at_ms)
        .execute(database.pool())
        .await
        .on_unique_violation(|| AuthError::ProofReplayed);
    match inserted {
        Ok(_) => Ok(true),
        Err(AuthError::ProofReplayed) => Ok(false),
        Err(error) => Err(error),
    }
}
