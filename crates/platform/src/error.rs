//! Errors as clients see them: a message for people and a stable `extensions.code` for
//! programs. Internal errors are logged with their cause chain and reach the client as an
//! opaque message carrying the request id, so that support can find the log line.

use std::error::Error as StdError;

use async_graphql::ErrorExtensions;

/// Codes shared by every subgraph; each crate adds its own domain codes.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const INVALID_ID: &str = "INVALID_ID";
    pub const INVALID_AMOUNT: &str = "INVALID_AMOUNT";
    pub const INVALID_INPUT: &str = "INVALID_INPUT";
    /// A `DateTime` that is not an RFC 3339 instant.
    pub const INVALID_DATE_TIME: &str = "INVALID_DATE_TIME";
    /// A value or document that does not fit the schema (async-graphql's own refusals).
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const INTERNAL: &str = "INTERNAL_SERVER_ERROR";
    pub const UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
}

tokio::task_local! {
    /// The id of the request being served, for masking internal errors.
    pub static REQUEST_ID: String;
}

/// The request id of the current task, or `"unknown"` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "unknown".to_string())
}

/// An error a crate returns from its domain and database layers.
pub trait ClientError: StdError + Send + Sync + 'static {
    /// The stable code for an error the client caused or can act on; `None` for an
    /// internal failure, which is masked.
    fn code(&self) -> Option<&'static str>;
}

/// A client error with its code.
pub fn client_error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, extensions| extensions.set("code", code))
}

/// An internal error: logged in full, returned masked with the request id.
pub fn internal_error(error: &(dyn StdError + 'static)) -> async_graphql::Error {
    let request_id = current_request_id();
    let trace_id = crate::telemetry::current_trace_id();
    tracing::error!(request_id = %request_id, error = %chain(error), "internal error");
    let message = match &trace_id {
        Some(trace_id) => format!("internal error (request id {request_id}, trace id {trace_id})"),
        None => format!("internal error (request id {request_id})"),
    };
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", code::INTERNAL);
        extensions.set("requestId", request_id.clone());
        if let Some(trace_id) = &trace_id {
            extensions.set("traceId", trace_id.clone());
        }
    })
}

/// Converts a crate error into a GraphQL error by its code.
pub fn to_graphql<E: ClientError>(error: E) -> async_graphql::Error {
    match error.code() {
        Some(code) => client_error(code, error.to_string()),
        None => internal_error(&error),
    }
}

/// `error: cause: cause` on one line, for logs.
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `.graphql()` turns a crate result into a GraphQL result by the error's code.
///
/// async-graphql converts any `Display` error with `?`, which would drop the code and
/// leak internal messages; resolvers therefore call `.graphql()?` on every crate result.
pub trait GraphQLResultExt<T> {
    fn graphql(self) -> async_graphql::Result<T>;
}

impl<T, E: ClientError> GraphQLResultExt<T> for Result<T, E> {
    fn graphql(self) -> async_graphql::Result<T> {
        self.map_err(to_graphql)
    }
}
