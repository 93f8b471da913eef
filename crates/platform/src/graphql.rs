//! The GraphQL endpoint of a subgraph: every request must carry a valid internal token
//! (see [`crate::internal_token`]); the verified [`Principal`] is the only identity a
//! resolver ever sees.
//!
//! Subscriptions come over GraphQL over WebSocket (`graphql-transport-ws`) on the same
//! path, authenticated by the internal token given as `authorization` in the
//! `connection_init` payload (a WebSocket handshake has no room for it elsewhere); a
//! connection without a valid one is closed before any operation runs. The token names
//! either a principal, whose every subscription on the connection runs as it (one
//! connection per subscription, what a direct caller does), or the router itself.
//!
//! # The router's shared connections
//!
//! The router multiplexes its subscriptions over a few connections it opens as itself
//! (`Principal::service("router")`). Such a connection can do nothing on its own: each
//! `subscribe` on it must carry its own principal's internal token in
//! `payload.extensions.c9pay.authorization` ([`OPERATION_EXTENSION`]), verified exactly
//! as a connection's token is (same keys, issuer rules, audience and expiry), and runs as
//! that principal; one without a valid token is answered with a single error whose
//! `extensions.code` is `UNAUTHENTICATED`, and nothing runs. A token is checked once,
//! when its subscription starts: a subscription outlives the token's minute, and the
//! router ends it when the client's own credential expires or is revoked. The
//! subscription's `traceparent` (the router's subscribe span) comes beside the token
//! (`extensions.c9pay.traceparent`) and becomes the subscription's [`TraceParent`]; on a
//! principal's own connection it comes in the `connection_init` payload instead.
//!
//! Threat model: the per-subscription token is what a connection's token was, moved from
//! the connection to the operation; it is short-lived, signed by the router, for the
//! platform or this service. A caller that can open a connection as the router holds the
//! router's key and could sign any principal's token anyway; a caller without it cannot
//! open such a connection, and on a principal's own connection the extension is ignored
//! (the connection's principal is the only identity there). The router's HTTP fetches
//! of a subscription's events use the same pair (the router's token as `Authorization`,
//! the principal's in the extension), so every fetch of a subscription runs as its
//! principal.

use std::{any::TypeId, sync::Arc};

use async_graphql::Executor;
use futures::stream::BoxStream;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::{
    Json, Router,
    extract::{State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    error::{REQUEST_ID, code},
    internal_token::{InternalTokenError, InternalTokenVerifier, Principal, ROUTER_ISSUER},
    telemetry::TraceParent,
};

/// Initial read buffer of a subscription connection.
const WEBSOCKET_READ_BUFFER_BYTES: usize = 4 * 1024;

/// The request extension an operation on the router's own connection carries its
/// principal's internal token (`authorization`) and `traceparent` in.
pub const OPERATION_EXTENSION: &str = "c9pay";

/// Session data of a WebSocket the router opened as itself: every operation on it names
/// its own principal (see the module's documentation).
struct RouterConnection;

/// Whether `principal` is the router speaking for itself (a shared connection's, or its
/// calls to internal endpoints), not for a person or device.
fn is_router(principal: &Principal) -> bool {
    principal.is_service(ROUTER_ISSUER)
}

/// A string field of the operation extension.
fn operation_field<'a>(extensions: &'a async_graphql::Extensions, field: &str) -> Option<&'a str> {
    match extensions.get(OPERATION_EXTENSION)? {
        async_graphql::Value::Object(fields) => match fields.get(field)? {
            async_graphql::Value::String(value) => Some(value),
            _ => None,
        },
        _ => None,
    }
}

/// A string field of a `connection_init` payload, its name in any case (it stands in for
/// an HTTP header).
fn init_field<'a>(payload: &'a serde_json::Value, field: &str) -> Option<&'a str> {
    payload
        .as_object()?
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(field))
        .and_then(|(_, value)| value.as_str())
}

/// The principal an operation on the router's connection names in its extension.
fn operation_principal(
    verifier: &InternalTokenVerifier,
    extensions: &async_graphql::Extensions,
) -> Result<Principal, InternalTokenError> {
    let principal = verifier.verify_authorization(operation_field(extensions, "authorization"))?;
    // The router's own token names nobody: an operation must name its principal.
    if is_router(&principal) {
        return Err(InternalTokenError::Invalid("an operation must name its own principal".to_string()));
    }
    Ok(principal)
}

/// The executor of one WebSocket connection: on the router's shared connection, each
/// subscription runs as the principal its own token names, or not at all.
#[derive(Clone)]
struct PerOperation<E> {
    executor: E,
    verifier: Arc<InternalTokenVerifier>,
}

impl<E: Executor> Executor for PerOperation<E> {
    fn execute(&self, request: async_graphql::Request) -> impl Future<Output = async_graphql::Response> + Send {
        self.executor.execute(request)
    }

    fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let shared = session_data
            .as_ref()
            .is_some_and(|data| data.get(&TypeId::of::<RouterConnection>()).is_some());
        if !shared {
            return self.executor.execute_stream(request, session_data);
        }
        let mut principal = match operation_principal(&self.verifier, &request.extensions) {
            Ok(principal) => principal,
            Err(error) => {
                tracing::warn!(%error, "refused a subscription on the router's connection without a valid internal token of its own");
                let error = crate::error::client_error(
                    code::UNAUTHENTICATED,
                    "each operation on the router's connection must carry its own principal's internal token",
                )
                .into_server_error(async_graphql::Pos::default());
                return Box::pin(futures::stream::once(async move {
                    async_graphql::Response::from_errors(vec![error])
                }));
            }
        };
        if principal.request_id.is_empty() {
            principal.request_id = new_request_id();
        }
        let traceparent = operation_field(&request.extensions, "traceparent")
            .map(TraceParent::from_traceparent)
            .unwrap_or_default();
        request.data.insert(principal);
        request.data.insert(traceparent);
        self.executor.execute_stream(request, session_data)
    }
}

#[derive(Clone)]
struct Endpoint<E> {
    executor: E,
    verifier: Arc<InternalTokenVerifier>,
}

/// `POST /graphql` and its WebSocket upgrade (`GET`), guarded by the internal token.
pub fn endpoint<E: Executor>(executor: E, verifier: Arc<InternalTokenVerifier>) -> Router {
    Router::new()
        .route("/graphql", get(websocket::<E>).post(execute::<E>))
        .with_state(Endpoint { executor, verifier })
}

async fn websocket<E: Executor>(
    State(endpoint): State<Endpoint<E>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        // Each router subscription is its own connection, and messages are small: the
        // default read buffer (128 KiB) would be most of what one costs.
        .read_buffer_size(WEBSOCKET_READ_BUFFER_BYTES)
        .on_upgrade(move |stream| {
            let verifier = endpoint.verifier.clone();
            let executor = PerOperation {
                executor: endpoint.executor,
                verifier: endpoint.verifier.clone(),
            };
            GraphQLWebSocket::new(stream, executor, protocol)
                .on_connection_init(move |payload: serde_json::Value| async move {
                    let authorization = init_field(&payload, "authorization");
                    let mut principal = verifier.verify_authorization(authorization).map_err(|error| {
                        tracing::warn!(%error, "refused a WebSocket without a valid internal token");
                        async_graphql::Error::new(
                            "this endpoint is internal: connections must come through the c9pay router",
                        )
                    })?;
                    let mut data = async_graphql::Data::default();
                    if is_router(&principal) {
                        // A shared connection: each operation names its own principal.
                        data.insert(RouterConnection);
                        return Ok(data);
                    }
                    if principal.request_id.is_empty() {
                        principal.request_id = new_request_id();
                    }
                    data.insert(principal);
                    // The router's subscribe span, so that this subscription continues its
                    // trace (see [`crate::telemetry::TraceParent`]).
                    data.insert(
                        init_field(&payload, "traceparent")
                            .map(TraceParent::from_traceparent)
                            .unwrap_or_default(),
                    );
                    Ok(data)
                })
                .serve()
        })
}

async fn execute<E: Executor>(
    State(endpoint): State<Endpoint<E>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let mut principal = match endpoint.verifier.verify_authorization(authorization) {
        Ok(principal) => principal,
        Err(error) => {
            tracing::warn!(%error, "refused a request without a valid internal token");
            return unauthenticated(
                "this endpoint is internal: requests must come through the c9pay router",
            );
        }
    };
    let request = request.into_inner();
    // The router's fetches for a subscription's events name their principal beside the
    // router's own token, as the subscription on its shared connection does.
    if is_router(&principal) && request.extensions.contains_key(OPERATION_EXTENSION) {
        principal = match operation_principal(&endpoint.verifier, &request.extensions) {
            Ok(principal) => principal,
            Err(error) => {
                tracing::warn!(%error, "refused a request of the router without a valid internal token of its own");
                return unauthenticated("an operation the router sends for a principal must carry its internal token");
            }
        };
    }
    if principal.request_id.is_empty() {
        principal.request_id = request_id_of(&headers);
    }
    let request_id = principal.request_id.clone();
    let request = request.data(principal);
    let mut response = REQUEST_ID
        .scope(request_id, endpoint.executor.execute(request))
        .await;
    name_client_mistakes(&mut response.errors);
    GraphQLResponse::from(response).into_response()
}

/// Longest `x-request-id` taken from the router.
const REQUEST_ID_LENGTH_MAX: usize = 128;

/// The request id of a request whose internal token carries none: the router's
/// `x-request-id` (it sends one with mutations), or a new one (queries, which the router
/// may share between requests). Only a short id of letters, digits, `-` and `_` is taken,
/// since it goes into logs and error messages.
fn request_id_of(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= REQUEST_ID_LENGTH_MAX
                && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
        .map_or_else(new_request_id, str::to_string)
}

fn new_request_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Every error a resolver raises carries its code (each crate's error enum sets one). An
/// error without one is async-graphql's own: a document or a value that does not fit the
/// schema — a client's mistake, never a failure of this service. It gets a code the client
/// can act on, naming the scalar when one did not parse (`INVALID_AMOUNT` for `"1.5"`
/// credits), so that the router does not pass it on as a failed service
/// (`DOWNSTREAM_SERVICE_ERROR`).
pub fn name_client_mistakes(errors: &mut [async_graphql::ServerError]) {
    for error in errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_some() {
            continue;
        }
        let scalar = SCALAR_CODES
            .iter()
            .find(|(scalar, _)| error.message.contains(&format!("\"{scalar}\"")));
        let (code, scalar) = match scalar {
            Some((scalar, code)) => (*code, Some(*scalar)),
            None => (code::BAD_USER_INPUT, None),
        };
        extensions.set("code", code);
        if let Some(scalar) = scalar {
            extensions.set("type", scalar);
        }
    }
}

/// The codes of the custom scalars' parse failures, by scalar name.
const SCALAR_CODES: [(&str, &str); 3] = [
    ("Amount", code::INVALID_AMOUNT),
    ("DateTime", code::INVALID_DATE_TIME),
    ("ID", code::INVALID_ID),
];

/// A 401 with a GraphQL-shaped body, so clients can read the code the usual way.
pub fn unauthenticated(message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code::UNAUTHENTICATED } }]
    });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// The principal of the current request. The endpoint inserts one into every request,
/// so its absence is a programming error inside this process, not a client error.
pub fn principal<'a>(
    context: &'a async_graphql::Context<'_>,
) -> async_graphql::Result<&'a Principal> {
    context
        .data::<Principal>()
        .map_err(|_| crate::error::client_error(code::UNAUTHENTICATED, "no principal"))
}

/// The signed-in person's id, or `UNAUTHENTICATED`.
pub fn require_user(
    context: &async_graphql::Context<'_>,
) -> async_graphql::Result<crate::id::UserId> {
    principal(context)?
        .user_id()
        .ok_or_else(|| crate::error::client_error(code::UNAUTHENTICATED, "sign in first"))
}

// `@authenticated` (federation v2.5): the field is for signed-in principals only. The
// router reads it from the supergraph and refuses anonymous requests that select the
// field before anything is fetched. Put it on a field with
// `#[graphql(directive = authenticated::apply())]`; export the SDL through
// [`federation_sdl`], which imports it from the federation specification.
// (A line comment, not a doc comment: a doc comment would become the directive's
// description in the SDL, left behind when `federation_sdl` removes the definition.)
#[async_graphql::TypeDirective(location = "FieldDefinition")]
pub fn authenticated() {}

/// A subgraph's federation SDL as async-graphql exports it, with `@authenticated`
/// imported from the federation v2.5 specification. async-graphql 7.2 supports
/// `@requiresScopes` itself (`#[graphql(requires_scopes = "…")]`) but knows
/// `@authenticated` only as a custom directive, which composition would drop: its own
/// definition is removed and the specification's imported instead.
pub fn federation_sdl(sdl: &str) -> String {
    let imported = sdl.replacen(
        "\"@requiresScopes\"]",
        "\"@requiresScopes\", \"@authenticated\"]",
        1,
    );
    imported
        .lines()
        .filter(|line| !line.trim_start().starts_with("directive @authenticated"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
