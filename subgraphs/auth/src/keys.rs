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
    id::UserId,
    payment_code::{self, PaymentCode},
    time::now_ms,
};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

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
    /// `user` here; kiosks and admins get their own kinds.
    pub kind: String,
    /// The session (log-in) this token belongs to.
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
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
        let issued_at_s = now_ms() / 1000;
        let expires_at_s = issued_at_s + lifetime_s;
        let claims = AccessClaims {
            iss: ACCESS_TOKEN_ISSUER.to_string(),
            aud: ACCESS_TOKEN_AUDIENCE.to_string(),
            sub: user_id.to_string(),
            kind: "user".to_string(),
            sid: session_id.to_string(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iat: issued_at_s,
            exp: expires_at_s,
        };
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

/// Loads the newest unretired key, creating the first key if there is none.
pub async fn load_or_create_signer(database: &Database) -> Result<Signer, AuthError> {
    if let Some(signer) = newest_signer(database).await? {
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
    .execute(database.pool())
    .await?;
    newest_signer(database)
        .await?
        .ok_or_else(|| AuthError::Signing("no signing key after creating one".to_string()))
}

async fn newest_signer(database: &Database) -> Result<Option<Signer>, AuthError> {
    let row = sqlx::query(
        "select kid, private_seed from signing_key where retired_at_ms is null
         order by created_at_ms desc, kid desc limit 1",
    )
    .fetch_optional(database.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
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
