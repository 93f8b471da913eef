//! Stage 3: validate the document against the public schema, and check that the chosen
//! operation may run over the transport it came by (no mutations over GET, subscriptions
//! only over WebSocket or server-sent events).

use super::{Pipeline, Transport};
use crate::{
    engine::{Document, OperationKind, OperationShape},
    error::RouterError,
};

/// GraphQL over HTTP: a GET that would mutate is refused with 405 whether or not the
/// document is valid, so this comes before [`validate`].
pub(super) fn method_allows(shape: &OperationShape, transport: Transport) -> Result<(), RouterError> {
    if shape.kind == OperationKind::Mutation && transport == Transport::Get {
        return Err(RouterError::MethodNotAllowed(shape.kind.as_str()));
    }
    Ok(())
}

/// What depends on the document alone: the schema's rules, and no Float literal where
/// the schema takes none.
pub(super) fn validate(pipeline: &Pipeline, document: &Document) -> Result<(), RouterError> {
    let failures = pipeline.engine.validate(document);
    if !failures.is_empty() {
        return Err(RouterError::Validation(failures));
    }
    if let Some(number) = pipeline.engine.float_literal(document) {
        return Err(RouterError::Variables(format!(
            "{number:?} is a Float, and no argument of this API takes one (an Amount is a whole number, written \"1500\" or 1500)"
        )));
    }
    Ok(())
}

/// Subscriptions need a transport that streams.
pub(super) fn transport_streams(shape: &OperationShape, transport: Transport) -> Result<(), RouterError> {
    if shape.kind == OperationKind::Subscription && !transport.streams() {
        return Err(RouterError::SubscriptionsUnsupported);
    }
    Ok(())
}

/// Values of the custom scalars the router knows (`Amount`, `DateTime`), in the variables
/// and the literals: a malformed one is the client's mistake, refused with the scalar's
/// code before any subgraph is called.
pub(super) fn scalars(
    pipeline: &Pipeline,
    document: &Document,
    operation_name: Option<&str>,
    variables: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), RouterError> {
    pipeline
        .engine
        .malformed_scalar(document, operation_name, variables)
        .map_err(RouterError::MalformedScalar)
}
