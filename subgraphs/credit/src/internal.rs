//! Endpoints for other services, not in the supergraph: stores opens a store's account
//! before it creates the store, and drives payments (authorise and capture at once, or
//! authorise, capture, void; refund).

use axum::{
    Json, Router,
    extract::{FromRef, FromRequestParts},
    extract::{Path, State},
    http::StatusCode,
    http::request::Parts,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use c9pay_platform::{
    database::Database,
    error::{ClientError, code as shared},
    id::{StoreId, UserId},
    service::Caller,
};
use serde::Deserialize;
use serde_json::json;

use std::sync::Arc;

use c9pay_platform::jwks::JwksClient;

use crate::{
    db,
    error::{CreditError, code},
    payments,
};

/// What the internal endpoints need.
#[derive(Clone)]
pub struct Internal {
    pub database: Database,
    pub jwks: Arc<JwksClient>,
    pub hold_lifetime_ms: i64,
}

impl FromRef<Internal> for Database {
    fn from_ref(internal: &Internal) -> Database {
        internal.database.clone()
    }
}

pub fn routes(internal: Internal) -> Router {
    Router::new()
        .route(
            "/internal/store-accounts/{store_id}",
            put(ensure_store_account),
        )
        .route("/internal/payments/authorize", post(authorize))
        .route("/internal/payments/pay", post(pay))
        .route("/internal/payments/{payment_id}", get(payment_status))
        .route("/internal/payments/{payment_id}/capture", post(capture))
        .route("/internal/payments/{payment_id}/void", post(void))
        .route("/internal/refunds", post(refund))
        .with_state(internal)
}

/// The stores service calling: every endpoint here is for stores alone, so any other
/// verified caller gets 403 (an unverified one already got 401 from [`Caller`]).
struct StoresCaller;

impl<S: Send + Sync> FromRequestParts<S> for StoresCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        if caller.is_service("stores") {
            Ok(StoresCaller)
        } else {
            Err((
                StatusCode::FORBIDDEN,
                Json(json!({ "code": shared::FORBIDDEN })),
            )
                .into_response())
        }
    }
}

fn respond<T: serde::Serialize>(result: Result<T, CreditError>, what: &str) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => error_response(&error, what),
    }
}

async fn authorize(
    _: StoresCaller,
    State(internal): State<Internal>,
    Json(request): Json<payments::AuthorizeRequest>,
) -> Response {
    respond(
        payments::authorize(
            &internal.database,
            &internal.jwks,
            internal.hold_lifetime_ms,
            request,
        )
        .await,
        "authorising a payment",
    )
}

async fn pay(
    _: StoresCaller,
    State(internal): State<Internal>,
    Json(request): Json<payments::AuthorizeRequest>,
) -> Response {
    respond(
        payments::pay(
            &internal.database,
            &internal.jwks,
            internal.hold_lifetime_ms,
            request,
        )
        .await,
        "paying",
    )
}

async fn capture(
    _: StoresCaller,
    State(database): State<Database>,
    Path(payment_id): Path<String>,
) -> Response {
    respond(
        payments::capture(&database, &payment_id).await,
        "capturing a payment",
    )
}

async fn void(
    _: StoresCaller,
    State(database): State<Database>,
    Path(payment_id): Path<String>,
) -> Response {
    respond(
        payments::void(&database, &payment_id).await,
        "voiding a payment",
    )
}

async fn payment_status(
    _: StoresCaller,
    State(database): State<Database>,
    Path(payment_id): Path<String>,
) -> Response {
    respond(
        payments::status(&database, &payment_id).await,
        "reading a payment",
    )
}

async fn refund(
    _: StoresCaller,
    State(database): State<Database>,
    Json(request): Json<payments::RefundRequest>,
) -> Response {
    respond(
        payments::refund(&database, request).await,
        "refunding a payment",
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EnsureStoreAccount {
    owner_user_id: String,
}

/// Idempotent: the first call for a store opens its account, later calls with the same
/// owner return it, and a call naming another owner is refused with 409 `CONFLICT`.
#[tracing::instrument(skip_all, fields(store_id = %store_id))]
async fn ensure_store_account(
    _: StoresCaller,
    State(database): State<Database>,
    Path(store_id): Path<String>,
    Json(body): Json<EnsureStoreAccount>,
) -> Response {
    let result = async {
        let store_id = StoreId::parse(&store_id)?;
        let owner_user_id = UserId::parse(&body.owner_user_id)?;
        db::ensure_store_account(&database, &store_id, &owner_user_id).await
    }
    .await;
    match result {
        Ok(account) => Json(json!({
            "accountId": account.id,
            "storeId": account.owner_id,
            "ownerUserId": account.owner_user_id,
            "balance": account.balance.to_string(),
        }))
        .into_response(),
        Err(error) => error_response(&error, "opening a store account"),
    }
}

fn error_response(error: &CreditError, what: &str) -> Response {
    match error.code() {
        Some(client_code) => {
            let status = match client_code {
                code::CONFLICT
                | code::IDEMPOTENCY_KEY_REUSED
                | code::HOLD_EXPIRED
                | code::HOLD_VOIDED
                | code::ALREADY_POSTED => StatusCode::CONFLICT,
                shared::UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
                shared::FORBIDDEN => StatusCode::FORBIDDEN,
                shared::NOT_FOUND => StatusCode::NOT_FOUND,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            (
                status,
                Json(json!({ "code": client_code, "message": error.to_string() })),
            )
                .into_response()
        }
        None => {
            tracing::error!(error = %c9pay_platform::error::chain(error), "{what}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "code": shared::INTERNAL })),
            )
                .into_response()
        }
    }
}
