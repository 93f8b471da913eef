use c9pay_platform::{error::ClientError, id::InvalidId, money::AmountError};
use thiserror::Error;

use crate::domain::NameError;

/// Codes of this crate, beside the shared ones in `c9pay_platform::error::code`.
pub mod code {
    pub const INVALID_NAME: &str = "INVALID_NAME";
    pub const PRODUCT_NAME_TAKEN: &str = "PRODUCT_NAME_TAKEN";
    pub const QUANTITY_INVALID: &str = "QUANTITY_INVALID";
    pub const PRODUCT_NOT_IN_STORE: &str = "PRODUCT_NOT_IN_STORE";
    pub const INVALID_IDEMPOTENCY_KEY: &str = "INVALID_IDEMPOTENCY_KEY";
    pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
    pub const PAYMENT_CODE_INVALID: &str = "PAYMENT_CODE_INVALID";
    pub const INVALID_REASON: &str = "INVALID_REASON";
    pub const SALE_NOT_PAID: &str = "SALE_NOT_PAID";
    pub const REFUND_EXCEEDS_SALE: &str = "REFUND_EXCEEDS_SALE";
}

#[derive(Debug, Error)]
pub enum StoresError {
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error(transparent)]
    InvalidAmount(#[from] AmountError),
    #[error("sign in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no such store")]
    StoreNotFound,
    #[error("no such sale")]
    SaleNotFound,
    #[error("no such product")]
    ProductNotFound,
    #[error("this store already has a product with that name")]
    ProductNameTaken,
    #[error("{0}")]
    InvalidItems(String),
    #[error("a quantity is a whole number from 1 to 99")]
    QuantityInvalid,
    #[error("product {0} is not sold by this store")]
    ProductNotInStore(String),
    #[error("the sale's total is larger than any single payment may be")]
    SaleTooLarge,
    #[error("an idempotency key is 1 to 64 characters of letters, digits, '-' and '_'")]
    InvalidIdempotencyKey,
    #[error("this idempotency key was used before with a different request")]
    IdempotencyKeyReused,
    #[error("the payment code is malformed")]
    PaymentCodeMalformed,
    #[error("a reason is 1 to 200 characters without control characters")]
    InvalidReason,
    #[error("only a paid sale can be refunded")]
    SaleNotPaid,
    #[error("refunds may not add up to more than the sale")]
    RefundExceedsSale,
    /// The ledger refused the payment (bad, expired or spent code, not enough credit…);
    /// the sale is recorded as failed with this code.
    #[error("the payment was refused: {message}")]
    PaymentRefused { sale_id: String, code: &'static str, message: String },
    /// The ledger did not say whether it took the payment. The sale stays pending and a
    /// `sell` with the same idempotency key finds out; nothing is guessed.
    #[error("the ledger did not answer; the sale {sale_id} is pending: retry with the same idempotency key")]
    PaymentPending { sale_id: String, reason: String },
    /// The ledger refused the refund; the refund is recorded as failed with this code.
    #[error("the refund was refused: {message}")]
    RefundRefused { refund_id: String, code: &'static str, message: String },
    /// The ledger did not say whether it made the refund; the refund stays pending (its
    /// amount reserved against the sale) until a retry with the same key finds out.
    #[error("the ledger did not answer; the refund {refund_id} is pending: retry with the same idempotency key")]
    RefundPending { refund_id: String, reason: String },
    /// Credit did not answer, timed out, or failed on its side. Nothing was changed here
    /// and the client may retry; the reason is logged where it is detected and kept out
    /// of the client's message.
    #[error("the ledger is unavailable; nothing was changed, please retry")]
    CreditUnavailable { reason: String },
    /// Credit refused the call itself: a bug in this service or in its configuration.
    #[error("the ledger answered {status}: {body}")]
    CreditRefused { status: u16, body: String },
    /// Credit answered something the contract does not allow (a captured amount that is
    /// not the sale's total, for one).
    #[error("the ledger broke its contract: {0}")]
    CreditContract(String),
    /// Auth refused a kiosk registration or revocation with a code the client can act on
    /// (`INVALID_KIOSK_KEY`, `KIOSK_KEY_TAKEN`, `NOT_FOUND`).
    #[error("{message}")]
    KioskRefused { code: &'static str, message: String },
    /// Auth did not answer, or kiosks are not configured (no `auth_url`).
    #[error("kiosk registration is unavailable; nothing was changed, please retry")]
    AuthUnavailable { reason: String },
    #[error("signing a service token: {0}")]
    Signing(#[from] c9pay_platform::internal_token::InternalTokenError),
    /// A stored value that breaks a rule the schema should have enforced.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoresError {
    /// The sale or refund an error is about, for `extensions.saleId` / `refundId`.
    pub fn subject(&self) -> Option<(&'static str, &str)> {
        match self {
            Self::PaymentRefused { sale_id, .. } | Self::PaymentPending { sale_id, .. } => Some(("saleId", sale_id)),
            Self::RefundRefused { refund_id, .. } | Self::RefundPending { refund_id, .. } => Some(("refundId", refund_id)),
            _ => None,
        }
    }
}

impl ClientError for StoresError {
    fn code(&self) -> Option<&'static str> {
        use c9pay_platform::error::code as shared;
        match self {
            Self::InvalidId(_) => Some(shared::INVALID_ID),
            Self::InvalidName(_) => Some(code::INVALID_NAME),
            Self::InvalidAmount(AmountError::NotPositive | AmountError::TooLarge) | Self::SaleTooLarge => Some(shared::INVALID_AMOUNT),
            Self::Unauthenticated => Some(shared::UNAUTHENTICATED),
            Self::Forbidden(_) => Some(shared::FORBIDDEN),
            Self::StoreNotFound | Self::SaleNotFound | Self::ProductNotFound => Some(shared::NOT_FOUND),
            Self::ProductNameTaken => Some(code::PRODUCT_NAME_TAKEN),
            Self::InvalidItems(_) => Some(shared::INVALID_INPUT),
            Self::QuantityInvalid => Some(code::QUANTITY_INVALID),
            Self::ProductNotInStore(_) => Some(code::PRODUCT_NOT_IN_STORE),
            Self::InvalidIdempotencyKey => Some(code::INVALID_IDEMPOTENCY_KEY),
            Self::IdempotencyKeyReused => Some(code::IDEMPOTENCY_KEY_REUSED),
            Self::PaymentCodeMalformed => Some(code::PAYMENT_CODE_INVALID),
            Self::InvalidReason => Some(code::INVALID_REASON),
            Self::SaleNotPaid => Some(code::SALE_NOT_PAID),
            Self::RefundExceedsSale => Some(code::REFUND_EXCEEDS_SALE),
            Self::PaymentRefused { code, .. } | Self::RefundRefused { code, .. } | Self::KioskRefused { code, .. } => Some(code),
            Self::AuthUnavailable { .. } => Some(shared::UNAVAILABLE),
            Self::PaymentPending { .. } | Self::RefundPending { .. } | Self::CreditUnavailable { .. } => Some(shared::UNAVAILABLE),
            Self::InvalidAmount(AmountError::Overflow)
            | Self::CreditRefused { .. }
            | Self::CreditContract(_)
            | Self::Signing(_)
            | Self::Corrupt(_)
            | Self::Database(_) => None,
        }
    }
}
