//! Merchant-presented QR (DESIGN, flow 2): a store owner asks for an amount; the platform
//! signs the request; a person scans it, sees the store and the amount, and pays it once.
//!
//! The token is a compact JWS (EdDSA) signed with credit's own key and names the request,
//! the store and the amount; the request row is the source of truth, and paying it is a
//! conditional update from unpaid, in the same transaction as the transfer.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use c9pay_platform::{
    config::Secret,
    database::Database,
    id::{StoreId, UserId},
    money::Amount,
    time::now_ms,
};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    db,
    domain::{OwnerKind, TransferKind},
    error::CreditError,
    idempotency::{self, Claim, IdempotencyKey},
    ledger::{self, Movement},
    operations::Receipt,
};

c9pay_platform::id_type!(
    /// A store's request to be paid an amount, shown as a QR.
    PaymentRequestId, "prq", "payment request"
);

pub const TOKEN_TYPE: &str = "c9pay-pr+jwt";
const ISSUER: &str = "c9pay-credit";
const AUDIENCE: &str = "c9pay-payment-request";
/// How long a request may stay open, at most (a till waits minutes, not days).
pub const LIFETIME_MAX_S: i64 = 900;
pub const LIFETIME_DEFAULT_S: i64 = 300;
/// Longest token credit will parse.
const TOKEN_LENGTH_MAX_BYTES: usize = 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    jti: String,
    sto: String,
    amt: i64,
    iat: i64,
    exp: i64,
}

/// Signs and verifies payment requests with credit's Ed25519 key.
#[derive(Clone)]
pub struct RequestKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl RequestKeys {
    /// From credit's internal signing key (base64 of a 32-byte seed).
    pub fn from_seed(seed: &Secret<String>) -> anyhow::Result<Self> {
        use base64::engine::general_purpose::STANDARD;
        let bytes: [u8; 32] = STANDARD
            .decode(seed.expose().trim())?
            .try_into()
            .map_err(|_| anyhow::anyhow!("an Ed25519 seed is 32 bytes"))?;
        let key = SigningKey::from_bytes(&bytes);
        let der = key
            .to_pkcs8_der()
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
        Ok(Self {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_components(&public)?,
        })
    }
}

/// A payment request as stored.
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    pub id: PaymentRequestId,
    pub store_id: StoreId,
    pub amount: Amount,
    pub expires_at_ms: i64,
    pub paid_by_user_id: Option<UserId>,
    pub paid_transfer_id: Option<String>,
}

impl PaymentRequest {
    pub fn is_paid(&self) -> bool {
        self.paid_transfer_id.is_some()
    }
}

/// Opens a request for `amount` to `store_id`, which `owner` must own; returns it with
/// its signed token.
pub async fn create(
    database: &Database,
    keys: &RequestKeys,
    owner: &UserId,
    store_id: &StoreId,
    amount: i64,
    lifetime_s: i64,
) -> Result<(PaymentRequest, String), CreditError> {
    let amount = Amount::parse_positive(amount)?;
    if !(1..=LIFETIME_MAX_S).contains(&lifetime_s) {
        return Err(CreditError::InvalidLifetime);
    }
    let account = db::find_account_by_owner(database, OwnerKind::Store, store_id.as_str()).await?;
    if !account.is_some_and(|account| account.is_readable_by(owner)) {
        return Err(CreditError::Forbidden(
            "only the store's owner may ask to be paid",
        ));
    }
    let now = now_ms();
    let request = PaymentRequest {
        id: PaymentRequestId::generate(),
        store_id: store_id.clone(),
        amount,
        expires_at_ms: now + lifetime_s * 1000,
        paid_by_user_id: None,
        paid_transfer_id: None,
    };
    sqlx::query(
        "insert into payment_request (id, store_id, amount, created_by_user_id, expires_at_ms, created_at_ms)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(request.id.as_str())
    .bind(store_id.as_str())
    .bind(amount.get())
    .bind(owner.as_str())
    .bind(request.expires_at_ms)
    .bind(now)
    .execute(database.writer())
    .await?;
    let claims = Claims {
        iss: ISSUER.to_string(),
        aud: AUDIENCE.to_string(),
        jti: request.id.to_string(),
        sto: store_id.to_string(),
        amt: amount.get(),
        iat: now / 1000,
        exp: request.expires_at_ms / 1000,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(TOKEN_TYPE.to_string());
    let token = jsonwebtoken::encode(&header, &claims, &keys.encoding)
        .map_err(|error| CreditError::Corrupt(error.to_string()))?;
    Ok((request, token))
}

/// Verifies a scanned token and loads its request. The signature, type, issuer and
/// audience must hold and the token must agree with the stored request; expiry is
/// reported by [`pay`] (a person may still look at an expired request).
pub async fn open(
    database: &Database,
    keys: &RequestKeys,
    token: &str,
) -> Result<PaymentRequest, CreditError> {
    if token.len() > TOKEN_LENGTH_MAX_BYTES {
        return Err(CreditError::PaymentRequestInvalid);
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| CreditError::PaymentRequestInvalid)?;
    if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TOKEN_TYPE) {
        return Err(CreditError::PaymentRequestInvalid);
    }
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    // Expiry is checked against the stored request, so that an expired request can
    // still be shown as expired rather than as garbage.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation)
        .map_err(|_| CreditError::PaymentRequestInvalid)?
        .claims;
    let id =
        PaymentRequestId::parse(&claims.jti).map_err(|_| CreditError::PaymentRequestInvalid)?;
    let request = find(database, &id)
        .await?
        .ok_or(CreditError::PaymentRequestInvalid)?;
    if request.store_id.as_str() != claims.sto || request.amount.get() != claims.amt {
        return Err(CreditError::PaymentRequestInvalid);
    }
    Ok(request)
}

async fn find(
    database: &Database,
    id: &PaymentRequestId,
) -> Result<Option<PaymentRequest>, CreditError> {
    let row = sqlx::query(
        "select id, store_id, amount, expires_at_ms, paid_by_user_id, paid_transfer_id from payment_request where id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(database.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(PaymentRequest {
        id: PaymentRequestId::parse(&row.try_get::<String, _>("id")?)?,
        store_id: StoreId::parse(&row.try_get::<String, _>("store_id")?)?,
        amount: Amount::from_stored(row.try_get("amount")?),
        expires_at_ms: row.try_get("expires_at_ms")?,
        paid_by_user_id: row
            .try_get::<Option<String>, _>("paid_by_user_id")?
            .as_deref()
            .map(UserId::parse)
            .transpose()?,
        paid_transfer_id: row.try_get("paid_transfer_id")?,
    }))
}

/// Pays a scanned request: once, before it expires, idempotent by the payer's key.
pub async fn pay(
    database: &Database,
    keys: &RequestKeys,
    payer: &UserId,
    token: &str,
    idempotency_key: &str,
) -> Result<Receipt, CreditError> {
    let key = IdempotencyKey::parse(idempotency_key)?;
    let request = open(database, keys, token).await?;
    let hash = idempotency::request_hash("payRequest", &request.id.as_str())?;
    let store = db::find_account_by_owner(database, OwnerKind::Store, request.store_id.as_str())
        .await?
        .ok_or(CreditError::PaymentRequestInvalid)?;
    let wallet = db::ensure_user_account(database, payer).await?;

    let mut transaction = database.begin_write().await?;
    if let Claim::Replay(receipt) =
        idempotency::claim(&mut transaction, payer.as_str(), &key, "payRequest", &hash).await?
    {
        return Ok(receipt);
    }
    let now = now_ms();
    let transfer_id = crate::domain::TransferId::generate();
    let claimed = sqlx::query(
        "update payment_request set paid_by_user_id = $1, paid_transfer_id = $2, paid_at_ms = $3
         where id = $4 and paid_transfer_id is null and expires_at_ms > $3",
    )
    .bind(payer.as_str())
    .bind(transfer_id.as_str())
    .bind(now)
    .bind(request.id.as_str())
    .execute(&mut *transaction)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(if request.is_paid() || now < request.expires_at_ms {
            CreditError::PaymentRequestPaid
        } else {
            CreditError::PaymentRequestExpired
        });
    }
    let movement = Movement {
        debit: &wallet.reference(),
        credit: &store.reference(),
        amount: request.amount,
        kind: TransferKind::Payment,
        reference: Some(request.id.as_str()),
        memo: None,
    };
    let transfer = ledger::post_with_id(&mut transaction, movement, transfer_id).await?;
    ledger::record_event(
        &mut transaction,
        &transfer,
        Some(payer),
        Some(&request.store_id),
        None,
    )
    .await?;
    let balance = db::account_balance_in(&mut transaction, &wallet.id).await?;
    let receipt = Receipt::of(&transfer, balance, None);
    idempotency::complete(&mut transaction, payer.as_str(), &key, &receipt).await?;
    transaction.commit().await?;
    crate::events::announce();
    Ok(receipt)
}
