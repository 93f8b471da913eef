//! Sales, their lines, and refunds.
//!
//! A sale is written as `pending` and committed before credit is asked for the money,
//! so that whatever happens next there is a record to resolve; it then moves once to
//! `paid` or `failed` (updates are conditional on `status = 'pending'`, so two drivers
//! of the same sale cannot both move it). Refunds reserve their amount against the sale
//! with one conditional update (`refunded + amount <= total`) before credit is asked.

use c9pay_platform::{
    database::{Database, ResultExt},
    id::{ProductId, StoreId, UserId},
    money::Amount,
    time::now_ms,
};
use sqlx::{Row, any::AnyRow};

use crate::{
    domain::sale::{IdempotencyKey, PricedLine, RefundId, SaleId, Seller},
    error::StoresError,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "SaleStatus")]
pub enum SaleStatus {
    /// Recorded; the ledger has not confirmed the payment yet.
    Pending,
    /// The payer's credit moved to the store.
    Paid,
    /// The ledger refused the payment; nothing moved.
    Failed,
}

impl SaleStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Result<Self, StoresError> {
        match value {
            "pending" => Ok(Self::Pending),
            "paid" => Ok(Self::Paid),
            "failed" => Ok(Self::Failed),
            other => Err(StoresError::Corrupt(format!("sale status {other:?}"))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "RefundStatus")]
pub enum RefundStatus {
    /// Reserved against the sale; the ledger has not confirmed it yet.
    Pending,
    /// The credit went back to the payer.
    Completed,
    /// The ledger refused it; the reservation was released.
    Failed,
}

impl RefundStatus {
    fn parse(value: &str) -> Result<Self, StoresError> {
        match value {
            "pending" => Ok(Self::Pending),
            "completed" => Ok(Self::Completed),
            "failed" => Ok(Self::Failed),
            other => Err(StoresError::Corrupt(format!("refund status {other:?}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sale {
    pub id: SaleId,
    pub store_id: StoreId,
    pub seller_kind: String,
    pub seller_id: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub status: SaleStatus,
    pub total: Amount,
    pub payer_user_id: Option<UserId>,
    pub hold_id: Option<String>,
    pub transfer_id: Option<String>,
    pub failure_code: Option<String>,
    pub refunded: Amount,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleLine {
    pub sale_id: SaleId,
    pub line_number: i64,
    pub product_id: ProductId,
    pub name: String,
    pub unit_price: Amount,
    pub quantity: i64,
    pub line_total: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub sale_id: SaleId,
    pub amount: Amount,
    pub reason: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub status: RefundStatus,
    pub transfer_id: Option<String>,
    pub failure_code: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const SALE_COLUMNS: &str = "id, store_id, seller_kind, seller_id, idempotency_key, request_hash, status, total, payer_user_id, hold_id, transfer_id, failure_code, refunded, created_at_ms, updated_at_ms";
const SALE_LINE_COLUMNS: &str = "sale_id, line_number, product_id, name, unit_price, quantity, line_total";
const REFUND_COLUMNS: &str = "id, sale_id, amount, reason, idempotency_key, request_hash, status, transfer_id, failure_code, created_at_ms, updated_at_ms";

fn stored_amount(row: &AnyRow, column: &str) -> Result<Amount, StoresError> {
    Ok(Amount::from_stored(row.try_get::<i64, _>(column)?))
}

fn sale_from_row(row: &AnyRow) -> Result<Sale, StoresError> {
    let payer_user_id: Option<String> = row.try_get("payer_user_id")?;
    Ok(Sale {
        id: SaleId::parse(&row.try_get::<String, _>("id")?)?,
        store_id: StoreId::parse(&row.try_get::<String, _>("store_id")?)?,
        seller_kind: row.try_get("seller_kind")?,
        seller_id: row.try_get("seller_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        request_hash: row.try_get("request_hash")?,
        status: SaleStatus::parse(&row.try_get::<String, _>("status")?)?,
        total: stored_amount(row, "total")?,
        payer_user_id: payer_user_id.as_deref().map(UserId::parse).transpose()?,
        hold_id: row.try_get("hold_id")?,
        transfer_id: row.try_get("transfer_id")?,
        failure_code: row.try_get("failure_code")?,
        refunded: stored_amount(row, "refunded")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

fn sale_line_from_row(row: &AnyRow) -> Result<SaleLine, StoresError> {
    Ok(SaleLine {
        sale_id: SaleId::parse(&row.try_get::<String, _>("sale_id")?)?,
        line_number: row.try_get("line_number")?,
        product_id: ProductId::parse(&row.try_get::<String, _>("product_id")?)?,
        name: row.try_get("name")?,
        unit_price: stored_amount(row, "unit_price")?,
        quantity: row.try_get("quantity")?,
        line_total: stored_amount(row, "line_total")?,
    })
}

fn refund_from_row(row: &AnyRow) -> Result<Refund, StoresError> {
    Ok(Refund {
        id: RefundId::parse(&row.try_get::<String, _>("id")?)?,
        sale_id: SaleId::parse(&row.try_get::<String, _>("sale_id")?)?,
        amount: stored_amount(row, "amount")?,
        reason: row.try_get("reason")?,
        idempotency_key: row.try_get("idempotency_key")?,
        request_hash: row.try_get("request_hash")?,
        status: RefundStatus::parse(&row.try_get::<String, _>("status")?)?,
        transfer_id: row.try_get("transfer_id")?,
        failure_code: row.try_get("failure_code")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

pub async fn find_sale(database: &Database, id: &SaleId) -> Result<Option<Sale>, StoresError> {
    let sql = format!("select {SALE_COLUMNS} from sale where id = $1");
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(database.pool()).await?;
    row.as_ref().map(sale_from_row).transpose()
}

/// A store's sales of every status, newest first, older than the `(created_at_ms, id)`
/// cursor `before` when given, at most `limit`.
pub async fn store_sales(database: &Database, store_id: &StoreId, before: Option<(i64, String)>, limit: i64) -> Result<Vec<Sale>, StoresError> {
    let rows = match before {
        Some((created_at_ms, id)) => {
            let sql = format!(
                "select {SALE_COLUMNS} from sale where store_id = $1 and (created_at_ms < $2 or (created_at_ms = $2 and id < $3))
                 order by created_at_ms desc, id desc limit $4"
            );
            sqlx::query(&sql).bind(store_id.as_str()).bind(created_at_ms).bind(id).bind(limit).fetch_all(database.pool()).await?
        }
        None => {
            let sql = format!("select {SALE_COLUMNS} from sale where store_id = $1 order by created_at_ms desc, id desc limit $2");
            sqlx::query(&sql).bind(store_id.as_str()).bind(limit).fetch_all(database.pool()).await?
        }
    };
    rows.iter().map(sale_from_row).collect()
}

/// The paid sales of one bucket of [`takings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TakingsRow {
    /// Which bucket: 0 is the one starting at `first_bucket_start_ms`.
    pub bucket: i64,
    pub count: i64,
    pub total: Amount,
    pub refunded: Amount,
}

/// A store's paid sales made in `[since_ms, until_ms)`, added up per bucket of
/// `bucket_ms` counted from `first_bucket_start_ms` (at or before `since_ms`); buckets
/// without sales are absent. The database adds up, so a busy year is one small answer.
pub async fn takings(
    database: &Database,
    store_id: &StoreId,
    since_ms: i64,
    until_ms: i64,
    first_bucket_start_ms: i64,
    bucket_ms: i64,
) -> Result<Vec<TakingsRow>, StoresError> {
    assert!(first_bucket_start_ms <= since_ms, "the first bucket starts at or before `since`");
    assert!(bucket_ms > 0, "buckets have a length");
    let rows = sqlx::query(
        "select (created_at_ms - $1) / $2 as bucket, count(*) as sales,
                cast(sum(total) as bigint) as total, cast(sum(refunded) as bigint) as refunded
         from sale where store_id = $3 and status = 'paid' and created_at_ms >= $4 and created_at_ms < $5
         group by bucket order by bucket",
    )
    .bind(first_bucket_start_ms)
    .bind(bucket_ms)
    .bind(store_id.as_str())
    .bind(since_ms)
    .bind(until_ms)
    .fetch_all(database.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TakingsRow {
                bucket: row.try_get("bucket")?,
                count: row.try_get("sales")?,
                total: stored_amount(row, "total")?,
                refunded: stored_amount(row, "refunded")?,
            })
        })
        .collect()
}

/// Paid sales made at or after `since_ms`, in every store.
pub async fn paid_sales_since(database: &Database, since_ms: i64) -> Result<i64, StoresError> {
    let row = sqlx::query("select count(*) as sales from sale where status = 'paid' and created_at_ms >= $1")
        .bind(since_ms)
        .fetch_one(database.pool())
        .await?;
    Ok(row.try_get("sales")?)
}

/// Sales still pending that were recorded before `before_ms`, oldest first.
pub async fn pending_sales_before(database: &Database, before_ms: i64, limit: i64) -> Result<Vec<Sale>, StoresError> {
    let sql = format!("select {SALE_COLUMNS} from sale where status = 'pending' and created_at_ms < $1 order by created_at_ms, id limit $2");
    let rows = sqlx::query(&sql).bind(before_ms).bind(limit).fetch_all(database.pool()).await?;
    rows.iter().map(sale_from_row).collect()
}

/// Refunds still pending that were requested before `before_ms`, oldest first.
pub async fn pending_refunds_before(database: &Database, before_ms: i64, limit: i64) -> Result<Vec<Refund>, StoresError> {
    let sql = format!("select {REFUND_COLUMNS} from refund where status = 'pending' and created_at_ms < $1 order by created_at_ms, id limit $2");
    let rows = sqlx::query(&sql).bind(before_ms).bind(limit).fetch_all(database.pool()).await?;
    rows.iter().map(refund_from_row).collect()
}

pub async fn find_sale_by_key(database: &Database, store_id: &StoreId, key: &IdempotencyKey) -> Result<Option<Sale>, StoresError> {
    let sql = format!("select {SALE_COLUMNS} from sale where store_id = $1 and idempotency_key = $2");
    let row = sqlx::query(&sql).bind(store_id.as_str()).bind(key.as_str()).fetch_optional(database.pool()).await?;
    row.as_ref().map(sale_from_row).transpose()
}

pub async fn find_sale_lines(database: &Database, sale_id: &SaleId) -> Result<Vec<SaleLine>, StoresError> {
    let sql = format!("select {SALE_LINE_COLUMNS} from sale_line where sale_id = $1 order by line_number");
    let rows = sqlx::query(&sql).bind(sale_id.as_str()).fetch_all(database.pool()).await?;
    rows.iter().map(sale_line_from_row).collect()
}

/// What a new sale is made of.
pub struct NewSale<'a> {
    pub store_id: &'a StoreId,
    pub seller: &'a Seller,
    pub idempotency_key: &'a IdempotencyKey,
    pub request_hash: &'a str,
    pub total: Amount,
    pub lines: &'a [PricedLine],
}

/// Records a pending sale with its lines, in one transaction. `None` when the store
/// already has a sale with this idempotency key (a concurrent request won the race;
/// the caller reads that sale instead).
pub async fn insert_sale(database: &Database, new: NewSale<'_>) -> Result<Option<Sale>, StoresError> {
    let now = now_ms();
    let sale = Sale {
        id: SaleId::generate(),
        store_id: new.store_id.clone(),
        seller_kind: new.seller.kind().to_string(),
        seller_id: new.seller.id().to_string(),
        idempotency_key: new.idempotency_key.as_str().to_string(),
        request_hash: new.request_hash.to_string(),
        status: SaleStatus::Pending,
        total: new.total,
        payer_user_id: None,
        hold_id: None,
        transfer_id: None,
        failure_code: None,
        refunded: Amount::ZERO,
        created_at_ms: now,
        updated_at_ms: now,
    };
    let mut transaction = database.begin_write().await?;
    let inserted = sqlx::query(
        "insert into sale (id, store_id, seller_kind, seller_id, idempotency_key, request_hash, status, total, refunded, created_at_ms, updated_at_ms)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)",
    )
    .bind(sale.id.as_str())
    .bind(sale.store_id.as_str())
    .bind(sale.seller_kind.as_str())
    .bind(sale.seller_id.as_str())
    .bind(sale.idempotency_key.as_str())
    .bind(sale.request_hash.as_str())
    .bind(sale.status.as_str())
    .bind(sale.total.get())
    .bind(now)
    .execute(&mut *transaction)
    .await
    .map(|_| true)
    .on_unique_violation(|| StoresError::IdempotencyKeyReused);
    match inserted {
        Ok(_) => {}
        // The only unique constraint a fresh UUIDv7 id can hit is (store, key).
        Err(StoresError::IdempotencyKeyReused) => return Ok(None),
        Err(error) => return Err(error),
    }
    for (index, line) in new.lines.iter().enumerate() {
        let line_number = i64::try_from(index).map_err(|_| StoresError::Corrupt("line number".to_string()))?.saturating_add(1);
        sqlx::query(
            "insert into sale_line (sale_id, line_number, product_id, name, unit_price, quantity, line_total)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(sale.id.as_str())
        .bind(line_number)
        .bind(line.product_id.as_str())
        .bind(line.name.as_str())
        .bind(line.unit_price.get())
        .bind(line.quantity)
        .bind(line.line_total.get())
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(Some(sale))
}

/// Moves a pending sale to paid and returns it so; `None` if it was no longer pending.
pub async fn mark_sale_paid(database: &Database, id: &SaleId, payer: &UserId, hold_id: Option<&str>, transfer_id: &str) -> Result<Option<Sale>, StoresError> {
    let sql = format!(
        "update sale set status = 'paid', payer_user_id = $1, hold_id = $2, transfer_id = $3, updated_at_ms = $4
         where id = $5 and status = 'pending' returning {SALE_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(payer.as_str())
        .bind(hold_id)
        .bind(transfer_id)
        .bind(now_ms())
        .bind(id.as_str())
        .fetch_optional(database.pool())
        .await?;
    row.as_ref().map(sale_from_row).transpose()
}

/// Moves a pending sale to failed with the ledger's code; `false` if it was no longer
/// pending.
pub async fn mark_sale_failed(database: &Database, id: &SaleId, failure_code: &str) -> Result<bool, StoresError> {
    let result = sqlx::query("update sale set status = 'failed', failure_code = $1, updated_at_ms = $2 where id = $3 and status = 'pending'")
        .bind(failure_code)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(database.writer())
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn find_refund(database: &Database, id: &RefundId) -> Result<Option<Refund>, StoresError> {
    let sql = format!("select {REFUND_COLUMNS} from refund where id = $1");
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(database.pool()).await?;
    row.as_ref().map(refund_from_row).transpose()
}

pub async fn find_refund_by_key(database: &Database, sale_id: &SaleId, key: &IdempotencyKey) -> Result<Option<Refund>, StoresError> {
    let sql = format!("select {REFUND_COLUMNS} from refund where sale_id = $1 and idempotency_key = $2");
    let row = sqlx::query(&sql).bind(sale_id.as_str()).bind(key.as_str()).fetch_optional(database.pool()).await?;
    row.as_ref().map(refund_from_row).transpose()
}

/// A sale's refunds, oldest first.
pub async fn find_refunds_of_sale(database: &Database, sale_id: &SaleId) -> Result<Vec<Refund>, StoresError> {
    let sql = format!("select {REFUND_COLUMNS} from refund where sale_id = $1 order by created_at_ms, id");
    let rows = sqlx::query(&sql).bind(sale_id.as_str()).fetch_all(database.pool()).await?;
    rows.iter().map(refund_from_row).collect()
}

/// What a new refund is made of.
pub struct NewRefund<'a> {
    pub sale_id: &'a SaleId,
    pub amount: Amount,
    pub reason: &'a str,
    pub idempotency_key: &'a IdempotencyKey,
    pub request_hash: &'a str,
}

/// Reserves `amount` against the sale and records a pending refund, in one transaction.
/// The reservation is one conditional update, so concurrent refunds can never add up to
/// more than the sale: `REFUND_EXCEEDS_SALE` for the one that would. `None` when the sale
/// already has a refund with this key (the caller reads it instead).
pub async fn reserve_refund(database: &Database, new: NewRefund<'_>) -> Result<Option<Refund>, StoresError> {
    let now = now_ms();
    let refund = Refund {
        id: RefundId::generate(),
        sale_id: new.sale_id.clone(),
        amount: new.amount,
        reason: new.reason.to_string(),
        idempotency_key: new.idempotency_key.as_str().to_string(),
        request_hash: new.request_hash.to_string(),
        status: RefundStatus::Pending,
        transfer_id: None,
        failure_code: None,
        created_at_ms: now,
        updated_at_ms: now,
    };
    let mut transaction = database.begin_write().await?;
    let inserted = sqlx::query(
        "insert into refund (id, sale_id, amount, reason, idempotency_key, request_hash, status, created_at_ms, updated_at_ms)
         values ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
    )
    .bind(refund.id.as_str())
    .bind(refund.sale_id.as_str())
    .bind(refund.amount.get())
    .bind(refund.reason.as_str())
    .bind(refund.idempotency_key.as_str())
    .bind(refund.request_hash.as_str())
    .bind(now)
    .execute(&mut *transaction)
    .await
    .map(|_| true)
    .on_unique_violation(|| StoresError::IdempotencyKeyReused);
    match inserted {
        Ok(_) => {}
        Err(StoresError::IdempotencyKeyReused) => return Ok(None),
        Err(error) => return Err(error),
    }
    let reserved = sqlx::query(
        "update sale set refunded = refunded + $1, updated_at_ms = $2
         where id = $3 and status = 'paid' and refunded + $1 <= total",
    )
    .bind(refund.amount.get())
    .bind(now)
    .bind(refund.sale_id.as_str())
    .execute(&mut *transaction)
    .await?;
    if reserved.rows_affected() != 1 {
        // Dropping the transaction rolls the refund row back with it.
        return Err(StoresError::RefundExceedsSale);
    }
    transaction.commit().await?;
    Ok(Some(refund))
}

/// Marks a pending refund completed; `false` if it was no longer pending.
pub async fn complete_refund(database: &Database, id: &RefundId, transfer_id: &str) -> Result<bool, StoresError> {
    let result = sqlx::query("update refund set status = 'completed', transfer_id = $1, updated_at_ms = $2 where id = $3 and status = 'pending'")
        .bind(transfer_id)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(database.writer())
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks a pending refund failed and releases its reservation on the sale, in one
/// transaction; `false` (and nothing released) if it was no longer pending.
pub async fn fail_refund(database: &Database, refund: &Refund, failure_code: &str) -> Result<bool, StoresError> {
    let now = now_ms();
    let mut transaction = database.begin_write().await?;
    let failed = sqlx::query("update refund set status = 'failed', failure_code = $1, updated_at_ms = $2 where id = $3 and status = 'pending'")
        .bind(failure_code)
        .bind(now)
        .bind(refund.id.as_str())
        .execute(&mut *transaction)
        .await?;
    if failed.rows_affected() != 1 {
        return Ok(false);
    }
    let released = sqlx::query("update sale set refunded = refunded - $1, updated_at_ms = $2 where id = $3 and refunded >= $1")
        .bind(refund.amount.get())
        .bind(now)
        .bind(refund.sale_id.as_str())
        .execute(&mut *transaction)
        .await?;
    if released.rows_affected() != 1 {
        return Err(StoresError::Corrupt(format!("sale {} has less reserved than its pending refund {}", refund.sale_id, refund.id)));
    }
    transaction.commit().await?;
    Ok(true)
}
