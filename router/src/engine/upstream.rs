//! The router's own GraphQL-over-WebSocket client (`graphql-transport-ws`) for
//! subscriptions: a few connections per subgraph, each carrying many subscriptions.
//!
//! A connection is opened with the router's own internal token in its `connection_init`
//! payload; each subscription sends its principal's token in its `subscribe` message (see
//! `c9pay_platform::graphql`). One task per connection reads the socket and routes each
//! message to its subscription's [`Inbox`]: a small queue and a waker, nothing else, so
//! an idle subscription costs the router a map entry and that inbox. What an event then
//! needs (the entity fetches of the rest of the plan, the projection) runs on the
//! client's side, when the subscription's reader takes the event (`subscriptions`).
//!
//! - **In order, each once**: a connection's messages are read in order and pushed onto
//!   the subscription's queue in order; nothing is dropped silently.
//! - **Never waits for a reader**: a subscription whose queue is full (its client reads
//!   slower than events come) ends as too slow: the router completes it upstream, and
//!   its reader gets what was queued, then [`Ended::TooSlow`].
//! - **A lost connection ends its subscriptions**: each reader gets [`Ended::Lost`] after
//!   what was queued; the client subscribes again with the id of its last event as
//!   `after`, and credit replays what it missed. The next subscription opens a new
//!   connection.
//! - **A silent connection is lost too**: the router pings each connection every
//!   [`KEEPALIVE_INTERVAL`]; one that answers nothing in a whole interval is closed.
//! - **A reader gone completes upstream**: dropping an [`UpstreamSubscription`] sends
//!   `complete`, so the subgraph stops the stream.

use std::{
    collections::{HashMap, VecDeque},
    future::poll_fn,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Poll, Waker},
    time::Duration,
};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};

/// How long opening a connection (TCP, WebSocket handshake, `connection_ack`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a connection pings its subgraph. A connection that heard nothing from it
/// for a whole interval after a ping is taken for lost (a subgraph's host that vanished
/// without closing its sockets), so that its subscriptions end and their clients
/// resume, instead of waiting for events that will never come.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// The protocol's keep-alive messages.
const PING: &str = r#"{"type":"ping"}"#;
const PONG: &str = r#"{"type":"pong"}"#;

/// How a subscription ended, after the events queued before the end.
#[derive(Debug)]
pub(super) enum Ended {
    /// The subgraph completed it.
    Completed,
    /// The subgraph refused or ended it with errors (`error`): the message's payload, a
    /// list of GraphQL errors.
    Refused(Bytes),
    /// Its connection could not be opened or was lost: why.
    Lost(String),
    /// Its reader fell further behind than its queue holds.
    TooSlow,
}

/// What a subscription's reader takes next.
#[derive(Debug)]
pub(super) enum Received {
    /// A `next` message's payload (`{"data": …, "errors": …}`).
    Event(Bytes),
    Ended(Ended),
}

/// One subscription's queue, shared by its connection's task and its reader.
struct Inbox {
    state: Mutex<InboxState>,
}

struct InboxState {
    events: VecDeque<Bytes>,
    ended: Option<Ended>,
    waker: Option<Waker>,
    /// Events queued at most; one more ends the subscription as too slow.
    capacity: usize,
}

impl Inbox {
    fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(InboxState {
                events: VecDeque::new(),
                ended: None,
                waker: None,
                capacity: capacity.max(1),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues an event; `false` when the queue was full and the subscription has ended
    /// as too slow instead.
    fn push(&self, event: Bytes) -> bool {
        let mut state = self.lock();
        if state.ended.is_some() {
            return false;
        }
        let queued = if state.events.len() >= state.capacity {
            state.ended = Some(Ended::TooSlow);
            false
        } else {
            state.events.push_back(event);
            true
        };
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
        queued
    }

    fn end(&self, ended: Ended) {
        let mut state = self.lock();
        if state.ended.is_none() {
            state.ended = Some(ended);
        }
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }
}

enum Command {
    Subscribe { id: u64, payload: Box<str>, inbox: Arc<Inbox> },
    Complete { id: u64 },
}

/// A running subscription upstream. Dropping it completes the subscription.
pub(super) struct UpstreamSubscription {
    id: u64,
    inbox: Arc<Inbox>,
    connection: mpsc::UnboundedSender<Command>,
    finished: bool,
}

impl UpstreamSubscription {
    /// The next event or, after the last one, how the subscription ended (once).
    pub(super) async fn next(&mut self) -> Option<Received> {
        if self.finished {
            return None;
        }
        let received = poll_fn(|context| {
            let mut state = self.inbox.lock();
            if let Some(event) = state.events.pop_front() {
                return Poll::Ready(Received::Event(event));
            }
            if let Some(ended) = state.ended.take() {
                return Poll::Ready(Received::Ended(ended));
            }
            if !state.waker.as_ref().is_some_and(|waker| waker.will_wake(context.waker())) {
                state.waker = Some(context.waker().clone());
            }
            Poll::Pending
        })
        .await;
        if matches!(received, Received::Ended(_)) {
            self.finished = true;
        }
        Some(received)
    }
}

impl Drop for UpstreamSubscription {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.connection.send(Command::Complete { id: self.id });
        }
    }
}

/// The shared connections to one subgraph.
struct Subgraph {
    /// Its GraphQL URL with a WebSocket scheme.
    url: String,
    /// None: each subscription opens a connection of its own, closed when it ends.
    connections: Vec<Mutex<Option<mpsc::UnboundedSender<Command>>>>,
    next: AtomicUsize,
}

/// Every subgraph's shared subscription connections, opened when first needed.
pub(super) struct Upstreams {
    subgraphs: HashMap<String, Subgraph>,
    ids: AtomicU64,
    keepalive: Duration,
}

impl Upstreams {
    /// `connections` per subgraph (`0`: one per subscription), to the subgraphs' GraphQL
    /// URLs.
    pub(super) fn new(endpoints: &HashMap<String, String>, connections: usize) -> Self {
        Self::with_keepalive(endpoints, connections, KEEPALIVE_INTERVAL)
    }

    fn with_keepalive(endpoints: &HashMap<String, String>, connections: usize, keepalive: Duration) -> Self {
        let subgraphs = endpoints
            .iter()
            .map(|(name, url)| {
                let url = match url.split_once("://") {
                    Some(("https", rest)) => format!("wss://{rest}"),
                    Some((_, rest)) => format!("ws://{rest}"),
                    None => format!("ws://{url}"),
                };
                let connections = (0..connections).map(|_| Mutex::new(None)).collect();
                (name.clone(), Subgraph { url, connections, next: AtomicUsize::new(0) })
            })
            .collect();
        Self { subgraphs, ids: AtomicU64::new(1), keepalive }
    }

    /// Starts a subscription on the next of `subgraph`'s connections, opening it (with
    /// `authorization` in its `connection_init`) when it is not open. `payload` is the
    /// `subscribe` message's payload, as JSON. Fails only for an unknown subgraph: a
    /// connection that cannot be opened ends the subscription with [`Ended::Lost`].
    pub(super) fn subscribe(
        &self,
        subgraph: &str,
        authorization: Option<&str>,
        payload: Box<str>,
        capacity: usize,
    ) -> Result<UpstreamSubscription, String> {
        let target = self.subgraphs.get(subgraph).ok_or_else(|| format!("no subgraph named {subgraph}"))?;
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let inbox = Inbox::new(capacity);
        // Opens a connection whose first command is `command`.
        let open = |command: Command, dedicated: bool| {
            let (connection, commands) = mpsc::unbounded_channel();
            let _ = connection.send(command);
            let opened = Opened {
                subgraph: subgraph.to_string(),
                url: target.url.clone(),
                authorization: authorization.map(str::to_string),
                keepalive: self.keepalive,
                dedicated,
            };
            tokio::spawn(run_connection(opened, commands));
            connection
        };
        let mut command = Command::Subscribe { id, payload, inbox: inbox.clone() };
        if target.connections.is_empty() {
            let connection = open(command, true);
            return Ok(UpstreamSubscription { id, inbox, connection, finished: false });
        }
        let slot = &target.connections[target.next.fetch_add(1, Ordering::Relaxed) % target.connections.len()];
        let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A connection that has ended refuses the command; then a new one takes it.
        if let Some(connection) = slot.as_ref() {
            match connection.send(command) {
                Ok(()) => {
                    return Ok(UpstreamSubscription { id, inbox, connection: connection.clone(), finished: false });
                }
                Err(mpsc::error::SendError(refused)) => command = refused,
            }
        }
        let connection = open(command, false);
        *slot = Some(connection.clone());
        Ok(UpstreamSubscription { id, inbox, connection, finished: false })
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a connection is opened with.
struct Opened {
    subgraph: String,
    url: String,
    /// The `authorization` of its `connection_init`.
    authorization: Option<String>,
    keepalive: Duration,
    /// A connection of one subscription, closed when it ends.
    dedicated: bool,
}

/// What a connection's task owns: the commands it takes and the subscriptions it
/// serves. However the task ends (its connection failed, or it panicked), every
/// subscription it had or was given ends as lost when this is dropped, so that no reader
/// waits for a connection that is gone.
struct Served {
    commands: mpsc::UnboundedReceiver<Command>,
    subscriptions: HashMap<u64, Arc<Inbox>>,
    /// Why the connection ended, for the subscriptions still on it.
    reason: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        // Refuse new commands, then end every subscription this connection had or was given.
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Subscribe { inbox, .. } = command {
                inbox.end(Ended::Lost(self.reason.clone()));
            }
        }
        for inbox in self.subscriptions.values() {
            inbox.end(Ended::Lost(self.reason.clone()));
        }
    }
}

async fn run_connection(opened: Opened, commands: mpsc::UnboundedReceiver<Command>) {
    let subgraph = &opened.subgraph;
    let mut served = Served {
        commands,
        subscriptions: HashMap::new(),
        reason: format!("the connection to the {subgraph} service stopped unexpectedly"),
    };
    let reason = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&opened.url, opened.authorization.as_deref())).await {
        Err(_) => format!("opening a connection to the {subgraph} service timed out"),
        Ok(Err(error)) => format!("opening a connection to the {subgraph} service failed: {error}"),
        Ok(Ok(socket)) => match serve(socket, &opened, &mut served.commands, &mut served.subscriptions).await {
            Some(reason) => reason,
            // Its one subscription has ended, or the router is stopping: nobody waits.
            None => return,
        },
    };
    tracing::warn!(subgraph, reason, subscriptions = served.subscriptions.len(), "an upstream subscription connection ended");
    served.reason = reason;
}

async fn connect(url: &str, authorization: Option<&str>) -> Result<Socket, tungstenite::Error> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", http::HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let payload = match authorization {
        Some(authorization) => serde_json::json!({ "authorization": authorization }),
        None => serde_json::json!({}),
    };
    let init = serde_json::json!({ "type": "connection_init", "payload": payload });
    socket.send(Message::text(init.to_string())).await?;
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => {
                let message: ServerMessage<'_> = serde_json::from_str(&text)
                    .map_err(|error| tungstenite::Error::Io(std::io::Error::other(error)))?;
                match message.kind {
                    "connection_ack" => return Ok(socket),
                    "ping" => socket.send(Message::text(PONG)).await?,
                    _ => {}
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    Err(tungstenite::Error::ConnectionClosed)
}

#[derive(Deserialize)]
struct ServerMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    id: Option<&'a str>,
    #[serde(default, borrow)]
    payload: Option<&'a serde_json::value::RawValue>,
}

/// Serves an open connection until it fails (why) or ends as it should (`None`: a
/// connection of its own whose subscription has ended, or the router stopping).
async fn serve(
    mut socket: Socket,
    opened: &Opened,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    subscriptions: &mut HashMap<u64, Arc<Inbox>>,
) -> Option<String> {
    let interval = opened.keepalive;
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Whether a ping is out, and whether anything came from the subgraph since it went.
    let (mut pinged, mut heard) = (false, false);
    loop {
        if opened.dedicated && subscriptions.is_empty() && commands.is_empty() {
            let _ = socket.close(None).await;
            return None;
        }
        tokio::select! {
            _ = keepalive.tick() => {
                if pinged && !heard {
                    return Some(format!("the subgraph answered no ping for {} ms", interval.as_millis()));
                }
                (pinged, heard) = (true, false);
                if let Err(error) = socket.send(Message::text(PING)).await {
                    return Some(format!("sending to the subgraph failed: {error}"));
                }
            }
            command = commands.recv() => {
                let message = match command {
                    // Every sender is gone: the engine was dropped with its last subscription.
                    None => return None,
                    Some(Command::Subscribe { id, payload, inbox }) => {
                        subscriptions.insert(id, inbox);
                        format!(r#"{{"id":"{id}","type":"subscribe","payload":{payload}}}"#)
                    }
                    Some(Command::Complete { id }) => {
                        if subscriptions.remove(&id).is_none() {
                            continue;
                        }
                        format!(r#"{{"id":"{id}","type":"complete"}}"#)
                    }
                };
                if let Err(error) = socket.send(Message::text(message)).await {
                    return Some(format!("sending to the subgraph failed: {error}"));
                }
            }
            message = socket.next() => {
                heard = true;
                let text = match message {
                    None => return Some("the subgraph closed the connection".to_string()),
                    Some(Err(error)) => return Some(format!("the connection failed: {error}")),
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        return Some(match frame {
                            Some(frame) => format!("the subgraph closed the connection ({} {})", frame.code, frame.reason),
                            None => "the subgraph closed the connection".to_string(),
                        });
                    }
                    Some(Ok(_)) => continue,
                };
                let Ok(message) = serde_json::from_str::<ServerMessage<'_>>(&text) else {
                    return Some("the subgraph sent a message that is not graphql-transport-ws".to_string());
                };
                let id = message.id.and_then(|id| id.parse::<u64>().ok());
                let payload = || Bytes::copy_from_slice(message.payload.map_or("null", |raw| raw.get()).as_bytes());
                let reply = match (message.kind, id) {
                    ("next", Some(id)) => {
                        if let Some(inbox) = subscriptions.get(&id)
                            && !inbox.push(payload())
                        {
                            subscriptions.remove(&id);
                            Some(format!(r#"{{"id":"{id}","type":"complete"}}"#))
                        } else {
                            None
                        }
                    }
                    ("error", Some(id)) => {
                        if let Some(inbox) = subscriptions.remove(&id) {
                            inbox.end(Ended::Refused(payload()));
                        }
                        None
                    }
                    ("complete", Some(id)) => {
                        if let Some(inbox) = subscriptions.remove(&id) {
                            inbox.end(Ended::Completed);
                        }
                        None
                    }
                    ("ping", _) => Some(PONG.to_string()),
                    _ => None,
                };
                if let Some(reply) = reply
                    && let Err(error) = socket.send(Message::text(reply)).await
                {
                    return Some(format!("sending to the subgraph failed: {error}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::{SinkExt, StreamExt};
    use serde_json::{Value, json};
    use tokio::sync::mpsc;
    use tokio_tungstenite::tungstenite::{
        Message,
        handshake::server::{ErrorResponse, Request, Response},
    };

    use super::{Ended, Received, UpstreamSubscription, Upstreams};

    /// What the fake subgraph answers to one client message; `None`: it drops the
    /// connection.
    type Script = Arc<dyn Fn(&Value) -> Option<Vec<Value>> + Send + Sync>;

    /// A graphql-transport-ws server on loopback that acknowledges `connection_init`,
    /// reports every client message with its connection's number, and answers as its
    /// script says.
    struct FakeSubgraph {
        url: String,
        seen: mpsc::UnboundedReceiver<(usize, Value)>,
    }

    impl FakeSubgraph {
        async fn start(script: Script) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|error| panic!("bind: {error}"));
            let url = format!("http://{}/graphql", listener.local_addr().unwrap_or_else(|error| panic!("address: {error}")));
            let (report, seen) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                let mut connections = 0;
                while let Ok((stream, _)) = listener.accept().await {
                    connections += 1;
                    let number = connections;
                    let (report, script) = (report.clone(), script.clone());
                    tokio::spawn(async move {
                        let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, with_protocol).await else { return };
                        while let Some(Ok(Message::Text(text))) = socket.next().await {
                            let message: Value = serde_json::from_str(&text).unwrap_or_else(|error| panic!("JSON: {error}"));
                            let _ = report.send((number, message.clone()));
                            let replies = if message["type"] == "connection_init" {
                                Some(vec![json!({ "type": "connection_ack" })])
                            } else {
                                script(&message)
                            };
                            let Some(replies) = replies else { return };
                            for reply in replies {
                                if socket.send(Message::text(reply.to_string())).await.is_err() {
                                    return;
                                }
                            }
                        }
                    });
                }
            });
            Self { url, seen }
        }

        /// The next client message: (connection number, message).
        async fn next(&mut self) -> (usize, Value) {
            tokio::time::timeout(std::time::Duration::from_secs(10), self.seen.recv())
                .await
                .unwrap_or_else(|_| panic!("no client message in time"))
                .unwrap_or_else(|| panic!("the fake subgraph stopped"))
        }
    }

    /// Answers the handshake with the subprotocol, as a graphql-transport-ws server does.
    #[allow(clippy::result_large_err)] // tungstenite's callback type
    fn with_protocol(_: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
        response
            .headers_mut()
            .insert("sec-websocket-protocol", http::HeaderValue::from_static("graphql-transport-ws"));
        Ok(response)
    }

    fn upstreams(url: &str, connections: usize) -> Upstreams {
        Upstreams::new(&[("credit".to_string(), url.to_string())].into_iter().collect(), connections)
    }

    fn subscribe(upstreams: &Upstreams, authorization: &str, capacity: usize) -> UpstreamSubscription {
        upstreams
            .subscribe("credit", Some(authorization), r#"{"query":"subscription { ticks }"}"#.into(), capacity)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    async fn next(subscription: &mut UpstreamSubscription) -> Received {
        tokio::time::timeout(std::time::Duration::from_secs(10), subscription.next())
            .await
            .unwrap_or_else(|_| panic!("no message in time"))
            .unwrap_or_else(|| panic!("the subscription had finished"))
    }

    fn event(received: Received) -> Value {
        match received {
            Received::Event(payload) => serde_json::from_slice(&payload).unwrap_or_else(|error| panic!("JSON: {error}")),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Answers each `subscribe` with `count` events numbered from 1.
    fn ticks(count: u64) -> Script {
        Arc::new(move |message| {
            Some(if message["type"] == "subscribe" {
                (1..=count)
                    .map(|tick| json!({ "id": message["id"], "type": "next", "payload": { "data": { "ticks": tick } } }))
                    .collect()
            } else {
                Vec::new()
            })
        })
    }

    #[tokio::test]
    async fn events_arrive_in_order_and_a_dropped_subscription_completes_upstream() {
        let mut subgraph = FakeSubgraph::start(ticks(3)).await;
        let upstreams = upstreams(&subgraph.url, 1);
        let mut subscription = subscribe(&upstreams, "Bearer router", 16);

        let (_, init) = subgraph.next().await;
        assert_eq!(init["type"], "connection_init");
        assert_eq!(init["payload"]["authorization"], "Bearer router");
        let (_, subscribe) = subgraph.next().await;
        assert_eq!(subscribe["type"], "subscribe");
        assert_eq!(subscribe["payload"]["query"], "subscription { ticks }");
        for tick in 1..=3 {
            assert_eq!(event(next(&mut subscription).await)["data"]["ticks"], tick);
        }

        drop(subscription);
        let (_, complete) = subgraph.next().await;
        assert_eq!(complete, json!({ "id": subscribe["id"], "type": "complete" }));
    }

    #[tokio::test]
    async fn subscriptions_share_the_configured_connections_in_turn() {
        let mut subgraph = FakeSubgraph::start(ticks(1)).await;
        let upstreams = upstreams(&subgraph.url, 2);
        let mut subscriptions: Vec<_> = (0..4).map(|_| subscribe(&upstreams, "Bearer router", 16)).collect();
        for subscription in &mut subscriptions {
            assert_eq!(event(next(subscription).await)["data"]["ticks"], 1);
        }

        let mut inits = 0;
        let mut subscribes_by_connection = std::collections::BTreeMap::new();
        for _ in 0..6 {
            let (connection, message) = subgraph.next().await;
            match message["type"].as_str() {
                Some("connection_init") => inits += 1,
                Some("subscribe") => *subscribes_by_connection.entry(connection).or_insert(0) += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(inits, 2, "two connections for four subscriptions");
        assert_eq!(subscribes_by_connection.into_values().collect::<Vec<_>>(), vec![2, 2]);
    }

    #[tokio::test]
    async fn a_full_queue_ends_the_subscription_as_too_slow_after_what_was_queued() {
        let mut subgraph = FakeSubgraph::start(ticks(3)).await;
        let upstreams = upstreams(&subgraph.url, 1);
        let mut subscription = subscribe(&upstreams, "Bearer router", 2);
        let _ = subgraph.next().await; // connection_init
        let (_, subscribe) = subgraph.next().await;
        // The router completes it upstream as soon as the third event does not fit.
        let (_, complete) = subgraph.next().await;
        assert_eq!(complete, json!({ "id": subscribe["id"], "type": "complete" }));

        assert_eq!(event(next(&mut subscription).await)["data"]["ticks"], 1);
        assert_eq!(event(next(&mut subscription).await)["data"]["ticks"], 2);
        assert!(matches!(next(&mut subscription).await, Received::Ended(Ended::TooSlow)));
        assert!(subscription.next().await.is_none(), "ended once");
    }

    #[tokio::test]
    async fn a_lost_connection_ends_every_subscription_on_it_and_the_next_opens_another() {
        // The subgraph drops the connection at the second subscribe.
        let subscribes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = subscribes.clone();
        let script: Script = Arc::new(move |message| {
            if message["type"] != "subscribe" {
                return Some(Vec::new());
            }
            (counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != 1).then(Vec::new)
        });
        let mut subgraph = FakeSubgraph::start(script).await;
        let upstreams = upstreams(&subgraph.url, 1);
        let mut first = subscribe(&upstreams, "Bearer router", 16);
        let mut second = subscribe(&upstreams, "Bearer router", 16);
        for subscription in [&mut first, &mut second] {
            match next(subscription).await {
                Received::Ended(Ended::Lost(reason)) => assert!(reason.contains("closed") || reason.contains("failed"), "{reason}"),
                other => panic!("expected the subscription to end as lost, got {other:?}"),
            }
        }

        let _third = subscribe(&upstreams, "Bearer router", 16);
        let mut connections = std::collections::BTreeSet::new();
        for _ in 0..5 {
            let (connection, _) = subgraph.next().await;
            connections.insert(connection);
        }
        assert_eq!(connections.len(), 2, "a new connection after the lost one");
    }

    #[tokio::test]
    async fn a_refused_subscription_ends_with_the_subgraphs_errors() {
        let script: Script = Arc::new(|message| {
            Some(if message["type"] == "subscribe" {
                vec![json!({ "id": message["id"], "type": "error", "payload": [{ "message": "no", "extensions": { "code": "UNAUTHENTICATED" } }] })]
            } else {
                Vec::new()
            })
        });
        let subgraph = FakeSubgraph::start(script).await;
        let upstreams = upstreams(&subgraph.url, 1);
        let mut subscription = subscribe(&upstreams, "Bearer router", 16);
        match next(&mut subscription).await {
            Received::Ended(Ended::Refused(errors)) => {
                let errors: Value = serde_json::from_slice(&errors).unwrap_or_else(|error| panic!("JSON: {error}"));
                assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(subscription.next().await.is_none());
    }

    #[tokio::test]
    async fn a_subgraph_that_answers_no_ping_is_taken_for_lost_and_one_that_answers_is_kept() {
        let keepalive = std::time::Duration::from_millis(50);
        let endpoints = |subgraph: &FakeSubgraph| [("credit".to_string(), subgraph.url.clone())].into_iter().collect();

        let answering: Script = Arc::new(|message| {
            Some(if message["type"] == "ping" { vec![json!({ "type": "pong" })] } else { Vec::new() })
        });
        let alive = FakeSubgraph::start(answering).await;
        let upstreams = Upstreams::with_keepalive(&endpoints(&alive), 1, keepalive);
        let mut subscription = subscribe(&upstreams, "Bearer router", 16);
        let waited = tokio::time::timeout(keepalive * 8, subscription.next()).await;
        assert!(waited.is_err(), "still running after several pings: {waited:?}");

        let silent = FakeSubgraph::start(ticks(0)).await;
        let upstreams = Upstreams::with_keepalive(&endpoints(&silent), 1, keepalive);
        let mut subscription = subscribe(&upstreams, "Bearer router", 16);
        match next(&mut subscription).await {
            Received::Ended(Ended::Lost(reason)) => assert!(reason.contains("ping"), "{reason}"),
            other => panic!("expected the subscription to end as lost, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_https_subgraph_is_reached_over_tls() {
        use tokio::io::AsyncReadExt;
        // As the router does when it starts (`crate::build`).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|error| panic!("bind: {error}"));
        let address = listener.local_addr().unwrap_or_else(|error| panic!("address: {error}"));
        let first_byte = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap_or_else(|error| panic!("accept: {error}"));
            stream.read_u8().await.unwrap_or_else(|error| panic!("read: {error}"))
        });
        let upstreams = upstreams(&format!("https://localhost:{}/graphql", address.port()), 1);
        let mut subscription = subscribe(&upstreams, "Bearer router", 16);

        let first_byte = first_byte.await.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(first_byte, 0x16, "a TLS handshake record, not a plain HTTP upgrade");
        assert!(matches!(next(&mut subscription).await, Received::Ended(Ended::Lost(_))));
    }

    #[tokio::test]
    async fn an_unreachable_subgraph_ends_the_subscription_as_lost() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("bind: {error}"));
            listener.local_addr().unwrap_or_else(|error| panic!("address: {error}")).port()
        };
        let upstreams = upstreams(&format!("http://127.0.0.1:{port}/graphql"), 1);
        let mut subscription = subscribe(&upstreams, "Bearer router", 16);
        match next(&mut subscription).await {
            Received::Ended(Ended::Lost(reason)) => assert!(reason.contains("credit"), "{reason}"),
            other => panic!("expected the subscription to end as lost, got {other:?}"),
        }
    }
}
