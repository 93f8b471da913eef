use c9pay_platform::{error::ClientError, id::InvalidId, money::AmountError};
use thiserror::Error;

/// Codes of this crate, beside the shared ones in `c9pay_platform::error::code`.
pub mod code {
    pub const INSUFFICIENT_CREDIT: &str = "INSUFFICIENT_CREDIT";
    pub const CONFLICT: &str = "CONFLICT";
}

#[derive(Debug, Error)]
pub enum CreditError {
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error(transparent)]
    InvalidAmount(#[from] AmountError),
    #[error("the account does not hold enough credit for this transfer")]
    InsufficientCredit,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such account")]
    AccountNotFound,
    /// A caller's bug (no client can name both sides of a transfer), so it is masked.
    #[error("a transfer needs two different accounts")]
    SelfTransfer,
    #[error("this store already has an account with another owner")]
    StoreOwnerConflict,
    /// A stored value that breaks a rule the schema should have enforced.
    #[error("corrupt ledger row: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ClientError for CreditError {
    fn code(&self) -> Option<&'static str> {
        use c9pay_platform::error::code as shared;
        match self {
            Self::InvalidId(_) => Some(shared::INVALID_ID),
            Self::InvalidAmount(AmountError::NotPositive | AmountError::TooLarge) => {
                Some(shared::INVALID_AMOUNT)
            }
            Self::InsufficientCredit => Some(code::INSUFFICIENT_CREDIT),
            Self::Forbidden(_) => Some(shared::FORBIDDEN),
            Self::AccountNotFound => Some(shared::NOT_FOUND),
            Self::StoreOwnerConflict => Some(code::CONFLICT),
            // Overflow of a stored balance is a broken invariant, not the client's doing.
            Self::InvalidAmount(AmountError::Overflow)
            | Self::SelfTransfer
            | Self::Corrupt(_)
            | Self::Database(_) => None,
        }
    }
}
