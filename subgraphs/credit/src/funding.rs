//! Where top-up money comes from. A real deployment charges a card or a bank through a
//! payment provider; `c9pay up` and the tests use [`DemoFundingProvider`], which approves
//! every charge. Providers must be idempotent by `reference` (as card processors are by
//! their idempotency key), because a retried top-up presents the same reference.

use std::{future::Future, pin::Pin};

use c9pay_platform::{id::UserId, money::Amount};

/// A provider's confirmation of a charge.
#[derive(Clone, Debug)]
pub struct FundingReceipt {
    pub provider_reference: String,
}

pub type FundingFuture<'a> =
    Pin<Box<dyn Future<Output = Result<FundingReceipt, String>> + Send + 'a>>;

pub trait FundingProvider: Send + Sync {
    /// Charges `amount` to the person's payment method; `Err` with a reason if declined.
    fn charge<'a>(
        &'a self,
        user_id: &'a UserId,
        amount: Amount,
        reference: &'a str,
    ) -> FundingFuture<'a>;
}

/// Approves every charge: for demos and tests only.
pub struct DemoFundingProvider;

impl FundingProvider for DemoFundingProvider {
    fn charge<'a>(
        &'a self,
        _user_id: &'a UserId,
        _amount: Amount,
        reference: &'a str,
    ) -> FundingFuture<'a> {
        Box::pin(async move {
            Ok(FundingReceipt {
                provider_reference: format!("demo-{reference}"),
            })
        })
    }
}
