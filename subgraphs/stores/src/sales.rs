//! Selling and refunding: the steps between the request, this database and credit.
//!
//! A sale:
//! 1. validate the request and the caller (owner, or a kiosk of this store);
//! 2. find the sale with this idempotency key, or price the cart from the store's own
//!    catalogue and record the sale as `pending` (committed before any money moves);
//! 3. ask credit to pay: authorise (hold) and capture in one call and one transaction,
//!    with the sale id as credit's payment id; credit is idempotent by it, so the call
//!    may be repeated;
//! 4. record the outcome: `paid` (payer, transfer), or `failed` with credit's code.
//!
//! When credit does not answer (after a bounded number of attempts) the sale stays
//! `pending` and the client gets `SERVICE_UNAVAILABLE` with the sale id. Nothing is
//! guessed: a later `sell` with the same key drives the same sale again, and credit
//! answers with the first outcome.
//!
//! A refund reserves its amount against the sale first (one conditional update, so
//! refunds never add up to more than the sale), then asks credit, idempotent by refund
//! id. A refusal from credit releases the reservation and records the refund as failed;
//! no answer leaves it `pending` with its amount still reserved (the money may have
//! moved), and a retry with the same key drives it again.

use c9pay_platform::{
    database::Database,
    id::{ProductId, StoreId},
    internal_token::Principal,
    money::Amount,
};

use crate::{
    credit::{CallError, CreditClient, PaymentStatus},
    db::{
        self,
        sale::{NewRefund, NewSale, Refund, RefundStatus, Sale, SaleStatus},
    },
    domain::sale::{self as rules, IdempotencyKey, RefundId, RefundRequest, SaleId, SellRequest},
    error::StoresError,
    metrics::{PaymentMetrics, PaymentOutcome},
};

/// A `sell` request as the client sent it.
pub struct SellInput {
    pub store_id: String,
    /// (product id, quantity), in the client's order.
    pub items: Vec<(String, i64)>,
    pub payment_code: String,
    pub idempotency_key: String,
}

/// A `refundSale` request as the client sent it.
pub struct RefundInput {
    pub sale_id: String,
    pub amount: Amount,
    pub reason: String,
    pub idempotency_key: String,
}

pub async fn sell(database: &Database, credit: &CreditClient, payments: &PaymentMetrics, principal: &Principal, input: SellInput) -> Result<Sale, StoresError> {
    // Every rule that needs no database is checked first, so bad input touches nothing.
    let store_id = StoreId::parse(&input.store_id)?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let cart = rules::cart(&input.items)?;
    let payment_code = rules::payment_code(&input.payment_code)?;
    let store = db::find_store(database, &store_id).await?.ok_or(StoresError::StoreNotFound)?;
    let seller = rules::seller_for(principal, &store.id, &store.owner_user_id)?;
    let request_hash = rules::request_hash("sell", &SellRequest { store_id: store.id.as_str(), items: &input.items, payment_code })?;

    let sale = match db::sale::find_sale_by_key(database, &store.id, &key).await? {
        Some(sale) => same_request(sale, &request_hash)?,
        None => {
            let product_ids: Vec<ProductId> = cart.iter().map(|line| line.product_id.clone()).collect();
            let catalogue = db::find_store_products_by_ids(database, &store.id, &product_ids).await?;
            let (lines, total) = rules::price(&cart, &store.id, &catalogue)?;
            let new = NewSale { store_id: &store.id, seller: &seller, idempotency_key: &key, request_hash: &request_hash, total, lines: &lines };
            match db::sale::insert_sale(database, new).await? {
                Some(sale) => {
                    tracing::info!(sale_id = %sale.id, store_id = %store.id, total = %total, "recorded a pending sale");
                    sale
                }
                // A concurrent request with the same key recorded it first.
                None => {
                    let sale = db::sale::find_sale_by_key(database, &store.id, &key)
                        .await?
                        .ok_or_else(|| StoresError::Corrupt("a sale's idempotency key is taken but the sale is missing".to_string()))?;
                    same_request(sale, &request_hash)?
                }
            }
        }
    };
    settle(database, credit, payments, sale, payment_code, &principal.request_id).await
}

/// The stored sale, if it was recorded for the same request.
fn same_request(sale: Sale, request_hash: &str) -> Result<Sale, StoresError> {
    if sale.request_hash == request_hash { Ok(sale) } else { Err(StoresError::IdempotencyKeyReused) }
}

/// Returns a settled sale as its first outcome, or drives a pending one.
async fn settle(database: &Database, credit: &CreditClient, payments: &PaymentMetrics, sale: Sale, payment_code: &str, request_id: &str) -> Result<Sale, StoresError> {
    match sale.status {
        SaleStatus::Paid => Ok(sale),
        SaleStatus::Failed => Err(refused_sale(&sale)),
        SaleStatus::Pending => drive_sale(database, credit, payments, sale, payment_code, request_id).await,
    }
}

fn refused_sale(sale: &Sale) -> StoresError {
    let code = rules::client_code_of_refusal(sale.failure_code.as_deref().unwrap_or_default());
    StoresError::PaymentRefused { sale_id: sale.id.to_string(), code, message: refusal_message(code) }
}

fn refusal_message(code: &str) -> String {
    match code {
        "PAYMENT_CODE_EXPIRED" => "the payment code has expired; ask for a fresh one".to_string(),
        "PAYMENT_CODE_USED" => "the payment code was already used".to_string(),
        "PAYMENT_CODE_INVALID" => "the payment code is not valid".to_string(),
        "INSUFFICIENT_CREDIT" => "the payer does not have enough credit".to_string(),
        other => format!("the ledger refused it ({other})"),
    }
}

/// Authorise and capture in one call to credit; record the outcome.
async fn drive_sale(database: &Database, credit: &CreditClient, payments: &PaymentMetrics, sale: Sale, payment_code: &str, request_id: &str) -> Result<Sale, StoresError> {
    let paid = match credit.pay(&sale.id, &sale.store_id, sale.total, payment_code, request_id).await {
        Ok(payment) => payment,
        Err(error) => return sale_call_failed(database, payments, sale, error).await,
    };
    let transfer_id = match (paid.status, paid.transfer_id.as_deref()) {
        (PaymentStatus::Posted, Some(transfer_id)) if paid.amount == sale.total => transfer_id,
        _ => return Err(StoresError::CreditContract(format!("payment of sale {} of {} answered {paid:?}", sale.id, sale.total))),
    };
    if let Some(sale) = db::sale::mark_sale_paid(database, &sale.id, &paid.payer_user_id, paid.hold_id.as_deref(), transfer_id).await? {
        tracing::info!(sale_id = %sale.id, transfer_id, "sale paid");
        payments.record(PaymentOutcome::Paid, 1);
        return Ok(sale);
    }
    let sale = reread_sale(database, &sale.id).await?;
    match sale.status {
        SaleStatus::Paid => Ok(sale),
        // Another request drove it to a different end first: that one stands.
        SaleStatus::Failed => Err(refused_sale(&sale)),
        SaleStatus::Pending => Err(StoresError::Corrupt(format!("sale {} stayed pending after its capture", sale.id))),
    }
}

/// What a failed call to credit means for the sale.
async fn sale_call_failed(database: &Database, payments: &PaymentMetrics, sale: Sale, error: CallError) -> Result<Sale, StoresError> {
    match error {
        CallError::Refused { status, code, message } if is_final_refusal(status, &code) => {
            tracing::info!(sale_id = %sale.id, %code, %message, "the ledger refused the payment");
            let code = rules::client_code_of_refusal(&code);
            if db::sale::mark_sale_failed(database, &sale.id, code).await? {
                payments.record(PaymentOutcome::Refused, 1);
            }
            let sale = reread_sale(database, &sale.id).await?;
            match sale.status {
                SaleStatus::Failed => Err(refused_sale(&sale)),
                SaleStatus::Paid => Ok(sale),
                SaleStatus::Pending => Err(StoresError::Corrupt(format!("sale {} stayed pending after a refusal", sale.id))),
            }
        }
        CallError::Refused { status, code, message } => Err(StoresError::CreditContract(format!("credit answered {status} {code}: {message}"))),
        CallError::Unavailable { reason } => {
            tracing::warn!(sale_id = %sale.id, %reason, "the payment's outcome is unknown; the sale stays pending");
            payments.record(PaymentOutcome::Pending, 1);
            Err(StoresError::PaymentPending { sale_id: sale.id.to_string(), reason })
        }
        CallError::Unexpected { status, body } => Err(StoresError::CreditRefused { status, body }),
        CallError::Signing(error) => Err(StoresError::Signing(error)),
    }
}

/// A refusal that settles the request: credit looked at it and said no. Anything else
/// with a code (an idempotency conflict on our own payment id, an unknown payment) means
/// this service and credit disagree, which is a bug to fix, not a sale to fail.
fn is_final_refusal(status: u16, code: &str) -> bool {
    match status {
        422 => true,
        409 => matches!(code, "HOLD_EXPIRED" | "HOLD_VOIDED"),
        _ => false,
    }
}

async fn reread_sale(database: &Database, id: &SaleId) -> Result<Sale, StoresError> {
    db::sale::find_sale(database, id).await?.ok_or_else(|| StoresError::Corrupt(format!("sale {id} disappeared")))
}

/// A sale the caller may read: its store's owner, or a kiosk of its store.
pub async fn readable_sale(database: &Database, principal: &Principal, id: &SaleId) -> Result<Option<Sale>, StoresError> {
    let Some(sale) = db::sale::find_sale(database, id).await? else {
        return Ok(None);
    };
    let store = db::find_store(database, &sale.store_id)
        .await?
        .ok_or_else(|| StoresError::Corrupt(format!("store {} of sale {id} is missing", sale.store_id)))?;
    rules::seller_for(principal, &store.id, &store.owner_user_id)?;
    Ok(Some(sale))
}

pub async fn refund_sale(database: &Database, credit: &CreditClient, principal: &Principal, input: RefundInput) -> Result<Refund, StoresError> {
    let viewer = principal.user_id().ok_or(StoresError::Unauthenticated)?;
    let sale_id = SaleId::parse(&input.sale_id)?;
    let amount = Amount::parse_positive(input.amount.get())?;
    let reason = rules::reason(&input.reason)?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let sale = db::sale::find_sale(database, &sale_id).await?.ok_or(StoresError::SaleNotFound)?;
    let store = db::find_store(database, &sale.store_id)
        .await?
        .ok_or_else(|| StoresError::Corrupt(format!("store {} of sale {sale_id} is missing", sale.store_id)))?;
    if store.owner_user_id != viewer {
        return Err(StoresError::Forbidden("only the store's owner may refund its sales"));
    }
    let request_hash = rules::request_hash("refundSale", &RefundRequest { amount: amount.get(), reason: &reason })?;

    let refund = match db::sale::find_refund_by_key(database, &sale.id, &key).await? {
        Some(refund) => same_refund_request(refund, &request_hash)?,
        None => {
            if sale.status != SaleStatus::Paid {
                return Err(StoresError::SaleNotPaid);
            }
            let new = NewRefund { sale_id: &sale.id, amount, reason: &reason, idempotency_key: &key, request_hash: &request_hash };
            match db::sale::reserve_refund(database, new).await? {
                Some(refund) => {
                    tracing::info!(refund_id = %refund.id, sale_id = %sale.id, amount = %amount, "reserved a refund");
                    refund
                }
                None => {
                    let refund = db::sale::find_refund_by_key(database, &sale.id, &key)
                        .await?
                        .ok_or_else(|| StoresError::Corrupt("a refund's idempotency key is taken but the refund is missing".to_string()))?;
                    same_refund_request(refund, &request_hash)?
                }
            }
        }
    };
    match refund.status {
        RefundStatus::Completed => Ok(refund),
        RefundStatus::Failed => Err(refused_refund(&refund)),
        RefundStatus::Pending => drive_refund(database, credit, refund, &principal.request_id).await,
    }
}

fn same_refund_request(refund: Refund, request_hash: &str) -> Result<Refund, StoresError> {
    if refund.request_hash == request_hash { Ok(refund) } else { Err(StoresError::IdempotencyKeyReused) }
}

fn refused_refund(refund: &Refund) -> StoresError {
    let code = rules::client_code_of_refusal(refund.failure_code.as_deref().unwrap_or_default());
    StoresError::RefundRefused { refund_id: refund.id.to_string(), code, message: refusal_message(code) }
}

pub(crate) async fn drive_refund(database: &Database, credit: &CreditClient, refund: Refund, request_id: &str) -> Result<Refund, StoresError> {
    match credit.refund(&refund.id, &refund.sale_id, refund.amount, &refund.reason, request_id).await {
        Ok(receipt) => {
            if receipt.refund_id != refund.id.as_str() {
                return Err(StoresError::CreditContract(format!("refund {} was answered for {}", refund.id, receipt.refund_id)));
            }
            if db::sale::complete_refund(database, &refund.id, &receipt.transfer_id).await? {
                tracing::info!(refund_id = %refund.id, transfer_id = %receipt.transfer_id, "refund completed");
            }
        }
        Err(CallError::Refused { status: 422, code, message }) => {
            tracing::info!(refund_id = %refund.id, %code, %message, "the ledger refused the refund");
            db::sale::fail_refund(database, &refund, rules::client_code_of_refusal(&code)).await?;
        }
        Err(CallError::Refused { status, code, message }) => {
            return Err(StoresError::CreditContract(format!("credit answered {status} {code}: {message}")));
        }
        Err(CallError::Unavailable { reason }) => {
            tracing::warn!(refund_id = %refund.id, %reason, "the refund's outcome is unknown; it stays pending");
            return Err(StoresError::RefundPending { refund_id: refund.id.to_string(), reason });
        }
        Err(CallError::Unexpected { status, body }) => return Err(StoresError::CreditRefused { status, body }),
        Err(CallError::Signing(error)) => return Err(StoresError::Signing(error)),
    }
    let refund = reread_refund(database, &refund.id).await?;
    match refund.status {
        RefundStatus::Completed => Ok(refund),
        RefundStatus::Failed => Err(refused_refund(&refund)),
        RefundStatus::Pending => Err(StoresError::Corrupt(format!("refund {} stayed pending after credit answered", refund.id))),
    }
}

async fn reread_refund(database: &Database, id: &RefundId) -> Result<Refund, StoresError> {
    db::sale::find_refund(database, id).await?.ok_or_else(|| StoresError::Corrupt(format!("refund {id} disappeared")))
}
