//! Consumer-presented QR payments, as the stores service drives them (DESIGN, flow 1):
//! authorise (verify the payment code, reserve the credit, spend the code), then capture
//! (post the hold) or void it; refunds later. Every step is idempotent by the payment id,
//! which is the store's sale id, so a time-out between stores and credit is resolved by
//! asking again with the same id, never by guessing.

use c9pay_platform::{
    database::{Backend, Database, ResultExt},
    id::{AccountId, StoreId, UserId},
    jwks::JwksClient,
    money::Amount,
    payment_code::{self, PaymentCodeError},
    time::now_ms,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    db,
    domain::{HoldId, HoldStatus, OwnerKind, RefundId, SaleId, TransferKind},
    error::CreditError,
    idempotency,
    ledger::{self, AccountRef, Movement, Tx, Unresolved},
};

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub payment_id: String,
    pub store_id: String,
    /// Decimal string or integer, as the `Amount` scalar.
    pub amount: serde_json::Value,
    pub payment_code: String,
}

/// Where a payment stands, as every endpoint reports it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentState {
    pub payment_id: String,
    pub status: &'static str,
    pub hold_id: String,
    pub payer_user_id: String,
    pub store_id: String,
    pub amount: String,
    pub refunded: String,
    pub expires_at_ms: i64,
    pub transfer_id: Option<String>,
}

pub fn parse_amount(value: &serde_json::Value) -> Result<Amount, CreditError> {
    let number = match value {
        serde_json::Value::String(text) => text.parse::<i64>().ok(),
        serde_json::Value::Number(number) => number.as_i64(),
        _ => None,
    };
    let number = number.ok_or(CreditError::InvalidAmount(
        c9pay_platform::money::AmountError::NotPositive,
    ))?;
    Ok(Amount::parse_positive(number)?)
}

fn code_error(error: PaymentCodeError) -> CreditError {
    match error {
        PaymentCodeError::Expired => CreditError::PaymentCodeExpired,
        PaymentCodeError::KeysUnavailable(reason) => CreditError::Unavailable(reason),
        other => CreditError::PaymentCodeInvalid(other.to_string()),
    }
}

/// Verifies the code, reserves the amount on the payer's wallet and spends the code, in
/// one transaction. A repeat with the same payment id and request returns the payment's
/// current state; with another request, `IDEMPOTENCY_KEY_REUSED`.
pub async fn authorize(
    database: &Database,
    jwks: &JwksClient,
    hold_lifetime_ms: i64,
    request: AuthorizeRequest,
) -> Result<PaymentState, CreditError> {
    authorize_and_maybe_capture(database, jwks, hold_lifetime_ms, request, false).await
}

/// Authorises and captures at once, for a sale that needs both (DESIGN, flow 1: credit
/// verifies the code and moves the money in one transaction): the hold is placed and
/// posted and the payment event written in one commit. Idempotent by the payment id with
/// [`authorize`]'s request: a payment authorised before (by either) is captured now, or
/// answered as it stands (captured: its state; voided or expired: refused as
/// [`capture`] refuses it).
pub async fn pay(
    database: &Database,
    jwks: &JwksClient,
    hold_lifetime_ms: i64,
    request: AuthorizeRequest,
) -> Result<PaymentState, CreditError> {
    let state =
        authorize_and_maybe_capture(database, jwks, hold_lifetime_ms, request, true).await?;
    if state.status == HoldStatus::Posted.as_str() {
        Ok(state)
    } else {
        capture(database, &state.payment_id).await
    }
}

async fn authorize_and_maybe_capture(
    database: &Database,
    jwks: &JwksClient,
    hold_lifetime_ms: i64,
    request: AuthorizeRequest,
    and_capture: bool,
) -> Result<PaymentState, CreditError> {
    let payment_id = SaleId::parse(&request.payment_id)?;
    let store_id = StoreId::parse(&request.store_id)?;
    let amount = parse_amount(&request.amount)?;
    let hash = idempotency::request_hash(
        "authorize",
        &(
            store_id.as_str(),
            amount.get(),
            request.payment_code.as_str(),
        ),
    )?;
    if let Some((stored_hash, state)) = find(database, &payment_id).await? {
        return answer_of_stored(stored_hash, state, &hash);
    }
    let code = match payment_code::verify_with_refresh(&request.payment_code, jwks, now_ms()).await {
        Ok(code) => code,
        // Expired now; but a request with this payment id that verified the code in time
        // may still be committing (its caller gave up waiting and asked again). Its
        // outcome, once it has one, is this request's: refusing while it can still commit
        // would fail a sale whose money then moves.
        Err(PaymentCodeError::Expired) => {
            let mut transaction = database.begin_write().await?;
            lock_payment_id(database, &mut transaction, &payment_id).await?;
            let stored = find_with(&mut *transaction, &payment_id).await?;
            drop(transaction);
            return match stored {
                Some((stored_hash, state)) => answer_of_stored(stored_hash, state, &hash),
                None => Err(CreditError::PaymentCodeExpired),
            };
        }
        Err(error) => return Err(code_error(error)),
    };
    // The store's account, the payer's wallet and whoever spent this code, in one read.
    let found = sqlx::query(
        "select (select id from account where owner_kind = 'store' and owner_id = $1) as store_account_id,
                (select id from account where owner_kind = 'user' and owner_id = $2) as wallet_id,
                (select id from payment where code_id = $3) as spent_by",
    )
    .bind(store_id.as_str())
    .bind(code.payer.as_str())
    .bind(&code.code_id)
    .fetch_one(database.pool())
    .await?;
    let store = AccountRef {
        id: AccountId::parse(
            &found
                .try_get::<Option<String>, _>("store_account_id")?
                .ok_or(CreditError::AccountNotFound)?,
        )?,
        owner_kind: OwnerKind::Store,
    };
    // A spent code is refused as spent, whatever the payer's balance is now; the unique
    // index on `payment.code_id` below still decides races between two first uses.
    if let Some(spent_by) = found.try_get::<Option<String>, _>("spent_by")? {
        // Spent by this very payment (a concurrent retry committed first): its answer is ours.
        if spent_by == payment_id.as_str() {
            return match find(database, &payment_id).await? {
                Some((stored_hash, state)) if stored_hash == hash => Ok(state),
                _ => Err(CreditError::IdempotencyKeyReused),
            };
        }
        return Err(CreditError::PaymentCodeUsed);
    }
    let wallet = match found.try_get::<Option<String>, _>("wallet_id")? {
        Some(id) => AccountRef {
            id: AccountId::parse(&id)?,
            owner_kind: OwnerKind::User,
        },
        None => db::ensure_user_account(database, &code.payer)
            .await?
            .reference(),
    };

    let mut transaction = database.begin_write().await?;
    // One decision at a time per payment id, taken on the clock read under the lock: a
    // request that finds the code expired has waited for any request that verified it in
    // time, and no request moves money after another refused the code as expired.
    lock_payment_id(database, &mut transaction, &payment_id).await?;
    if let Some((stored_hash, state)) = find_with(&mut *transaction, &payment_id).await? {
        drop(transaction);
        return answer_of_stored(stored_hash, state, &hash);
    }
    let now = now_ms();
    if code.expires_at_ms <= now {
        return Err(CreditError::PaymentCodeExpired);
    }
    let expires_at_ms = now + hold_lifetime_ms;
    let placed = if and_capture {
        let movement = Movement {
            debit: &wallet,
            credit: &store,
            amount,
            kind: TransferKind::Payment,
            reference: Some(payment_id.as_str()),
            memo: None,
        };
        ledger::place_posted_hold(&mut transaction, movement, expires_at_ms, now)
        .await
        .map(|(hold, transfer)| (hold, Some(transfer)))
    } else {
        ledger::place_hold(&mut transaction, &wallet, &store, amount, expires_at_ms)
            .await
            .map(|hold| (hold, None))
    };
    let (hold, transfer) = match placed {
        Ok(placed) => placed,
        Err(error) => {
            drop(transaction);
            // A concurrent request with the same payment id may have reserved the credit
            // first, leaving too little for this one's reservation: its answer is ours.
            return match find(database, &payment_id).await? {
                Some((stored_hash, state)) if stored_hash == hash => Ok(state),
                Some(_) => Err(CreditError::IdempotencyKeyReused),
                None => Err(error),
            };
        }
    };
    let inserted = sqlx::query(
        "insert into payment (id, store_id, payer_user_id, amount, code_id, hold_id, request_hash, created_at_ms)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(payment_id.as_str())
    .bind(store_id.as_str())
    .bind(code.payer.as_str())
    .bind(amount.get())
    .bind(&code.code_id)
    .bind(hold.id.as_str())
    .bind(&hash)
    .bind(now)
    .execute(&mut *transaction)
    .await;
    if let Err(error) = inserted {
        drop(transaction);
        return match error {
            sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
                // Either this code was spent already, or a concurrent request with the
                // same payment id won the race; the stored payment tells which.
                match find(database, &payment_id).await? {
                    Some((stored_hash, state)) if stored_hash == hash => Ok(state),
                    Some(_) => Err(CreditError::IdempotencyKeyReused),
                    None => Err(CreditError::PaymentCodeUsed),
                }
            }
            other => Err(other.into()),
        };
    }
    if let Some(transfer) = &transfer {
        ledger::record_event(&mut transaction, transfer, Some(&code.payer), Some(&store_id), None)
            .await?;
    }
    transaction.commit().await?;
    if transfer.is_some() {
        crate::events::announce();
    }
    Ok(PaymentState {
        payment_id: payment_id.to_string(),
        status: as_reported(hold.status, hold.expires_at_ms).as_str(),
        hold_id: hold.id.to_string(),
        payer_user_id: code.payer.to_string(),
        store_id: store_id.to_string(),
        amount: amount.to_string(),
        refunded: "0".to_string(),
        expires_at_ms: hold.expires_at_ms,
        transfer_id: transfer.map(|transfer| transfer.id.to_string()),
    })
}

/// Posts the payment's hold: the money moves to the store, and the payment event is
/// written in the same transaction. Capturing a captured payment returns it again.
pub async fn capture(database: &Database, payment_id: &str) -> Result<PaymentState, CreditError> {
    let payment_id = SaleId::parse(payment_id)?;
    let (_, state) = find(database, &payment_id)
        .await?
        .ok_or(CreditError::PaymentNotFound)?;
    if state.status == HoldStatus::Posted.as_str() {
        return Ok(state);
    }
    let store = db::find_account_by_owner(database, OwnerKind::Store, &state.store_id)
        .await?
        .ok_or(CreditError::AccountNotFound)?;
    let hold_id = HoldId::parse(&state.hold_id)?;
    let mut transaction = database.begin_write().await?;
    match ledger::post_hold(
        &mut transaction,
        &hold_id,
        &store.reference(),
        TransferKind::Payment,
        Some(payment_id.as_str()),
        now_ms(),
    )
    .await?
    {
        Ok(transfer) => {
            let payer = UserId::parse(&state.payer_user_id)?;
            let store_id = StoreId::parse(&state.store_id)?;
            ledger::record_event(
                &mut transaction,
                &transfer,
                Some(&payer),
                Some(&store_id),
                None,
            )
            .await?;
            transaction.commit().await?;
            crate::events::announce();
        }
        Err(unresolved) => {
            drop(transaction);
            refuse(unresolved)?;
        }
    }
    current(database, &payment_id).await
}

fn refuse(unresolved: Unresolved) -> Result<(), CreditError> {
    match unresolved {
        Unresolved::Already(HoldStatus::Posted, _) => Ok(()),
        Unresolved::Already(HoldStatus::Voided, _) => Err(CreditError::HoldVoided),
        Unresolved::Already(HoldStatus::Expired | HoldStatus::Pending, _)
        | Unresolved::PastExpiry => Err(CreditError::HoldExpired),
        Unresolved::NotFound => Err(CreditError::PaymentNotFound),
    }
}

/// Releases the payment's hold without moving money. Voiding a voided or expired payment
/// returns it again; voiding a captured one is `ALREADY_POSTED`.
pub async fn void(database: &Database, payment_id: &str) -> Result<PaymentState, CreditError> {
    let payment_id = SaleId::parse(payment_id)?;
    let (_, state) = find(database, &payment_id)
        .await?
        .ok_or(CreditError::PaymentNotFound)?;
    let hold_id = HoldId::parse(&state.hold_id)?;
    let now = now_ms();
    // A hold past its time that the sweeper has not reached yet is expired, not voided:
    // release it as what `status` already reports it to be.
    let outcome = if state.expires_at_ms <= now {
        HoldStatus::Expired
    } else {
        HoldStatus::Voided
    };
    let mut transaction = database.begin_write().await?;
    match ledger::release_hold(&mut transaction, &hold_id, outcome, now).await? {
        Ok(()) => transaction.commit().await?,
        Err(Unresolved::Already(HoldStatus::Posted, _)) => return Err(CreditError::AlreadyPosted),
        Err(Unresolved::Already(_, _) | Unresolved::PastExpiry) => {}
        Err(Unresolved::NotFound) => return Err(CreditError::PaymentNotFound),
    }
    current(database, &payment_id).await
}

pub async fn status(database: &Database, payment_id: &str) -> Result<PaymentState, CreditError> {
    let payment_id = SaleId::parse(payment_id)?;
    current(database, &payment_id).await
}

/// The payment's current state, or `PaymentNotFound`.
async fn current(database: &Database, payment_id: &SaleId) -> Result<PaymentState, CreditError> {
    find(database, payment_id)
        .await?
        .map(|(_, state)| state)
        .ok_or(CreditError::PaymentNotFound)
}

/// A hold's status as a payment reports it: a pending hold past its expiry reads as
/// `expired`, as it can no longer be captured, whether or not the sweeper has reached it.
fn as_reported(status: HoldStatus, expires_at_ms: i64) -> HoldStatus {
    if status == HoldStatus::Pending && expires_at_ms <= now_ms() {
        HoldStatus::Expired
    } else {
        status
    }
}

/// A repeat's answer: the stored payment's state when the request is the same.
fn answer_of_stored(
    stored_hash: String,
    state: PaymentState,
    hash: &str,
) -> Result<PaymentState, CreditError> {
    if stored_hash == hash {
        Ok(state)
    } else {
        Err(CreditError::IdempotencyKeyReused)
    }
}

/// Makes the requests for one payment id take turns until `transaction` ends: a
/// transaction-scoped advisory lock on PostgreSQL (keyed by the id's hash, in a key space
/// of its own); SQLite's write transactions take turns already.
async fn lock_payment_id(
    database: &Database,
    transaction: &mut Tx,
    payment_id: &SaleId,
) -> Result<(), CreditError> {
    if database.backend() == Backend::Postgres {
        sqlx::query("select pg_advisory_xact_lock(hashtext('c9pay.credit.payment'), hashtext($1))")
            .bind(payment_id.as_str())
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}

/// The payment with its request hash, and where its hold stands (see [`as_reported`]).
async fn find(
    database: &Database,
    payment_id: &SaleId,
) -> Result<Option<(String, PaymentState)>, CreditError> {
    find_with(database.pool(), payment_id).await
}

async fn find_with<'e, E>(
    executor: E,
    payment_id: &SaleId,
) -> Result<Option<(String, PaymentState)>, CreditError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "select payment.id, payment.store_id, payment.payer_user_id, payment.amount, payment.refunded, payment.request_hash,
                hold.id as hold_id, hold.status, hold.expires_at_ms, hold.transfer_id
         from payment join hold on hold.id = payment.hold_id where payment.id = $1",
    )
    .bind(payment_id.as_str())
    .fetch_optional(executor)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at_ms: i64 = row.try_get("expires_at_ms")?;
    let status = as_reported(
        HoldStatus::parse(&row.try_get::<String, _>("status")?)?,
        expires_at_ms,
    );
    Ok(Some((
        row.try_get("request_hash")?,
        PaymentState {
            payment_id: row.try_get("id")?,
            status: status.as_str(),
            hold_id: row.try_get("hold_id")?,
            payer_user_id: row.try_get("payer_user_id")?,
            store_id: row.try_get("store_id")?,
            amount: row.try_get::<i64, _>("amount")?.to_string(),
            refunded: row.try_get::<i64, _>("refunded")?.to_string(),
            expires_at_ms,
            transfer_id: row.try_get("transfer_id")?,
        },
    )))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundRequest {
    pub refund_id: String,
    pub payment_id: String,
    pub amount: serde_json::Value,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RefundState {
    pub refund_id: String,
    pub payment_id: String,
    pub amount: String,
    pub transfer_id: String,
}

pub const REASON_LENGTH_MAX_CHARS: usize = 200;

/// Returns part or all of a captured payment to its payer: at most the payment in total
/// (a conditional update on the payment's refunded total), paid from the store's
/// account, idempotent by refund id.
pub async fn refund(
    database: &Database,
    request: RefundRequest,
) -> Result<RefundState, CreditError> {
    let refund_id = RefundId::parse(&request.refund_id)?;
    let payment_id = SaleId::parse(&request.payment_id)?;
    let amount = parse_amount(&request.amount)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_LENGTH_MAX_CHARS {
        return Err(CreditError::InvalidMemo);
    }
    let hash = idempotency::request_hash("refund", &(payment_id.as_str(), amount.get(), reason))?;
    if let Some((stored_hash, state)) = find_refund(database, &refund_id).await? {
        return if stored_hash == hash {
            Ok(state)
        } else {
            Err(CreditError::IdempotencyKeyReused)
        };
    }
    match refund_new(database, &refund_id, &payment_id, amount, reason, &hash).await {
        // A concurrent request with the same refund id may have committed while this one
        // waited for the payment's row: then this one counted the refund twice (refused)
        // or collided on the refund id, and rolled back. Its answer is the first one.
        Err(error @ (CreditError::RefundExceedsPayment | CreditError::IdempotencyKeyReused)) => {
            match find_refund(database, &refund_id).await? {
                Some((stored_hash, state)) if stored_hash == hash => Ok(state),
                Some(_) => Err(CreditError::IdempotencyKeyReused),
                None => Err(error),
            }
        }
        other => other,
    }
}

/// A refund whose id was not found: counts it against the payment and moves the money.
async fn refund_new(
    database: &Database,
    refund_id: &RefundId,
    payment_id: &SaleId,
    amount: Amount,
    reason: &str,
    hash: &str,
) -> Result<RefundState, CreditError> {
    let (_, payment) = find(database, payment_id)
        .await?
        .ok_or(CreditError::PaymentNotFound)?;
    if payment.status != HoldStatus::Posted.as_str() {
        return Err(CreditError::PaymentNotCaptured);
    }
    let payer = UserId::parse(&payment.payer_user_id)?;
    let store = db::find_account_by_owner(database, OwnerKind::Store, &payment.store_id)
        .await?
        .ok_or(CreditError::AccountNotFound)?;
    let wallet = db::ensure_user_account(database, &payer).await?;

    let mut transaction = database.begin_write().await?;
    let counted = sqlx::query(
        "update payment set refunded = refunded + $1 where id = $2 and refunded + $1 <= amount",
    )
    .bind(amount.get())
    .bind(payment_id.as_str())
    .execute(&mut *transaction)
    .await?;
    if counted.rows_affected() != 1 {
        return Err(CreditError::RefundExceedsPayment);
    }
    let movement = Movement {
        debit: &store.reference(),
        credit: &wallet.reference(),
        amount,
        kind: TransferKind::Refund,
        reference: Some(refund_id.as_str()),
        memo: Some(reason),
    };
    let transfer = ledger::post(&mut transaction, movement).await?;
    let store_id = StoreId::parse(&payment.store_id)?;
    ledger::record_event(
        &mut transaction,
        &transfer,
        Some(&payer),
        Some(&store_id),
        Some(&payer),
    )
    .await?;
    insert_refund(
        &mut transaction,
        refund_id,
        payment_id,
        amount,
        reason,
        hash,
        transfer.id.as_str(),
    )
    .await?;
    transaction.commit().await?;
    crate::events::announce();
    Ok(RefundState {
        refund_id: refund_id.to_string(),
        payment_id: payment_id.to_string(),
        amount: amount.to_string(),
        transfer_id: transfer.id.to_string(),
    })
}

async fn insert_refund(
    transaction: &mut Tx,
    refund_id: &RefundId,
    payment_id: &SaleId,
    amount: Amount,
    reason: &str,
    hash: &str,
    transfer_id: &str,
) -> Result<(), CreditError> {
    sqlx::query(
        "insert into refund (id, payment_id, amount, reason, request_hash, transfer_id, created_at_ms)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(refund_id.as_str())
    .bind(payment_id.as_str())
    .bind(amount.get())
    .bind(reason)
    .bind(hash)
    .bind(transfer_id)
    .bind(now_ms())
    .execute(&mut **transaction)
    .await
    // A concurrent refund with the same id committed first: this one rolls back whole.
    .on_unique_violation(|| CreditError::IdempotencyKeyReused)?;
    Ok(())
}

async fn find_refund(
    database: &Database,
    refund_id: &RefundId,
) -> Result<Option<(String, RefundState)>, CreditError> {
    let row = sqlx::query(
        "select id, payment_id, amount, request_hash, transfer_id from refund where id = $1",
    )
    .bind(refund_id.as_str())
    .fetch_optional(database.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((
        row.try_get("request_hash")?,
        RefundState {
            refund_id: row.try_get("id")?,
            payment_id: row.try_get("payment_id")?,
            amount: row.try_get::<i64, _>("amount")?.to_string(),
            transfer_id: row.try_get("transfer_id")?,
        },
    )))
}
