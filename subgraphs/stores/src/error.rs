use c9pay_platform::{error::ClientError, id::InvalidId, money::AmountError};
use thiserror::Error;

use crate::domain::NameError;

/// Codes of this crate, beside the shared ones in `c9pay_platform::error::code`.
pub mod code {
    pub const INVALID_NAME: &str = "INVALID_NAME";
    pub const PRODUCT_NAME_TAKEN: &str = "PRODUCT_NAME_TAKEN";
}

#[derive(Debug, Error)]
pub enum StoresError {
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error(transparent)]
    InvalidAmount(#[from] AmountError),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such store")]
    StoreNotFound,
    #[error("this store already has a product with that name")]
    ProductNameTaken,
    /// Credit did not answer, timed out, or failed on its side. Nothing was changed here
    /// and the client may retry; the reason is logged where it is detected and kept out
    /// of the client's message.
    #[error("the ledger is unavailable; nothing was changed, please retry")]
    CreditUnavailable { reason: String },
    /// Credit refused the call itself: a bug in this service or in its configuration.
    #[error("the ledger answered {status}: {body}")]
    CreditRefused { status: u16, body: String },
    #[error("signing a service token: {0}")]
    Signing(#[from] c9pay_platform::internal_token::InternalTokenError),
    /// A stored value that breaks a rule the schema should have enforced.
    #[error("corrupt catalogue row: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ClientError for StoresError {
    fn code(&self) -> Option<&'static str> {
        use c9pay_platform::error::code as shared;
        match self {
            Self::InvalidId(_) => Some(shared::INVALID_ID),
            Self::InvalidName(_) => Some(code::INVALID_NAME),
            Self::InvalidAmount(AmountError::NotPositive | AmountError::TooLarge) => Some(shared::INVALID_AMOUNT),
            Self::Forbidden(_) => Some(shared::FORBIDDEN),
            Self::StoreNotFound => Some(shared::NOT_FOUND),
            Self::ProductNameTaken => Some(code::PRODUCT_NAME_TAKEN),
            Self::CreditUnavailable { .. } => Some(shared::UNAVAILABLE),
            Self::InvalidAmount(AmountError::Overflow) | Self::CreditRefused { .. } | Self::Signing(_) | Self::Corrupt(_) | Self::Database(_) => None,
        }
    }
}
