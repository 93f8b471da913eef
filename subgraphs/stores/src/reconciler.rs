//! Settles what no client came back for.
//!
//! A sale stays `pending` when credit did not answer in time and the kiosk never retried
//! with the same key (it lost power, the customer left). A refund stays `pending` the same
//! way, with its amount reserved against the sale. Neither may stay so forever, and
//! neither may be settled by a guess.
//!
//! The reconciler waits until the outcome can no longer change, then asks credit, the
//! authority on money, and records what it says:
//!
//! - It only looks at sales older than `reconcile_after_ms` (default 10 minutes). By then
//!   the payment code a sale was made with has expired (codes live at most 3 minutes, 1
//!   more of clock skew is tolerated), so credit can no longer authorise it; and a hold
//!   credit placed has expired (2 minutes by default), so it can no longer be captured.
//! - credit says posted → the sale is `paid` (the money moved; the kiosk just never heard).
//! - voided or expired → `failed` with that code (the payer's credit went back).
//! - still pending (a hold configured to outlive the wait) → voided first, then as above;
//!   if a capture won that race, credit says so and the sale is `paid`.
//! - credit has no such payment → `failed` with `PAYMENT_CODE_EXPIRED`: the authorisation
//!   never committed, and no retry can commit it now.
//! - credit does not answer → left for the next round.
//!
//! A pending refund is driven again exactly as a retry would: credit is idempotent by
//! refund id, so it either confirms the refund it made, makes it now (what the merchant
//! asked for), or refuses it, which releases the reservation.
//!
//! Every change is a conditional update from `pending`, so a client retry racing the
//! reconciler, or reconcilers on several replicas, settle each sale once.

use std::time::Duration;

use c9pay_platform::{database::Database, time::now_ms};

use crate::{
    credit::{CallError, CreditClient, Payment, PaymentStatus},
    db::{self, sale::Sale},
    error::StoresError,
    metrics::{PaymentMetrics, PaymentOutcome},
    sales,
};

/// Sales (and refunds) looked at per round, oldest first; the next round takes the rest.
const BATCH_MAX: i64 = 100;

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub sales_paid: usize,
    pub sales_failed: usize,
    pub refunds_settled: usize,
    /// Left pending because credit did not answer (or answered something unexpected).
    pub deferred: usize,
}

pub async fn reconcile_forever(database: Database, credit: CreditClient, payments: PaymentMetrics, interval: Duration, reconcile_after_ms: i64) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if database.pool().is_closed() {
            return;
        }
        match reconcile(&database, &credit, now_ms().saturating_sub(reconcile_after_ms)).await {
            Ok(done) if done != Reconciled::default() => {
                payments.record(PaymentOutcome::Paid, done.sales_paid);
                payments.record(PaymentOutcome::Refused, done.sales_failed);
                tracing::info!(?done, "reconciled pending sales and refunds");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %c9pay_platform::error::chain(&error), "reconciling pending sales"),
        }
    }
}

/// One round over the sales and refunds still pending that were recorded before
/// `before_ms`.
pub async fn reconcile(database: &Database, credit: &CreditClient, before_ms: i64) -> Result<Reconciled, StoresError> {
    let request_id = format!("reconciler-{}", uuid::Uuid::now_v7().simple());
    let mut done = Reconciled::default();
    for sale in db::sale::pending_sales_before(database, before_ms, BATCH_MAX).await? {
        match settle_sale(database, credit, &sale, &request_id).await {
            Ok(Some(SaleEnd::Paid)) => done.sales_paid += 1,
            Ok(Some(SaleEnd::Failed)) => done.sales_failed += 1,
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(sale_id = %sale.id, error = %c9pay_platform::error::chain(&error), "a pending sale stays pending");
                done.deferred += 1;
            }
        }
    }
    for refund in db::sale::pending_refunds_before(database, before_ms, BATCH_MAX).await? {
        let refund_id = refund.id.clone();
        match sales::drive_refund(database, credit, refund, &request_id).await {
            Ok(_) | Err(StoresError::RefundRefused { .. }) => done.refunds_settled += 1,
            Err(error) => {
                tracing::warn!(%refund_id, error = %c9pay_platform::error::chain(&error), "a pending refund stays pending");
                done.deferred += 1;
            }
        }
    }
    Ok(done)
}

enum SaleEnd {
    Paid,
    Failed,
}

/// Records credit's final word on `sale`; `None` when another request settled it first.
async fn settle_sale(database: &Database, credit: &CreditClient, sale: &Sale, request_id: &str) -> Result<Option<SaleEnd>, StoresError> {
    let payment = match credit.status(&sale.id, request_id).await {
        Ok(payment) => payment,
        Err(CallError::Refused { status: 404, .. }) => {
            let failed = db::sale::mark_sale_failed(database, &sale.id, "PAYMENT_CODE_EXPIRED").await?;
            tracing::info!(sale_id = %sale.id, "credit never authorised this sale; it failed");
            return Ok(failed.then_some(SaleEnd::Failed));
        }
        Err(error) => return Err(call_failed(error)),
    };
    let payment = if payment.status == PaymentStatus::Pending {
        match credit.void(&sale.id, request_id).await {
            Ok(voided) => voided,
            // A capture won the race: read what it left.
            Err(CallError::Refused { status: 409, .. }) => credit.status(&sale.id, request_id).await.map_err(call_failed)?,
            Err(error) => return Err(call_failed(error)),
        }
    } else {
        payment
    };
    record(database, sale, &payment).await
}

async fn record(database: &Database, sale: &Sale, payment: &Payment) -> Result<Option<SaleEnd>, StoresError> {
    if payment.amount != sale.total {
        return Err(StoresError::CreditContract(format!("sale {} of {} has a payment of {}", sale.id, sale.total, payment.amount)));
    }
    match (payment.status, payment.transfer_id.as_deref()) {
        (PaymentStatus::Posted, Some(transfer_id)) => {
            let paid = db::sale::mark_sale_paid(database, &sale.id, &payment.payer_user_id, payment.hold_id.as_deref(), transfer_id).await?;
            tracing::info!(sale_id = %sale.id, transfer_id, "credit had posted this sale; it is paid");
            Ok(paid.map(|_| SaleEnd::Paid))
        }
        (PaymentStatus::Voided | PaymentStatus::Expired, _) => {
            let code = if payment.status == PaymentStatus::Voided { "HOLD_VOIDED" } else { "HOLD_EXPIRED" };
            let failed = db::sale::mark_sale_failed(database, &sale.id, code).await?;
            tracing::info!(sale_id = %sale.id, code, "credit released this sale's hold; it failed");
            Ok(failed.then_some(SaleEnd::Failed))
        }
        _ => Err(StoresError::CreditContract(format!("sale {}: credit answered {payment:?}", sale.id))),
    }
}

fn call_failed(error: CallError) -> StoresError {
    match error {
        CallError::Unavailable { reason } => StoresError::CreditUnavailable { reason },
        CallError::Refused { status, code, message } => StoresError::CreditContract(format!("credit answered {status} {code}: {message}")),
        CallError::Unexpected { status, body } => StoresError::CreditRefused { status, body },
        CallError::Signing(error) => StoresError::Signing(error),
    }
}
