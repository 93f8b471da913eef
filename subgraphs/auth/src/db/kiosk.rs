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
    pub name: String,
    /// Base64url of the 32-byte Ed25519 public key (the JWK's `x`).
    pub public_key: String,
    /// RFC 7638 thumbprint of the public key.
    pub jkt: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
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
    .execute(database.writer())
    .await
    .on_unique_violation(|| AuthError::KioskKeyTaken)?;
    Ok(())
}

const KIOSK_COLUMNS: &str = "id, store_id, name, public_key, jkt, created_at_ms, revoked_at_ms";

fn kiosk_from_row(row: &sqlx::any::AnyRow) -> Result<Kiosk, AuthError> {
    let revoked_at_ms: Option<i64> = row.try_get("revoked_at_ms")?;
    Ok(Kiosk {
        id: KioskId::parse(&row.try_get::<String, _>("id")?)?,
        store_id: StoreId::parse(&row.try_get::<String, _>("store_id")?)?,
        name: row.try_get("name")?,
        public_key: row.try_get("public_key")?,
        jkt: row.try_get("jkt")?,
        created_at_ms: row.try_get("created_at_ms")?,
        revoked_at_ms,
        revoked: revoked_at_ms.is_some(),
    })
}

pub async fn find(database: &Database, kiosk_id: &KioskId) -> Result<Option<Kiosk>, AuthError> {
    let sql = format!("select {KIOSK_COLUMNS} from kiosk where id = $1");
    let row = sqlx::query(&sql).bind(kiosk_id.as_str()).fetch_optional(database.pool()).await?;
    row.as_ref().map(kiosk_from_row).transpose()
}

/// The kiosk registered with the key whose RFC 7638 thumbprint is `jkt` (a key is
/// registered once, so there is at most one), revoked or not.
pub async fn find_by_jkt(database: &Database, jkt: &str) -> Result<Option<Kiosk>, AuthError> {
    let sql = format!("select {KIOSK_COLUMNS} from kiosk where jkt = $1");
    let row = sqlx::query(&sql).bind(jkt).fetch_optional(database.pool()).await?;
    row.as_ref().map(kiosk_from_row).transpose()
}

/// A store's kiosks, revoked ones included, oldest first, at most `limit`.
pub async fn list_by_store(database: &Database, store_id: &StoreId, limit: i64) -> Result<Vec<Kiosk>, AuthError> {
    let sql = format!("select {KIOSK_COLUMNS} from kiosk where store_id = $1 order by created_at_ms, id limit $2");
    let rows = sqlx::query(&sql).bind(store_id.as_str()).bind(limit).fetch_all(database.pool()).await?;
    rows.iter().map(kiosk_from_row).collect()
}

/// Revokes a kiosk of `store_id` (of any store, for an administrator: `None`) and puts it
/// in the revocation feed, so that the router refuses its unexpired tokens too; returns
/// whether it was registered (to that store) and unrevoked.
pub async fn revoke(
    database: &Database,
    kiosk_id: &KioskId,
    store_id: Option<&StoreId>,
    keep_ms: i64,
) -> Result<bool, AuthError> {
    let now = now_ms();
    let mut transaction = database.begin_write().await?;
    let revoked = match store_id {
        Some(store_id) => sqlx::query("update kiosk set revoked_at_ms = $1 where id = $2 and store_id = $3 and revoked_at_ms is null")
            .bind(now)
            .bind(kiosk_id.as_str())
            .bind(store_id.as_str()),
        None => sqlx::query("update kiosk set revoked_at_ms = $1 where id = $2 and revoked_at_ms is null")
            .bind(now)
            .bind(kiosk_id.as_str()),
    }
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
        .execute(database.writer())
        .await?;
    let inserted = sqlx::query("insert into kiosk_proof (jti, kiosk_id, expires_at_ms) values ($1, $2, $3)")
        .bind(jti)
        .bind(kiosk_id.as_str())
        .bind(expires_at_ms)
        .execute(database.writer())
        .await
        .on_unique_violation(|| AuthError::ProofReplayed);
    match inserted {
        Ok(_) => Ok(true),
        Err(AuthError::ProofReplayed) => Ok(false),
        Err(error) => Err(error),
    }
}
