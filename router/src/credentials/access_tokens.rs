//! Verifying the access tokens auth issues: EdDSA JWTs whose keys auth publishes as a
//! JWKS. The platform's JWKS client keeps the keys in memory and fetches them again when
//! a token names a key id it does not know (auth rotated its key), but never more often
//! than `jwks_refresh_interval_min_ms`, so forged key ids cannot make the router hammer
//! auth; and after `jwks_cache_age_max_ms`, so a retired key stops verifying.
//!
//! Only EdDSA is accepted. The algorithm comes from the router, never from the token:
//! a token that says `alg: none`, or `HS256` in the hope that the public key is used as
//! an HMAC secret, is refused before any key is looked at.
//!
//! A token that verified is remembered ([`VerifiedTokens`]), keyed by the SHA-256 of the
//! whole token, so that a client sending the same token again costs a hash and a lookup
//! instead of an EdDSA verification. Only a token that passed every check is remembered
//! (a forged one is verified, and refused, every time); an entry is never used at or past
//! the token's `exp`, nor longer than [`VERIFIED_REUSE_MAX`] after it was verified (so a
//! key auth retires stops being trusted about as soon as without the cache); and the
//! pipeline forgets the token of a session the revocation feed names. What is cached is
//! the signature and the claims only: the revocation feed, the scheme (`Bearer`/`DPoP`),
//! a kiosk's per-request DPoP proof and an admin's cookie are checked on every request.

use c9pay_platform::{
    id::{KioskId, StoreId, UserId},
    jwks::{JwksClient, JwksClientLimits, JwksError},
};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::AccessTokenConfig;

/// Why an access token was refused. The message is safe to show the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthenticationError {
    #[error("the Authorization header must be `Bearer <access token>` (`DPoP <access token>` for kiosks)")]
    NotBearer,
    #[error("a kiosk's token must be sent as `Authorization: DPoP <token>` with a DPoP proof")]
    DpopRequired,
    #[error("only a kiosk's token is sent with the DPoP scheme")]
    NotDpopBound,
    #[error("the access token is malformed")]
    Malformed,
    #[error("access tokens must be signed with EdDSA")]
    WrongAlgorithm,
    #[error("the access token names no signing key")]
    NoKeyId,
    #[error("the access token was signed with an unknown key")]
    UnknownKey,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

/// What a verified access token vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    pub holder: Holder,
    /// The log-in session (or the kiosk) the token belongs to; the revocation feed names
    /// it when it ends.
    pub session_id: String,
    /// `exp`, in Unix seconds: a subscription opened with the token ends then.
    pub expires_at_s: i64,
}

/// Who holds a verified access token, with what its kind binds it to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    User(UserId),
    /// A kiosk: each request needs a DPoP proof by the key with thumbprint `jkt`.
    Kiosk { kiosk_id: KioskId, store_id: StoreId, jkt: String },
    /// An admin: each request needs the cookie whose SHA-256 is `fingerprint_hash`.
    Admin { user_id: UserId, fingerprint_hash: String },
}

/// How the `Authorization` header presented the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
    kind: String,
    sid: String,
    exp: i64,
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    cnf: Option<Confirmation>,
    #[serde(default)]
    fph: Option<String>,
}

#[derive(Deserialize)]
struct Confirmation {
    jkt: String,
}

/// Splits an `Authorization` header value into its scheme and token.
pub fn split_authorization(header: &str) -> Result<(Scheme, &str), AuthenticationError> {
    let (scheme, token) = if let Some(token) = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")) {
        (Scheme::Bearer, token)
    } else if let Some(token) = header.strip_prefix("DPoP ").or_else(|| header.strip_prefix("dpop ")) {
        (Scheme::Dpop, token)
    } else {
        return Err(AuthenticationError::NotBearer);
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthenticationError::NotBearer);
    }
    Ok((scheme, token))
}

/// The longest a verified token is trusted from the cache before its signature is
/// checked again (against the JWKS as it is then).
pub const VERIFIED_REUSE_MAX: Duration = Duration::from_secs(60);

/// Access tokens that verified, by SHA-256 of the token; bounded, each entry dropped at
/// the token's `exp` or [`VERIFIED_REUSE_MAX`] after it was verified, whichever is first.
pub struct VerifiedTokens {
    entries: moka::sync::Cache<[u8; 32], VerifiedToken>,
}

/// moka's per-entry expiry: until `exp` (Unix seconds), at most [`VERIFIED_REUSE_MAX`].
struct UntilExpiry;

impl moka::Expiry<[u8; 32], VerifiedToken> for UntilExpiry {
    fn expire_after_create(&self, _key: &[u8; 32], token: &VerifiedToken, _created_at: Instant) -> Option<Duration> {
        let now_ms = c9pay_platform::time::now_ms();
        let left_ms = token.expires_at_s.saturating_mul(1000).saturating_sub(now_ms);
        let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
        Some(left.min(VERIFIED_REUSE_MAX))
    }
}

impl VerifiedTokens {
    pub fn new(size_max: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(size_max)
                .expire_after(UntilExpiry)
                .build(),
        }
    }

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The token's verified claims if it verified before and has not expired at `now_s`.
    pub fn get(&self, token: &str, now_s: i64) -> Option<VerifiedToken> {
        let key = Self::key(token);
        let verified = self.entries.get(&key)?;
        if now_s >= verified.expires_at_s {
            self.entries.invalidate(&key);
            return None;
        }
        Some(verified)
    }

    /// Remembers a token that has just passed verification.
    fn insert(&self, token: &str, verified: VerifiedToken) {
        self.entries.insert(Self::key(token), verified);
    }

    /// Forgets a token (its session was revoked).
    pub fn forget(&self, token: &str) {
        self.entries.invalidate(&Self::key(token));
    }
}

pub struct AccessTokenVerifier {
    jwks: JwksClient,
    validation: Validation,
    verified: VerifiedTokens,
}

impl AccessTokenVerifier {
    pub fn new(jwks_url: &str, config: &AccessTokenConfig) -> anyhow::Result<Self> {
        let jwks = JwksClient::new(
            jwks_url,
            JwksClientLimits {
                fetch_timeout_ms: config.jwks_fetch_timeout_ms,
                refresh_interval_min_ms: config.jwks_refresh_interval_min_ms,
                cache_age_max_ms: config.jwks_cache_age_max_ms,
            },
        )?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.leeway_s;
        Ok(Self { jwks, validation, verified: VerifiedTokens::new(config.verified_cache_size_max) })
    }

    /// Verifies an `Authorization` header value: the token, and that its scheme fits its
    /// kind (a kiosk's token only with `DPoP`, any other only with `Bearer`, so that a
    /// sender-constrained token is never accepted as a bearer token).
    pub async fn verify_authorization(
        &self,
        header: &str,
    ) -> Result<VerifiedToken, AuthenticationError> {
        let (scheme, token) = split_authorization(header)?;
        let verified = self.verify(token).await?;
        match (&verified.holder, scheme) {
            (Holder::Kiosk { .. }, Scheme::Bearer) => Err(AuthenticationError::DpopRequired),
            (Holder::User(_) | Holder::Admin { .. }, Scheme::Dpop) => Err(AuthenticationError::NotDpopBound),
            _ => Ok(verified),
        }
    }

    /// Verifies a bare access token: from the cache of verified tokens when it verified
    /// before and has not expired, else by its signature and claims.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthenticationError> {
        if let Some(verified) = self.verified.get(token, c9pay_platform::time::now_ms() / 1000) {
            return Ok(verified);
        }
        let verified = self.verify_signature(token).await?;
        self.verified.insert(token, verified.clone());
        Ok(verified)
    }

    /// Forgets a token the cache holds (its session was revoked), so that it is verified
    /// again, and refused again, on every later request.
    pub fn forget(&self, token: &str) {
        self.verified.forget(token);
    }

    /// Verifies a bare access token's signature and claims.
    async fn verify_signature(&self, token: &str) -> Result<VerifiedToken, AuthenticationError> {
        // `decode_header` refuses `alg: none` itself: jsonwebtoken has no such algorithm.
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| AuthenticationError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthenticationError::WrongAlgorithm);
        }
        let key_id = header.kid.ok_or(AuthenticationError::NoKeyId)?;
        let key = self.key(&key_id).await?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthenticationError::Expired,
                _ => AuthenticationError::Invalid,
            })?
            .claims;
        let invalid = |_| AuthenticationError::Invalid;
        let holder = match claims.kind.as_str() {
            "user" => Holder::User(UserId::parse(&claims.sub).map_err(invalid)?),
            "kiosk" => Holder::Kiosk {
                kiosk_id: KioskId::parse(&claims.sub).map_err(invalid)?,
                store_id: StoreId::parse(claims.store.as_deref().unwrap_or_default()).map_err(invalid)?,
                jkt: claims.cnf.map(|cnf| cnf.jkt).filter(|jkt| !jkt.is_empty()).ok_or(AuthenticationError::Invalid)?,
            },
            "admin" => Holder::Admin {
                user_id: UserId::parse(&claims.sub).map_err(invalid)?,
                fingerprint_hash: claims.fph.filter(|hash| !hash.is_empty()).ok_or(AuthenticationError::Invalid)?,
            },
            _ => return Err(AuthenticationError::Invalid),
        };
        Ok(VerifiedToken {
            holder,
            session_id: claims.sid,
            expires_at_s: claims.exp,
        })
    }

    /// Whether the router holds auth's keys (fetching them if it holds none yet).
    pub async fn is_ready(&self) -> bool {
        self.jwks.get().await.is_ok_and(|keys| !keys.is_empty())
    }

    /// Fetches the JWKS now (at start-up). A failure is logged, not fatal: auth may
    /// start after the router, and the keys are fetched again on first use.
    pub async fn prefetch(&self) {
        match self.jwks.refresh().await {
            Ok(keys) => tracing::info!(keys = keys.len(), "loaded auth's JWKS"),
            Err(error) => tracing::warn!(%error, "auth's JWKS is not available yet"),
        }
    }

    /// The key `key_id` names: from the cache, else from a fresh JWKS (a key rotation),
    /// which the JWKS client fetches at most once per minimum interval.
    async fn key(&self, key_id: &str) -> Result<DecodingKey, AuthenticationError> {
        let unavailable = |error: JwksError| {
            tracing::warn!(%error, "auth's JWKS is unavailable");
            AuthenticationError::UnknownKey
        };
        let keys = self.jwks.get().await.map_err(unavailable)?;
        if let Some(key) = keys.get(key_id) {
            return Ok(key.clone());
        }
        let keys = self.jwks.refresh().await.map_err(unavailable)?;
        keys.get(key_id)
            .cloned()
            .ok_or(AuthenticationError::UnknownKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_token(expires_at_s: i64) -> VerifiedToken {
        VerifiedToken { holder: Holder::User(UserId::generate()), session_id: "ses_a".to_string(), expires_at_s }
    }

    #[test]
    fn a_cached_token_is_used_until_its_expiry_and_never_after() {
        let cache = VerifiedTokens::new(16);
        let now_s = c9pay_platform::time::now_ms() / 1000;
        let verified = user_token(now_s + 30);
        cache.insert("token-a", verified.clone());

        assert_eq!(cache.get("token-a", now_s), Some(verified.clone()));
        assert_eq!(cache.get("token-b", now_s), None, "another token is not the cached one");
        assert_eq!(cache.get("token-a", now_s + 30), None, "at exp the entry is refused");
        assert_eq!(cache.get("token-a", now_s), None, "and dropped");
    }

    #[test]
    fn a_forgotten_token_is_not_used() {
        let cache = VerifiedTokens::new(16);
        let now_s = c9pay_platform::time::now_ms() / 1000;
        cache.insert("token-a", user_token(now_s + 30));
        cache.forget("token-a");
        assert_eq!(cache.get("token-a", now_s), None);
    }

    #[test]
    fn an_entry_lives_no_longer_than_the_reuse_bound_or_the_token() {
        let now_s = c9pay_platform::time::now_ms() / 1000;
        let expiry = |token: &VerifiedToken| moka::Expiry::expire_after_create(&UntilExpiry, &[0; 32], token, Instant::now());
        assert_eq!(expiry(&user_token(now_s + 3_600)), Some(VERIFIED_REUSE_MAX));
        assert!(expiry(&user_token(now_s + 10)).is_some_and(|left| left <= Duration::from_secs(10)));
        assert_eq!(expiry(&user_token(now_s - 10)), Some(Duration::ZERO));
    }
}
