//! Expires holds whose capture never came, so that reserved credit returns to the payer
//! on its own (DESIGN: "a pending hold expires on its own").

use std::time::Duration;

use c9pay_platform::{database::Database, time::now_ms};

use crate::{domain::HoldStatus, error::CreditError, ledger};

/// Holds expired per sweep, at most; the next sweep takes the rest.
const SWEEP_BATCH_MAX: i64 = 500;

pub async fn expire_holds_forever(database: Database, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if database.pool().is_closed() {
            return;
        }
        if let Err(error) = expire_due_holds(&database).await {
            tracing::warn!(error = %c9pay_platform::error::chain(&error), "expiring holds");
        }
    }
}

/// Expires every hold that is due now, each in its own transaction; returns how many.
/// Safe to run on every replica at once: each expiry is a conditional update from
/// `pending`, so a hold another replica (or a capture) resolved first is skipped.
pub async fn expire_due_holds(database: &Database) -> Result<usize, CreditError> {
    let now = now_ms();
    let due = ledger::expired_holds(database.pool(), now, SWEEP_BATCH_MAX).await?;
    let mut expired = 0;
    for hold_id in due {
        let mut transaction = database.begin_write().await?;
        if ledger::release_hold(&mut transaction, &hold_id, HoldStatus::Expired, now)
            .await?
            .is_ok()
        {
            expired += 1;
        }
        transaction.commit().await?;
    }
    Ok(expired)
}
