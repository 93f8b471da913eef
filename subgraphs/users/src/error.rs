use c9pay_platform::{error::ClientError, id::InvalidId, text::DisplayNameError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum UsersError {
    #[error(transparent)]
    InvalidDisplayName(#[from] DisplayNameError),
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error("no profile for this user")]
    NotFound,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ClientError for UsersError {
    fn code(&self) -> Option<&'static str> {
        match self {
            Self::InvalidDisplayName(_) => Some("INVALID_DISPLAY_NAME"),
            Self::InvalidId(_) => Some(c9pay_platform::error::code::INVALID_ID),
            Self::NotFound => Some(c9pay_platform::error::code::NOT_FOUND),
            Self::Database(_) => None,
        }
    }
}
