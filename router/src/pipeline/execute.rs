//! Stage 6: execute the plan with the principal's internal credentials (one per
//! subgraph, reused while fresh: `credentials::internal_credentials`), then make the
//! errors fit for the client. Errors a subgraph returned pass through unchanged (with
//! the paths the executor rewrote into the client's operation). Errors the executor
//! produced itself — a fetch that timed out, a subgraph that could not be reached or
//! answered garbage — name internal hosts and crates, so they are logged in full and the
//! client gets a stable code and the request id.
//!
//! Before anything is signed or fetched, the circuit breakers of the subgraphs the plan
//! needs are asked: one that is open refuses the whole request (`SERVICE_UNAVAILABLE`,
//! 503 with `Retry-After`), so no mutation starts that could not finish.

use std::sync::Arc;

use c9pay_platform::internal_token::Principal;
use crate::engine::{FetchAuthorization, OperationKind};
use serde_json::Value;

use super::{Answer, GraphQLRequest, Pipeline};
use crate::{
    engine::{BREAKER_OPEN_CODE, CONNECTION_LOST_CODE, EventStream, ExecuteError, PlannedOperation},
    error::{RouterError, code},
};

/// Codes of the executor's own failures (`SubgraphExecutorError`, `PlanExecutionError`
/// in hive-router-plan-executor); no c9pay subgraph uses these prefixes.
fn is_executor_code(code: &str) -> bool {
    code.starts_with("SUBGRAPH_")
        || code.starts_with("SUBREQUEST_")
        || matches!(code, "PROJECTION_FAILURE" | "HEADER_PROPAGATION_FAILURE")
}

const EXECUTOR_TIMEOUT_CODE: &str = "SUBGRAPH_REQUEST_TIMEOUT";

/// Refuses the request when a subgraph it needs has an open circuit breaker.
fn admit(pipeline: &Pipeline, planned: &PlannedOperation, principal: &Principal) -> Result<(), RouterError> {
    pipeline.engine.admit(planned).map_err(|refused| {
        tracing::info!(request_id = %principal.request_id, subgraph = %refused.dependency, "refused: the subgraph's circuit breaker is open");
        RouterError::CircuitOpen {
            retry_after_s: refused.retry_after_s(),
            subgraph: refused.dependency,
        }
    })
}

/// An internal error, logged in full with the request id; the client sees only the id.
fn internal_error(principal: &Principal, what: &str, error: &dyn std::fmt::Display) -> RouterError {
    let request_id = principal.request_id.as_str();
    tracing::error!(request_id, error = %error, "{what}");
    RouterError::internal(request_id)
}

/// The internal credential of each subgraph for this principal, looked up (or signed)
/// as each fetch starts; a failure is logged here and fails that fetch. None with
/// `access = "open"`.
fn per_subgraph(pipeline: &Pipeline, principal: &Principal) -> FetchAuthorization {
    let Some(authentication) = &pipeline.authentication else {
        return FetchAuthorization::None;
    };
    let credentials = authentication.credentials.clone();
    let principal = principal.clone();
    FetchAuthorization::PerSubgraph(Arc::new(move |subgraph: &str| {
        credentials
            .for_subgraph(&principal, subgraph)
            .inspect_err(|error| {
                tracing::error!(request_id = %principal.request_id, subgraph, %error, "signing the internal token");
            })
            .ok()
    }))
}

pub(super) async fn execute(
    pipeline: &Pipeline,
    planned: &PlannedOperation,
    request: &GraphQLRequest,
    principal: &Principal,
) -> Result<Answer, RouterError> {
    let internal = |what: &str, error: &dyn std::fmt::Display| internal_error(principal, what, error);
    admit(pipeline, planned, principal)?;
    // A query's fetches carry no request id, so that identical ones can be shared.
    let request_id = (planned.kind() != OperationKind::Query).then_some(principal.request_id.as_str());
    let output = pipeline
        .engine
        .execute(
            planned,
            &request.query,
            request.operation_name.as_deref(),
            request.variables.clone(),
            per_subgraph(pipeline, principal),
            request_id,
        )
        .await
        .map_err(|error| match error {
            ExecuteError::Variables(message) => RouterError::Variables(message),
            ExecuteError::Failed(message) => internal("executing the plan", &message),
        })?;
    if output.error_count == 0 {
        return Ok(Answer {
            body: output.body,
            first_error_code: None,
        });
    }
    let mut body: Value = serde_json::from_slice(&output.body)
        .map_err(|error| internal("reading the executor's response", &error))?;
    mask_executor_errors(&mut body, &principal.request_id);
    rewrite_entity_paths(&mut body);
    let first_error_code = body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string);
    let body = serde_json::to_vec(&body)
        .map_err(|error| internal("writing the response", &error))?;
    Ok(Answer {
        body,
        first_error_code,
    })
}

/// Opens a planned subscription with the principal's internal token for every subgraph,
/// on an upstream connection shared with other subscriptions and opened with the
/// router's own token (see `engine::FetchAuthorization::Multiplexed`; none with
/// `access = "open"`). The subgraph checks the principal's token once, when the
/// subscription starts.
pub(super) async fn subscribe(
    pipeline: &Pipeline,
    planned: Arc<PlannedOperation>,
    request: &GraphQLRequest,
    principal: &Principal,
    expires_at_s: Option<i64>,
) -> Result<EventStream, RouterError> {
    let internal = |what: &str, error: &dyn std::fmt::Display| internal_error(principal, what, error);
    admit(pipeline, &planned, principal)?;
    let authorization = pipeline
        .authentication
        .as_ref()
        .map(|authentication| {
            authentication
                .credentials
                .for_subscription(principal, expires_at_s)
        })
        .transpose()
        .map_err(|error| internal("signing the subscription's internal tokens", &error))?;
    pipeline
        .engine
        .subscribe(
            planned,
            &request.query,
            request.operation_name.as_deref(),
            request.variables.clone(),
            authorization,
        )
        .await
        .map_err(|error| match error {
            ExecuteError::Variables(message) => RouterError::Variables(message),
            ExecuteError::Failed(message) => internal("starting a subscription", &message),
        })
}

/// One subscription event as the client may see it: executor errors masked and entity
/// paths rewritten, as for a single response. Events without errors pass untouched.
pub(super) fn clean_event(body: Vec<u8>, request_id: &str) -> Vec<u8> {
    if !body.windows(8).any(|window| window == b"\"errors\"") {
        return body;
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    mask_executor_errors(&mut value, request_id);
    rewrite_entity_paths(&mut value);
    serde_json::to_vec(&value).unwrap_or(body)
}

fn mask_executor_errors(body: &mut Value, request_id: &str) {
    let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) else {
        return;
    };
    let trace_id = c9pay_platform::telemetry::current_trace_id();
    for error in errors {
        let executor_code = error["extensions"]["code"]
            .as_str()
            .filter(|code| is_executor_code(code))
            .map(str::to_string);
        let Some(executor_code) = executor_code else {
            continue;
        };
        let service = error["extensions"]["service"]
            .as_str()
            .unwrap_or("a")
            .to_string();
        let ids = match &trace_id {
            Some(trace_id) => format!("request id {request_id}, trace id {trace_id}"),
            None => format!("request id {request_id}"),
        };
        tracing::error!(
            request_id,
            subgraph = %service,
            code = %executor_code,
            message = %error["message"],
            "a subgraph fetch failed"
        );
        let (code, message) = if executor_code == EXECUTOR_TIMEOUT_CODE {
            (
                code::SUBGRAPH_TIMEOUT,
                format!("the {service} service did not answer in time ({ids})"),
            )
        } else if executor_code == BREAKER_OPEN_CODE {
            // A fetch the subgraph's breaker stopped while the request was under way.
            (
                code::SERVICE_UNAVAILABLE,
                format!("the {service} service is unavailable; retry later ({ids})"),
            )
        } else if executor_code == CONNECTION_LOST_CODE {
            // A subscription's upstream connection failed or dropped: the subscription
            // has ended, and subscribing again resumes it.
            (
                code::SERVICE_UNAVAILABLE,
                format!(
                    "the connection to the {service} service was lost; subscribe again, with the id of the last event received as `after` ({ids})"
                ),
            )
        } else {
            (
                code::INTERNAL,
                format!("internal error ({ids})"),
            )
        };
        error["message"] = Value::from(message);
        error["extensions"] = match &trace_id {
            Some(trace_id) => serde_json::json!({ "code": code, "requestId": request_id, "traceId": trace_id }),
            None => serde_json::json!({ "code": code, "requestId": request_id }),
        };
    }
}

/// Gives an error raised inside an entity fetch the path the client wrote.
///
/// The executor maps `["_entities", <index>, …]` onto the client's operation itself, but
/// async-graphql (7.2) reports errors inside `_entities` without the index
/// (`["_entities", "wallet"]`), which the executor leaves alone. The executor does say
/// where in the client's operation the fetch was spliced in (`affectedPath`, such as
/// `store.owner`), which is all the path needs, unless the entities sit in a list
/// (`me.stores.@.owner`): then which item failed is unknown, and the path stops at the
/// list, which is where the client will find the nulls.
fn rewrite_entity_paths(body: &mut Value) {
    let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) else {
        return;
    };
    for error in errors {
        let Some(path) = error.get("path").and_then(Value::as_array) else {
            continue;
        };
        let unmapped = path.first().and_then(Value::as_str) == Some("_entities")
            && !path.get(1).is_some_and(Value::is_u64);
        let affected_path = error["extensions"]["affectedPath"].as_str();
        let (true, Some(affected_path)) = (unmapped, affected_path) else {
            continue;
        };
        let mut rewritten: Vec<Value> = Vec::new();
        let mut inside_list = false;
        for segment in affected_path.split('.') {
            if segment == "@" {
                inside_list = true;
                break;
            }
            // A type condition is written onto its field: `owner|[User]`.
            let field = segment.split("|[").next().unwrap_or(segment);
            rewritten.push(Value::from(field));
        }
        if !inside_list {
            rewritten.extend(path.iter().skip(1).cloned());
        }
        error["path"] = Value::Array(rewritten);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn executor_errors_are_masked_and_subgraph_errors_pass_through() {
        let mut body = json!({
            "data": null,
            "errors": [
                { "message": "Request to subgraph timed out", "extensions": { "code": "SUBGRAPH_REQUEST_TIMEOUT", "service": "credit" } },
                { "message": "Failed to send request to subgraph: tcp connect error 10.0.0.7:8080", "extensions": { "code": "SUBREQUEST_HTTP_ERROR", "service": "stores" } },
                { "message": "not enough credit", "path": ["pay"], "extensions": { "code": "INSUFFICIENT_CREDIT" } },
            ]
        });
        mask_executor_errors(&mut body, "req-1");
        assert_eq!(body["errors"][0]["extensions"], json!({ "code": "SUBGRAPH_TIMEOUT", "requestId": "req-1" }));
        assert!(body["errors"][0]["message"].as_str().is_some_and(|message| message.contains("credit")));
        assert_eq!(body["errors"][1]["extensions"]["code"], "INTERNAL_SERVER_ERROR");
        assert!(!body.to_string().contains("10.0.0.7"));
        assert_eq!(body["errors"][2]["extensions"]["code"], "INSUFFICIENT_CREDIT");
        assert_eq!(body["errors"][2]["path"], json!(["pay"]));
    }

    #[test]
    fn entity_errors_without_an_index_get_the_clients_path() {
        let mut body = json!({ "errors": [
            { "message": "a", "path": ["_entities", "wallet"], "extensions": { "affectedPath": "store.owner" } },
            { "message": "b", "path": ["_entities", "wallet", "balance"], "extensions": { "affectedPath": "me.stores.@.owner" } },
            { "message": "c", "path": ["store", "owner", "wallet"], "extensions": { "affectedPath": "store.owner" } },
            { "message": "d", "path": ["_entities", "wallet"] },
            { "message": "e", "path": ["_entities", "wallet"], "extensions": { "affectedPath": "node|[User].friend" } },
        ]});
        rewrite_entity_paths(&mut body);
        assert_eq!(body["errors"][0]["path"], json!(["store", "owner", "wallet"]));
        assert_eq!(body["errors"][1]["path"], json!(["me", "stores"]));
        assert_eq!(body["errors"][2]["path"], json!(["store", "owner", "wallet"]));
        assert_eq!(body["errors"][3]["path"], json!(["_entities", "wallet"]));
        assert_eq!(body["errors"][4]["path"], json!(["node", "friend", "wallet"]));
    }
}
