//! Ledger queries. Balances change only inside [`post_transfer`], by conditional updates in
//! the same transaction as the transfer row: never read, compute, write back.

use std::collections::HashMap;

use c9pay_platform::{
    database::{Database, placeholders},
    id::{AccountId, StoreId, UserId},
    money::Amount,
    time::now_ms,
};
use sqlx::Row;

use crate::{
    domain::{Account, FUNDING, OwnerKind, Transfer, TransferKind},
    error::CreditError,
    ledger::{self, Movement},
};

/// An account's columns, with its balance including its shards (see [`crate::ledger`]).
/// Queries using it name the account table `account` and may filter on its columns.
const ACCOUNT_COLUMNS: &str = "account.id, account.owner_kind, account.owner_id, account.owner_user_id, account.held, account.created_at_ms,
     account.balance + cast(coalesce((select sum(account_shard.balance) from account_shard where account_shard.account_id = account.id), 0) as bigint) as balance";

fn account_from_row(row: &sqlx::any::AnyRow) -> Result<Account, CreditError> {
    let id: String = row.try_get("id")?;
    let owner_kind: String = row.try_get("owner_kind")?;
    let owner_user_id: Option<String> = row.try_get("owner_user_id")?;
    Ok(Account {
        id: AccountId::parse(&id)?,
        owner_kind: OwnerKind::parse(&owner_kind)?,
        owner_id: row.try_get("owner_id")?,
        owner_user_id: owner_user_id.as_deref().map(UserId::parse).transpose()?,
        balance: Amount::from_stored(row.try_get("balance")?),
        held: Amount::from_stored(row.try_get("held")?),
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

pub async fn find_account_by_owner(
    database: &Database,
    owner_kind: OwnerKind,
    owner_id: &str,
) -> Result<Option<Account>, CreditError> {
    let sql = format!(
        "select {ACCOUNT_COLUMNS} from account where account.owner_kind = $1 and account.owner_id = $2"
    );
    let row = sqlx::query(&sql)
        .bind(owner_kind.as_str())
        .bind(owner_id)
        .fetch_optional(database.pool())
        .await?;
    row.as_ref().map(account_from_row).transpose()
}

/// Accounts of one kind by owner id, in one query; owners without an account are absent.
async fn find_accounts_by_owner<'a>(
    database: &Database,
    owner_kind: OwnerKind,
    owner_ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<HashMap<String, Account>, CreditError> {
    if owner_ids.len() == 0 {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "select {ACCOUNT_COLUMNS} from account where account.owner_kind = $1 and account.owner_id in ({})",
        placeholders(2, owner_ids.len())
    );
    let mut query = sqlx::query(&sql).bind(owner_kind.as_str());
    for owner_id in owner_ids {
        query = query.bind(owner_id);
    }
    let rows = query.fetch_all(database.pool()).await?;
    rows.iter()
        .map(|row| account_from_row(row).map(|account| (account.owner_id.clone(), account)))
        .collect()
}

/// Wallets by user id, for the entity loader.
pub async fn find_user_accounts(
    database: &Database,
    user_ids: &[UserId],
) -> Result<HashMap<UserId, Account>, CreditError> {
    let mut accounts = find_accounts_by_owner(
        database,
        OwnerKind::User,
        user_ids.iter().map(UserId::as_str),
    )
    .await?;
    Ok(user_ids
        .iter()
        .filter_map(|user_id| {
            accounts
                .remove(user_id.as_str())
                .map(|account| (user_id.clone(), account))
        })
        .collect())
}

/// Store accounts by store id, for the entity loader.
pub async fn find_store_accounts(
    database: &Database,
    store_ids: &[StoreId],
) -> Result<HashMap<StoreId, Account>, CreditError> {
    let mut accounts = find_accounts_by_owner(
        database,
        OwnerKind::Store,
        store_ids.iter().map(StoreId::as_str),
    )
    .await?;
    Ok(store_ids
        .iter()
        .filter_map(|store_id| {
            accounts
                .remove(store_id.as_str())
                .map(|account| (store_id.clone(), account))
        })
        .collect())
}

/// The system account that top-ups are debited from (created by the first migration).
pub async fn funding_account(database: &Database) -> Result<Account, CreditError> {
    find_account_by_owner(database, OwnerKind::System, FUNDING)
        .await?
        .ok_or_else(|| CreditError::Corrupt("the funding account is missing".to_string()))
}

/// A person's wallet, created on first use. Idempotent and safe under concurrency: two
/// racing calls insert one row between them, and both read it back.
pub async fn ensure_user_account(
    database: &Database,
    user_id: &UserId,
) -> Result<Account, CreditError> {
    sqlx::query(
        "insert into account (id, owner_kind, owner_id, owner_user_id, balance, created_at_ms)
         values ($1, 'user', $2, null, 0, $3)
         on conflict (owner_kind, owner_id) do nothing",
    )
    .bind(AccountId::generate().as_str())
    .bind(user_id.as_str())
    .bind(now_ms())
    .execute(database.pool())
    .await?;
    find_account_by_owner(database, OwnerKind::User, user_id.as_str())
        .await?
        .ok_or(CreditError::AccountNotFound)
}

/// A store's account, created when the store opens. Idempotent: a retried call returns
/// the same account; a call naming a different owner for an existing store account is a
/// conflict, because the owner recorded here decides who may read the account.
pub async fn ensure_store_account(
    database: &Database,
    store_id: &StoreId,
    owner_user_id: &UserId,
) -> Result<Account, CreditError> {
    sqlx::query(
        "insert into account (id, owner_kind, owner_id, owner_user_id, balance, created_at_ms)
         values ($1, 'store', $2, $3, 0, $4)
         on conflict (owner_kind, owner_id) do nothing",
    )
    .bind(AccountId::generate().as_str())
    .bind(store_id.as_str())
    .bind(owner_user_id.as_str())
    .bind(now_ms())
    .execute(database.pool())
    .await?;
    let account = find_account_by_owner(database, OwnerKind::Store, store_id.as_str())
        .await?
        .ok_or(CreditError::AccountNotFound)?;
    if account.owner_user_id.as_ref() != Some(owner_user_id) {
        return Err(CreditError::StoreOwnerConflict);
    }
    Ok(account)
}

/// Moves `amount` between two accounts now, in one write transaction of its own (see
/// [`ledger::post`] for how each side is applied).
pub async fn post_transfer(
    database: &Database,
    debit: &Account,
    credit: &Account,
    amount: Amount,
    kind: TransferKind,
) -> Result<Transfer, CreditError> {
    let mut transaction = database.begin_write().await?;
    let transfer = ledger::post(
        &mut transaction,
        Movement {
            debit: &debit.reference(),
            credit: &credit.reference(),
            amount,
            kind,
            reference: None,
            memo: None,
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(transfer)
}

/// The sum of every balance. Double entry makes it zero at every commit; anything else is
/// a bug in the ledger.
pub async fn balance_total(database: &Database) -> Result<i64, CreditError> {
    let row = sqlx::query(
        "select cast((select coalesce(sum(balance), 0) from account) + (select coalesce(sum(balance), 0) from account_shard) as bigint) as total",
    )
    .fetch_one(database.pool())
    .await?;
    Ok(row.try_get("total")?)
}

/// Accounts whose balance differs from what their transfers add up to (credits minus
/// debits). Empty in a healthy ledger.
pub async fn accounts_out_of_balance(database: &Database) -> Result<Vec<AccountId>, CreditError> {
    let rows = sqlx::query(
        "select account.id as id from account
         where account.balance
             + coalesce((select sum(account_shard.balance) from account_shard where account_shard.account_id = account.id), 0)
           <> coalesce((select sum(transfer.amount) from transfer where transfer.credit_account_id = account.id), 0)
           - coalesce((select sum(transfer.amount) from transfer where transfer.debit_account_id = account.id), 0)
         order by account.id",
    )
    .fetch_all(database.pool())
    .await?;
    rows.iter()
        .map(|row| Ok(AccountId::parse(&row.try_get::<String, _>("id")?)?))
        .collect()
}
