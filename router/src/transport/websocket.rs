//! GraphQL over WebSocket, the `graphql-transport-ws` protocol
//! (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), on `GET /graphql`.
//!
//! The client authenticates in `connection_init` with `{"Authorization": "Bearer …"}`
//! (browsers cannot set headers on a WebSocket). A bad credential closes the connection
//! with 4403; none makes the connection anonymous, and anonymous callers reach only what
//! they may reach over HTTP. Every `subscribe` goes through the whole pipeline again with
//! the connection's credential, so an expired token is refused at subscribe time too.
//! When the token's `exp` passes the connection is closed with 4403: a client re-connects
//! with a fresh token and resumes from its last event id.
//!
//! Close codes: 4400 a message that breaks the protocol, 4401 `subscribe` before
//! `connection_ack`, 4403 a refused or expired credential, 4406 no `graphql-transport-ws`
//! subprotocol, 4408 no `connection_init` in time, 4409 a second `subscribe` with an id
//! still running, 4429 a second `connection_init`, 1008 a client too slow to read what it
//! subscribed to (`SUBSCRIBER_TOO_SLOW`: its outbound queue is full).
//!
//! The router pings an acknowledged connection every 25 s (`{"type": "ping"}`), so that
//! proxies keep an idle subscriber's connection open.
//!
//! Each connection has one writer task behind a bounded queue. Operations never wait for
//! the client: when the queue is full the connection is closed, so a client that stops
//! reading costs at most the queue, and never stalls anything else.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Arc,
    time::Duration,
};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::JoinHandle};
use tracing::Instrument as _;

use crate::{
    engine::StreamItem,
    error::{GraphQLError, RouterError, code},
    pipeline::{Caller, GraphQLRequest, Opened, Pipeline, Transport},
};

pub const PROTOCOL: &str = "graphql-transport-ws";
/// How often an acknowledged connection is pinged, so that proxies and load balancers
/// (which commonly drop connections idle for 60 s) keep an idle subscriber's connection.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(25);
/// Initial read buffer of a connection. Protocol messages are small; the default
/// (128 KiB) would be most of what an idle connection costs.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

mod close {
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    pub const TOO_MANY_INIT: u16 = 4429;
    /// RFC 6455 "policy violation": the client does not read what it asked for.
    pub const TOO_SLOW: u16 = 1008;
}

/// What the writer task sends.
enum Outgoing {
    Text(String),
    Close(u16, String),
}

/// The queue to the writer. Sending never waits: a full queue means the client is too
/// slow, and the connection is closed.
#[derive(Clone)]
struct Outbox {
    queue: mpsc::Sender<Outgoing>,
    /// Closes the connection out of band, even when the queue is full.
    closing: mpsc::Sender<(u16, String)>,
}

impl Outbox {
    /// Queues a message; `false` if the connection is closing (too slow or gone).
    fn send(&self, message: Value) -> bool {
        match self.queue.try_send(Outgoing::Text(message.to_string())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(
                    close::TOO_SLOW,
                    "SUBSCRIBER_TOO_SLOW: the client does not read its messages fast enough",
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn close(&self, code: u16, reason: &str) {
        let _ = self.closing.try_send((code, reason.to_string()));
    }
}

/// Serves one upgraded connection until it closes.
/// `first_party`: the upgrade came from a page of this router's own origin (see
/// [`super::http::is_first_party`]).
pub async fn serve(pipeline: Arc<Pipeline>, socket: WebSocket, client_address: IpAddr, first_party: bool) {
    let limits = pipeline.limits.clone();
    let subprotocol_accepted = socket
        .protocol()
        .is_some_and(|protocol| protocol.as_bytes() == PROTOCOL.as_bytes());
    let (sink, mut stream) = socket.split();
    let (queue, outgoing) = mpsc::channel(limits.websocket_outbound_messages_max);
    let (closing, close_requests) = mpsc::channel(1);
    let writer = tokio::spawn(write(
        sink,
        outgoing,
        close_requests,
        Duration::from_millis(limits.websocket_write_timeout_ms),
    ));
    let outbox = Outbox { queue, closing };
    if !subprotocol_accepted {
        outbox.close(
            close::SUBPROTOCOL_NOT_ACCEPTABLE,
            "Subprotocol not acceptable: use graphql-transport-ws",
        );
    } else {
        let mut connection = Connection {
            pipeline,
            outbox: outbox.clone(),
            initialised: false,
            acknowledged: false,
            authorization: None,
            client_address,
            first_party,
            expires_at_s: None,
            operations: HashMap::new(),
        };
        connection.run(&mut stream, &limits).await;
        for (_, operation) in connection.operations.drain() {
            operation.abort();
        }
    }
    drop(outbox);
    let _ = writer.await;
}

struct Connection {
    pipeline: Arc<Pipeline>,
    outbox: Outbox,
    initialised: bool,
    acknowledged: bool,
    /// The `Authorization` value from `connection_init`, checked again at each subscribe.
    authorization: Option<String>,
    /// The client's address (rate limits), from the upgrade request.
    client_address: IpAddr,
    /// Whether a page of this origin opened the connection (trusted documents).
    first_party: bool,
    expires_at_s: Option<i64>,
    operations: HashMap<String, JoinHandle<()>>,
}

impl Connection {
    async fn run(
        &mut self,
        stream: &mut futures::stream::SplitStream<WebSocket>,
        limits: &crate::config::Limits,
    ) {
        let init_deadline =
            tokio::time::Instant::now() + Duration::from_millis(limits.websocket_init_timeout_ms);
        let mut keep_alive = tokio::time::interval_at(
            tokio::time::Instant::now() + KEEP_ALIVE_INTERVAL,
            KEEP_ALIVE_INTERVAL,
        );
        keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let expiry = async {
                match (self.initialised, self.expires_at_s) {
                    (false, _) => tokio::time::sleep_until(init_deadline).await,
                    (true, Some(expires_at_s)) => {
                        let now_s = chrono_now_s();
                        let left_s = u64::try_from(expires_at_s.saturating_sub(now_s)).unwrap_or(0);
                        tokio::time::sleep(Duration::from_secs(left_s)).await;
                    }
                    (true, None) => std::future::pending().await,
                }
            };
            let message = tokio::select! {
                message = stream.next() => message,
                _ = keep_alive.tick(), if self.acknowledged => {
                    self.outbox.send(json!({ "type": "ping" }));
                    continue;
                }
                () = expiry => {
                    if self.initialised {
                        self.pipeline.metrics.subscription_ended("token_expired");
                        self.outbox.close(close::FORBIDDEN, "Forbidden: the access token has expired");
                    } else {
                        self.outbox.close(close::INIT_TIMEOUT, "Connection initialisation timeout");
                    }
                    return;
                }
            };
            let Some(Ok(message)) = message else { return };
            self.operations
                .retain(|_, operation| !operation.is_finished());
            let text = match message {
                Message::Text(text) => text,
                Message::Close(_) => return,
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Binary(_) => {
                    self.outbox.close(
                        close::BAD_REQUEST,
                        "Invalid message received: binary frames are not part of the protocol",
                    );
                    return;
                }
            };
            if let Err((code, reason)) = self.handle(text.as_str(), limits).await {
                self.outbox.close(code, &reason);
                return;
            }
        }
    }

    /// Handles one client message; `Err` closes the connection with that code and reason.
    async fn handle(
        &mut self,
        text: &str,
        limits: &crate::config::Limits,
    ) -> Result<(), (u16, String)> {
        let bad = |why: &str| {
            (
                close::BAD_REQUEST,
                format!("Invalid message received: {why}"),
            )
        };
        let message: Value = serde_json::from_str(text).map_err(|_| bad("not JSON"))?;
        let kind = message["type"].as_str().ok_or_else(|| bad("no `type`"))?;
        match kind {
            "connection_init" => {
                if self.initialised {
                    return Err((
                        close::TOO_MANY_INIT,
                        "Too many initialisation requests".to_string(),
                    ));
                }
                self.initialised = true;
                let payload = &message["payload"];
                if !(payload.is_null() || payload.is_object()) {
                    return Err(bad("the `connection_init` payload must be an object"));
                }
                let authorization = payload.as_object().and_then(|fields| {
                    fields
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                        .map(|(_, value)| value.as_str().unwrap_or_default().to_string())
                });
                // With `access = "open"` there is nothing to verify: every operation
                // runs as anonymous.
                let verifier = self.pipeline.authentication.as_ref().map(|authentication| &authentication.verifier);
                if let (Some(authorization), Some(verifier)) = (authorization, verifier) {
                    match verifier.verify_authorization(&authorization).await {
                        Ok(token) => self.expires_at_s = Some(token.expires_at_s),
                        Err(error) => {
                            return Err((close::FORBIDDEN, format!("Forbidden: {error}")));
                        }
                    }
                    self.authorization = Some(authorization);
                }
                self.acknowledged = true;
                self.outbox.send(json!({ "type": "connection_ack" }));
            }
            "ping" => {
                let mut pong = json!({ "type": "pong" });
                if message.get("payload").is_some_and(Value::is_object) {
                    pong["payload"] = message["payload"].clone();
                }
                self.outbox.send(pong);
            }
            "pong" => {}
            "subscribe" => {
                let id = message["id"]
                    .as_str()
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| bad("`subscribe` needs an `id`"))?;
                let request = read_subscribe(&message["payload"]).map_err(|why| bad(&why))?;
                if !self.acknowledged {
                    return Err((close::UNAUTHORIZED, "Unauthorized".to_string()));
                }
                if self.operations.contains_key(id) {
                    return Err((
                        close::SUBSCRIBER_EXISTS,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
                if self.operations.len() >= limits.subscriptions_per_connection_max {
                    let error = GraphQLError::new(
                        code::TOO_MANY_SUBSCRIPTIONS,
                        format!(
                            "a connection may run at most {} operations at once",
                            limits.subscriptions_per_connection_max
                        ),
                    );
                    self.outbox
                        .send(json!({ "id": id, "type": "error", "payload": [error] }));
                    return Ok(());
                }
                let operation = tokio::spawn(run_operation(
                    self.pipeline.clone(),
                    self.outbox.clone(),
                    id.to_string(),
                    self.authorization.clone(),
                    self.client_address,
                    self.first_party,
                    request,
                ));
                self.operations.insert(id.to_string(), operation);
            }
            "complete" => {
                let id = message["id"]
                    .as_str()
                    .ok_or_else(|| bad("`complete` needs an `id`"))?;
                if let Some(operation) = self.operations.remove(id) {
                    operation.abort();
                }
            }
            other => return Err(bad(&format!("unknown message type {other:?}"))),
        }
        Ok(())
    }
}

fn chrono_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

fn read_subscribe(payload: &Value) -> Result<GraphQLRequest, String> {
    let document_id = payload["documentId"].as_str().map(str::to_string);
    let query = match (payload["query"].as_str(), &document_id) {
        (Some(query), None) => query.to_string(),
        (None, Some(_)) => String::new(),
        (Some(_), Some(_)) => return Err("send either `query` or `documentId`, not both".to_string()),
        (None, None) => return Err("the `subscribe` payload needs a string `query` (or a `documentId`)".to_string()),
    };
    let operation_name = match &payload["operationName"] {
        Value::Null => None,
        Value::String(name) => Some(name.clone()),
        _ => return Err("`operationName` must be a string".to_string()),
    };
    let variables = match &payload["variables"] {
        Value::Null => serde_json::Map::new(),
        Value::Object(variables) => variables.clone(),
        _ => return Err("`variables` must be an object".to_string()),
    };
    Ok(GraphQLRequest {
        query,
        document_id,
        operation_name,
        variables,
        transport: Transport::WebSocket,
    })
}

/// Runs one operation of a connection: `next` for each result, then `complete`; or
/// `error` if it is refused before it runs.
async fn run_operation(
    pipeline: Arc<Pipeline>,
    outbox: Outbox,
    id: String,
    authorization: Option<String>,
    client_address: IpAddr,
    first_party: bool,
    request: GraphQLRequest,
) {
    let request_id = uuid::Uuid::now_v7().simple().to_string();
    // Over WebSocket a credential is presented once, at `connection_init`: there is no
    // per-message DPoP proof or cookie, so kiosk and admin tokens are refused here (the
    // pipeline requires their proof); people's access tokens work as over HTTP.
    let caller = Caller {
        authorization: authorization.as_deref(),
        client_address: Some(client_address),
        request_id: &request_id,
        dpop_proofs: Vec::new(),
        method: "GET",
        url: String::new(),
        admin_fingerprint: None,
        first_party,
    };
    // Each operation of a connection is the root span of a trace of its own, as each
    // request over HTTP is (the connection may live for hours).
    let span = tracing::info_span!(
        parent: None,
        "request",
        otel.name = "router WebSocket subscribe",
        otel.kind = "server",
        service = "router",
        request_id = %request_id,
        trace_id = tracing::field::Empty,
    );
    c9pay_platform::telemetry::record_trace_id(&span);
    // Boxed: the stages' state is freed once the subscription is open, instead of
    // staying in this task's allocation for as long as the subscription runs.
    let opened = Box::pin(pipeline.open(request, caller).instrument(span)).await;
    let mut subscription = match opened {
        Err(error) => {
            outbox.send(json!({ "id": id, "type": "error", "payload": errors_of(&error) }));
            return;
        }
        Ok(Opened::Answer(answer)) => {
            if outbox.send(next(&id, &answer.body)) {
                outbox.send(json!({ "id": id, "type": "complete" }));
            }
            return;
        }
        Ok(Opened::Subscription(subscription)) => subscription,
    };
    while let Some(item) = subscription.next().await {
        match item {
            StreamItem::Event(body) => {
                if !outbox.send(next(&id, &body)) {
                    pipeline.metrics.subscription_ended("too_slow");
                    return;
                }
            }
            StreamItem::TooSlow => {
                pipeline.metrics.subscription_ended("too_slow");
                outbox.close(
                    close::TOO_SLOW,
                    "SUBSCRIBER_TOO_SLOW: the client does not read its events fast enough",
                );
                return;
            }
            StreamItem::Revoked => {
                // The connection's one credential has ended: the whole connection goes.
                pipeline.metrics.subscription_ended("revoked");
                outbox.close(close::FORBIDDEN, "Forbidden: the session has ended (logged out or revoked)");
                return;
            }
        }
    }
    outbox.send(json!({ "id": id, "type": "complete" }));
}

fn next(id: &str, body: &[u8]) -> Value {
    let payload: Value = serde_json::from_slice(body).unwrap_or_else(|error| {
        tracing::error!(%error, "the engine produced a body that is not JSON");
        json!({ "errors": [{ "message": "internal error", "extensions": { "code": code::INTERNAL } }] })
    });
    json!({ "id": id, "type": "next", "payload": payload })
}

fn errors_of(error: &RouterError) -> Value {
    serde_json::to_value(error.errors()).unwrap_or_else(|_| json!([]))
}

async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<Outgoing>,
    mut close_requests: mpsc::Receiver<(u16, String)>,
    write_timeout: Duration,
) {
    loop {
        let next = tokio::select! {
            biased;
            close = close_requests.recv() => match close {
                Some((code, reason)) => Outgoing::Close(code, reason),
                None => return,
            },
            message = outgoing.recv() => match message {
                Some(message) => message,
                None => return,
            },
        };
        let (frame, last) = match next {
            Outgoing::Text(text) => (Message::Text(Utf8Bytes::from(text)), false),
            Outgoing::Close(code, reason) => (
                Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason),
                })),
                true,
            ),
        };
        match tokio::time::timeout(write_timeout, sink.send(frame)).await {
            Ok(Ok(())) if !last => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_whose_queue_is_full_is_closed_as_too_slow_without_waiting() {
        let (queue, mut outgoing) = mpsc::channel(1);
        let (closing, mut close_requests) = mpsc::channel(1);
        let outbox = Outbox { queue, closing };

        assert!(outbox.send(json!({ "n": 1 })));
        assert!(
            !outbox.send(json!({ "n": 2 })),
            "the second message does not fit"
        );

        match close_requests.try_recv() {
            Ok((code, reason)) => {
                assert_eq!(code, close::TOO_SLOW);
                assert!(reason.starts_with("SUBSCRIBER_TOO_SLOW"), "{reason}");
            }
            Err(error) => panic!("no close was requested: {error}"),
        }
        assert!(
            outgoing.try_recv().is_ok(),
            "the first message is still queued"
        );
    }
}
