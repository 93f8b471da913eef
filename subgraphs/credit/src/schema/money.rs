//! `topUp` and `sendCredits`.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, current_request_id},
    graphql::require_user,
    id::UserId,
    money::Amount,
    time::from_ms,
};
use chrono::{DateTime, Utc};

use super::entities::User;
use crate::{
    directory::UserDirectory,
    error::CreditError,
    funding::FundingProvider,
    operations::{self, Gift, Receipt, TopUpLimits},
};

/// Why money moved.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    TopUp,
    Payment,
    Refund,
    Gift,
}

impl TransferKind {
    pub fn from_stored(value: &str) -> Result<Self, CreditError> {
        Ok(match crate::domain::TransferKind::parse(value)? {
            crate::domain::TransferKind::TopUp => Self::TopUp,
            crate::domain::TransferKind::Payment => Self::Payment,
            crate::domain::TransferKind::Refund => Self::Refund,
            crate::domain::TransferKind::Gift => Self::Gift,
        })
    }

    pub fn to_domain(self) -> crate::domain::TransferKind {
        match self {
            Self::TopUp => crate::domain::TransferKind::TopUp,
            Self::Payment => crate::domain::TransferKind::Payment,
            Self::Refund => crate::domain::TransferKind::Refund,
            Self::Gift => crate::domain::TransferKind::Gift,
        }
    }
}

#[derive(InputObject)]
pub struct TopUpInput {
    /// Whole credits, at most the per-top-up limit.
    pub amount: Amount,
    /// Unique per top-up, chosen by the client (a UUID); a retry with the same key and
    /// input returns the first result and moves no more money.
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct SendCreditsInput {
    pub to_user_id: ID,
    pub amount: Amount,
    /// Up to 140 characters, shown to both people.
    pub memo: Option<String>,
    pub idempotency_key: String,
}

/// The outcome of a money-moving mutation.
#[derive(SimpleObject)]
pub struct TransferReceipt {
    pub transfer_id: ID,
    pub kind: TransferKind,
    pub amount: Amount,
    pub memo: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Your balance right after this transfer.
    pub balance_after: Amount,
    /// The person who received the credits, for a gift.
    pub recipient: Option<User>,
}

impl TryFrom<Receipt> for TransferReceipt {
    type Error = CreditError;

    fn try_from(receipt: Receipt) -> Result<Self, CreditError> {
        Ok(Self {
            transfer_id: ID(receipt.transfer_id),
            kind: TransferKind::from_stored(&receipt.kind)?,
            amount: Amount::from_stored(receipt.amount),
            memo: receipt.memo,
            created_at: from_ms(receipt.created_at_ms),
            balance_after: Amount::from_stored(receipt.balance_after),
            recipient: receipt
                .counterparty_user_id
                .as_deref()
                .map(UserId::parse)
                .transpose()?
                .map(|id| User { id }),
        })
    }
}

#[derive(Default)]
pub struct MoneyMutation;

#[Object]
impl MoneyMutation {
    /// Adds credits to your wallet, charged through the funding provider.
    async fn top_up(
        &self,
        context: &Context<'_>,
        input: TopUpInput,
    ) -> async_graphql::Result<TransferReceipt> {
        let user_id = require_user(context)?;
        let receipt = operations::top_up(
            context.data::<Database>()?,
            context.data::<Arc<dyn FundingProvider>>()?.as_ref(),
            *context.data::<TopUpLimits>()?,
            &user_id,
            input.amount.get(),
            &input.idempotency_key,
        )
        .await
        .graphql()?;
        TransferReceipt::try_from(receipt).graphql()
    }

    /// Sends credits from your wallet to another person.
    async fn send_credits(
        &self,
        context: &Context<'_>,
        input: SendCreditsInput,
    ) -> async_graphql::Result<TransferReceipt> {
        let user_id = require_user(context)?;
        let recipient = UserId::try_from(&input.to_user_id)
            .map_err(CreditError::from)
            .graphql()?;
        let receipt = operations::send_credits(
            context.data::<Database>()?,
            context.data::<UserDirectory>()?,
            Gift {
                sender: &user_id,
                recipient: &recipient,
                amount: input.amount.get(),
                memo: input.memo.as_deref(),
                idempotency_key: &input.idempotency_key,
            },
            &current_request_id(),
        )
        .await
        .graphql()?;
        TransferReceipt::try_from(receipt).graphql()
    }
}
