//! Idempotency keys: the same key with the same input returns the first result; the
//! same key with another input is `IDEMPOTENCY_KEY_REUSED`.
//!
//! The key is claimed first, inside the transaction that then performs the effect and
//! stores its result. A concurrent request with the same key waits on the claim (a
//! unique index entry) until the first commits, then finds the stored result; if the
//! first rolls back (its effect was refused), the claim goes with it and the retry runs
//! afresh. Only successful results are stored: a refused request changed nothing, so
//! running it again is the same as replaying it.

use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{error::CreditError, ledger::Tx};

/// Longest key a client may send.
pub const KEY_LENGTH_MAX: usize = 64;

/// A validated idempotency key: 1 to 64 characters of `[A-Za-z0-9_-]` (a UUID fits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, CreditError> {
        let valid = !value.is_empty()
            && value.len() <= KEY_LENGTH_MAX
            && value
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if valid {
            Ok(Self(value.to_string()))
        } else {
            Err(CreditError::InvalidIdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SHA-256 of an operation's name and canonical JSON input.
pub fn request_hash(operation: &str, input: &impl Serialize) -> Result<String, CreditError> {
    let json =
        serde_json::to_vec(input).map_err(|error| CreditError::Corrupt(error.to_string()))?;
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(&json);
    Ok(hex(&hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What a claim found.
pub enum Claim<T> {
    /// The key is new: perform the effect, then [`complete`].
    New,
    /// The key was used with the same input: here is the first result.
    Replay(T),
}

/// Claims `key` for `principal`, or finds its first result.
pub async fn claim<T: DeserializeOwned>(
    transaction: &mut Tx,
    principal: &str,
    key: &IdempotencyKey,
    operation: &str,
    request_hash: &str,
) -> Result<Claim<T>, CreditError> {
    let claimed = sqlx::query(
        "insert into idempotency_key (principal, key, operation, request_hash, response, created_at_ms)
         values ($1, $2, $3, $4, '', $5) on conflict (principal, key) do nothing",
    )
    .bind(principal)
    .bind(key.as_str())
    .bind(operation)
    .bind(request_hash)
    .bind(c9pay_platform::time::now_ms())
    .execute(&mut **transaction)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let row = sqlx::query("select operation, request_hash, response from idempotency_key where principal = $1 and key = $2")
        .bind(principal)
        .bind(key.as_str())
        .fetch_one(&mut **transaction)
        .await?;
    let same_input = row.try_get::<String, _>("operation")? == operation
        && row.try_get::<String, _>("request_hash")? == request_hash;
    if !same_input {
        return Err(CreditError::IdempotencyKeyReused);
    }
    let response: String = row.try_get("response")?;
    serde_json::from_str(&response)
        .map(Claim::Replay)
        .map_err(|error| {
            CreditError::Corrupt(format!("stored response for key {}: {error}", key.as_str()))
        })
}

/// Stores the result of the effect performed under a [`Claim::New`].
pub async fn complete(
    transaction: &mut Tx,
    principal: &str,
    key: &IdempotencyKey,
    result: &impl Serialize,
) -> Result<(), CreditError> {
    let response =
        serde_json::to_string(result).map_err(|error| CreditError::Corrupt(error.to_string()))?;
    let updated = sqlx::query("update idempotency_key set response = $1 where principal = $2 and key = $3 and response = ''")
        .bind(response)
        .bind(principal)
        .bind(key.as_str())
        .execute(&mut **transaction)
        .await?;
    assert!(
        updated.rows_affected() == 1,
        "completing an idempotency key that this transaction did not claim"
    );
    Ok(())
}
