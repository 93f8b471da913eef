//! People's sessions in a browser, by the token-handler pattern: the access token lives in
//! the page's memory only, and the refresh token never reaches JavaScript at all. The
//! router keeps it in a `__Host-` cookie (HttpOnly, Secure, SameSite=Strict, Path=/) and
//! spends it on the browser's behalf:
//!
//! - `POST /session/sign-up` `{email, password, displayName}` and `POST /session/log-in`
//!   `{email, password}` open a session;
//! - `POST /session/refresh` spends the cookie's refresh token for a new access token and
//!   rotates the cookie (a spent one presented again ends the whole log-in, as auth's
//!   `refreshSession` does for native clients, and the cookie is cleared);
//! - `POST /session/log-out` `{"everywhere": bool}`, with the access token, ends this
//!   session (or every one) and clears the cookie.
//!
//! Each answers `{accessToken, expiresAt, user}` (log-out: `{ended}`) or GraphQL-shaped
//! `errors` with auth's codes. They run auth's own mutations through the router's
//! pipeline, so that rate limits, metrics and the internal token are those of any other
//! request.
//!
//! Cross-site request forgery: a cookie that the browser attaches by itself must not let
//! another site act. SameSite=Strict keeps the cookie off cross-site requests; besides, every
//! request must carry the custom header `X-C9pay-CSRF: 1` (which a form cannot send, and a
//! cross-origin script cannot without a CORS preflight the router never grants), and one
//! whose `Origin` is another origin or whose `Sec-Fetch-Site` is `cross-site` is refused.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Map, Value, json};

use crate::{
    error::{RouterError, code},
    pipeline::{Answer, Caller, GraphQLRequest, Pipeline, Transport},
    transport::http::{ADMIN_COOKIE, client_address, cookie, new_request_id, origin_is_this_host},
};

/// The cookie that holds a browser session's refresh token.
pub const SESSION_COOKIE: &str = "__Host-c9pay-session";
/// The header every session request must carry.
pub const CSRF_HEADER: &str = "x-c9pay-csrf";
/// The largest body a session request may have.
const BODY_SIZE_MAX_BYTES: usize = 4096;

/// What the session endpoints refuse with, beside auth's own codes.
pub mod session_code {
    pub const CSRF_REFUSED: &str = "CSRF_REFUSED";
    pub const NO_SESSION: &str = "NO_SESSION";
    pub const REFRESH_TOKEN_REUSED: &str = "REFRESH_TOKEN_REUSED";
    pub const REFRESH_TOKEN_INVALID: &str = "REFRESH_TOKEN_INVALID";
}

const SESSION_FIELDS: &str = "accessToken expiresAt refreshToken refreshTokenExpiresAt user { id displayName }";

#[derive(Clone)]
pub(crate) struct Sessions {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) trust_forwarded_for: bool,
}

pub fn routes(pipeline: Arc<Pipeline>, trust_forwarded_for: bool) -> Router {
    Router::new()
        .route("/session/sign-up", post(sign_up))
        .route("/session/log-in", post(log_in))
        .route("/session/refresh", post(refresh))
        .route("/session/log-out", post(log_out))
        .route("/admin/log-out", post(super::admin_session::log_out))
        .with_state(Sessions { pipeline, trust_forwarded_for })
}

/// A request as the session endpoints read it: refused unless it passed the CSRF checks
/// and its body is a JSON object.
pub(crate) struct SessionRequest {
    peer: SocketAddr,
    headers: HeaderMap,
    body: Map<String, Value>,
    pub(crate) request_id: String,
}

/// A response that refuses the request, boxed: responses are large, and most requests are
/// not refused.
pub(crate) type Refused = Box<Response>;

/// The session endpoints take their request through this extractor, so that no handler
/// can forget the CSRF and body checks.
impl<S: Send + Sync> FromRequest<S> for SessionRequest {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, state)
            .await
            .map(|ConnectInfo(peer)| peer)
            .map_err(IntoResponse::into_response)?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        read(peer, parts.headers, &bytes).map_err(|refused| *refused)
    }
}

fn read(peer: SocketAddr, headers: HeaderMap, body: &Bytes) -> Result<SessionRequest, Refused> {
    let request_id = new_request_id();
    if let Some(reason) = cross_site(&headers) {
        tracing::info!(request_id, reason, "refused a browser-session request");
        return Err(Box::new(error_response(
            StatusCode::FORBIDDEN,
            &request_id,
            session_code::CSRF_REFUSED,
            "this request did not come from this site's own pages",
        )));
    }
    let bad_body = || {
        Box::new(error_response(StatusCode::BAD_REQUEST, &request_id, code::BAD_REQUEST, "the body must be a JSON object"))
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().to_ascii_lowercase().starts_with("application/json"));
    if !is_json || body.len() > BODY_SIZE_MAX_BYTES {
        return Err(bad_body());
    }
    let body = if body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            _ => return Err(bad_body()),
        }
    };
    Ok(SessionRequest { peer, headers, body, request_id })
}

/// Why the request looks cross-site, if it does.
fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if text(CSRF_HEADER) != Some("1") {
        return Some("no X-C9pay-CSRF header");
    }
    if text("sec-fetch-site") == Some("cross-site") {
        return Some("Sec-Fetch-Site: cross-site");
    }
    if origin_is_this_host(headers) == Some(false) {
        return Some("Origin is another site");
    }
    None
}

fn string_field(body: &Map<String, Value>, name: &str) -> Value {
    body.get(name).filter(|value| value.is_string()).cloned().unwrap_or(Value::String(String::new()))
}

async fn sign_up(State(sessions): State<Sessions>, request: SessionRequest) -> Response {
    let variables = json!({
        "email": string_field(&request.body, "email"),
        "password": string_field(&request.body, "password"),
        "displayName": string_field(&request.body, "displayName"),
    });
    let query = format!(
        "mutation SignUp($email: String!, $password: String!, $displayName: String!) {{ \
         signUp(input: {{ email: $email, password: $password, displayName: $displayName }}) {{ {SESSION_FIELDS} }} }}"
    );
    open(&sessions, &request, &query, variables, "signUp").await
}

async fn log_in(State(sessions): State<Sessions>, request: SessionRequest) -> Response {
    let variables = json!({
        "email": string_field(&request.body, "email"),
        "password": string_field(&request.body, "password"),
    });
    let query = format!(
        "mutation LogIn($email: String!, $password: String!) {{ \
         logIn(input: {{ email: $email, password: $password }}) {{ {SESSION_FIELDS} }} }}"
    );
    open(&sessions, &request, &query, variables, "logIn").await
}

async fn refresh(State(sessions): State<Sessions>, request: SessionRequest) -> Response {
    let Some(refresh_token) = cookie(&request.headers, SESSION_COOKIE).filter(|token| !token.is_empty()) else {
        return error_response(StatusCode::UNAUTHORIZED, &request.request_id, session_code::NO_SESSION, "not signed in on this browser");
    };
    let variables = json!({ "refreshToken": refresh_token });
    let query = format!(
        "mutation RefreshSession($refreshToken: String!) {{ \
         refreshSession(input: {{ refreshToken: $refreshToken }}) {{ {SESSION_FIELDS} }} }}"
    );
    open(&sessions, &request, &query, variables, "refreshSession").await
}

async fn log_out(State(sessions): State<Sessions>, request: SessionRequest) -> Response {
    let everywhere = request.body.get("everywhere").and_then(Value::as_bool).unwrap_or(false);
    let (query, field) = if everywhere {
        ("mutation LogOutEverywhere { logOutEverywhere }", "logOutEverywhere")
    } else {
        ("mutation LogOut { logOut }", "logOut")
    };
    let outcome = run(&sessions, &request, query, json!({}), false).await;
    // The cookie goes whatever auth answered: a browser that asked to log out must not
    // stay signed in because its access token had expired.
    let response = match outcome {
        Ok(data) => {
            let ended = match &data[field] {
                Value::Bool(open) => json!(u8::from(*open)),
                other => other.clone(),
            };
            json_response(StatusCode::OK, &request.request_id, &json!({ "ended": ended }))
        }
        Err(response) => *response,
    };
    with_cookie(response, &clear_cookie())
}

/// Runs a mutation that opens a session; on success moves its refresh token into the
/// cookie and answers the rest.
async fn open(sessions: &Sessions, request: &SessionRequest, query: &str, variables: Value, field: &str) -> Response {
    match run(sessions, request, query, variables, false).await {
        Ok(data) => {
            let payload = &data[field];
            let (Some(refresh_token), Some(access_token)) =
                (payload["refreshToken"].as_str(), payload["accessToken"].as_str())
            else {
                tracing::error!(request_id = request.request_id, "auth answered a session without tokens");
                return internal_error(&request.request_id);
            };
            let max_age_s = payload["refreshTokenExpiresAt"]
                .as_str()
                .and_then(chrono_seconds_from_now)
                .unwrap_or(0);
            let body = json!({
                "accessToken": access_token,
                "expiresAt": payload["expiresAt"],
                "user": payload["user"],
            });
            let cookie = format!("{SESSION_COOKIE}={refresh_token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_s}");
            with_cookie(json_response(StatusCode::OK, &request.request_id, &body), &cookie)
        }
        Err(response) if field == "refreshSession" && is_dead_session(&response) => {
            with_cookie(*response, &clear_cookie())
        }
        Err(response) => *response,
    }
}

/// Whether a refresh was refused for good (spent or unknown token), so that the cookie
/// is worth nothing any more.
fn is_dead_session(response: &Response) -> bool {
    response
        .headers()
        .get(ERROR_CODE_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|code| code == session_code::REFRESH_TOKEN_REUSED || code == session_code::REFRESH_TOKEN_INVALID)
}

/// The first error code of a refusal, for [`is_dead_session`]; internal to the router
/// (a response header is the simplest way to carry it beside the body).
const ERROR_CODE_HEADER: &str = "x-c9pay-error-code";

/// Runs `query` through the pipeline as this request's caller (with the admin cookie's
/// fingerprint when `admin`); `data` on success, a ready refusal otherwise.
pub(crate) async fn run(
    sessions: &Sessions,
    request: &SessionRequest,
    query: &str,
    variables: Value,
    admin: bool,
) -> Result<Value, Refused> {
    let variables = match variables {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let graphql = GraphQLRequest {
        query: query.to_string(),
        document_id: None,
        operation_name: None,
        variables,
        transport: Transport::Post,
    };
    let authorization = request
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    let caller = Caller {
        authorization,
        client_address: Some(client_address(request.peer, &request.headers, sessions.trust_forwarded_for)),
        request_id: &request.request_id,
        dpop_proofs: Vec::new(),
        method: "POST",
        url: String::new(),
        admin_fingerprint: admin.then(|| cookie(&request.headers, ADMIN_COOKIE)).flatten(),
        first_party: false,
    };
    match sessions.pipeline.run(graphql, caller).await {
        Ok(Answer { body, .. }) => {
            let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            match answer["errors"].as_array().and_then(|errors| errors.first()) {
                None if answer["data"].is_object() => Ok(answer["data"].clone()),
                None => Err(Box::new(internal_error(&request.request_id))),
                Some(first) => {
                    let code = first["extensions"]["code"].as_str().unwrap_or(code::INTERNAL);
                    let message = first["message"].as_str().unwrap_or("refused");
                    Err(Box::new(error_response(status_of(code), &request.request_id, code, message)))
                }
            }
        }
        Err(error) => Err(Box::new(refusal(&request.request_id, &error))),
    }
}

/// The HTTP status of an error code that a session request can meet.
fn status_of(code: &str) -> StatusCode {
    match code {
        "INVALID_CREDENTIALS" | "UNAUTHENTICATED" | "TOKEN_EXPIRED" | session_code::NO_SESSION
        | session_code::REFRESH_TOKEN_INVALID | session_code::REFRESH_TOKEN_REUSED => StatusCode::UNAUTHORIZED,
        "FORBIDDEN" => StatusCode::FORBIDDEN,
        "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
        "EMAIL_TAKEN" => StatusCode::CONFLICT,
        "INTERNAL" | "INTERNAL_SERVER_ERROR" => StatusCode::INTERNAL_SERVER_ERROR,
        "SERVICE_UNAVAILABLE" | "SUBGRAPH_TIMEOUT" | "DOWNSTREAM_SERVICE_ERROR" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn refusal(request_id: &str, error: &RouterError) -> Response {
    let mut response = json_response(error.status(true), request_id, &json!({ "errors": error.errors() }));
    if let RouterError::RateLimited { retry_after_s, .. } | RouterError::CircuitOpen { retry_after_s, .. } = error {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
    }
    response
}

fn error_response(status: StatusCode, request_id: &str, code: &str, message: &str) -> Response {
    let error = json!({ "message": message, "extensions": { "code": code, "requestId": request_id } });
    let mut response = json_response(status, request_id, &json!({ "errors": [error] }));
    if let Ok(value) = HeaderValue::from_str(code) {
        response.headers_mut().insert(ERROR_CODE_HEADER, value);
    }
    response
}

fn internal_error(request_id: &str) -> Response {
    error_response(StatusCode::INTERNAL_SERVER_ERROR, request_id, code::INTERNAL, "something went wrong on our side")
}

pub(crate) fn json_response(status: StatusCode, request_id: &str, body: &Value) -> Response {
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

pub(crate) fn with_cookie(mut response: Response, cookie: &str) -> Response {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
            response
        }
        Err(_) => internal_error("cookie"),
    }
}

fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Seconds from now until an RFC 3339 instant (0 if it has passed or does not parse).
fn chrono_seconds_from_now(at: &str) -> Option<i64> {
    let at = c9pay_platform::time::parse_rfc3339_ms(at)?;
    Some((at - c9pay_platform::time::now_ms()).max(0) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_request_without_the_header_or_from_another_site_is_cross_site() {
        assert!(cross_site(&headers(&[("host", "pay.example")])).is_some());
        assert!(cross_site(&headers(&[("host", "pay.example"), (CSRF_HEADER, "0")])).is_some());
        assert!(cross_site(&headers(&[(CSRF_HEADER, "1"), ("sec-fetch-site", "cross-site")])).is_some());
        assert!(
            cross_site(&headers(&[(CSRF_HEADER, "1"), ("host", "pay.example"), ("origin", "https://evil.example")])).is_some()
        );
        assert!(cross_site(&headers(&[(CSRF_HEADER, "1"), ("host", "pay.example"), ("origin", "https://pay.example")])).is_none());
        assert!(cross_site(&headers(&[(CSRF_HEADER, "1"), ("sec-fetch-site", "same-origin")])).is_none());
    }
}
