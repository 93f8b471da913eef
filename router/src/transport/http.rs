//! GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): `POST /graphql`
//! with a JSON body, `GET /graphql` with URL parameters for queries only, the response
//! media type chosen from `Accept`, and GraphiQL for a browser asking for HTML.
//!
//! Subscriptions (and any other operation) also come over GraphQL over WebSocket (an
//! upgrade of `GET /graphql`, see [`crate::transport::websocket`]) and as server-sent events
//! (`Accept: text/event-stream` on `POST` or `GET`; GraphQL over SSE in its "distinct
//! connections" mode: one operation per request, `next` events, then `complete`).
//!
//! POST requires `Content-Type: application/json`. Besides being what the specification
//! asks, that makes every cross-origin POST a CORS-preflighted request, so a web page
//! elsewhere cannot make a visitor's browser send a mutation (CSRF).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, FromRequestParts, Query, Request, State, ws::WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::Value;

use super::{sse, websocket};
use crate::{
    assets::graphiql,
    error::RouterError,
    pipeline::{Answer, Caller, GraphQLRequest, Pipeline, Transport},
};

/// `application/graphql-response+json`, the specification's media type.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub(super) const REQUEST_ID_HEADER: &str = "x-request-id";

/// The media type of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: errors before execution get HTTP 4xx.
    GraphQLResponseJson,
    /// `application/json`, for clients that predate the specification: 200 for every
    /// well-formed request, errors in the body only.
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

#[derive(Clone)]
pub(super) struct Endpoint {
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) body_size_max_bytes: usize,
    pub(super) trust_forwarded_for: bool,
}

/// `GET` and `POST /graphql`, and GraphiQL's bundled script and stylesheet.
pub fn routes(pipeline: Arc<Pipeline>, trust_forwarded_for: bool) -> Router {
    let body_size_max_bytes = pipeline.limits.body_size_max_bytes;
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route(graphiql::SCRIPT_PATH, get(graphiql::script))
        .route(graphiql::STYLESHEET_PATH, get(graphiql::stylesheet))
        .with_state(Endpoint {
            pipeline,
            body_size_max_bytes,
            trust_forwarded_for,
        })
}

// No span of its own: `trace_requests` made the request's span.
async fn graphql_post(
    State(endpoint): State<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = new_request_id();
    let event_stream = accepts_event_stream(&headers);
    let media_type = if event_stream {
        MediaType::GraphQLResponseJson
    } else {
        match negotiate(&headers) {
            Ok(media_type) => media_type,
            Err(error) => return body_left_unread(refusal(MediaType::Json, &request_id, &error)),
        }
    };
    let bytes = match read_post_body(&headers, body, endpoint.body_size_max_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return body_left_unread(refusal(media_type, &request_id, &error)),
    };
    let mut request = match parse_post(&bytes) {
        Ok(request) => request,
        Err(error) => return refusal(media_type, &request_id, &error),
    };
    if event_stream {
        request.transport = Transport::EventStream;
        return sse::serve_events(&endpoint, peer, &headers, "POST", &request_id, request).await;
    }
    serve(&endpoint, peer, &headers, media_type, &request_id, request).await
}

/// The cookie that carries an admin session's fingerprint. `__Host-` makes browsers
/// accept it only from this origin over HTTPS, with `Path=/` and no `Domain`.
pub const ADMIN_COOKIE: &str = "__Host-c9pay-admin";

/// The value of cookie `name`, if the request sent exactly one such cookie.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value);
    let first = values.next()?;
    values.next().is_none().then_some(first)
}


async fn graphql_get(
    State(endpoint): State<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => {
                let pipeline = endpoint.pipeline.clone();
                let client_address = client_address(peer, &parts.headers, endpoint.trust_forwarded_for);
                let first_party = is_first_party(&parts.headers);
                upgrade
                    .protocols([websocket::PROTOCOL])
                    .max_message_size(endpoint.body_size_max_bytes)
                    .read_buffer_size(websocket::READ_BUFFER_BYTES)
                    .on_upgrade(move |socket| websocket::serve(pipeline, socket, client_address, first_party))
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    let headers = parts.headers;
    let parameters = match Query::<HashMap<String, String>>::try_from_uri(&parts.uri) {
        Ok(Query(parameters)) => parameters,
        Err(rejection) => return rejection.into_response(),
    };
    let request_id = new_request_id();
    if !parameters.contains_key("query") && !parameters.contains_key("documentId") && accepts_html(&headers) {
        return graphiql::page();
    }
    if accepts_event_stream(&headers) {
        return match read_get(&parameters) {
            Ok(mut request) => {
                request.transport = Transport::EventStream;
                sse::serve_events(&endpoint, peer, &headers, "GET", &request_id, request).await
            }
            Err(error) => refusal(MediaType::GraphQLResponseJson, &request_id, &error),
        };
    }
    let media_type = match negotiate(&headers) {
        Ok(media_type) => media_type,
        Err(error) => return refusal(MediaType::Json, &request_id, &error),
    };
    let request = match read_get(&parameters) {
        Ok(request) => request,
        Err(error) => return refusal(media_type, &request_id, &error),
    };
    serve(&endpoint, peer, &headers, media_type, &request_id, request).await
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/event-stream"))
}

fn authorization_of(headers: &HeaderMap) -> Option<&str> {
    // A header that is not valid text cannot be a bearer token; it is passed on as an
    // empty one so that it is refused like any other bad credential.
    headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default())
}

async fn serve(
    endpoint: &Endpoint,
    peer: SocketAddr,
    headers: &HeaderMap,
    media_type: MediaType,
    request_id: &str,
    request: GraphQLRequest,
) -> Response {
    let method = if request.transport == Transport::Get { "GET" } else { "POST" };
    let caller = caller(endpoint, peer, headers, method, request_id);
    match endpoint.pipeline.run(request, caller).await {
        Ok(Answer { body, .. }) => with_headers(
            (StatusCode::OK, body).into_response(),
            media_type,
            request_id,
        ),
        Err(error) => refusal(media_type, request_id, &error),
    }
}

/// The caller as the pipeline sees it: credentials, the client's address, and for kiosks
/// the DPoP proofs with the method and URL they must name.
pub(super) fn caller<'a>(endpoint: &Endpoint, peer: SocketAddr, headers: &'a HeaderMap, method: &'a str, request_id: &'a str) -> Caller<'a> {
    let dpop_proofs = headers
        .get_all("dpop")
        .iter()
        .map(|value| value.to_str().unwrap_or_default())
        .collect();
    let url = endpoint.pipeline.public_url.clone().unwrap_or_else(|| {
        let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
        format!("http://{host}/graphql")
    });
    Caller {
        authorization: authorization_of(headers),
        client_address: Some(client_address(peer, headers, endpoint.trust_forwarded_for)),
        request_id,
        dpop_proofs,
        method,
        url,
        admin_fingerprint: cookie(headers, ADMIN_COOKIE),
        first_party: is_first_party(headers),
    }
}

/// Whether a page of this router's own origin sent the request (browsers name the page's
/// origin in `Origin` on every POST, WebSocket and cross-origin request, and
/// `Sec-Fetch-Site` on every request) and it is not an admin's (GraphiQL in the admin
/// console stays free-form). Native clients send neither header.
pub(crate) fn is_first_party(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if cookie(headers, ADMIN_COOKIE).is_some() {
        return false;
    }
    origin_is_this_host(headers) == Some(true) || text("sec-fetch-site") == Some("same-origin")
}

/// Whether the `Origin` the browser sent names the host the request was sent to; `None`
/// when there is no `Origin`.
pub(crate) fn origin_is_this_host(headers: &HeaderMap) -> Option<bool> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let origin = text("origin")?;
    let host = text("host").unwrap_or_default();
    Some(origin.split_once("://").is_some_and(|(_, rest)| rest == host))
}

/// The client's address: the peer's, or behind a trusted proxy the rightmost entry of
/// `X-Forwarded-For` (entries to its left were written by the client and prove nothing).
pub(crate) fn client_address(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| headers.get_all("x-forwarded-for").iter().next_back())
        .flatten()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|entry| entry.trim().parse::<IpAddr>().ok());
    forwarded.unwrap_or_else(|| peer.ip())
}

/// Middleware: every request the router serves is the root span of a new trace (a
/// `traceparent` from a client is not followed: clients do not decide what is recorded).
pub async fn trace_requests(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument as _;
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", axum::extract::MatchedPath::as_str)
        .to_string();
    let span = tracing::info_span!(
        parent: None,
        "request",
        otel.name = %format!("router {} {route}", request.method()),
        otel.kind = "server",
        service = "router",
        http.route = %route,
        trace_id = tracing::field::Empty,
    );
    c9pay_platform::telemetry::record_trace_id(&span);
    next.run(request).instrument(span).await
}

pub(crate) fn new_request_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub(crate) fn refusal(media_type: MediaType, request_id: &str, error: &RouterError) -> Response {
    let status = error.status(media_type == MediaType::GraphQLResponseJson);
    let body = serde_json::json!({ "errors": error.errors() });
    let mut response = with_headers(
        (status, body.to_string()).into_response(),
        media_type,
        request_id,
    );
    let headers = response.headers_mut();
    match error {
        RouterError::Unauthenticated(_) => {
            // Both schemes the router accepts (RFC 9449 section 7.1): bearer tokens for
            // people and admins, DPoP-bound tokens (EdDSA proofs) for kiosks.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer, DPoP algs=\"EdDSA\""),
            );
        }
        RouterError::MethodNotAllowed(_) => {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        RouterError::RateLimited { retry_after_s, .. } | RouterError::CircuitOpen { retry_after_s, .. } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
        }
        _ => {}
    }
    response
}

fn with_headers(mut response: Response, media_type: MediaType, request_id: &str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Picks the response media type from `Accept`: no header means `application/json`;
/// `*/*` and `application/*` mean `application/json` (what a legacy client expects); of
/// the two JSON types the higher quality wins, the specification's type on a tie.
pub fn negotiate(headers: &HeaderMap) -> Result<MediaType, RouterError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(MediaType::Json);
    };
    let accept = accept.to_str().map_err(|_| RouterError::NotAcceptable)?;
    if accept.trim().is_empty() {
        return Ok(MediaType::Json);
    }
    let mut best: Option<(MediaType, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|parameter| parameter.trim().strip_prefix("q="))
            .find_map(|value| value.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        let media_type = match essence.as_str() {
            GRAPHQL_RESPONSE_JSON => MediaType::GraphQLResponseJson,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((current, current_quality)) => {
                quality > current_quality
                    || (quality == current_quality
                        && media_type == MediaType::GraphQLResponseJson
                        && current != MediaType::GraphQLResponseJson)
            }
        };
        if better {
            best = Some((media_type, quality));
        }
    }
    best.map(|(media_type, _)| media_type)
        .ok_or(RouterError::NotAcceptable)
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html"))
}

/// A refusal sent before the request's body was read (wrong media type, too large): the
/// connection closes after it. Left open, the unread bytes would be taken for the next
/// request on the connection, or the server would drop the connection while a client
/// that pools connections sends its next request on it.
fn body_left_unread(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The body of a POST, after its headers are checked: JSON, UTF-8, within the size limit.
async fn read_post_body(
    headers: &HeaderMap,
    body: Body,
    size_max_bytes: usize,
) -> Result<axum::body::Bytes, RouterError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .ok_or(RouterError::UnsupportedMediaType)?
        .to_ascii_lowercase();
    let mut parts = content_type.split(';').map(str::trim);
    if parts.next() != Some("application/json") {
        return Err(RouterError::UnsupportedMediaType);
    }
    if parts.any(|parameter| {
        parameter
            .strip_prefix("charset=")
            .is_some_and(|charset| !charset.trim_matches('"').eq_ignore_ascii_case("utf-8"))
    }) {
        return Err(RouterError::UnsupportedMediaType);
    }
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared_length.is_some_and(|length| length > size_max_bytes) {
        return Err(RouterError::PayloadTooLarge { size_max_bytes });
    }
    axum::body::to_bytes(body, size_max_bytes)
        .await
        .map_err(|error| {
            if error.to_string().contains("length limit") {
                RouterError::PayloadTooLarge { size_max_bytes }
            } else {
                RouterError::BadRequest(format!("reading the request body: {error}"))
            }
        })
}

/// A GraphQL-over-HTTP request from a POST's body.
fn parse_post(bytes: &[u8]) -> Result<GraphQLRequest, RouterError> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|error| RouterError::BadRequest(format!("the body is not JSON: {error}")))?;
    let Value::Object(mut body) = body else {
        return Err(RouterError::BadRequest(
            "the body must be a JSON object".to_string(),
        ));
    };
    let document_id = match body.remove("documentId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id),
        Some(_) => return Err(RouterError::BadRequest("`documentId` must be a string".to_string())),
    };
    let query = match (body.remove("query"), &document_id) {
        (Some(Value::String(query)), None) => query,
        (None | Some(Value::Null), Some(_)) => String::new(),
        (Some(Value::String(_)), Some(_)) => {
            return Err(RouterError::BadRequest(
                "send either `query` or `documentId`, not both".to_string(),
            ));
        }
        _ => {
            return Err(RouterError::BadRequest(
                "the body must have a string `query` (or a `documentId`)".to_string(),
            ));
        }
    };
    let operation_name = match body.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => {
            return Err(RouterError::BadRequest(
                "`operationName` must be a string".to_string(),
            ));
        }
    };
    let variables = object_or_null(body.remove("variables"), "variables")?;
    // Extensions are accepted (the specification requires it) but none is used yet.
    object_or_null(body.remove("extensions"), "extensions")?;
    Ok(GraphQLRequest {
        query,
        document_id,
        operation_name,
        variables,
        transport: Transport::Post,
    })
}

fn read_get(parameters: &HashMap<String, String>) -> Result<GraphQLRequest, RouterError> {
    let document_id = parameters.get("documentId").cloned();
    let query = match (parameters.get("query"), &document_id) {
        (Some(query), None) => query.clone(),
        (None, Some(_)) => String::new(),
        (Some(_), Some(_)) => {
            return Err(RouterError::BadRequest("send either `query` or `documentId`, not both".to_string()));
        }
        (None, None) => return Err(RouterError::BadRequest("the `query` parameter is missing".to_string())),
    };
    let json_parameter = |name: &str| -> Result<Option<Value>, RouterError> {
        parameters
            .get(name)
            .map(|text| {
                serde_json::from_str(text).map_err(|error| {
                    RouterError::BadRequest(format!("`{name}` is not JSON: {error}"))
                })
            })
            .transpose()
    };
    let variables = object_or_null(json_parameter("variables")?, "variables")?;
    object_or_null(json_parameter("extensions")?, "extensions")?;
    Ok(GraphQLRequest {
        query,
        document_id,
        operation_name: parameters.get("operationName").cloned(),
        variables,
        transport: Transport::Get,
    })
}

fn object_or_null(
    value: Option<Value>,
    name: &str,
) -> Result<serde_json::Map<String, Value>, RouterError> {
    match value {
        None | Some(Value::Null) => Ok(serde_json::Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(RouterError::BadRequest(format!(
            "`{name}` must be a JSON object"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Result<MediaType, RouterError> {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::ACCEPT, value);
        }
        negotiate(&headers)
    }

    #[tokio::test]
    async fn a_streamed_body_over_the_limit_is_too_large_even_without_a_length() {
        let chunk: Result<axum::body::Bytes, std::io::Error> =
            Ok(axum::body::Bytes::from(vec![b' '; 2_000]));
        let body = Body::from_stream(futures::stream::iter(vec![chunk]));
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));

        let result = read_post_body(&headers, body, 1_024).await;

        assert!(matches!(result, Err(RouterError::PayloadTooLarge { size_max_bytes: 1_024 })));
    }

    #[test]
    fn the_media_type_follows_accept() {
        assert_eq!(accept("").ok(), Some(MediaType::Json));
        assert_eq!(accept("*/*").ok(), Some(MediaType::Json));
        assert_eq!(accept("application/json").ok(), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9").ok(),
            Some(MediaType::GraphQLResponseJson)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json").ok(),
            Some(MediaType::GraphQLResponseJson)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json").ok(),
            Some(MediaType::Json)
        );
        assert!(accept("text/plain").is_err());
        assert!(accept("application/json;q=0").is_err());
    }
}
