//! Endpoints for other services, not in the supergraph: stores opens a store's account
//! before it creates the store.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::put,
};
use c9pay_platform::{
    database::Database,
    error::{ClientError, code as shared},
    id::{StoreId, UserId},
    service::Caller,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    db,
    error::{CreditError, code},
};

pub fn routes(database: Database) -> Router {
    Router::new()
        .route(
            "/internal/store-accounts/{store_id}",
            put(ensure_store_account),
        )
        .with_state(database)
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
    Caller(caller): Caller,
    State(database): State<Database>,
    Path(store_id): Path<String>,
    Json(body): Json<EnsureStoreAccount>,
) -> Response {
    if !caller.is_service("stores") {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "code": shared::FORBIDDEN })),
        )
            .into_response();
    }
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
        Err(error) => error_response(&error),
    }
}

fn error_response(error: &CreditError) -> Response {
    match error.code() {
        Some(client_code) => {
            let status = match client_code {
                code::CONFLICT => StatusCode::CONFLICT,
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
            tracing::error!(error = %c9pay_platform::error::chain(error), "opening a store account");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "code": shared::INTERNAL })),
            )
                .into_response()
        }
    }
}
