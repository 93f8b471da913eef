//! Live payment confirmations through the router: federated subscriptions over GraphQL
//! over WebSocket and server-sent events, resuming from the last event id, a second
//! replica fed by PostgreSQL's NOTIFY, and the WebSocket protocol's close codes.
//!
//! Sales are made by the store's owner: kiosk principals at the router come with issue 6.

use c9pay_platform::{
    database::Backend,
    on_both_backends,
    testing::{FaultyProxy, WebSocketClient, WebSocketMessage},
};
use serde_json::{Value, json};

use crate::{
    helpers::{
        TestRouter, bearer, claims, sign_eddsa, spawn_replica, spawn_router, spawn_router_with,
        websocket_url,
    },
    kiosks::{post_as_kiosk, register_kiosk},
    payments::{SELL, Shop, lattes, open_shop, payer_with, payment_code},
};

const STORE_PAYMENTS: &str = "subscription($store: ID!, $after: ID) {
    storePayments(storeId: $store, after: $after) { id kind amount payer { displayName } store { name } }
}";
const WALLET_ACTIVITY: &str = "subscription($after: ID) {
    walletActivity(after: $after) { id kind amount payer { displayName } store { name } }
}";

/// Sells `quantity` lattes to `payer` with a fresh payment code.
async fn sell(router: &TestRouter, shop: &Shop, payer: &str, quantity: i64, key: &str) {
    let code = payment_code(router, payer).await;
    let sold = router
        .post(
            Some(&shop.merchant),
            SELL,
            json!({ "store": shop.store, "items": lattes(shop, quantity), "code": code, "key": key }),
        )
        .await;
    assert_eq!(sold.data()["sell"]["status"], "PAID");
}

async fn connect(url: &str, token: &str) -> WebSocketClient {
    let mut client = WebSocketClient::connect(url).await;
    client.init(json!({ "Authorization": token })).await;
    client
}

fn store_event(payload: &Value) -> &Value {
    let event = &payload["data"]["storePayments"];
    assert!(
        event.is_object() && payload.get("errors").is_none(),
        "not a clean event: {payload:#}"
    );
    event
}

fn id_of(event: &Value) -> i64 {
    event["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {event:#}"))
}

/// A GraphQL-over-SSE response read event by event.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(
        router: &TestRouter,
        authorization: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Self, (u16, Value)> {
        let mut request = router
            .http
            .post(router.graphql_url())
            .header("accept", "text/event-stream")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST: {error}"));
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !content_type.starts_with("text/event-stream") {
            let status = response.status().as_u16();
            let body = response.json().await.unwrap_or(Value::Null);
            return Err((status, body));
        }
        Ok(Self {
            response,
            buffer: String::new(),
        })
    }

    /// The next event: (event name, data).
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_string();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return (name, data.join("\n"));
            }
            let wait = std::time::Duration::from_millis(c9pay_platform::testing::WEBSOCKET_WAIT_MS);
            match tokio::time::timeout(wait, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => panic!("the event stream ended; left: {:?}", self.buffer),
                Ok(Err(error)) => panic!("reading the event stream: {error}"),
                Err(_) => panic!("no server-sent event in time"),
            }
        }
    }

    /// The next event, which must be `next`: its payload.
    async fn next_payload(&mut self) -> Value {
        let (name, data) = self.next().await;
        assert_eq!(name, "next", "data: {data}");
        serde_json::from_str(&data).unwrap_or_else(|error| panic!("not JSON ({error}): {data}"))
    }
}

async fn a_kiosk_sale_reaches_the_merchants_websocket_and_the_payers_event_stream_once_with_names_filled(
    backend: Backend,
) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "100000").await;
    // `after: "0"` (everything so far) rather than "from now": the subscriptions need no
    // time to settle before the sale.
    let mut merchant = connect(&router.websocket_url(), &shop.merchant).await;
    merchant
        .subscribe(
            "dashboard",
            STORE_PAYMENTS,
            json!({ "store": shop.store, "after": "0" }),
        )
        .await;
    let mut app = match EventStream::open(
        &router,
        Some(&payer),
        WALLET_ACTIVITY,
        json!({ "after": "0" }),
    )
    .await
    {
        Ok(stream) => stream,
        Err(refused) => panic!("the event stream was refused: {refused:?}"),
    };

    // The till is a kiosk of the store: its own key, a DPoP proof on the request.
    let kiosk = register_kiosk(&router, &shop.merchant, &shop.store).await;
    let code = payment_code(&router, &payer).await;
    let sold = post_as_kiosk(
        &router,
        &kiosk,
        SELL,
        json!({ "store": shop.store, "items": lattes(&shop, 2), "code": code, "key": "sale-1" }),
    )
    .await;
    assert_eq!(sold.data()["sell"]["status"], "PAID");

    let payload = merchant.next_payload("dashboard").await;
    let seen = store_event(&payload);
    assert_eq!(seen["kind"], "PAYMENT");
    assert_eq!(seen["amount"], "9000");
    assert_eq!(
        seen["payer"]["displayName"], "Ada",
        "from users, through the router"
    );
    assert_eq!(
        seen["store"]["name"], "Cafe Nine",
        "from stores, through the router"
    );
    // From the beginning, the payer's wallet first shows the top-up that filled it.
    let payload = app.next_payload().await;
    let topped_up = &payload["data"]["walletActivity"];
    assert_eq!(topped_up["kind"], "TOP_UP", "{payload:#}");
    assert_eq!(topped_up["amount"], "100000");
    assert_eq!(topped_up["store"], Value::Null);
    let payload = app.next_payload().await;
    let own = &payload["data"]["walletActivity"];
    assert!(payload.get("errors").is_none(), "{payload:#}");
    assert_eq!(own["kind"], "PAYMENT");
    assert_eq!(own["amount"], "9000");
    assert_eq!(own["payer"]["displayName"], "Ada");
    assert_eq!(own["store"]["name"], "Cafe Nine");
    assert_eq!(own["id"], seen["id"], "one event, seen by both");

    // Exactly one event per sale: the next thing either of them receives is the next sale.
    sell(&router, &shop, &payer, 1, "sale-2").await;
    let second = merchant.next_payload("dashboard").await;
    assert_eq!(store_event(&second)["amount"], "4500");
    assert!(id_of(store_event(&second)) > id_of(seen));
    let second = app.next_payload().await;
    assert_eq!(second["data"]["walletActivity"]["amount"], "4500");

    let metrics = router.metrics().await;
    assert_eq!(
        crate::helpers::metric(&metrics, "c9pay_graphql_subscriptions_active", &[]),
        Some(2.0),
        "{metrics}"
    );
    let delivered =
        crate::helpers::metric(&metrics, "c9pay_graphql_subscription_events_total", &[]);
    assert!(
        delivered.is_some_and(|delivered| delivered >= 4.0),
        "{metrics}"
    );
}

async fn a_merchant_that_reconnects_with_its_last_id_gets_exactly_the_payments_it_missed(
    backend: Backend,
) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "100000").await;
    let mut before = connect(&router.websocket_url(), &shop.merchant).await;
    before
        .subscribe(
            "p",
            STORE_PAYMENTS,
            json!({ "store": shop.store, "after": "0" }),
        )
        .await;
    sell(&router, &shop, &payer, 1, "seen").await;
    let last_seen = id_of(store_event(&before.next_payload("p").await));
    before.close().await;

    for (quantity, key) in [(1, "missed-1"), (2, "missed-2"), (3, "missed-3")] {
        sell(&router, &shop, &payer, quantity, key).await;
    }
    let mut after = connect(&router.websocket_url(), &shop.merchant).await;
    after
        .subscribe(
            "p",
            STORE_PAYMENTS,
            json!({ "store": shop.store, "after": last_seen.to_string() }),
        )
        .await;

    let mut ids = vec![last_seen];
    for amount in ["4500", "9000", "13500"] {
        let payload = after.next_payload("p").await;
        assert_eq!(
            store_event(&payload)["amount"],
            amount,
            "the missed payments, in order"
        );
        ids.push(id_of(store_event(&payload)));
    }
    sell(&router, &shop, &payer, 4, "live").await;
    let payload = after.next_payload("p").await;
    assert_eq!(
        store_event(&payload)["amount"],
        "18000",
        "then live, nothing twice"
    );
    ids.push(id_of(store_event(&payload)));
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
}

/// Subscriptions share a few upstream WebSockets to credit. When one drops (credit
/// restarts), each subscription on it ends with an error the client sees, and the client
/// that subscribes again with its last id gets what it missed and then live events: in
/// order, each once, none lost.
async fn a_dropped_upstream_connection_ends_its_subscriptions_with_an_error_and_a_resubscribe_misses_nothing(
    backend: Backend,
) {
    let mut proxy = None;
    let router = spawn_router_with(backend, |config| {
        let upstream = config.subgraph_urls.get("credit").cloned().unwrap_or_default();
        let started = FaultyProxy::start(&upstream);
        config.subgraph_urls.insert("credit".to_string(), started.url.clone());
        proxy = Some(started);
    })
    .await;
    let Some(proxy) = proxy else { panic!("the proxy did not start") };
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "100000").await;
    let mut client = connect(&router.websocket_url(), &shop.merchant).await;
    client
        .subscribe("p", STORE_PAYMENTS, json!({ "store": shop.store, "after": "0" }))
        .await;
    sell(&router, &shop, &payer, 1, "before").await;
    let last_seen = id_of(store_event(&client.next_payload("p").await));

    proxy.sever();
    let payload = client.next_payload("p").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "the subscription ends with an error the client sees: {payload:#}"
    );
    let message = payload["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("subscribe again"), "{message}");
    match client.read().await {
        WebSocketMessage::Message(message) if message["type"] == "complete" && message["id"] == "p" => {}
        other => panic!("expected the subscription to complete, got {other:?}"),
    }

    sell(&router, &shop, &payer, 2, "while-away").await;
    client
        .subscribe("p", STORE_PAYMENTS, json!({ "store": shop.store, "after": last_seen.to_string() }))
        .await;
    let missed = client.next_payload("p").await;
    assert_eq!(store_event(&missed)["amount"], "9000", "what it missed first");
    sell(&router, &shop, &payer, 3, "live").await;
    let live = client.next_payload("p").await;
    assert_eq!(store_event(&live)["amount"], "13500", "then live, nothing twice");
    let ids = [last_seen, id_of(store_event(&missed)), id_of(store_event(&live))];
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
}

async fn subscriptions_are_authorized_when_they_start(backend: Backend) {
    let router = spawn_router(backend).await;
    let shop = open_shop(&router).await;
    let stranger = bearer(&router.sign_up("mallory@example.com", "Mallory").await);

    // Somebody else's store: credit refuses at subscribe time.
    let mut client = connect(&router.websocket_url(), &stranger).await;
    client
        .subscribe("s", STORE_PAYMENTS, json!({ "store": shop.store }))
        .await;
    let payload = client.next_payload("s").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{payload:#}"
    );

    // No credential at all: refused by the router before anything reaches a subgraph.
    let mut anonymous = WebSocketClient::connect(&router.websocket_url()).await;
    anonymous.init(json!({})).await;
    anonymous
        .subscribe("s", STORE_PAYMENTS, json!({ "store": shop.store }))
        .await;
    match anonymous.read().await {
        WebSocketMessage::Message(message) => {
            assert_eq!(message["type"], "error", "{message:#}");
            assert_eq!(
                message["payload"][0]["extensions"]["code"],
                "UNAUTHENTICATED"
            );
        }
        other => panic!("expected an error message, got {other:?}"),
    }
    match EventStream::open(&router, None, WALLET_ACTIVITY, json!({})).await {
        Err((status, body)) => {
            assert_eq!(status, 401);
            assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        }
        Ok(_) => panic!("an anonymous event stream was opened"),
    }

    // Over plain GraphQL over HTTP a subscription is refused with a pointer to the
    // transports that serve it.
    let response = router
        .post(Some(&stranger), WALLET_ACTIVITY, json!({}))
        .await;
    assert_eq!(response.error_code(), "OPERATION_NOT_SUPPORTED");
}

async fn a_payment_through_one_replica_reaches_a_subscriber_of_the_other(backend: Backend) {
    let router = spawn_router(backend).await;
    // The second credit would notice new events within its poll interval anyway; set far
    // beyond the test's wait, only PostgreSQL's NOTIFY can wake it.
    let second = spawn_replica(&router, |config| config.events_poll_interval_ms = 3_600_000).await;
    let shop = open_shop(&router).await;
    let payer = payer_with(&router, "ada@example.com", "100000").await;
    let mut merchant = connect(&websocket_url(&second), &shop.merchant).await;
    merchant
        .subscribe(
            "p",
            STORE_PAYMENTS,
            json!({ "store": shop.store, "after": "0" }),
        )
        .await;
    // The first sale may arrive by replay; once it has, the subscription is live.
    sell(&router, &shop, &payer, 1, "first").await;
    assert_eq!(
        store_event(&merchant.next_payload("p").await)["amount"],
        "4500"
    );

    sell(&router, &shop, &payer, 2, "second").await;

    let payload = merchant.next_payload("p").await;
    assert_eq!(store_event(&payload)["amount"], "9000");
    assert_eq!(store_event(&payload)["payer"]["displayName"], "Ada");
}

on_both_backends!(
    a_kiosk_sale_reaches_the_merchants_websocket_and_the_payers_event_stream_once_with_names_filled,
    a_merchant_that_reconnects_with_its_last_id_gets_exactly_the_payments_it_missed,
    subscriptions_are_authorized_when_they_start,
    a_dropped_upstream_connection_ends_its_subscriptions_with_an_error_and_a_resubscribe_misses_nothing,
);

mod replicas {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_payment_through_one_replica_reaches_a_subscriber_of_the_other_on_postgres() {
        super::a_payment_through_one_replica_reaches_a_subscriber_of_the_other(
            c9pay_platform::database::Backend::Postgres,
        )
        .await;
    }
}

/// The protocol's close codes. They do not depend on the database, so they run on SQLite.
mod protocol {
    use super::*;

    async fn router() -> TestRouter {
        spawn_router_with(Backend::Sqlite, |config| {
            config.limits.websocket_init_timeout_ms = 300
        })
        .await
    }

    async fn closed(client: &mut WebSocketClient) -> u16 {
        client.closed().await.0
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn subscribing_before_the_connection_is_acknowledged_closes_it_with_4401() {
        let router = router().await;
        let mut client = WebSocketClient::connect(&router.websocket_url()).await;
        client.subscribe("1", WALLET_ACTIVITY, json!({})).await;
        assert_eq!(closed(&mut client).await, 4401);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_or_expired_credential_in_connection_init_closes_it_with_4403() {
        let router = router().await;
        let mut client = WebSocketClient::connect(&router.websocket_url()).await;
        client.send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer nonsense" } })).await;
        assert_eq!(closed(&mut client).await, 4403);

        let user = crate::helpers::subject_of(&router.sign_up("ada@example.com", "Ada").await);
        let (kid, seed) = router.auth_signing_key().await;
        let expired = sign_eddsa(&claims(&user, -600), &kid, &seed);
        let mut client = WebSocketClient::connect(&router.websocket_url()).await;
        client.send(json!({ "type": "connection_init", "payload": { "Authorization": bearer(&expired) } })).await;
        assert_eq!(closed(&mut client).await, 4403);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_connection_closes_with_4403_when_its_access_token_expires() {
        let router = router().await;
        let user = crate::helpers::subject_of(&router.sign_up("ada@example.com", "Ada").await);
        let (kid, seed) = router.auth_signing_key().await;
        // Valid for a little while: the subscription runs, then the token runs out.
        let short_lived = sign_eddsa(&claims(&user, 2), &kid, &seed);
        let mut client = connect(&router.websocket_url(), &bearer(&short_lived)).await;
        client
            .subscribe("1", WALLET_ACTIVITY, json!({ "after": "0" }))
            .await;

        let (code, reason) = client.closed().await;

        assert_eq!(code, 4403);
        assert!(reason.contains("expired"), "{reason}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_stream_ends_with_token_expired_when_its_access_token_expires() {
        let router = router().await;
        let user = crate::helpers::subject_of(&router.sign_up("ada@example.com", "Ada").await);
        let (kid, seed) = router.auth_signing_key().await;
        let short_lived = bearer(&sign_eddsa(&claims(&user, 2), &kid, &seed));
        let mut events = match EventStream::open(
            &router,
            Some(&short_lived),
            WALLET_ACTIVITY,
            json!({}),
        )
        .await
        {
            Ok(events) => events,
            Err(refused) => panic!("refused: {refused:?}"),
        };

        let payload = events.next_payload().await;

        assert_eq!(
            payload["errors"][0]["extensions"]["code"], "TOKEN_EXPIRED",
            "{payload:#}"
        );
        assert_eq!(events.next().await.0, "complete");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logging_out_ends_the_sessions_running_subscriptions() {
        let router = router().await;
        router.sign_up("ada@example.com", "Ada").await;
        let session = bearer(&router.log_in("ada@example.com").await);
        let mut socket = connect(&router.websocket_url(), &session).await;
        socket
            .subscribe("1", WALLET_ACTIVITY, json!({ "after": "0" }))
            .await;
        let mut events =
            match EventStream::open(&router, Some(&session), WALLET_ACTIVITY, json!({})).await {
                Ok(events) => events,
                Err(refused) => panic!("refused: {refused:?}"),
            };

        let logged_out = router.post(Some(&session), "mutation { logOut }", json!({})).await;
        assert_eq!(logged_out.data()["logOut"], true);

        // The router learns of the log-out from auth's revocation feed (about a second)
        // and ends both streams; the access token itself is still unexpired.
        let (code, reason) = socket.closed().await;
        assert_eq!(code, 4403);
        assert!(reason.contains("session has ended"), "{reason}");
        let payload = events.next_payload().await;
        assert_eq!(
            payload["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{payload:#}"
        );
        assert_eq!(events.next().await.0, "complete");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_over_an_event_stream_is_one_next_and_a_complete() {
        let router = router().await;
        let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
        let mut events =
            match EventStream::open(&router, Some(&token), "{ me { displayName } }", json!({}))
                .await
            {
                Ok(events) => events,
                Err(refused) => panic!("refused: {refused:?}"),
            };
        assert_eq!(
            events.next_payload().await["data"]["me"]["displayName"],
            "Ada"
        );
        assert_eq!(events.next().await.0, "complete");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn subscriptions_are_held_to_the_same_limits_as_other_operations() {
        let router = router().await;
        let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
        let aliases: Vec<String> = (0..31).map(|index| format!("a{index}: id")).collect();
        let query = format!(
            "subscription {{ walletActivity {{ {} }} }}",
            aliases.join(" ")
        );
        let mut client = connect(&router.websocket_url(), &token).await;
        client.subscribe("wide", &query, json!({})).await;
        match client.read().await {
            WebSocketMessage::Message(message) => {
                assert_eq!(message["type"], "error", "{message:#}");
                assert_eq!(
                    message["payload"][0]["extensions"]["code"],
                    "TOO_MANY_ALIASES"
                );
            }
            other => panic!("expected an error message, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_subscribe_with_a_running_id_closes_it_with_4409() {
        let router = router().await;
        let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
        let mut client = connect(&router.websocket_url(), &token).await;
        client.subscribe("same", WALLET_ACTIVITY, json!({})).await;
        client.subscribe("same", WALLET_ACTIVITY, json!({})).await;
        assert_eq!(closed(&mut client).await, 4409);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_connection_init_in_time_closes_it_with_4408() {
        let router = router().await;
        let mut client = WebSocketClient::connect(&router.websocket_url()).await;
        assert_eq!(closed(&mut client).await, 4408);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_outside_the_protocol_closes_it_with_4400() {
        let router = router().await;
        for message in [
            "not json",
            r#"{"type":"subscribe"}"#,
            r#"{"type":"shout"}"#,
            "[]",
        ] {
            let mut client = WebSocketClient::connect(&router.websocket_url()).await;
            client.send_text(message.to_string()).await;
            assert_eq!(closed(&mut client).await, 4400, "after {message}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_connection_init_closes_it_with_4429() {
        let router = router().await;
        let mut client = WebSocketClient::connect(&router.websocket_url()).await;
        client.init(json!({})).await;
        client.send(json!({ "type": "connection_init" })).await;
        assert_eq!(closed(&mut client).await, 4429);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_without_the_subprotocol_closes_with_4406() {
        let router = router().await;
        let mut client = WebSocketClient::connect_with(&router.websocket_url(), None).await;
        assert_eq!(closed(&mut client).await, 4406);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pings_are_answered_and_queries_run_over_the_socket_too() {
        let router = router().await;
        let token = bearer(&router.sign_up("ada@example.com", "Ada").await);
        let mut client = connect(&router.websocket_url(), &token).await;
        client.ping().await;
        client
            .subscribe("q", "{ me { displayName } }", json!({}))
            .await;
        let payload = client.next_payload("q").await;
        assert_eq!(payload["data"]["me"]["displayName"], "Ada");
        match client.read().await {
            WebSocketMessage::Message(message) => {
                assert_eq!(message, json!({ "id": "q", "type": "complete" }))
            }
            other => panic!("expected complete, got {other:?}"),
        }
    }
}
