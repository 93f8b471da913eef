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
    .execute(database.writer())
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
    .execute(database.writer())
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

/// What an administrator watches of the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statistics {
    /// Transfers made at or after the given time.
    pub transfers: i64,
    /// Their amounts added up.
    pub volume: Amount,
    /// What people hold in their wallets, added up.
    pub user_balances: Amount,
}

/// Counts transfers made at or after `since_ms` and adds up their amounts and the
/// people's balances (user accounts have no shards).
pub async fn statistics(database: &Database, since_ms: i64) -> Result<Statistics, CreditError> {
    let row = sqlx::query(
        "select (select count(*) from transfer where created_at_ms >= $1) as transfers,
                cast((select coalesce(sum(amount), 0) from transfer where created_at_ms >= $1) as bigint) as volume,
                cast((select coalesce(sum(balance), 0) from account where owner_kind = 'user') as bigint) as user_balances",
    )
    .bind(since_ms)
    .fetch_one(database.pool())
    .await?;
    Ok(Statistics {
        transfers: row.try_get("transfers")?,
        volume: Amount::from_stored(row.try_get("volume")?),
        user_balances: Amount::from_stored(row.try_get("user_balances")?),
    })
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

/// An account's own-row balance inside a transaction (user accounts have no shards).
pub async fn account_balance_in(
    transaction: &mut crate::ledger::Tx,
    account_id: &AccountId,
) -> Result<Amount, CreditError> {
    let row = sqlx::query("select balance from account where id = $1")
        .bind(account_id.as_str())
        .fetch_one(&mut **transaction)
        .await?;
    Ok(Amount::from_stored(row.try_get("balance")?))
}

/// One line of an account's history.
#[derive(Clone, Debug)]
pub struct HistoryLine {
    pub transfer: Transfer,
    /// Whether the account was credited (money came in) or debited.
    pub incoming: bool,
    pub counterparty_kind: OwnerKind,
    pub counterparty_owner_id: String,
}

/// Filters on history, all optional.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    pub kinds: Vec<TransferKind>,
    pub incoming: Option<bool>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// An account's transfers, newest first, after the `(created_at_ms, id)` cursor.
pub async fn history(
    database: &Database,
    account_id: &AccountId,
    before: Option<(i64, String)>,
    limit: i64,
    filter: &HistoryFilter,
) -> Result<Vec<HistoryLine>, CreditError> {
    let mut sql = String::from(
        "select transfer.id, transfer.debit_account_id, transfer.credit_account_id, transfer.amount, transfer.kind,
                transfer.reference, transfer.memo, transfer.created_at_ms,
                counterparty.owner_kind as counterparty_kind, counterparty.owner_id as counterparty_owner_id
         from transfer
         join account counterparty on counterparty.id =
             case when transfer.debit_account_id = $1 then transfer.credit_account_id else transfer.debit_account_id end
         where (transfer.debit_account_id = $1 or transfer.credit_account_id = $1)",
    );
    let mut next = 2;
    // Every value is bound as a parameter; only placeholders are formatted into the SQL.
    let mut query_parts: Vec<QueryValue> = Vec::new();
    if let Some((created_at_ms, id)) = before {
        sql.push_str(&format!(
            " and (transfer.created_at_ms < ${next} or (transfer.created_at_ms = ${next} and transfer.id < ${}))",
            next + 1
        ));
        next += 2;
        query_parts.push(QueryValue::Int(created_at_ms));
        query_parts.push(QueryValue::Text(id));
    }
    if !filter.kinds.is_empty() {
        sql.push_str(&format!(
            " and transfer.kind in ({})",
            placeholders(next, filter.kinds.len())
        ));
        next += filter.kinds.len();
        query_parts.extend(
            filter
                .kinds
                .iter()
                .map(|kind| QueryValue::Text(kind.as_str().to_string())),
        );
    }
    match filter.incoming {
        Some(true) => sql.push_str(" and transfer.credit_account_id = $1"),
        Some(false) => sql.push_str(" and transfer.debit_account_id = $1"),
        None => {}
    }
    if let Some(since_ms) = filter.since_ms {
        sql.push_str(&format!(" and transfer.created_at_ms >= ${next}"));
        next += 1;
        query_parts.push(QueryValue::Int(since_ms));
    }
    if let Some(until_ms) = filter.until_ms {
        sql.push_str(&format!(" and transfer.created_at_ms < ${next}"));
        next += 1;
        query_parts.push(QueryValue::Int(until_ms));
    }
    sql.push_str(&format!(
        " order by transfer.created_at_ms desc, transfer.id desc limit ${next}"
    ));
    query_parts.push(QueryValue::Int(limit));

    let mut query = sqlx::query(&sql).bind(account_id.as_str());
    for value in query_parts {
        query = match value {
            QueryValue::Int(value) => query.bind(value),
            QueryValue::Text(value) => query.bind(value),
        };
    }
    let rows = query.fetch_all(database.pool()).await?;
    rows.iter()
        .map(|row| {
            let transfer = Transfer {
                id: crate::domain::TransferId::parse(&row.try_get::<String, _>("id")?)?,
                debit_account_id: AccountId::parse(&row.try_get::<String, _>("debit_account_id")?)?,
                credit_account_id: AccountId::parse(
                    &row.try_get::<String, _>("credit_account_id")?,
                )?,
                amount: Amount::from_stored(row.try_get("amount")?),
                kind: TransferKind::parse(&row.try_get::<String, _>("kind")?)?,
                reference: row.try_get("reference")?,
                memo: row.try_get("memo")?,
                created_at_ms: row.try_get("created_at_ms")?,
            };
            Ok(HistoryLine {
                incoming: &transfer.credit_account_id == account_id,
                transfer,
                counterparty_kind: OwnerKind::parse(
                    &row.try_get::<String, _>("counterparty_kind")?,
                )?,
                counterparty_owner_id: row.try_get("counterparty_owner_id")?,
            })
        })
        .collect()
}

enum QueryValue {
    Int(i64),
    Text(String),
}
