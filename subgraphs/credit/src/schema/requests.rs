//! Merchant-presented QR: `createPaymentRequest`, `paymentRequest`, `payRequest`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::GraphQLResultExt,
    graphql::require_user,
    id::StoreId,
    money::Amount,
    time::{from_ms, now_ms},
};
use chrono::{DateTime, Utc};

use super::{entities::Store, money::TransferReceipt};
use crate::{
    error::CreditError,
    payment_requests::{self, LIFETIME_DEFAULT_S, PaymentRequest as Stored, RequestKeys},
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum PaymentRequestStatus {
    Open,
    Paid,
    Expired,
}

/// A store's request to be paid, as the QR a person scans.
#[derive(SimpleObject)]
pub struct PaymentRequest {
    pub id: ID,
    pub store: Store,
    pub amount: Amount,
    pub expires_at: DateTime<Utc>,
    pub status: PaymentRequestStatus,
}

impl From<&Stored> for PaymentRequest {
    fn from(request: &Stored) -> Self {
        let status = if request.is_paid() {
            PaymentRequestStatus::Paid
        } else if request.expires_at_ms <= now_ms() {
            PaymentRequestStatus::Expired
        } else {
            PaymentRequestStatus::Open
        };
        Self {
            id: ID(request.id.to_string()),
            store: Store {
                id: request.store_id.clone(),
            },
            amount: request.amount,
            expires_at: from_ms(request.expires_at_ms),
            status,
        }
    }
}

/// A new request with what the store shows.
#[derive(SimpleObject)]
pub struct CreatedPaymentRequest {
    pub request: PaymentRequest,
    /// The signed token (a compact JWS of type `c9pay-pr+jwt`) the QR encodes.
    pub token: String,
    /// The token as an SVG QR code.
    pub svg: String,
}

#[derive(InputObject)]
pub struct CreatePaymentRequestInput {
    pub store_id: ID,
    pub amount: Amount,
    /// How long the request stays open: 1 to 900 seconds, default 300.
    pub expires_in_seconds: Option<i32>,
}

#[derive(InputObject)]
pub struct PayRequestInput {
    /// The token read from the store's QR.
    pub token: String,
    pub idempotency_key: String,
}

fn keys<'a>(context: &'a Context<'_>) -> async_graphql::Result<&'a RequestKeys> {
    context
        .data::<Option<RequestKeys>>()?
        .as_ref()
        .ok_or_else(|| {
            c9pay_platform::error::client_error(
                c9pay_platform::error::code::UNAVAILABLE,
                "payment requests are not configured",
            )
        })
}

#[derive(Default)]
pub struct RequestQuery;

#[Object]
impl RequestQuery {
    /// What a scanned payment request asks for, to show before paying.
    async fn payment_request(
        &self,
        context: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<PaymentRequest> {
        require_user(context)?;
        let request = payment_requests::open(context.data::<Database>()?, keys(context)?, &token)
            .await
            .graphql()?;
        Ok(PaymentRequest::from(&request))
    }
}

#[derive(Default)]
pub struct RequestMutation;

#[Object]
impl RequestMutation {
    /// Asks to be paid `amount` at your store: returns the QR to show.
    async fn create_payment_request(
        &self,
        context: &Context<'_>,
        input: CreatePaymentRequestInput,
    ) -> async_graphql::Result<CreatedPaymentRequest> {
        let owner = require_user(context)?;
        let store_id = StoreId::try_from(&input.store_id)
            .map_err(CreditError::from)
            .graphql()?;
        let lifetime_s = input
            .expires_in_seconds
            .map_or(LIFETIME_DEFAULT_S, i64::from);
        let (request, token) = payment_requests::create(
            context.data::<Database>()?,
            keys(context)?,
            &owner,
            &store_id,
            input.amount.get(),
            lifetime_s,
        )
        .await
        .graphql()?;
        let svg = c9pay_platform::qr::svg(&token)
            .map_err(CreditError::Corrupt)
            .graphql()?;
        Ok(CreatedPaymentRequest {
            request: PaymentRequest::from(&request),
            token,
            svg,
        })
    }

    /// Pays a scanned payment request, once.
    async fn pay_request(
        &self,
        context: &Context<'_>,
        input: PayRequestInput,
    ) -> async_graphql::Result<TransferReceipt> {
        let payer = require_user(context)?;
        let receipt = payment_requests::pay(
            context.data::<Database>()?,
            keys(context)?,
            &payer,
            &input.token,
            &input.idempotency_key,
        )
        .await
        .graphql()?;
        TransferReceipt::try_from(receipt).graphql()
    }
}
