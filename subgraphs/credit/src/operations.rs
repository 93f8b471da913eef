//! Money-moving operations on behalf of a person: top-up and sending credits. Each runs
//! in one write transaction that claims the idempotency key, applies the limits, moves
//! the money and stores the receipt; a refusal rolls all of it back.

use c9pay_platform::{database::Database, id::UserId, money::Amount, time::now_ms};
use serde::{Deserialize, Serialize};

use crate::{
    db,
    directory::UserDirectory,
    domain::{Transfer, TransferKind},
    error::CreditError,
    funding::FundingProvider,
    idempotency::{self, Claim, IdempotencyKey},
    ledger::{self, Movement, Tx},
};

/// What a money-moving mutation returns, and what a replay returns again.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub transfer_id: String,
    pub kind: String,
    pub amount: i64,
    pub memo: Option<String>,
    pub created_at_ms: i64,
    /// The person's balance right after the transfer.
    pub balance_after: i64,
    pub counterparty_user_id: Option<String>,
}

impl Receipt {
    pub fn of(
        transfer: &Transfer,
        balance_after: Amount,
        counterparty_user_id: Option<&UserId>,
    ) -> Self {
        Self {
            transfer_id: transfer.id.to_string(),
            kind: transfer.kind.as_str().to_string(),
            amount: transfer.amount.get(),
            memo: transfer.memo.clone(),
            created_at_ms: transfer.created_at_ms,
            balance_after: balance_after.get(),
            counterparty_user_id: counterparty_user_id.map(ToString::to_string),
        }
    }
}

/// Limits on top-ups, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct TopUpLimits {
    pub single_max: Amount,
    pub daily_max: Amount,
}

pub const MEMO_LENGTH_MAX_CHARS: usize = 140;

pub fn parse_memo(memo: Option<&str>) -> Result<Option<String>, CreditError> {
    let Some(memo) = memo.map(str::trim).filter(|memo| !memo.is_empty()) else {
        return Ok(None);
    };
    if memo.chars().count() > MEMO_LENGTH_MAX_CHARS || memo.chars().any(char::is_control) {
        return Err(CreditError::InvalidMemo);
    }
    Ok(Some(memo.to_string()))
}

async fn balance_of(
    transaction: &mut Tx,
    account_id: &c9pay_platform::id::AccountId,
) -> Result<Amount, CreditError> {
    use sqlx::Row;
    let row = sqlx::query("select balance from account where id = $1")
        .bind(account_id.as_str())
        .fetch_one(&mut **transaction)
        .await?;
    Ok(Amount::from_stored(row.try_get("balance")?))
}

#[derive(Serialize)]
struct TopUpInput<'a> {
    amount: i64,
    user: &'a str,
}

/// Moves `amount` from the funding account into the person's wallet after the funding
/// provider approves the charge.
pub async fn top_up(
    database: &Database,
    provider: &dyn FundingProvider,
    limits: TopUpLimits,
    user_id: &UserId,
    amount: i64,
    key: &str,
) -> Result<Receipt, CreditError> {
    let key = IdempotencyKey::parse(key)?;
    let amount = Amount::parse_positive(amount)?;
    if amount > limits.single_max {
        return Err(CreditError::TopUpLimitExceeded(format!(
            "a single top-up may be at most {} credits",
            limits.single_max
        )));
    }
    let hash = idempotency::request_hash(
        "topUp",
        &TopUpInput {
            amount: amount.get(),
            user: user_id.as_str(),
        },
    )?;
    let funding = db::funding_account(database).await?;
    let wallet = db::ensure_user_account(database, user_id).await?;

    let mut transaction = database.begin_write().await?;
    if let Claim::Replay(receipt) =
        idempotency::claim(&mut transaction, user_id.as_str(), &key, "topUp", &hash).await?
    {
        return Ok(receipt);
    }
    add_to_daily_total(&mut transaction, user_id, amount, limits.daily_max).await?;
    // The provider is idempotent by reference, so the retry that follows a lost answer
    // presents the same charge again rather than a second one.
    let reference = format!("{}:{}", user_id, key.as_str());
    let receipt = provider
        .charge(user_id, amount, &reference)
        .await
        .map_err(CreditError::FundingDeclined)?;
    let movement = Movement {
        debit: &funding.reference(),
        credit: &wallet.reference(),
        amount,
        kind: TransferKind::TopUp,
        reference: Some(&receipt.provider_reference),
        memo: None,
    };
    let transfer = ledger::post(&mut transaction, movement).await?;
    // The person's other devices follow their wallet through `walletActivity`: a top-up
    // moves it as much as a payment does, so it is in the outbox too (as money received).
    ledger::record_event(&mut transaction, &transfer, None, None, Some(user_id)).await?;
    let result = Receipt::of(
        &transfer,
        balance_of(&mut transaction, &wallet.id).await?,
        None,
    );
    idempotency::complete(&mut transaction, user_id.as_str(), &key, &result).await?;
    transaction.commit().await?;
    crate::events::announce();
    Ok(result)
}

/// Counts a top-up against today's limit: a conditional update, so concurrent top-ups
/// cannot together pass the limit that each alone respects.
async fn add_to_daily_total(
    transaction: &mut Tx,
    user_id: &UserId,
    amount: Amount,
    daily_max: Amount,
) -> Result<(), CreditError> {
    let day = c9pay_platform::time::from_ms(now_ms())
        .format("%Y-%m-%d")
        .to_string();
    sqlx::query("insert into top_up_day (user_id, day, total) values ($1, $2, 0) on conflict (user_id, day) do nothing")
        .bind(user_id.as_str())
        .bind(&day)
        .execute(&mut **transaction)
        .await?;
    let counted = sqlx::query("update top_up_day set total = total + $1 where user_id = $2 and day = $3 and total + $1 <= $4")
        .bind(amount.get())
        .bind(user_id.as_str())
        .bind(&day)
        .bind(daily_max.get())
        .execute(&mut **transaction)
        .await?;
    if counted.rows_affected() == 1 {
        Ok(())
    } else {
        Err(CreditError::TopUpLimitExceeded(format!(
            "top-ups may total at most {daily_max} credits per day"
        )))
    }
}

#[derive(Serialize)]
struct SendInput<'a> {
    to: &'a str,
    amount: i64,
    memo: Option<&'a str>,
}

/// A gift from one person to another, as the sender asked for it.
pub struct Gift<'a> {
    pub sender: &'a UserId,
    pub recipient: &'a UserId,
    pub amount: i64,
    pub memo: Option<&'a str>,
    pub idempotency_key: &'a str,
}

/// Sends a gift.
pub async fn send_credits(
    database: &Database,
    directory: &UserDirectory,
    gift: Gift<'_>,
    request_id: &str,
) -> Result<Receipt, CreditError> {
    let Gift {
        sender,
        recipient,
        amount,
        memo,
        idempotency_key,
    } = gift;
    let key = IdempotencyKey::parse(idempotency_key)?;
    let amount = Amount::parse_positive(amount)?;
    let memo = parse_memo(memo)?;
    if sender == recipient {
        return Err(CreditError::SelfTransfer);
    }
    let hash = idempotency::request_hash(
        "sendCredits",
        &SendInput {
            to: recipient.as_str(),
            amount: amount.get(),
            memo: memo.as_deref(),
        },
    )?;
    // A replay needs no recipient check; look for one before asking users.
    {
        let mut transaction = database.begin_write().await?;
        if let Claim::Replay(receipt) = idempotency::claim(
            &mut transaction,
            sender.as_str(),
            &key,
            "sendCredits",
            &hash,
        )
        .await?
        {
            return Ok(receipt);
        }
        // Release the claim: the effect runs in its own transaction below.
        transaction.rollback().await?;
    }
    if !directory.exists(recipient, request_id).await? {
        return Err(CreditError::RecipientNotFound);
    }
    let from = db::ensure_user_account(database, sender).await?;
    let to = db::ensure_user_account(database, recipient).await?;

    let mut transaction = database.begin_write().await?;
    if let Claim::Replay(receipt) = idempotency::claim(
        &mut transaction,
        sender.as_str(),
        &key,
        "sendCredits",
        &hash,
    )
    .await?
    {
        return Ok(receipt);
    }
    let movement = Movement {
        debit: &from.reference(),
        credit: &to.reference(),
        amount,
        kind: TransferKind::Gift,
        reference: None,
        memo: memo.as_deref(),
    };
    let transfer = ledger::post(&mut transaction, movement).await?;
    ledger::record_event(
        &mut transaction,
        &transfer,
        Some(sender),
        None,
        Some(recipient),
    )
    .await?;
    let result = Receipt::of(
        &transfer,
        balance_of(&mut transaction, &from.id).await?,
        Some(recipient),
    );
    idempotency::complete(&mut transaction, sender.as_str(), &key, &result).await?;
    transaction.commit().await?;
    crate::events::announce();
    Ok(result)
}
