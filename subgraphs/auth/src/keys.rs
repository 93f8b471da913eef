//! Signing keys and access tokens.
//!
//! Keys live in the `signing_key` table so that every auth replica signs with the same
//! key set: the newest unretired key signs, and every unretired key is published in the
//! JWKS (RFC 7517) so that tokens signed by any of them verify. Key ids are RFC 7638 JWK
//! thumbprints.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use c9pay_platform::{
    config::Secret,
    database::Database,
    id::{KioskId, StoreId, UserId},
    payment_code::{self, PaymentCode},
    time::now_ms,
};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::error::AuthError;

/// The `iss` of every access token.
pub const ACCESS_TOKEN_ISSUER: &str = "c9pay-auth";
/// The `aud` of every access token: the router.
pub const ACCESS_TOKEN_AUDIENCE: &str = "c9pay";

/// The claims of an access token. The router verifies them; nothing else reads them.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    /// `user`, `kiosk` or `admin`.
    pub kind: String,
    /// The session (log-in) this token belongs to; a kiosk's id for a kiosk token. The
    /// router refuses the token once auth's revocation feed names it.
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// Kiosk tokens: the store the kiosk sells for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Kiosk tokens: the key every request's DPoP proof must be signed with (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Admin tokens: the SHA-256 (base64url) of the fingerprint in the admin's cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fph: Option<String>,
}

/// `cnf` (RFC 7800) with the thumbprint of the kiosk's key (RFC 9449 `jkt`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

/// The kinds of access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    User,
    Kiosk,
    Admin,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Kiosk => "kiosk",
            Self::Admin => "admin",
        }
    }
}

/// The key that signs, loaded at start-up.
pub struct Signer {
    kid: String,
    key: EncodingKey,
}

impl Signer {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs an access token for `user_id` in session `session_id`; returns the token and
    /// its expiry in Unix milliseconds.
    pub fn access_token(
        &self,
        user_id: &UserId,
        session_id: &str,
        lifetime_s: i64,
    ) -> Result<(String, i64), AuthError> {
        self.sign_access(TokenKind::User, user_id.as_str(), session_id, lifetime_s, |_| {})
    }

    /// Signs a kiosk's access token, bound to its key by `jkt`; the kiosk id is its
    /// session id too, so that revoking the kiosk revokes its tokens.
    pub fn kiosk_token(
        &self,
        kiosk_id: &KioskId,
        store_id: &StoreId,
        jkt: &str,
        lifetime_s: i64,
    ) -> Result<(String, i64), AuthError> {
        self.sign_access(TokenKind::Kiosk, kiosk_id.as_str(), kiosk_id.as_str(), lifetime_s, |claims| {
            claims.store = Some(store_id.to_string());
            claims.cnf = Some(Confirmation { jkt: jkt.to_string() });
        })
    }

    /// Signs an admin's access token, bound to the fingerprint in the admin's cookie.
    pub fn admin_token(
        &self,
        user_id: &UserId,
        session_id: &str,
        fingerprint_hash: &str,
        expires_at_ms: i64,
    ) -> Result<(String, i64), AuthError> {
        let lifetime_s = (expires_at_ms - now_ms()) / 1000;
        self.sign_access(TokenKind::Admin, user_id.as_str(), session_id, lifetime_s, |claims| {
            claims.fph = Some(fingerprint_hash.to_string());
        })
    }

    fn sign_access(
        &self,
        kind: TokenKind,
        subject: &str,
        session_id: &str,
        lifetime_s: i64,
        extend: impl FnOnce(&mut AccessClaims),
    ) -> Result<(String, i64), AuthError> {
        let issued_at_s = now_ms() / 1000;
        let expires_at_s = issued_at_s + lifetime_s;
        let mut claims = AccessClaims {
            iss: ACCESS_TOKEN_ISSUER.to_string(),
            aud: ACCESS_TOKEN_AUDIENCE.to_string(),
            sub: subject.to_string(),
            kind: kind.as_str().to_string(),
            sid: session_id.to_string(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iat: issued_at_s,
            exp: expires_at_s,
            store: None,
            cnf: None,
            fph: None,
        };
        extend(&mut claims);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|error| AuthError::Signing(error.to_string()))?;
        Ok((token, expires_at_s * 1000))
    }

    /// Signs a payment code for `payer`, issued at `now_ms` and living `lifetime_s`
    /// seconds (at most `payment_code::LIFETIME_MAX_S`). The same key signs access tokens
    /// and payment codes; the JWS `typ` and audience keep one from passing for the other.
    pub fn payment_code(
        &self,
        payer: UserId,
        now_ms: i64,
        lifetime_s: i64,
    ) -> Result<(String, PaymentCode), AuthError> {
        let code = PaymentCode::new(payer, &self.kid, now_ms, lifetime_s);
        let token = payment_code::sign(&code, &self.kid, &self.key)
            .map_err(|error| AuthError::Signing(error.to_string()))?;
        Ok((token, code))
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key.
fn thumbprint(public_key: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// How long a key that stopped signing stays published: long enough for every token and
/// payment code it signed to expire (access tokens live at most 15 minutes, payment codes
/// 3), plus a margin for replicas that still sign with it until they reload.
pub const RETIRE_AFTER_MS_DEFAULT: i64 = 60 * 60 * 1000;

/// The key that signs now, as every replica sees it: reloaded from the database at most
/// every `reload_interval_ms`, so that a rotation reaches running replicas without a
/// restart.
///
/// Rotation runs outside the service (`c9pay keys rotate`, see [`rotate`]) against the
/// same database.
pub struct KeyRing {
    database: Database,
    reload_interval_ms: u64,
    publish_ahead_ms: i64,
    current: tokio::sync::RwLock<(Arc<Signer>, Instant)>,
}

impl KeyRing {
    pub async fn load(database: Database, reload_interval_ms: u64, publish_ahead_ms: i64) -> Result<Self, AuthError> {
        let signer = Arc::new(load_or_create_signer(&database, publish_ahead_ms).await?);
        Ok(Self {
            database,
            reload_interval_ms,
            publish_ahead_ms,
            current: tokio::sync::RwLock::new((signer, Instant::now())),
        })
    }

    /// The signer to use now.
    pub async fn signer(&self) -> Result<Arc<Signer>, AuthError> {
        {
            let current = self.current.read().await;
            if current.1.elapsed() < Duration::from_millis(self.reload_interval_ms) {
                return Ok(current.0.clone());
            }
        }
        let signer = Arc::new(load_or_create_signer(&self.database, self.publish_ahead_ms).await?);
        *self.current.write().await = (signer.clone(), Instant::now());
        Ok(signer)
    }
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotation {
    /// The key that signs from now on.
    pub new_kid: String,
    /// Keys taken out of the JWKS because they stopped signing over `retire_after_ms` ago.
    pub retired: Vec<String>,
}

/// Rotates the signing key: a new key is published in the JWKS now and signs once it has
/// been published for the replicas' `signing_key_publish_ahead_ms` (each replica picks it
/// up within its reload interval); the previous key stays in the JWKS, so what it signed
/// keeps verifying until it expires; keys whose successor was published more than
/// `retire_after_ms` ago (which must exceed the publish-ahead time plus the longest
/// token or payment code life) are retired, and what they signed is refused from then on
/// (by each verifier once its cached JWKS ages out).
pub async fn rotate(database: &Database, retire_after_ms: i64) -> Result<Rotation, AuthError> {
    let now = now_ms();
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let public_key = key.verifying_key().to_bytes();
    let new_kid = thumbprint(&public_key);
    // Strictly after every key there is, so that "newest" is never a tie.
    let newest: Option<i64> = sqlx::query("select max(created_at_ms) as newest from signing_key")
        .fetch_one(database.pool())
        .await?
        .try_get("newest")?;
    let created_at_ms = newest.map_or(now, |newest| now.max(newest + 1));
    sqlx::query("insert into signing_key (kid, private_seed, public_key, created_at_ms) values ($1, $2, $3, $4)")
        .bind(&new_kid)
        .bind(STANDARD.encode(key.to_bytes()))
        .bind(STANDARD.encode(public_key))
        .bind(created_at_ms)
        .execute(database.writer())
        .await?;
    let rows = sqlx::query(
        "select kid, created_at_ms from signing_key where retired_at_ms is null order by created_at_ms desc, kid desc",
    )
    .fetch_all(database.pool())
    .await?;
    let mut retired = Vec::new();
    let mut successor_created_at_ms: Option<i64> = None;
    for row in rows {
        let kid: String = row.try_get("kid")?;
        let key_created_at_ms: i64 = row.try_get("created_at_ms")?;
        if let Some(stopped_signing_at_ms) = successor_created_at_ms
            && now.saturating_sub(stopped_signing_at_ms) >= retire_after_ms
        {
            sqlx::query("update signing_key set retired_at_ms = $1 where kid = $2 and retired_at_ms is null")
                .bind(now)
                .bind(&kid)
                .execute(database.writer())
                .await?;
            retired.push(kid);
        }
        successor_created_at_ms = Some(key_created_at_ms);
    }
    tracing::info!(%new_kid, ?retired, "rotated the signing key");
    Ok(Rotation { new_kid, retired })
}

/// Loads the key to sign with, creating the first key if there is none.
pub async fn load_or_create_signer(database: &Database, publish_ahead_ms: i64) -> Result<Signer, AuthError> {
    if let Some(signer) = signing_key(database, publish_ahead_ms).await? {
        return Ok(signer);
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let public_key = key.verifying_key().to_bytes();
    sqlx::query(
        "insert into signing_key (kid, private_seed, public_key, created_at_ms) values ($1, $2, $3, $4)
         on conflict (kid) do nothing",
    )
    .bind(thumbprint(&public_key))
    .bind(STANDARD.encode(key.to_bytes()))
    .bind(STANDARD.encode(public_key))
    .bind(now_ms())
    .execute(database.writer())
    .await?;
    signing_key(database, publish_ahead_ms)
        .await?
        .ok_or_else(|| AuthError::Signing("no signing key after creating one".to_string()))
}

/// The key to sign with: the newest unretired key published at least
/// `publish_ahead_ms` ago, so that verifiers (the router, credit) had time to see it in
/// the JWKS before anything signed by it reaches them; while no key is that old (the
/// very first key), the oldest unretired one.
async fn signing_key(database: &Database, publish_ahead_ms: i64) -> Result<Option<Signer>, AuthError> {
    let rows = sqlx::query(
        "select kid, private_seed, created_at_ms from signing_key where retired_at_ms is null
         order by created_at_ms desc, kid desc",
    )
    .fetch_all(database.pool())
    .await?;
    let published_before = now_ms().saturating_sub(publish_ahead_ms);
    let mut chosen = None;
    for row in &rows {
        let created_at_ms: i64 = row.try_get("created_at_ms")?;
        if created_at_ms <= published_before {
            chosen = Some(row);
            break;
        }
    }
    let Some(row) = chosen.or(rows.last()) else { return Ok(None) };
    let kid: String = row.try_get("kid")?;
    let seed = Secret::new(row.try_get::<String, _>("private_seed")?);
    let bytes: [u8; 32] = STANDARD
        .decode(seed.expose())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| AuthError::Signing(format!("stored key {kid} is not a 32-byte seed")))?;
    let der = SigningKey::from_bytes(&bytes)
        .to_pkcs8_der()
        .map_err(|error| AuthError::Signing(error.to_string()))?;
    Ok(Some(Signer {
        kid,
        key: EncodingKey::from_ed_der(der.as_bytes()),
    }))
}

/// The JWKS document: every unretired public key.
pub async fn jwks(database: &Database) -> Result<Value, AuthError> {
    let rows = sqlx::query("select kid, public_key from signing_key where retired_at_ms is null order by created_at_ms desc, kid desc")
        .fetch_all(database.pool())
        .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let kid: String = row.try_get("kid")?;
        let public_key = STANDARD
            .decode(row.try_get::<String, _>("public_key")?)
            .map_err(|error| AuthError::Signing(error.to_string()))?;
        keys.push(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(public_key),
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        }));
    }
    Ok(json!({ "keys": keys }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_matches_rfc_8037_appendix_a3() {
        // RFC 8037 A.3: the thumbprint of its example Ed25519 key.
        let public_key = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap_or_default();
        assert_eq!(
            thumbprint(&public_key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
