//! `Sale`, `Refund`, `sell`, `refundSale` and `sale`.

use c9pay_platform::graphql::authenticated;
use async_graphql::{
    Context, ErrorExtensions, ID, InputObject, Object,
    connection::{Connection, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, client_error, code, to_graphql},
    graphql::principal,
    money::Amount,
    time::from_ms,
};
use chrono::{DateTime, Utc};

use super::entities::{Store, User, existing_store};
use crate::{
    credit::CreditClient,
    db::{
        self,
        sale::{RefundStatus, SaleStatus},
    },
    domain::sale::SaleId,
    error::StoresError,
    sales::{self, RefundInput, SellInput as SellRequest},
};

/// A checkout at a store, paid with one payment code.
pub struct Sale(pub db::sale::Sale);

#[Object(name = "Sale")]
impl Sale {
    /// `sal_…`; the ledger knows the payment by this id too.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn store(&self, context: &Context<'_>) -> async_graphql::Result<Store> {
        existing_store(context, self.0.store_id.clone()).await
    }

    async fn status(&self) -> SaleStatus {
        self.0.status
    }

    /// The sum of the lines, priced from the store's catalogue when the sale was made.
    async fn total(&self) -> Amount {
        self.0.total
    }

    async fn lines(&self, context: &Context<'_>) -> async_graphql::Result<Vec<SaleLine>> {
        let lines = db::sale::find_sale_lines(context.data::<Database>()?, &self.0.id).await.graphql()?;
        Ok(lines.into_iter().map(SaleLine).collect())
    }

    /// Who paid; null until the sale is paid.
    async fn payer(&self) -> Option<User> {
        self.0.payer_user_id.clone().map(|id| User { id })
    }

    /// Why the ledger refused the payment (`PAYMENT_CODE_EXPIRED`, `INSUFFICIENT_CREDIT`,
    /// …); null unless the sale failed.
    async fn failure_code(&self) -> Option<&str> {
        self.0.failure_code.as_deref()
    }

    /// How much of the total has been refunded or is being refunded.
    async fn refunded(&self) -> Amount {
        self.0.refunded
    }

    /// The sale's refunds, oldest first.
    async fn refunds(&self, context: &Context<'_>) -> async_graphql::Result<Vec<Refund>> {
        let refunds = db::sale::find_refunds_of_sale(context.data::<Database>()?, &self.0.id).await.graphql()?;
        Ok(refunds.into_iter().map(Refund).collect())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at_ms)
    }
}

/// One product in a sale, as it was sold.
pub struct SaleLine(pub db::sale::SaleLine);

#[Object(name = "SaleLine")]
impl SaleLine {
    async fn product_id(&self) -> ID {
        ID(self.0.product_id.to_string())
    }

    /// The product's name when it was sold.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The product's price when it was sold.
    async fn unit_price(&self) -> Amount {
        self.0.unit_price
    }

    /// 1 to 99.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }

    async fn line_total(&self) -> Amount {
        self.0.line_total
    }
}

/// Credit returned to the payer of a sale.
pub struct Refund(pub db::sale::Refund);

#[Object(name = "Refund")]
impl Refund {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn sale(&self, context: &Context<'_>) -> async_graphql::Result<Sale> {
        let sale = db::sale::find_sale(context.data::<Database>()?, &self.0.sale_id).await.graphql()?;
        sale.map(Sale)
            .ok_or(StoresError::Corrupt(format!("sale {} of refund {} is missing", self.0.sale_id, self.0.id)))
            .graphql()
    }

    async fn amount(&self) -> Amount {
        self.0.amount
    }

    async fn reason(&self) -> &str {
        &self.0.reason
    }

    async fn status(&self) -> RefundStatus {
        self.0.status
    }

    /// Why the ledger refused it; null unless it failed.
    async fn failure_code(&self) -> Option<&str> {
        self.0.failure_code.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at_ms)
    }
}

#[derive(InputObject)]
pub struct SaleItemInput {
    pub product_id: ID,
    /// 1 to 99 (`QUANTITY_INVALID` otherwise); lines of the same product are added up.
    pub quantity: i32,
}

#[derive(InputObject)]
pub struct SellInput {
    pub store_id: ID,
    /// 1 to 50 lines. Prices come from the store's catalogue, never from the client.
    pub items: Vec<SaleItemInput>,
    /// The token of the payer's payment code (what the QR encodes).
    pub payment_code: String,
    /// 1 to 64 characters of `[A-Za-z0-9_-]`, unique per store: a retry with the same key
    /// and the same input returns the same sale and never charges twice.
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct RefundSaleInput {
    pub sale_id: ID,
    /// Greater than zero; all refunds of a sale add up to at most its total.
    pub amount: Amount,
    /// 1 to 200 characters, shown to the payer.
    pub reason: String,
    /// 1 to 64 characters of `[A-Za-z0-9_-]`, unique per sale.
    pub idempotency_key: String,
}

/// The most sales one page of `Store.sales` holds, and how many without `first`.
pub const SALES_PAGE_SIZE_MAX: i32 = 100;
pub const SALES_PAGE_SIZE_DEFAULT: i32 = 20;

fn encode_cursor(sale: &db::sale::Sale) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", sale.created_at_ms, sale.id))
}

fn decode_cursor(cursor: &str) -> async_graphql::Result<(i64, String)> {
    let invalid = || client_error(code::INVALID_INPUT, "invalid cursor");
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid)?;
    let (created_at_ms, id) = text.split_once(':').ok_or_else(invalid)?;
    let id = SaleId::parse(id).map_err(|_| invalid())?;
    Ok((created_at_ms.parse().map_err(|_| invalid())?, id.to_string()))
}

/// A page of a store's sales, newest first (the caller has checked who may read them).
pub async fn sales_page(
    context: &Context<'_>,
    store_id: &c9pay_platform::id::StoreId,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<String, Sale>> {
    let size = first.unwrap_or(SALES_PAGE_SIZE_DEFAULT);
    if !(0..=SALES_PAGE_SIZE_MAX).contains(&size) {
        return Err(client_error(code::INVALID_INPUT, format!("first must be between 0 and {SALES_PAGE_SIZE_MAX}")));
    }
    let before = after.as_deref().map(decode_cursor).transpose()?;
    // One more than asked tells whether another page follows.
    let mut sales = db::sale::store_sales(context.data::<Database>()?, store_id, before.clone(), i64::from(size) + 1).await.graphql()?;
    let size = usize::try_from(size).unwrap_or_default();
    let has_next_page = sales.len() > size;
    sales.truncate(size);
    let mut connection = Connection::new(before.is_some(), has_next_page);
    connection.edges.extend(sales.into_iter().map(|sale| Edge::new(encode_cursor(&sale), Sale(sale))));
    Ok(connection)
}

/// A sale error as GraphQL sees it: the code, and the sale or refund it concerns in
/// `extensions.saleId` / `extensions.refundId`, so that a client told
/// `SERVICE_UNAVAILABLE` knows what to look up or retry.
fn sale_error(error: StoresError) -> async_graphql::Error {
    let subject = error.subject().map(|(name, id)| (name, id.to_string()));
    let graphql_error = to_graphql(error);
    match subject {
        Some((name, id)) => graphql_error.extend_with(|_, extensions| extensions.set(name, id)),
        None => graphql_error,
    }
}

#[derive(Default)]
pub struct SaleQuery;

#[Object]
impl SaleQuery {
    /// A sale, for its store's owner or kiosks (`FORBIDDEN` for anyone else); null if
    /// there is none.
    #[graphql(directive = authenticated::apply())]
    async fn sale(&self, context: &Context<'_>, id: ID) -> async_graphql::Result<Option<Sale>> {
        let id = SaleId::try_from(&id).map_err(StoresError::from).graphql()?;
        let sale = sales::readable_sale(context.data::<Database>()?, principal(context)?, &id).await.graphql()?;
        Ok(sale.map(Sale))
    }
}

#[derive(Default)]
pub struct SaleMutation;

#[Object]
impl SaleMutation {
    /// Sells `items` to the holder of `paymentCode`, for the store's owner or one of its
    /// kiosks. Errors: `INVALID_ID`, `INVALID_INPUT` (not 1 to 50 items),
    /// `QUANTITY_INVALID`, `PRODUCT_NOT_IN_STORE`, `INVALID_AMOUNT` (total too large),
    /// `INVALID_IDEMPOTENCY_KEY`, `IDEMPOTENCY_KEY_REUSED`, `NOT_FOUND`, `FORBIDDEN`,
    /// `UNAUTHENTICATED`; the ledger's refusals with `extensions.saleId` and the sale
    /// recorded as failed: `PAYMENT_CODE_INVALID`, `PAYMENT_CODE_EXPIRED`,
    /// `PAYMENT_CODE_USED`, `INSUFFICIENT_CREDIT`, `PAYMENT_DECLINED`; and
    /// `SERVICE_UNAVAILABLE` with `extensions.saleId` when the ledger did not answer: the
    /// sale is pending, and a retry with the same key settles it.
    #[graphql(directive = authenticated::apply())]
    async fn sell(&self, context: &Context<'_>, input: SellInput) -> async_graphql::Result<Sale> {
        let request = SellRequest {
            store_id: input.store_id.to_string(),
            items: input.items.iter().map(|item| (item.product_id.to_string(), i64::from(item.quantity))).collect(),
            payment_code: input.payment_code,
            idempotency_key: input.idempotency_key,
        };
        let sale = sales::sell(context.data::<Database>()?, context.data::<CreditClient>()?, context.data::<crate::metrics::PaymentMetrics>()?, principal(context)?, request)
            .await
            .map_err(sale_error)?;
        Ok(Sale(sale))
    }

    /// Refunds part or all of a paid sale, for the store's owner. Errors: `INVALID_ID`,
    /// `INVALID_AMOUNT`, `INVALID_REASON`, `INVALID_IDEMPOTENCY_KEY`,
    /// `IDEMPOTENCY_KEY_REUSED`, `NOT_FOUND`, `FORBIDDEN`, `SALE_NOT_PAID`,
    /// `REFUND_EXCEEDS_SALE`; the ledger's refusals (`INSUFFICIENT_CREDIT` when the store's
    /// balance is short) with `extensions.refundId`; `SERVICE_UNAVAILABLE` with
    /// `extensions.refundId` when the ledger did not answer: the refund stays pending with
    /// its amount reserved, and a retry with the same key settles it.
    #[graphql(directive = authenticated::apply())]
    async fn refund_sale(&self, context: &Context<'_>, input: RefundSaleInput) -> async_graphql::Result<Refund> {
        let request = RefundInput {
            sale_id: input.sale_id.to_string(),
            amount: input.amount,
            reason: input.reason,
            idempotency_key: input.idempotency_key,
        };
        let refund = sales::refund_sale(context.data::<Database>()?, context.data::<CreditClient>()?, principal(context)?, request)
            .await
            .map_err(sale_error)?;
        Ok(Refund(refund))
    }
}
