//! Verifying the access tokens auth issues: EdDSA JWTs whose keys auth publishes as a
//! JWKS. The platform's JWKS client keeps the keys in memory and fetches them again when
//! a token names a key id it does not know (auth rotated its key), but never more often
//! than `jwks_refresh_interval_min_ms`, so forged key ids cannot make the router hammer
//! auth; and after `jwks_cache_age_max_ms`, so a retired key stops verifying.
//!
//! Only EdDSA is accepted. The algorithm comes from the router, never from the token:
//! a token that says `alg: none`, or `HS256` in the hope that the public key is used as
//! an HMAC secret, is refused before any key is looked at.

use c9pay_platform::{
    id::{KioskId, StoreId, UserId},
    jwks::{JwksClient, JwksClientLimits, JwksError},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;

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

pub struct AccessTokenVerifier {
    jwks: JwksClient,
    validation: Validation,
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
        Ok(Self { jwks, validation })
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

    /// Verifies a bare access token.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthenticationError> {
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
