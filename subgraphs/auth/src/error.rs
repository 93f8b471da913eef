use c9pay_platform::{error::ClientError, id::InvalidId, text::DisplayNameError};
use thiserror::Error;

use crate::domain::{
    email::InvalidEmail,
    password::{HashingError, WeakPassword},
};

#[derive(Debug, Error)]
pub enum AuthError {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error(transparent)]
    WeakPassword(#[from] WeakPassword),
    #[error(transparent)]
    InvalidDisplayName(#[from] DisplayNameError),
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("sign in first")]
    Unauthenticated,
    #[error("you may only read your own login details")]
    Forbidden,
    #[error("this refresh token is not valid: log in again")]
    RefreshTokenInvalid,
    #[error("this refresh token was used before: every session of this log-in has ended; log in again")]
    RefreshTokenReused,
    #[error("this key is registered to a kiosk already")]
    KioskKeyTaken,
    #[error("the kiosk's public key must be an Ed25519 JWK (kty OKP, crv Ed25519, x)")]
    InvalidKioskKey,
    #[error("no such kiosk, or it was revoked")]
    KioskNotFound,
    #[error("the kiosk's proof of possession is not valid: {0}")]
    KioskProofInvalid(String),
    #[error("the kiosk's proof of possession was used before")]
    ProofReplayed,
    #[error("the profile service is unavailable; try again")]
    ProfilesUnavailable(String),
    #[error(transparent)]
    Hashing(#[from] HashingError),
    #[error("signing: {0}")]
    Signing(String),
    #[error("rendering a QR code: {0}")]
    QrCode(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ClientError for AuthError {
    fn code(&self) -> Option<&'static str> {
        use c9pay_platform::error::code;
        match self {
            Self::InvalidEmail(_) => Some("INVALID_EMAIL"),
            Self::WeakPassword(_) => Some("WEAK_PASSWORD"),
            Self::InvalidDisplayName(_) => Some("INVALID_DISPLAY_NAME"),
            Self::InvalidId(_) => Some(code::INVALID_ID),
            Self::EmailTaken => Some("EMAIL_TAKEN"),
            Self::InvalidCredentials => Some("INVALID_CREDENTIALS"),
            Self::Unauthenticated => Some(code::UNAUTHENTICATED),
            Self::Forbidden => Some(code::FORBIDDEN),
            Self::RefreshTokenInvalid => Some("REFRESH_TOKEN_INVALID"),
            Self::RefreshTokenReused => Some("REFRESH_TOKEN_REUSED"),
            Self::KioskKeyTaken => Some("KIOSK_KEY_TAKEN"),
            Self::InvalidKioskKey => Some("INVALID_KIOSK_KEY"),
            Self::KioskNotFound => Some(code::NOT_FOUND),
            Self::KioskProofInvalid(_) | Self::ProofReplayed => Some("KIOSK_PROOF_INVALID"),
            Self::ProfilesUnavailable(_) => Some(code::UNAVAILABLE),
            Self::Hashing(_) | Self::Signing(_) | Self::QrCode(_) | Self::Database(_) => None,
        }
    }
}
