//! `POST /admin/log-in` and `POST /admin/log-out`: an admin's log-in and log-out, outside
//! GraphQL because they set and clear a cookie.
//!
//! OWASP's token sidejacking defence: the router makes a random fingerprint, asks auth
//! to open an admin session bound to the fingerprint's SHA-256 (which auth writes into
//! the admin token as `fph`), and hands the fingerprint to the browser only as a
//! `__Host-` cookie (HttpOnly, Secure, SameSite=Strict, Path=/). A script that steals the
//! token cannot read the cookie, and a token without its cookie is refused (see
//! `pipeline::authenticate`). The body must be JSON, so a cross-site form cannot post it.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{ConnectInfo, State},
    http::HeaderMap,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use c9pay_platform::internal_token::{InternalTokenSigner, Principal, ROUTER_ISSUER};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    transport::http::{ADMIN_COOKIE, client_address},
    pipeline::Pipeline,
    rate_limit::Subject,
};

/// The name admin log-ins are rate limited under (`rate_limits.fields`).
pub const RATE_LIMIT_FIELD: &str = "Admin.logIn";

pub struct AdminLogIn {
    http: reqwest::Client,
    /// Auth's `/internal/admin-sessions`.
    url: String,
    signer: InternalTokenSigner,
    /// For its rate limiter, shared with GraphQL requests.
    pipeline: Arc<Pipeline>,
    trust_forwarded_for: bool,
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

impl AdminLogIn {
    pub fn new(
        auth_url: &str,
        signer: InternalTokenSigner,
        timeout_ms: u64,
        pipeline: Arc<Pipeline>,
        trust_forwarded_for: bool,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(timeout_ms)).build()?;
        Ok(Self {
            http,
            url: format!("{}/internal/admin-sessions", auth_url.trim_end_matches('/')),
            signer,
            pipeline,
            trust_forwarded_for,
        })
    }
}

pub fn routes(admin: Arc<AdminLogIn>) -> Router {
    Router::new().route("/admin/log-in", post(log_in)).with_state(admin)
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))).into_response()
}

#[tracing::instrument(skip_all)]
async fn log_in(
    State(admin): State<Arc<AdminLogIn>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(credentials): Json<Credentials>,
) -> Response {
    let address = Subject::Address(client_address(peer, &headers, admin.trust_forwarded_for));
    let (root_type, field) = RATE_LIMIT_FIELD.split_once('.').unwrap_or_default();
    if let Err(refused) = admin.pipeline.rate_limiter.check(root_type, field, &address, Instant::now()) {
        admin.pipeline.metrics.record_rate_limited(RATE_LIMIT_FIELD, address.scope());
        let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "too many admin log-ins; retry later");
        if let Ok(value) = HeaderValue::from_str(&refused.retry_after_s().to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let fingerprint = URL_SAFE_NO_PAD.encode(bytes);
    let fingerprint_hash = URL_SAFE_NO_PAD.encode(Sha256::digest(fingerprint.as_bytes()));
    let request_id = uuid::Uuid::now_v7().simple().to_string();
    let token = match admin.signer.sign(&Principal::service(ROUTER_ISSUER, request_id.clone())) {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(%error, "signing a token for auth");
            return error_response_internal(&request_id);
        }
    };
    let answer = admin
        .http
        .post(&admin.url)
        .bearer_auth(token)
        .json(&json!({ "email": credentials.email, "password": credentials.password, "fingerprintHash": fingerprint_hash }))
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, "auth did not answer an admin log-in");
            return refusal(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "try again shortly");
        }
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        if body["code"] == "INVALID_CREDENTIALS" {
            return refusal(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", "wrong email or password, or not an admin");
        }
        tracing::warn!(%status, %body, "auth refused an admin log-in");
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "try again shortly");
    }
    let session_expires_at_ms = body["sessionExpiresAtMs"].as_i64().unwrap_or_default();
    let max_age_s = (session_expires_at_ms - c9pay_platform::time::now_ms()).max(0) / 1000;
    let cookie = format!("{ADMIN_COOKIE}={fingerprint}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_s}");
    let payload = json!({
        "accessToken": body["accessToken"],
        "tokenType": "Bearer",
        "expiresAt": c9pay_platform::time::from_ms(body["expiresAtMs"].as_i64().unwrap_or_default()).to_rfc3339(),
        "sessionExpiresAt": c9pay_platform::time::from_ms(session_expires_at_ms).to_rfc3339(),
    });
    let mut response = (StatusCode::OK, Json(payload)).into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        Err(_) => return error_response_internal(&request_id),
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_response_internal(request_id: &str) -> Response {
    refusal(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", &format!("internal error (request id {request_id})"))
}

/// `POST /admin/log-out` (with the admin token, the cookie and the CSRF header of
/// [`super::browser_session`]): ends the admin session in auth and clears the cookie,
/// whatever auth answered.
pub(crate) async fn log_out(
    State(sessions): State<super::browser_session::Sessions>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use super::browser_session::{json_response, read, run, with_cookie};
    let request = match read(peer, headers, &body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let response = match run(&sessions, &request, "mutation LogOut { logOut }", json!({}), true).await {
        Ok(data) => json_response(StatusCode::OK, &request.request_id, &json!({ "ended": u8::from(data["logOut"] == true) })),
        Err(response) => *response,
    };
    with_cookie(response, &format!("{ADMIN_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"))
}
