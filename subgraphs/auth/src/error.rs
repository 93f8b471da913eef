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
            Self::ProfilesUnavailable(_) => Some(code::UNAVAILABLE),
            Self::Hashing(_) | Self::Signing(_) | Self::QrCode(_) | Self::Database(_) => None,
        }
    }
}
