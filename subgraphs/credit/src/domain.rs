//! The ledger's types and rules, without I/O.

use c9pay_platform::{
    id::{AccountId, UserId},
    money::Amount,
};

use crate::error::CreditError;

c9pay_platform::id_type!(
    /// One immutable movement of money between two accounts.
    TransferId, "trf", "transfer"
);

/// The system account that every top-up is debited from: money that came in from outside.
pub const FUNDING: &str = "funding";

/// Whose money an account holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// A person's wallet; never below zero.
    User,
    /// A store's takings; never below zero.
    Store,
    /// The platform's own accounts (such as [`FUNDING`]); may go below zero.
    System,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Store => "store",
            Self::System => "system",
        }
    }

    pub fn parse(value: &str) -> Result<Self, CreditError> {
        match value {
            "user" => Ok(Self::User),
            "store" => Ok(Self::Store),
            "system" => Ok(Self::System),
            other => Err(CreditError::Corrupt(format!(
                "unknown owner kind {other:?}"
            ))),
        }
    }

    /// Whether an account of this kind may hold a negative balance.
    pub fn may_overdraw(self) -> bool {
        self == Self::System
    }
}

/// Why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferKind {
    TopUp,
    Payment,
    Refund,
    Gift,
}

impl TransferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopUp => "top_up",
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Gift => "gift",
        }
    }

    pub fn parse(value: &str) -> Result<Self, CreditError> {
        match value {
            "top_up" => Ok(Self::TopUp),
            "payment" => Ok(Self::Payment),
            "refund" => Ok(Self::Refund),
            "gift" => Ok(Self::Gift),
            other => Err(CreditError::Corrupt(format!(
                "unknown transfer kind {other:?}"
            ))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub owner_kind: OwnerKind,
    /// The user id, store id or system account name.
    pub owner_id: String,
    /// For a store account, the user who owns the store; `None` otherwise.
    pub owner_user_id: Option<UserId>,
    /// Everything credited minus everything debited, shards included.
    pub balance: Amount,
    /// Reserved by pending holds; spendable is `balance - held`.
    pub held: Amount,
    pub created_at_ms: i64,
}

impl Account {
    pub fn reference(&self) -> crate::ledger::AccountRef {
        crate::ledger::AccountRef {
            id: self.id.clone(),
            owner_kind: self.owner_kind,
        }
    }

    /// What the owner can spend now.
    pub fn available(&self) -> Amount {
        Amount::from_stored(self.balance.get().saturating_sub(self.held.get()))
    }

    /// Whether `user_id` may read this account: a person reads their own wallet, and a
    /// store owner their store's account. Nobody reads a system account over the API.
    pub fn is_readable_by(&self, user_id: &UserId) -> bool {
        match self.owner_kind {
            OwnerKind::User => self.owner_id == user_id.as_str(),
            OwnerKind::Store => self.owner_user_id.as_ref() == Some(user_id),
            OwnerKind::System => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount: Amount,
    pub kind: TransferKind,
    /// What the transfer is for: a sale, a refund, a payment request.
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub created_at_ms: i64,
}

c9pay_platform::id_type!(
    /// A reservation of credit, pending until posted, voided or expired.
    HoldId, "hld", "hold"
);
c9pay_platform::id_type!(
    /// A store's sale, which is also the id of its payment in the ledger.
    SaleId, "sal", "sale"
);
c9pay_platform::id_type!(
    /// A refund of (part of) a sale.
    RefundId, "ref", "refund"
);

/// Where a hold stands. Every hold leaves `Pending` at most once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HoldStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Posted => "posted",
            Self::Voided => "voided",
            Self::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Result<Self, CreditError> {
        match value {
            "pending" => Ok(Self::Pending),
            "posted" => Ok(Self::Posted),
            "voided" => Ok(Self::Voided),
            "expired" => Ok(Self::Expired),
            other => Err(CreditError::Corrupt(format!(
                "unknown hold status {other:?}"
            ))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount: Amount,
    pub status: HoldStatus,
    pub expires_at_ms: i64,
    pub transfer_id: Option<TransferId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for kind in [OwnerKind::User, OwnerKind::Store, OwnerKind::System] {
            assert_eq!(OwnerKind::parse(kind.as_str()).ok(), Some(kind));
        }
        for kind in [
            TransferKind::TopUp,
            TransferKind::Payment,
            TransferKind::Refund,
            TransferKind::Gift,
        ] {
            assert_eq!(TransferKind::parse(kind.as_str()).ok(), Some(kind));
        }
        assert!(OwnerKind::parse("bank").is_err());
    }

    #[test]
    fn only_system_accounts_may_overdraw() {
        assert!(OwnerKind::System.may_overdraw());
        assert!(!OwnerKind::User.may_overdraw());
        assert!(!OwnerKind::Store.may_overdraw());
    }
}
