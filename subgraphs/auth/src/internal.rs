//! Endpoints for other services, not in the supergraph: the revocation feed the router
//! follows, and kiosk registration and revocation, which stores asks for once it has
//! checked that the caller owns the store (stores knows owners; auth knows keys).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRef, Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use c9pay_platform::{
    database::Database,
    dpop,
    error::{ClientError, code},
    id::{KioskId, StoreId},
    internal_token::ROUTER_ISSUER,
    service::Caller,
    time::now_ms,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    admin::AdminPolicy,
    config::REVOCATION_KEEP_MS,
    db,
    domain::{email::Email, password},
    error::AuthError,
    keys::KeyRing,
};

/// The most revocations one feed answer carries; the router asks again for the rest.
pub const REVOCATIONS_PAGE_SIZE_MAX: i64 = 10_000;

/// What the internal endpoints need.
#[derive(Clone)]
pub struct Internal {
    pub database: Database,
    pub keys: Arc<KeyRing>,
    pub admins: Arc<AdminPolicy>,
}

impl FromRef<Internal> for Database {
    fn from_ref(internal: &Internal) -> Database {
        internal.database.clone()
    }
}

pub fn routes(internal: Internal) -> Router {
    Router::new()
        .route("/internal/revocations", get(revocations))
        .route("/internal/kiosks", post(register_kiosk).get(list_kiosks))
        .route("/internal/kiosks/{kiosk_id}/revoke", post(revoke_kiosk))
        .route("/internal/admin-sessions", post(admin_log_in))
        .with_state(internal)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminLogIn {
    email: String,
    password: String,
    /// SHA-256 (base64url) of the fingerprint the router puts in the admin's cookie.
    fingerprint_hash: String,
}

/// `POST /internal/admin-sessions`: the router opens an admin session for an admin's
/// email and password, bound to the fingerprint of the cookie it will set. Only the
/// router calls this; a wrong password, an unknown email and a non-admin account get the
/// same refusal.
async fn admin_log_in(Caller(caller): Caller, State(internal): State<Internal>, Json(body): Json<AdminLogIn>) -> Response {
    if !caller.is_service(ROUTER_ISSUER) {
        return forbidden();
    }
    let result = async {
        if body.fingerprint_hash.len() != 43 {
            return Err(AuthError::InvalidCredentials);
        }
        let email = Email::parse(&body.email).map_err(|_| AuthError::InvalidCredentials)?;
        let credential = db::find_credential(&internal.database, &email).await?;
        let (user_id, stored_hash) = match credential {
            Some(credential) => (Some(credential.user_id), Some(credential.password_hash)),
            None => (None, None),
        };
        // The hash is always computed, so that timing does not tell which emails exist.
        let verified = password::verify(body.password, stored_hash).await?;
        let user_id = match user_id {
            Some(user_id) if verified && internal.admins.is_admin(&email) => user_id,
            _ => return Err(AuthError::InvalidCredentials),
        };
        let (session_id, session_expires_at_ms) = db::session::create_admin(
            &internal.database,
            &user_id,
            &body.fingerprint_hash,
            internal.admins.session_lifetime_s.saturating_mul(1000),
        )
        .await?;
        let expires_at_ms = session_expires_at_ms.min(now_ms().saturating_add(internal.admins.idle_timeout_s.saturating_mul(1000)));
        let signer = internal.keys.signer().await?;
        let (access_token, expires_at_ms) = signer.admin_token(&user_id, &session_id, &body.fingerprint_hash, expires_at_ms)?;
        tracing::info!(%user_id, %session_id, "an admin logged in");
        Ok(json!({
            "accessToken": access_token,
            "expiresAtMs": expires_at_ms,
            "sessionExpiresAtMs": session_expires_at_ms,
        }))
    }
    .await;
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => refusal(&error),
    }
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, Json(json!({ "code": code::FORBIDDEN }))).into_response()
}

fn refusal(error: &AuthError) -> Response {
    match error.code() {
        Some(error_code) => {
            let status = if error_code == code::NOT_FOUND { StatusCode::NOT_FOUND } else { StatusCode::UNPROCESSABLE_ENTITY };
            (status, Json(json!({ "code": error_code, "message": error.to_string() }))).into_response()
        }
        None => {
            tracing::error!(error = %c9pay_platform::error::chain(error), "internal endpoint failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Since {
    #[serde(default)]
    since_ms: i64,
}

/// `GET /internal/revocations?sinceMs=…`: sessions and kiosks revoked at or after
/// `sinceMs` whose tokens may still be unexpired. `complete` is false when the page was
/// full: the router asks again from the last entry's `revokedAtMs`. `nowMs` is auth's
/// clock, from which the router computes its next `sinceMs`.
async fn revocations(Caller(caller): Caller, State(database): State<Database>, Query(since): Query<Since>) -> Response {
    if !caller.is_service(ROUTER_ISSUER) {
        return forbidden();
    }
    let now = now_ms();
    match db::session::revocations_since(&database, since.since_ms, REVOCATIONS_PAGE_SIZE_MAX).await {
        Ok(revocations) => {
            let complete = i64::try_from(revocations.len()).unwrap_or(i64::MAX) < REVOCATIONS_PAGE_SIZE_MAX;
            Json(json!({ "revocations": revocations, "complete": complete, "nowMs": now })).into_response()
        }
        Err(error) => refusal(&error),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterKiosk {
    store_id: String,
    name: String,
    public_key: Value,
}

/// `POST /internal/kiosks`: stores registers a kiosk of a store whose owner asked.
async fn register_kiosk(Caller(caller): Caller, State(database): State<Database>, Json(body): Json<RegisterKiosk>) -> Response {
    if !caller.is_service("stores") {
        return forbidden();
    }
    let result = async {
        let store_id = StoreId::parse(&body.store_id)?;
        let public_key = dpop::ed25519_public_x(&body.public_key).ok_or(AuthError::InvalidKioskKey)?;
        let jkt = dpop::thumbprint(&public_key);
        let kiosk_id = KioskId::generate();
        db::kiosk::register(&database, &kiosk_id, &store_id, &body.name, &public_key, &jkt).await?;
        tracing::info!(%kiosk_id, %store_id, "registered a kiosk");
        Ok::<_, AuthError>(json!({ "kioskId": kiosk_id.to_string(), "jkt": jkt }))
    }
    .await;
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => refusal(&error),
    }
}

/// The most kiosks one store's list holds (far more than any till counter has).
pub const KIOSKS_LISTED_MAX: i64 = 1_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfStore {
    store_id: String,
}

/// `GET /internal/kiosks?storeId=…`: stores lists a store's kiosks (revoked ones too),
/// oldest first, for its owner or an administrator.
async fn list_kiosks(Caller(caller): Caller, State(database): State<Database>, Query(of): Query<OfStore>) -> Response {
    if !caller.is_service("stores") {
        return forbidden();
    }
    let result = async {
        let store_id = StoreId::parse(&of.store_id)?;
        let kiosks = db::kiosk::list_by_store(&database, &store_id, KIOSKS_LISTED_MAX).await?;
        let kiosks: Vec<Value> = kiosks
            .iter()
            .map(|kiosk| {
                json!({
                    "kioskId": kiosk.id.to_string(),
                    "name": kiosk.name,
                    "jkt": kiosk.jkt,
                    "createdAtMs": kiosk.created_at_ms,
                    "revokedAtMs": kiosk.revoked_at_ms,
                })
            })
            .collect();
        Ok::<_, AuthError>(json!({ "kiosks": kiosks }))
    }
    .await;
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => refusal(&error),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeKiosk {
    /// The store the kiosk must belong to; absent when an administrator revokes it
    /// (stores has checked the administrator).
    #[serde(default)]
    store_id: Option<String>,
}

/// `POST /internal/kiosks/{kiosk_id}/revoke`: stores revokes a kiosk of a store whose
/// owner asked (a kiosk of another store is `NOT_FOUND`), or, without `storeId`, any
/// kiosk an administrator names.
async fn revoke_kiosk(
    Caller(caller): Caller,
    State(database): State<Database>,
    Path(kiosk_id): Path<String>,
    Json(body): Json<RevokeKiosk>,
) -> Response {
    if !caller.is_service("stores") {
        return forbidden();
    }
    let result = async {
        let kiosk_id = KioskId::parse(&kiosk_id)?;
        let store_id = body.store_id.as_deref().map(StoreId::parse).transpose()?;
        let revoked = db::kiosk::revoke(&database, &kiosk_id, store_id.as_ref(), REVOCATION_KEEP_MS).await?;
        if !revoked {
            return Err(AuthError::KioskNotFound);
        }
        tracing::info!(%kiosk_id, store_id = ?store_id.as_ref().map(StoreId::as_str), "revoked a kiosk");
        Ok(json!({ "revoked": true }))
    }
    .await;
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => refusal(&error),
    }
}
