//! The ledger engine: every change of a balance happens here, inside the caller's write
//! transaction, by conditional updates. Nothing reads a balance, computes, and writes
//! it back.
//!
//! How each side of a movement is applied depends on whose account it is:
//!
//! | account | debit | credit |
//! |---|---|---|
//! | user | row: `balance - held >= amount` or refused | row |
//! | store | sweep shards into the row, then as a user | a free shard row (see [`add_to_shard`]) |
//! | system | a free shard row (may go negative) | a free shard row |
//!
//! Shards exist for the hot-account case: when every payment goes to one store, each
//! payment locks one of [`SHARDS`] rows instead of all of them locking the same one.
//!
//! Lock order, to keep concurrent transactions from deadlocking: user account rows (in
//! id order), then shard rows, then store account rows (only refunds lock a store's
//! row). Every function that takes more than one lock respects it.

use c9pay_platform::{id::AccountId, money::Amount, time::now_ms};
use rand::Rng;
use sqlx::{Any, Row, Transaction};

use crate::{
    domain::{Hold, HoldId, HoldStatus, OwnerKind, Transfer, TransferId, TransferKind},
    error::CreditError,
};

pub type Tx = Transaction<'static, Any>;

/// Shard rows per store or system account. More shards means less contention on a busy
/// store and a little more work to read or refund it.
pub const SHARDS: u32 = 16;

/// Whether the transaction is on PostgreSQL (else SQLite).
fn on_postgres(transaction: &Tx) -> bool {
    transaction.backend_name() == "PostgreSQL"
}

/// The two facts about an account the engine needs to decide how to touch it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRef {
    pub id: AccountId,
    pub owner_kind: OwnerKind,
}

/// A movement to post now.
pub struct Movement<'a> {
    pub debit: &'a AccountRef,
    pub credit: &'a AccountRef,
    pub amount: Amount,
    pub kind: TransferKind,
    pub reference: Option<&'a str>,
    pub memo: Option<&'a str>,
}

fn check_amount(amount: Amount) -> Result<Amount, CreditError> {
    Ok(Amount::parse_positive(amount.get())?)
}

/// Moves money now: debit, credit and the immutable transfer row, in `transaction`.
pub async fn post(transaction: &mut Tx, movement: Movement<'_>) -> Result<Transfer, CreditError> {
    post_with_id(transaction, movement, TransferId::generate()).await
}

/// [`post`], with the transfer id chosen by the caller (who recorded it elsewhere first).
pub async fn post_with_id(
    transaction: &mut Tx,
    movement: Movement<'_>,
    transfer_id: TransferId,
) -> Result<Transfer, CreditError> {
    let amount = check_amount(movement.amount)?;
    if movement.debit.id == movement.credit.id {
        return Err(CreditError::SelfTransfer);
    }
    // Lock order: a user's row before anything else; between two users, by id.
    let debit_first = match (movement.debit.owner_kind, movement.credit.owner_kind) {
        (OwnerKind::User, OwnerKind::User) => movement.debit.id < movement.credit.id,
        (_, OwnerKind::User) => false,
        _ => true,
    };
    if debit_first {
        debit(transaction, movement.debit, amount).await?;
        credit_account(transaction, movement.credit, amount).await?;
    } else {
        credit_account(transaction, movement.credit, amount).await?;
        debit(transaction, movement.debit, amount).await?;
    }
    insert_transfer(
        transaction,
        Transfer {
            id: transfer_id,
            debit_account_id: movement.debit.id.clone(),
            credit_account_id: movement.credit.id.clone(),
            amount,
            kind: movement.kind,
            reference: movement.reference.map(str::to_string),
            memo: movement.memo.map(str::to_string),
            created_at_ms: now_ms(),
        },
        None,
    )
    .await
}

async fn debit(
    transaction: &mut Tx,
    account: &AccountRef,
    amount: Amount,
) -> Result<(), CreditError> {
    match account.owner_kind {
        OwnerKind::System => add_to_shard(transaction, &account.id, -amount.get()).await,
        OwnerKind::Store => {
            sweep_shards(transaction, &account.id).await?;
            debit_row(transaction, &account.id, amount).await
        }
        OwnerKind::User => debit_row(transaction, &account.id, amount).await,
    }
}

async fn credit_account(
    transaction: &mut Tx,
    account: &AccountRef,
    amount: Amount,
) -> Result<(), CreditError> {
    match account.owner_kind {
        OwnerKind::User => {
            let updated = sqlx::query("update account set balance = balance + $1 where id = $2")
                .bind(amount.get())
                .bind(account.id.as_str())
                .execute(&mut **transaction)
                .await?;
            if updated.rows_affected() == 1 {
                Ok(())
            } else {
                Err(CreditError::AccountNotFound)
            }
        }
        OwnerKind::Store | OwnerKind::System => {
            add_to_shard(transaction, &account.id, amount.get()).await
        }
    }
}

/// Takes `amount` from an account's own row only if it can afford it (after holds): the
/// condition and the change are one statement.
async fn debit_row(
    transaction: &mut Tx,
    account_id: &AccountId,
    amount: Amount,
) -> Result<(), CreditError> {
    let row = sqlx::query(
        "update account set balance = balance - $1
         where id = $2 and (owner_kind = 'system' or balance - held >= $1)
         returning owner_kind, balance, held",
    )
    .bind(amount.get())
    .bind(account_id.as_str())
    .fetch_optional(&mut **transaction)
    .await?;
    let Some(row) = row else {
        return Err(insufficient_or_missing(transaction, account_id).await?);
    };
    let owner_kind = OwnerKind::parse(&row.try_get::<String, _>("owner_kind")?)?;
    let available = row.try_get::<i64, _>("balance")? - row.try_get::<i64, _>("held")?;
    assert!(
        owner_kind.may_overdraw() || available >= 0,
        "account {account_id} went below zero after a debit"
    );
    Ok(())
}

async fn insufficient_or_missing(
    transaction: &mut Tx,
    account_id: &AccountId,
) -> Result<CreditError, CreditError> {
    let exists = sqlx::query("select 1 as found from account where id = $1")
        .bind(account_id.as_str())
        .fetch_optional(&mut **transaction)
        .await?;
    Ok(if exists.is_some() {
        CreditError::InsufficientCredit
    } else {
        CreditError::AccountNotFound
    })
}

/// Adds `delta` to one of the account's shard rows. On PostgreSQL, to a shard row no
/// other transaction holds (`skip locked`), or else to a new shard row: concurrent
/// payments to one store then do not wait for each other's commits, and a busy account
/// grows as many shards (up to [`SHARDS`]) as it has payments in flight. Only when all of
/// them exist and are taken does a transaction wait, for a random one. SQLite runs one
/// writer at a time and always takes a random shard.
async fn add_to_shard(
    transaction: &mut Tx,
    account_id: &AccountId,
    delta: i64,
) -> Result<(), CreditError> {
    if on_postgres(transaction) {
        let free = sqlx::query(
            "update account_shard set balance = balance + $2
             where account_id = $1 and shard = (
                 select shard from account_shard where account_id = $1
                 limit 1 for update skip locked)",
        )
        .bind(account_id.as_str())
        .bind(delta)
        .execute(&mut **transaction)
        .await?;
        if free.rows_affected() == 1 {
            return Ok(());
        }
        let new = sqlx::query(
            "insert into account_shard (account_id, shard, balance)
             select $1, candidate.shard, $2 from generate_series(0, $3 - 1) as candidate(shard)
             where not exists (
                 select 1 from account_shard where account_id = $1 and account_shard.shard = candidate.shard)
             order by random() limit 1
             on conflict (account_id, shard) do update set balance = account_shard.balance + excluded.balance",
        )
        .bind(account_id.as_str())
        .bind(delta)
        .bind(i64::from(SHARDS))
        .execute(&mut **transaction)
        .await?;
        if new.rows_affected() == 1 {
            return Ok(());
        }
    }
    let shard = i64::from(rand::thread_rng().gen_range(0..SHARDS));
    sqlx::query(
        "insert into account_shard (account_id, shard, balance) values ($1, $2, $3)
         on conflict (account_id, shard) do update set balance = account_shard.balance + excluded.balance",
    )
    .bind(account_id.as_str())
    .bind(shard)
    .bind(delta)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Moves what an account's shards hold into its own row, before a checked debit. Shards
/// are taken in index order, so that two sweeps of one account lock them in the same order.
///
/// Each shard is reduced by exactly the amount read from it (never set to zero), and the
/// row gains the same sum: a credit that commits to a shard between the read and the
/// update stays in its shard. The total is preserved however the two interleave; at
/// worst a just-committed credit is not yet counted, which can only make the debit check
/// stricter, never looser.
async fn sweep_shards(transaction: &mut Tx, account_id: &AccountId) -> Result<(), CreditError> {
    let shards = sqlx::query(
        "select shard, balance from account_shard where account_id = $1 and balance <> 0 order by shard",
    )
    .bind(account_id.as_str())
    .fetch_all(&mut **transaction)
    .await?;
    let mut swept: i64 = 0;
    for shard in shards {
        let index: i64 = shard.try_get("shard")?;
        let balance: i64 = shard.try_get("balance")?;
        // Only while the shard still holds what was read: a concurrent sweep of the same
        // account that committed in between has taken it (the update re-reads the row
        // once that sweep's lock is released), and subtracting it again would leave the
        // shard negative and count its credits twice in the row.
        let taken = sqlx::query(
            "update account_shard set balance = balance - $1
             where account_id = $2 and shard = $3 and balance >= $1",
        )
        .bind(balance)
        .bind(account_id.as_str())
        .bind(index)
        .execute(&mut **transaction)
        .await?;
        if taken.rows_affected() == 0 {
            continue;
        }
        swept = swept
            .checked_add(balance)
            .ok_or_else(|| CreditError::Corrupt(format!("shards of {account_id} overflow")))?;
    }
    if swept != 0 {
        sqlx::query("update account set balance = balance + $1 where id = $2")
            .bind(swept)
            .bind(account_id.as_str())
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}

async fn insert_transfer(
    transaction: &mut Tx,
    transfer: Transfer,
    hold_id: Option<&HoldId>,
) -> Result<Transfer, CreditError> {
    sqlx::query(
        "insert into transfer (id, debit_account_id, credit_account_id, amount, kind, hold_id, reference, memo, created_at_ms)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(transfer.id.as_str())
    .bind(transfer.debit_account_id.as_str())
    .bind(transfer.credit_account_id.as_str())
    .bind(transfer.amount.get())
    .bind(transfer.kind.as_str())
    .bind(hold_id.map(HoldId::as_str))
    .bind(transfer.reference.as_deref())
    .bind(transfer.memo.as_deref())
    .bind(transfer.created_at_ms)
    .execute(&mut **transaction)
    .await?;
    Ok(transfer)
}

/// Reserves `amount` of a user's credit for a later [`post_hold`]: the reservation and
/// its check are one conditional update, and the credit stays reserved until the hold
/// is posted, voided or expires.
pub async fn place_hold(
    transaction: &mut Tx,
    debit: &AccountRef,
    credit: &AccountRef,
    amount: Amount,
    expires_at_ms: i64,
) -> Result<Hold, CreditError> {
    let amount = check_hold(debit, credit, amount)?;
    let reserved = sqlx::query(
        "update account set held = held + $1 where id = $2 and balance - held >= $1 returning balance, held",
    )
    .bind(amount.get())
    .bind(debit.id.as_str())
    .fetch_optional(&mut **transaction)
    .await?;
    let Some(reserved) = reserved else {
        return Err(insufficient_or_missing(transaction, &debit.id).await?);
    };
    let available = reserved.try_get::<i64, _>("balance")? - reserved.try_get::<i64, _>("held")?;
    assert!(
        available >= 0,
        "account {} has negative available credit after a hold",
        debit.id
    );
    let hold = Hold {
        id: HoldId::generate(),
        debit_account_id: debit.id.clone(),
        credit_account_id: credit.id.clone(),
        amount,
        status: HoldStatus::Pending,
        expires_at_ms,
        transfer_id: None,
    };
    sqlx::query(
        "insert into hold (id, debit_account_id, credit_account_id, amount, status, expires_at_ms, created_at_ms)
         values ($1, $2, $3, $4, 'pending', $5, $6)",
    )
    .bind(hold.id.as_str())
    .bind(hold.debit_account_id.as_str())
    .bind(hold.credit_account_id.as_str())
    .bind(amount.get())
    .bind(expires_at_ms)
    .bind(now_ms())
    .execute(&mut **transaction)
    .await?;
    Ok(hold)
}

fn check_hold(debit: &AccountRef, credit: &AccountRef, amount: Amount) -> Result<Amount, CreditError> {
    let amount = check_amount(amount)?;
    if debit.owner_kind != OwnerKind::User {
        return Err(CreditError::Corrupt(format!(
            "holds are placed on user accounts, not {}",
            debit.id
        )));
    }
    if debit.id == credit.id {
        return Err(CreditError::SelfTransfer);
    }
    Ok(amount)
}

/// [`place_hold`] and [`post_hold`] at once, for a payment captured as soon as it is
/// authorised: the payer's available credit is checked and taken in one conditional
/// update (nothing happens in between that a reservation would guard), the payee is
/// credited, and the hold is recorded as posted with its transfer, exactly as the two
/// steps leave it.
pub async fn place_posted_hold(
    transaction: &mut Tx,
    movement: Movement<'_>,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<(Hold, Transfer), CreditError> {
    let Movement { debit, credit, amount, kind, reference, memo } = movement;
    let amount = check_hold(debit, credit, amount)?;
    // Lock order as in `post_hold`: the user's row, then the payee's shard.
    debit_row(transaction, &debit.id, amount).await?;
    credit_account(transaction, credit, amount).await?;
    let transfer_id = TransferId::generate();
    let hold = Hold {
        id: HoldId::generate(),
        debit_account_id: debit.id.clone(),
        credit_account_id: credit.id.clone(),
        amount,
        status: HoldStatus::Posted,
        expires_at_ms,
        transfer_id: Some(transfer_id.clone()),
    };
    sqlx::query(
        "insert into hold (id, debit_account_id, credit_account_id, amount, status, expires_at_ms, created_at_ms, resolved_at_ms, transfer_id)
         values ($1, $2, $3, $4, 'posted', $5, $6, $6, $7)",
    )
    .bind(hold.id.as_str())
    .bind(hold.debit_account_id.as_str())
    .bind(hold.credit_account_id.as_str())
    .bind(amount.get())
    .bind(expires_at_ms)
    .bind(now_ms)
    .bind(transfer_id.as_str())
    .execute(&mut **transaction)
    .await?;
    let transfer = insert_transfer(
        transaction,
        Transfer {
            id: transfer_id,
            debit_account_id: debit.id.clone(),
            credit_account_id: credit.id.clone(),
            amount,
            kind,
            reference: reference.map(str::to_string),
            memo: memo.map(str::to_string),
            created_at_ms: now_ms,
        },
        Some(&hold.id),
    )
    .await?;
    Ok((hold, transfer))
}

/// Why a hold could not be resolved.
#[derive(Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// It was resolved before, this way.
    Already(HoldStatus, Option<TransferId>),
    /// It is pending but past its expiry (the sweeper has not reached it yet).
    PastExpiry,
    NotFound,
}

/// Posts a pending, unexpired hold: the reserved credit leaves the payer and reaches the
/// payee, as one transfer. The hold's move out of `pending` is a conditional update, so
/// two concurrent posts (or a post racing a void) resolve it exactly once.
pub async fn post_hold(
    transaction: &mut Tx,
    hold_id: &HoldId,
    credit: &AccountRef,
    kind: TransferKind,
    reference: Option<&str>,
    now_ms: i64,
) -> Result<Result<Transfer, Unresolved>, CreditError> {
    let transfer_id = TransferId::generate();
    let resolved = sqlx::query(
        "update hold set status = 'posted', resolved_at_ms = $1, transfer_id = $2
         where id = $3 and status = 'pending' and expires_at_ms > $1
         returning debit_account_id, credit_account_id, amount",
    )
    .bind(now_ms)
    .bind(transfer_id.as_str())
    .bind(hold_id.as_str())
    .fetch_optional(&mut **transaction)
    .await?;
    let Some(resolved) = resolved else {
        return Ok(Err(why_unresolved(transaction, hold_id, now_ms).await?));
    };
    let debit_account_id = AccountId::parse(&resolved.try_get::<String, _>("debit_account_id")?)?;
    let credit_account_id = AccountId::parse(&resolved.try_get::<String, _>("credit_account_id")?)?;
    if credit_account_id != credit.id {
        return Err(CreditError::Corrupt(format!(
            "hold {hold_id} credits {credit_account_id}, not {}",
            credit.id
        )));
    }
    let amount = Amount::from_stored(resolved.try_get("amount")?);
    // The reserved credit leaves the payer's balance and its reservation together; the
    // check constraint `balance - held >= 0` holds throughout.
    let released = sqlx::query(
        "update account set balance = balance - $1, held = held - $1 where id = $2 and held >= $1",
    )
    .bind(amount.get())
    .bind(debit_account_id.as_str())
    .execute(&mut **transaction)
    .await?;
    assert!(
        released.rows_affected() == 1,
        "hold {hold_id} was pending but its account held less than it"
    );
    credit_account(transaction, credit, amount).await?;
    let transfer = insert_transfer(
        transaction,
        Transfer {
            id: transfer_id,
            debit_account_id,
            credit_account_id,
            amount,
            kind,
            reference: reference.map(str::to_string),
            memo: None,
            created_at_ms: now_ms,
        },
        Some(hold_id),
    )
    .await?;
    Ok(Ok(transfer))
}

/// Ends a pending hold without moving money (`Voided` by request, `Expired` by the
/// sweeper): the reservation is released. At most once, like [`post_hold`].
pub async fn release_hold(
    transaction: &mut Tx,
    hold_id: &HoldId,
    outcome: HoldStatus,
    now_ms: i64,
) -> Result<Result<(), Unresolved>, CreditError> {
    assert!(
        matches!(outcome, HoldStatus::Voided | HoldStatus::Expired),
        "a hold is released as voided or expired"
    );
    let released = sqlx::query(
        "update hold set status = $1, resolved_at_ms = $2 where id = $3 and status = 'pending'
         returning debit_account_id, amount",
    )
    .bind(outcome.as_str())
    .bind(now_ms)
    .bind(hold_id.as_str())
    .fetch_optional(&mut **transaction)
    .await?;
    let Some(released) = released else {
        return Ok(Err(why_unresolved(transaction, hold_id, now_ms).await?));
    };
    let amount: i64 = released.try_get("amount")?;
    let updated = sqlx::query("update account set held = held - $1 where id = $2 and held >= $1")
        .bind(amount)
        .bind(released.try_get::<String, _>("debit_account_id")?)
        .execute(&mut **transaction)
        .await?;
    assert!(
        updated.rows_affected() == 1,
        "hold {hold_id} was pending but its account held less than it"
    );
    Ok(Ok(()))
}

async fn why_unresolved(
    transaction: &mut Tx,
    hold_id: &HoldId,
    now_ms: i64,
) -> Result<Unresolved, CreditError> {
    let row = sqlx::query("select status, expires_at_ms, transfer_id from hold where id = $1")
        .bind(hold_id.as_str())
        .fetch_optional(&mut **transaction)
        .await?;
    let Some(row) = row else {
        return Ok(Unresolved::NotFound);
    };
    let status = HoldStatus::parse(&row.try_get::<String, _>("status")?)?;
    let transfer_id = row
        .try_get::<Option<String>, _>("transfer_id")?
        .as_deref()
        .map(TransferId::parse)
        .transpose()?;
    Ok(match status {
        HoldStatus::Pending if row.try_get::<i64, _>("expires_at_ms")? <= now_ms => {
            Unresolved::PastExpiry
        }
        status => Unresolved::Already(status, transfer_id),
    })
}

/// Pending holds whose time is up, oldest first, at most `limit`.
pub async fn expired_holds(
    pool: &sqlx::AnyPool,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<HoldId>, CreditError> {
    let rows = sqlx::query("select id from hold where status = 'pending' and expires_at_ms <= $1 order by expires_at_ms limit $2")
        .bind(now_ms)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok(HoldId::parse(&row.try_get::<String, _>("id")?)?))
        .collect()
}

/// Writes the outbox row for a movement someone watches, in the movement's transaction.
/// The caller calls [`crate::events::announce`] after committing.
///
/// On PostgreSQL the same statement queues the notification that tells every replica to
/// read the table when this transaction commits, and makes sure the transaction holds its
/// id before the row takes its sequence (the first CTE runs before the insert's rows
/// exist), which the dispatcher's commit watermark relies on (see [`crate::events`]).
/// Writers never wait for each other here.
pub async fn record_event(
    transaction: &mut Tx,
    transfer: &Transfer,
    payer: Option<&c9pay_platform::id::UserId>,
    store: Option<&c9pay_platform::id::StoreId>,
    recipient: Option<&c9pay_platform::id::UserId>,
) -> Result<(), CreditError> {
    let sql = if on_postgres(transaction) {
        "with first as materialized (select pg_current_xact_id() as xid, pg_notify($8, '') as notified)
         insert into ledger_event (transfer_id, kind, amount, payer_user_id, store_id, recipient_user_id, created_at_ms)
         select $1, $2, $3, $4, $5, $6, $7 from first"
    } else {
        "insert into ledger_event (transfer_id, kind, amount, payer_user_id, store_id, recipient_user_id, created_at_ms)
         values ($1, $2, $3, $4, $5, $6, $7)"
    };
    let mut query = sqlx::query(sql)
        .bind(transfer.id.as_str())
        .bind(transfer.kind.as_str())
        .bind(transfer.amount.get())
        .bind(payer.map(|id| id.as_str()))
        .bind(store.map(|id| id.as_str()))
        .bind(recipient.map(|id| id.as_str()))
        .bind(transfer.created_at_ms);
    if on_postgres(transaction) {
        query = query.bind(crate::events::NOTIFY_CHANNEL);
    }
    query.execute(&mut **transaction).await?;
    Ok(())
}
