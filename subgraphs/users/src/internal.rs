//! Endpoints for other services, not in the supergraph: auth creates a profile at sign-up;
//! credit asks whether a recipient exists.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::put,
};
use c9pay_platform::{
    database::Database, error::ClientError, id::UserId, service::Caller, text::DisplayName,
};
use serde::Deserialize;
use serde_json::json;

use crate::{db, error::UsersError};

pub fn routes(database: Database) -> Router {
    Router::new()
        .route(
            "/internal/profiles/{user_id}",
            put(create_profile).get(profile_exists),
        )
        .with_state(database)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateProfile {
    display_name: String,
}

/// Idempotent: the first call for a user creates the profile, later calls return it.
async fn create_profile(
    Caller(caller): Caller,
    State(database): State<Database>,
    Path(user_id): Path<String>,
    Json(body): Json<CreateProfile>,
) -> Response {
    if !caller.is_service("auth") {
        return (StatusCode::FORBIDDEN, Json(json!({ "code": "FORBIDDEN" }))).into_response();
    }
    let result = async {
        let user_id = UserId::parse(&user_id)?;
        let display_name = DisplayName::parse(&body.display_name)?;
        db::create_profile(&database, &user_id, &display_name).await
    }
    .await;
    match result {
        Ok(profile) => {
            Json(json!({ "userId": profile.user_id, "displayName": profile.display_name }))
                .into_response()
        }
        Err(error) => error_response(&error),
    }
}

/// Whether a person exists, for credit before it sends them credits (200 or 404).
async fn profile_exists(
    Caller(caller): Caller,
    State(database): State<Database>,
    Path(user_id): Path<String>,
) -> Response {
    if caller.kind != c9pay_platform::internal_token::PrincipalKind::Service {
        return (StatusCode::FORBIDDEN, Json(json!({ "code": "FORBIDDEN" }))).into_response();
    }
    let result = async {
        let user_id = UserId::parse(&user_id)?;
        db::find_profile(&database, &user_id).await
    }
    .await;
    match result {
        Ok(Some(profile)) => {
            Json(json!({ "userId": profile.user_id, "displayName": profile.display_name }))
                .into_response()
        }
        Ok(None) | Err(UsersError::InvalidId(_)) => {
            (StatusCode::NOT_FOUND, Json(json!({ "code": "NOT_FOUND" }))).into_response()
        }
        Err(error) => error_response(&error),
    }
}

fn error_response(error: &UsersError) -> Response {
    match error.code() {
        Some(code) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "code": code, "message": error.to_string() })),
        )
            .into_response(),
        None => {
            tracing::error!(error = %c9pay_platform::error::chain(error), "creating a profile");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "code": c9pay_platform::error::code::INTERNAL })),
            )
                .into_response()
        }
    }
}
