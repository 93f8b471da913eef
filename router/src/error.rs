//! Every way the router refuses or fails a request, with its stable `extensions.code` and
//! its HTTP status.
//!
//! GraphQL over HTTP separates two kinds of failure. A request that is not a well-formed
//! GraphQL-over-HTTP request at all (bad JSON, no `query`, wrong media type, too large) is
//! refused with a 4xx whatever the client accepts. A well-formed request whose document
//! fails (parse, validation, variables, limits) is a *GraphQL request error*: 400 for a
//! client that accepts `application/graphql-response+json`, but 200 for a legacy
//! `application/json` client, which reads errors from the body only.

use axum::http::StatusCode;
use serde::Serialize;

use crate::engine::{MalformedScalar, ValidationFailure};

/// The codes a client can rely on; subgraphs add their own domain codes.
pub mod code {
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    pub const TOO_MANY_ALIASES: &str = "TOO_MANY_ALIASES";
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const OPERATION_NOT_SUPPORTED: &str = "OPERATION_NOT_SUPPORTED";
    pub const UNAUTHENTICATED: &str = c9pay_platform::error::code::UNAUTHENTICATED;
    pub const FORBIDDEN: &str = c9pay_platform::error::code::FORBIDDEN;
    pub const SERVICE_UNAVAILABLE: &str = c9pay_platform::error::code::UNAVAILABLE;
    pub const SUBGRAPH_TIMEOUT: &str = "SUBGRAPH_TIMEOUT";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL: &str = c9pay_platform::error::code::INTERNAL;
    pub const SUBSCRIBER_TOO_SLOW: &str = "SUBSCRIBER_TOO_SLOW";
    pub const TOKEN_EXPIRED: &str = "TOKEN_EXPIRED";
    pub const TOO_MANY_SUBSCRIPTIONS: &str = "TOO_MANY_SUBSCRIPTIONS";
    pub const PERSISTED_DOCUMENT_NOT_FOUND: &str = "PERSISTED_DOCUMENT_NOT_FOUND";
}

/// One entry of a response's `errors`.
#[derive(Clone, Debug, Serialize)]
pub struct GraphQLError {
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    pub extensions: ErrorExtensions,
}

#[derive(Clone, Debug, Serialize)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorExtensions {
    pub code: &'static str,
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// With internal errors: the trace that has the whole story.
    #[serde(rename = "traceId", skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// With `RATE_LIMITED`, and with `SERVICE_UNAVAILABLE` from an open circuit breaker:
    /// seconds until a retry can pass (also the `Retry-After` header).
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// With a malformed value of a custom scalar: the scalar's name (as the subgraphs
    /// name it).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub scalar: Option<&'static str>,
    /// With a malformed value of a custom scalar: where it sits in the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argument: Option<String>,
}

impl GraphQLError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            locations: Vec::new(),
            extensions: ErrorExtensions {
                code,
                request_id: None,
                trace_id: None,
                retry_after_s: None,
                scalar: None,
                argument: None,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than {size_max_bytes} bytes")]
    PayloadTooLarge { size_max_bytes: usize },
    #[error("POST requests must have Content-Type: application/json")]
    UnsupportedMediaType,
    #[error(
        "the router answers in application/graphql-response+json or application/json; the Accept header allows neither"
    )]
    NotAcceptable,
    #[error("{0} operations are only accepted over POST")]
    MethodNotAllowed(&'static str),
    #[error("{0}")]
    Parse(String),
    /// A `documentId` the manifest does not hold, or a free-form document from a client
    /// that must send trusted documents.
    #[error("{0}")]
    PersistedDocumentNotFound(String),
    #[error("the document is not valid against the schema")]
    Validation(Vec<ValidationFailure>),
    #[error("{0}")]
    OperationSelection(String),
    /// A value that does not parse as its custom scalar (`Amount`, `DateTime`).
    #[error("{}", .0.message())]
    MalformedScalar(MalformedScalar),
    #[error("{0}")]
    Variables(String),
    #[error("{message}")]
    Limit {
        code: &'static str,
        message: String,
    },
    #[error(
        "subscriptions are served over GraphQL over WebSocket (graphql-transport-ws) or as server-sent events (Accept: text/event-stream)"
    )]
    SubscriptionsUnsupported,
    #[error("{0}")]
    Unauthenticated(String),
    /// The principal may not select a field (`@authenticated`, `@requiresScopes`).
    #[error("{0}")]
    Forbidden(String),
    /// Something the router needs to decide is unavailable (auth's revocation feed).
    #[error("{0}")]
    Unavailable(String),
    /// A subgraph the operation needs is failing and its circuit breaker is open: nothing
    /// was fetched.
    #[error("the {subgraph} service is unavailable; retry in {retry_after_s} s")]
    CircuitOpen { subgraph: String, retry_after_s: u64 },
    #[error("too many {field} requests; retry in {retry_after_s} s")]
    RateLimited { field: String, retry_after_s: u64 },
    /// Logged in full where it happens; the client sees only the request id and the
    /// trace id.
    #[error("internal error (request id {request_id}{})", trace_id.as_deref().map(|trace_id| format!(", trace id {trace_id}")).unwrap_or_default())]
    Internal { request_id: String, trace_id: Option<String> },
}

impl RouterError {
    /// An internal error of request `request_id`, in the current trace.
    pub fn internal(request_id: &str) -> Self {
        Self::Internal {
            request_id: request_id.to_string(),
            trace_id: c9pay_platform::telemetry::current_trace_id(),
        }
    }

    /// The status for a client that accepts `application/graphql-response+json`
    /// (`modern`) or only `application/json`.
    pub fn status(&self, modern: bool) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) | Self::CircuitOpen { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Parse(_)
            | Self::PersistedDocumentNotFound(_)
            | Self::Validation(_)
            | Self::OperationSelection(_)
            | Self::Variables(_)
            | Self::MalformedScalar(_)
            | Self::Limit { .. }
            | Self::SubscriptionsUnsupported => {
                if modern {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                }
            }
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => code::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => code::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => code::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable => code::NOT_ACCEPTABLE,
            Self::MethodNotAllowed(_) => code::METHOD_NOT_ALLOWED,
            Self::Parse(_) => code::GRAPHQL_PARSE_FAILED,
            Self::PersistedDocumentNotFound(_) => code::PERSISTED_DOCUMENT_NOT_FOUND,
            Self::Validation(_) | Self::OperationSelection(_) => code::GRAPHQL_VALIDATION_FAILED,
            Self::Variables(_) => code::BAD_USER_INPUT,
            Self::MalformedScalar(malformed) => malformed.code,
            Self::Limit { code, .. } => code,
            Self::SubscriptionsUnsupported => code::OPERATION_NOT_SUPPORTED,
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::Unavailable(_) | Self::CircuitOpen { .. } => code::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::Internal { .. } => code::INTERNAL,
        }
    }

    /// The `errors` of the response body.
    pub fn errors(&self) -> Vec<GraphQLError> {
        match self {
            Self::Validation(failures) => failures
                .iter()
                .map(|failure| GraphQLError {
                    message: failure.message.clone(),
                    locations: failure
                        .locations
                        .iter()
                        .map(|&(line, column)| Location { line, column })
                        .collect(),
                    extensions: ErrorExtensions {
                        code: code::GRAPHQL_VALIDATION_FAILED,
                        request_id: None,
                        trace_id: None,
                        retry_after_s: None,
                scalar: None,
                argument: None,
                    },
                })
                .collect(),
            Self::Internal { request_id, trace_id } => vec![GraphQLError {
                message: self.to_string(),
                locations: Vec::new(),
                extensions: ErrorExtensions {
                    code: code::INTERNAL,
                    request_id: Some(request_id.clone()),
                    trace_id: trace_id.clone(),
                    retry_after_s: None,
                scalar: None,
                argument: None,
                },
            }],
            Self::RateLimited { retry_after_s, .. } | Self::CircuitOpen { retry_after_s, .. } => {
                let mut error = GraphQLError::new(self.code(), self.to_string());
                error.extensions.retry_after_s = Some(*retry_after_s);
                vec![error]
            }
            Self::MalformedScalar(malformed) => {
                let mut error = GraphQLError::new(self.code(), self.to_string());
                error.extensions.scalar = Some(malformed.scalar);
                error.extensions.argument = Some(malformed.argument.clone());
                vec![error]
            }
            _ => vec![GraphQLError::new(self.code(), self.to_string())],
        }
    }
}
