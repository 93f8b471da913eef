use c9pay_platform::{error::ClientError, id::InvalidId, money::AmountError};
use thiserror::Error;

/// Codes of this crate, beside the shared ones in `c9pay_platform::error::code`.
pub mod code {
    pub const INSUFFICIENT_CREDIT: &str = "INSUFFICIENT_CREDIT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
    pub const INVALID_IDEMPOTENCY_KEY: &str = "INVALID_IDEMPOTENCY_KEY";
    pub const TOP_UP_LIMIT_EXCEEDED: &str = "TOP_UP_LIMIT_EXCEEDED";
    pub const FUNDING_DECLINED: &str = "FUNDING_DECLINED";
    pub const RECIPIENT_NOT_FOUND: &str = "RECIPIENT_NOT_FOUND";
    pub const INVALID_RECIPIENT: &str = "INVALID_RECIPIENT";
    pub const INVALID_MEMO: &str = "INVALID_MEMO";
    pub const PAYMENT_CODE_INVALID: &str = "PAYMENT_CODE_INVALID";
    pub const PAYMENT_CODE_EXPIRED: &str = "PAYMENT_CODE_EXPIRED";
    pub const PAYMENT_CODE_USED: &str = "PAYMENT_CODE_USED";
    pub const HOLD_EXPIRED: &str = "HOLD_EXPIRED";
    pub const HOLD_VOIDED: &str = "HOLD_VOIDED";
    pub const ALREADY_POSTED: &str = "ALREADY_POSTED";
    pub const REFUND_EXCEEDS_PAYMENT: &str = "REFUND_EXCEEDS_PAYMENT";
    pub const PAYMENT_NOT_CAPTURED: &str = "PAYMENT_NOT_CAPTURED";
    pub const PAYMENT_REQUEST_INVALID: &str = "PAYMENT_REQUEST_INVALID";
    pub const PAYMENT_REQUEST_EXPIRED: &str = "PAYMENT_REQUEST_EXPIRED";
    pub const PAYMENT_REQUEST_PAID: &str = "PAYMENT_REQUEST_PAID";
    pub const INVALID_LIFETIME: &str = "INVALID_LIFETIME";
    pub const RESUME_TOO_FAR_BEHIND: &str = "RESUME_TOO_FAR_BEHIND";
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
    #[error("this idempotency key was used before with a different request")]
    IdempotencyKeyReused,
    #[error("an idempotency key is 1 to 64 characters of letters, digits, '-' and '_'")]
    InvalidIdempotencyKey,
    #[error("{0}")]
    TopUpLimitExceeded(String),
    #[error("the funding provider declined the top-up: {0}")]
    FundingDeclined(String),
    #[error("no such recipient")]
    RecipientNotFound,
    /// A person naming themself as the recipient of a gift: the client's mistake, unlike
    /// `SelfTransfer`, which no client can cause.
    #[error("credits cannot be sent to yourself")]
    GiftToSelf,
    #[error("a memo may have at most 140 characters and no control characters")]
    InvalidMemo,
    #[error("the payment code is not valid: {0}")]
    PaymentCodeInvalid(String),
    #[error("the payment code has expired; ask for a new one")]
    PaymentCodeExpired,
    #[error("the payment code has already been used")]
    PaymentCodeUsed,
    #[error("the payment's authorisation expired before it was captured")]
    HoldExpired,
    #[error("the payment's authorisation was voided")]
    HoldVoided,
    #[error("the payment was already captured")]
    AlreadyPosted,
    #[error("refunds may not exceed the payment")]
    RefundExceedsPayment,
    #[error("only a captured payment can be refunded")]
    PaymentNotCaptured,
    #[error("no such payment")]
    PaymentNotFound,
    #[error("this is not a valid c9pay payment request")]
    PaymentRequestInvalid,
    #[error("the payment request has expired; ask the store for a new one")]
    PaymentRequestExpired,
    #[error("the payment request has already been paid")]
    PaymentRequestPaid,
    #[error("a payment request may stay open between 1 and 900 seconds")]
    InvalidLifetime,
    #[error("a service credit depends on is unavailable; try again with the same idempotency key")]
    Unavailable(String),
    #[error(
        "more than {0} events were missed: read the history, then subscribe without `after`"
    )]
    ResumeTooFarBehind(i64),
    #[error("`after` is not the id of an event of this ledger")]
    UnknownEventId,
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
            Self::IdempotencyKeyReused => Some(code::IDEMPOTENCY_KEY_REUSED),
            Self::InvalidIdempotencyKey => Some(code::INVALID_IDEMPOTENCY_KEY),
            Self::TopUpLimitExceeded(_) => Some(code::TOP_UP_LIMIT_EXCEEDED),
            Self::FundingDeclined(_) => Some(code::FUNDING_DECLINED),
            Self::RecipientNotFound => Some(code::RECIPIENT_NOT_FOUND),
            Self::GiftToSelf => Some(code::INVALID_RECIPIENT),
            Self::InvalidMemo => Some(code::INVALID_MEMO),
            Self::PaymentCodeInvalid(_) => Some(code::PAYMENT_CODE_INVALID),
            Self::PaymentCodeExpired => Some(code::PAYMENT_CODE_EXPIRED),
            Self::PaymentCodeUsed => Some(code::PAYMENT_CODE_USED),
            Self::HoldExpired => Some(code::HOLD_EXPIRED),
            Self::HoldVoided => Some(code::HOLD_VOIDED),
            Self::AlreadyPosted => Some(code::ALREADY_POSTED),
            Self::RefundExceedsPayment => Some(code::REFUND_EXCEEDS_PAYMENT),
            Self::PaymentNotCaptured => Some(code::PAYMENT_NOT_CAPTURED),
            Self::PaymentNotFound => Some(shared::NOT_FOUND),
            Self::PaymentRequestInvalid => Some(code::PAYMENT_REQUEST_INVALID),
            Self::PaymentRequestExpired => Some(code::PAYMENT_REQUEST_EXPIRED),
            Self::PaymentRequestPaid => Some(code::PAYMENT_REQUEST_PAID),
            Self::InvalidLifetime => Some(code::INVALID_LIFETIME),
            Self::Unavailable(_) => Some(shared::UNAVAILABLE),
            Self::ResumeTooFarBehind(_) => Some(code::RESUME_TOO_FAR_BEHIND),
            Self::UnknownEventId => Some(shared::INVALID_ID),
            // Overflow of a stored balance is a broken invariant, not the client's doing.
            Self::InvalidAmount(AmountError::Overflow)
            | Self::SelfTransfer
            | Self::Corrupt(_)
            | Self::Database(_) => None,
        }
    }
}
