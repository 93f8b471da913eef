//! Server-sent events (GraphQL over SSE, "distinct connections" mode): one operation per
//! request, a `next` event per result, then `complete`. Kiosks use it because every
//! request can carry its own `DPoP` proof header, which a WebSocket cannot.

use std::net::SocketAddr;

use axum::{
    http::{HeaderMap, HeaderValue},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use serde_json::json;

use super::http::{Endpoint, MediaType, REQUEST_ID_HEADER, caller, refusal};
use crate::{
    engine::StreamItem,
    error::{GraphQLError, code},
    pipeline::{Answer, GraphQLRequest, Opened},
};

/// Server-sent events: refusals before the operation runs are ordinary GraphQL responses
/// with their HTTP status; after that, one `next` event per result and a `complete`.
/// A subscription ends with a `next` carrying an error when the access token expires
/// (`TOKEN_EXPIRED`), the session is revoked (`UNAUTHENTICATED`) or the client reads too
/// slowly (`SUBSCRIBER_TOO_SLOW`).
pub(super) async fn serve_events(
    endpoint: &Endpoint,
    peer: SocketAddr,
    headers: &HeaderMap,
    method: &'static str,
    request_id: &str,
    request: GraphQLRequest,
) -> Response {
    let caller = caller(endpoint, peer, headers, method, request_id);
    let opened = match endpoint.pipeline.open(request, caller).await {
        Ok(opened) => opened,
        Err(error) => return refusal(MediaType::GraphQLResponseJson, request_id, &error),
    };
    let next = |body: &[u8]| Event::default().event("next").data(String::from_utf8_lossy(body));
    let complete = || Event::default().event("complete").data("");
    let events: futures::stream::BoxStream<'static, Result<Event, std::convert::Infallible>> =
        match opened {
            Opened::Answer(Answer { body, .. }) => Box::pin(futures::stream::iter([
                Ok(next(&body)),
                Ok(complete()),
            ])),
            Opened::Subscription(subscription) => {
                let metrics = endpoint.pipeline.metrics.clone();
                let expires_at_s = subscription.expires_at_s;
                Box::pin(futures::stream::unfold(
                    SseState::Running(Box::new(subscription)),
                    move |state| {
                        let metrics = metrics.clone();
                        async move {
                            let mut subscription = match state {
                                SseState::Running(subscription) => subscription,
                                SseState::Ending => return Some((Ok(complete()), SseState::Ended)),
                                SseState::Ended => return None,
                            };
                            let ended = |code: &'static str, message: &str| {
                                let error = GraphQLError::new(code, message);
                                json!({ "errors": [error] }).to_string()
                            };
                            let expiry = async {
                                match expires_at_s {
                                    Some(expires_at_s) => {
                                        let left_s = expires_at_s.saturating_sub(unix_now_s());
                                        tokio::time::sleep(std::time::Duration::from_secs(
                                            u64::try_from(left_s).unwrap_or(0),
                                        ))
                                        .await;
                                    }
                                    None => std::future::pending().await,
                                }
                            };
                            let item = tokio::select! {
                                item = subscription.next() => item,
                                () = expiry => {
                                    metrics.subscription_ended("token_expired");
                                    let body = ended(code::TOKEN_EXPIRED, "the access token has expired: subscribe again with a fresh one and the last event id");
                                    return Some((Ok(next(body.as_bytes())), SseState::Ending));
                                }
                            };
                            match item {
                                Some(StreamItem::Event(body)) => {
                                    Some((Ok(next(&body)), SseState::Running(subscription)))
                                }
                                Some(StreamItem::Revoked) => {
                                    metrics.subscription_ended("revoked");
                                    let body = ended(code::UNAUTHENTICATED, "the session has ended (logged out or revoked): sign in again");
                                    Some((Ok(next(body.as_bytes())), SseState::Ending))
                                }
                                Some(StreamItem::TooSlow) => {
                                    metrics.subscription_ended("too_slow");
                                    let body = ended(code::SUBSCRIBER_TOO_SLOW, "the client does not read its events fast enough: subscribe again with the last event id");
                                    Some((Ok(next(body.as_bytes())), SseState::Ending))
                                }
                                None => Some((Ok(complete()), SseState::Ended)),
                            }
                        }
                    },
                ))
            }
        };
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Where a server-sent subscription is: running, owing its `complete` event after an
/// error that ended it, or over.
enum SseState {
    Running(Box<crate::pipeline::Subscription>),
    Ending,
    Ended,
}

fn unix_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

