//! Live ledger events over GraphQL over WebSocket, straight at the subgraph: resuming
//! from the last event id, ownership checks, events that commit out of sequence order on
//! PostgreSQL, and a second replica that learns of events through LISTEN/NOTIFY.

use c9pay_credit::{
    db,
    domain::{OwnerKind, TransferKind},
    ledger::{self, Movement},
};
use c9pay_platform::{
    database::Backend,
    id::{StoreId, UserId},
    internal_token::{AUDIENCE, Principal, ROUTER_ISSUER, audience_of},
    money::Amount,
    on_both_backends,
    testing::{TestTrust, WebSocketClient, WebSocketMessage},
};
use serde_json::{Value, json};

use crate::helpers::{TestCredit, spawn_credit};

const SEND: &str = "mutation($to: ID!, $amount: Amount!, $key: String!) {
    sendCredits(input: { toUserId: $to, amount: $amount, idempotencyKey: $key }) { transferId }
}";
const WALLET_ACTIVITY: &str = "subscription($after: ID) {
    walletActivity(after: $after) { id kind amount transferId payer { id } recipient { id } store { id } }
}";
const STORE_PAYMENTS: &str =
    "subscription($store: ID!) { storePayments(storeId: $store) { id amount } }";

async fn send(credit: &TestCredit, from: &UserId, to: &UserId, amount: i64, key: &str) {
    credit
        .execute_as(
            from,
            SEND,
            json!({ "to": to, "amount": amount.to_string(), "key": key }),
        )
        .await
        .data();
}

/// A connection signed in (through the internal token) as `user`.
async fn connect_as(credit: &TestCredit, url: &str, user: &UserId) -> WebSocketClient {
    let mut client = WebSocketClient::connect(url).await;
    client
        .init(json!({ "authorization": credit.trust.user(user) }))
        .await;
    client
}

fn event(payload: &Value) -> &Value {
    let event = &payload["data"]["walletActivity"];
    assert!(event.is_object(), "no event in {payload:#}");
    event
}

async fn a_subscriber_that_comes_back_with_its_last_id_gets_exactly_what_it_missed(
    backend: Backend,
) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 10_000).await;
    let url = credit.websocket_url();

    let mut first = connect_as(&credit, &url, &bo).await;
    first
        .subscribe("1", WALLET_ACTIVITY, json!({ "after": "0" }))
        .await;
    send(&credit, &ada, &bo, 100, "gift-100").await;
    let seen = first.next_payload("1").await;
    let seen = event(&seen);
    assert_eq!(seen["kind"], "GIFT");
    assert_eq!(seen["amount"], "100");
    assert_eq!(seen["payer"]["id"], ada.to_string());
    assert_eq!(seen["recipient"]["id"], bo.to_string());
    assert_eq!(seen["store"], Value::Null);
    let last_id = seen["id"].as_str().unwrap_or_default().to_string();
    first.close().await;

    for amount in [200, 300, 400] {
        send(&credit, &ada, &bo, amount, &format!("gift-{amount}")).await;
    }
    let mut again = connect_as(&credit, &url, &bo).await;
    again
        .subscribe("2", WALLET_ACTIVITY, json!({ "after": last_id }))
        .await;
    let mut ids = vec![last_id.parse::<i64>().unwrap_or_default()];
    for amount in ["200", "300", "400"] {
        let payload = again.next_payload("2").await;
        assert_eq!(event(&payload)["amount"], amount, "missed events in order");
        ids.push(
            event(&payload)["id"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .unwrap_or_default(),
        );
    }
    // Live events follow the replay, and nothing is delivered twice: the very next
    // message is the next gift.
    send(&credit, &ada, &bo, 500, "gift-500").await;
    let payload = again.next_payload("2").await;
    assert_eq!(event(&payload)["amount"], "500");
    ids.push(
        event(&payload)["id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or_default(),
    );
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids increase: {ids:?}"
    );
}

async fn each_person_sees_only_their_own_wallet_activity(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    let cy = credit.person("Cy").await;
    credit.grant(&ada, 10_000).await;
    let url = credit.websocket_url();
    let mut watcher = connect_as(&credit, &url, &cy).await;
    watcher
        .subscribe("w", WALLET_ACTIVITY, json!({ "after": "0" }))
        .await;

    send(&credit, &ada, &bo, 100, "not-for-cy").await;
    send(&credit, &ada, &cy, 7, "for-cy").await;

    let payload = watcher.next_payload("w").await;
    assert_eq!(
        event(&payload)["amount"],
        "7",
        "Cy's first event is the gift to Cy"
    );
}

async fn only_the_owner_may_follow_a_stores_payments(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let owner = UserId::generate();
    let stranger = UserId::generate();
    let store = StoreId::generate();
    let (status, _) = credit
        .put_store_account(Some(&credit.trust.service("stores")), &store, &owner)
        .await;
    assert_eq!(status, 200);
    let url = credit.websocket_url();

    let mut refused = connect_as(&credit, &url, &stranger).await;
    refused
        .subscribe("s", STORE_PAYMENTS, json!({ "store": store }))
        .await;
    let payload = refused.next_payload("s").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{payload:#}"
    );

    let mut unknown = connect_as(&credit, &url, &owner).await;
    unknown
        .subscribe("s", STORE_PAYMENTS, json!({ "store": StoreId::generate() }))
        .await;
    let payload = unknown.next_payload("s").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{payload:#}"
    );
}

/// A connection signed in as a kiosk of `store`, as the router vouches for one.
async fn connect_as_kiosk(credit: &TestCredit, url: &str, store: &StoreId) -> WebSocketClient {
    let kiosk = c9pay_platform::internal_token::Principal {
        kind: c9pay_platform::internal_token::PrincipalKind::Kiosk,
        subject: "kio_0123456789abcdef0123456789abcdef".to_string(),
        roles: vec!["kiosk".to_string(), format!("store:{store}")],
        scopes: vec!["kiosk".to_string()],
        request_id: "test".to_string(),
        session_id: Some("kio_0123456789abcdef0123456789abcdef".to_string()),
    };
    let mut client = WebSocketClient::connect(url).await;
    client
        .init(json!({ "authorization": credit.trust.authorization_for(&kiosk) }))
        .await;
    client
}

async fn a_kiosk_follows_its_own_stores_payments_only(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let owner = UserId::generate();
    let (store, other_store) = (StoreId::generate(), StoreId::generate());
    for store in [&store, &other_store] {
        let (status, _) = credit
            .put_store_account(Some(&credit.trust.service("stores")), store, &owner)
            .await;
        assert_eq!(status, 200);
    }
    let url = credit.websocket_url();

    let mut elsewhere = connect_as_kiosk(&credit, &url, &store).await;
    elsewhere
        .subscribe("s", STORE_PAYMENTS, json!({ "store": other_store }))
        .await;
    let payload = elsewhere.next_payload("s").await;
    assert_eq!(payload["errors"][0]["extensions"]["code"], "FORBIDDEN", "{payload:#}");

    let mut own = connect_as_kiosk(&credit, &url, &store).await;
    // From the beginning (`after: "0"`), so the subscription need not be live before the
    // payment for the test to see it.
    own.subscribe(
        "s",
        "subscription($store: ID!) { storePayments(storeId: $store, after: \"0\") { id amount } }",
        json!({ "store": store }),
    )
    .await;
    // A person pays the store's payment request (the merchant-presented QR).
    let payer = credit.person("Ada").await;
    credit.grant(&payer, 10_000).await;
    let created = credit
        .execute_as(
            &owner,
            "mutation($store: ID!) { createPaymentRequest(input: { storeId: $store, amount: \"4500\" }) { token } }",
            json!({ "store": store.as_str() }),
        )
        .await;
    let token = created.data()["createPaymentRequest"]["token"].clone();
    let paid = credit
        .execute_as(
            &payer,
            "mutation($token: String!) { payRequest(input: { token: $token, idempotencyKey: \"k\" }) { transferId } }",
            json!({ "token": token }),
        )
        .await;
    assert!(paid.data()["payRequest"]["transferId"].is_string());
    let payload = own.next_payload("s").await;
    assert_eq!(payload["data"]["storePayments"]["amount"], "4500", "{payload:#}");
}

const TOP_UP: &str = "mutation($amount: Amount!, $key: String!) {
    topUp(input: { amount: $amount, idempotencyKey: $key }) { transferId balanceAfter }
}";

/// A second device of the same person follows the wallet: a top-up reaches it as an
/// event (money received, from nobody), once, however often the top-up is retried.
async fn a_top_up_reaches_the_persons_wallet_activity_once(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    let url = credit.websocket_url();
    let mut device = connect_as(&credit, &url, &ada).await;
    device
        .subscribe("w", WALLET_ACTIVITY, json!({ "after": "0" }))
        .await;
    let mut stranger = connect_as(&credit, &url, &bo).await;
    stranger
        .subscribe("w", WALLET_ACTIVITY, json!({ "after": "0" }))
        .await;

    let top_up = json!({ "amount": "15000", "key": "top-up-1" });
    let first = credit.execute_as(&ada, TOP_UP, top_up.clone()).await;
    let retried = credit.execute_as(&ada, TOP_UP, top_up).await;
    send(&credit, &ada, &bo, 700, "after-the-top-up").await;

    let transfer_id = first.data()["topUp"]["transferId"].clone();
    assert_eq!(retried.data()["topUp"]["transferId"], transfer_id, "a replay");
    let payload = device.next_payload("w").await;
    let topped_up = event(&payload);
    assert_eq!(topped_up["kind"], "TOP_UP", "{payload:#}");
    assert_eq!(topped_up["amount"], "15000");
    assert_eq!(topped_up["transferId"], transfer_id);
    assert_eq!(topped_up["recipient"]["id"], ada.to_string());
    assert_eq!(topped_up["payer"], Value::Null);
    assert_eq!(topped_up["store"], Value::Null);
    // The retry moved nothing and wrote no second event: next is the gift.
    let payload = device.next_payload("w").await;
    assert_eq!(event(&payload)["kind"], "GIFT", "{payload:#}");
    assert_eq!(event(&payload)["amount"], "700");
    // Bo sees the gift he received, never Ada's top-up.
    let payload = stranger.next_payload("w").await;
    assert_eq!(event(&payload)["kind"], "GIFT", "{payload:#}");
}

/// Each event handed to a subscription is timed from its transfer into
/// `c9pay_event_delivery_lag_seconds`; history replayed because the subscriber asked for
/// it (`after`) is not lag and is not counted.
async fn the_delivery_lag_of_live_events_is_measured_and_replayed_history_is_not(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let lag_count = || c9pay_platform::testing::metric_sample(&credit.address, "c9pay_event_delivery_lag_seconds_count");
    credit.execute_as(&ada, TOP_UP, json!({ "amount": "15000", "key": "before" })).await.data();
    let mut device = connect_as(&credit, &credit.websocket_url(), &ada).await;
    device.subscribe("w", WALLET_ACTIVITY, json!({ "after": "0" })).await;
    let payload = device.next_payload("w").await;
    assert_eq!(event(&payload)["amount"], "15000", "{payload:#}");
    assert_eq!(lag_count().await, "0", "the replayed top-up is history");

    credit.execute_as(&ada, TOP_UP, json!({ "amount": "500", "key": "after" })).await.data();
    let payload = device.next_payload("w").await;
    assert_eq!(event(&payload)["amount"], "500", "{payload:#}");
    assert_eq!(lag_count().await, "1", "the live top-up was timed");
    let lag_s: f64 = c9pay_platform::testing::metric_sample(&credit.address, "c9pay_event_delivery_lag_seconds_sum")
        .await
        .parse()
        .unwrap_or(f64::NAN);
    assert!((0.0..60.0).contains(&lag_s), "a lag in seconds: {lag_s}");
}

async fn a_connection_without_an_internal_token_is_refused(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let mut client = WebSocketClient::connect(&credit.websocket_url()).await;
    client
        .send(json!({ "type": "connection_init", "payload": {} }))
        .await;
    match client.read().await {
        // async-graphql closes a refused `connection_init` with 1002 and the reason.
        WebSocketMessage::Closed(code, reason) => {
            assert_eq!(code, 1002);
            assert!(reason.contains("through the c9pay router"), "{reason}");
        }
        other => panic!("expected the connection to be closed, got {other:?}"),
    }
}

async fn a_resume_too_far_back_is_refused_with_its_code(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 1_000_000).await;
    // REPLAY_EVENTS_MAX + 1 events, written straight into the outbox.
    let event_count = c9pay_credit::events::REPLAY_EVENTS_MAX + 1;
    let transfer = {
        let from = db::find_account_by_owner(&credit.database, OwnerKind::User, ada.as_str())
            .await
            .expect("reading")
            .expect("Ada has an account");
        let to = db::ensure_user_account(&credit.database, &bo)
            .await
            .expect("Bo's account");
        let mut transaction = credit.database.begin_write().await.expect("a transaction");
        let transfer = ledger::post(
            &mut transaction,
            Movement {
                debit: &from.reference(),
                credit: &to.reference(),
                amount: Amount::parse_positive(1).expect("1"),
                kind: TransferKind::Gift,
                reference: None,
                memo: None,
            },
        )
        .await
        .expect("posting");
        for _ in 0..event_count {
            ledger::record_event(&mut transaction, &transfer, Some(&ada), None, Some(&bo))
                .await
                .expect("recording an event");
        }
        transaction.commit().await.expect("committing");
        transfer
    };
    assert_eq!(transfer.amount.get(), 1);

    let mut client = connect_as(&credit, &credit.websocket_url(), &bo).await;
    client
        .subscribe("r", WALLET_ACTIVITY, json!({ "after": "0" }))
        .await;
    let payload = client.next_payload("r").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "RESUME_TOO_FAR_BEHIND",
        "{payload:#}"
    );
}

/// More events than the live channel holds commit while the subscriber reads nothing:
/// it falls behind the channel, and still receives every event once, in order, from the
/// table.
async fn a_subscriber_that_falls_behind_the_live_channel_still_gets_every_event_once(
    backend: Backend,
) {
    use futures::StreamExt;
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 10_000).await;
    let hub = c9pay_credit::events::EventHub::start(
        credit.database.clone(),
        credit.config.database.url.expose(),
        std::time::Duration::from_secs(3_600),
    )
    .await
    .expect("starting a hub");
    let events = hub
        .follow(c9pay_credit::events::Audience::User(bo.clone()), None)
        .await
        .expect("following");
    let mut events = Box::pin(events);

    let event_count = c9pay_credit::events::LIVE_EVENTS_BUFFERED_MAX + 100;
    let from = db::find_account_by_owner(&credit.database, OwnerKind::User, ada.as_str())
        .await
        .expect("reading")
        .expect("Ada has an account");
    let to = db::ensure_user_account(&credit.database, &bo)
        .await
        .expect("Bo's account");
    let mut transaction = credit.database.begin_write().await.expect("a transaction");
    let transfer = ledger::post(
        &mut transaction,
        Movement {
            debit: &from.reference(),
            credit: &to.reference(),
            amount: Amount::parse_positive(1).expect("1"),
            kind: TransferKind::Gift,
            reference: None,
            memo: None,
        },
    )
    .await
    .expect("posting");
    for _ in 0..event_count {
        ledger::record_event(&mut transaction, &transfer, Some(&ada), None, Some(&bo))
            .await
            .expect("recording an event");
    }
    transaction.commit().await.expect("committing");
    c9pay_credit::events::announce();
    // Let the dispatcher overrun the channel before anything is read (the test passes
    // whatever the timing; this only makes the overrun certain in practice).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let wait = std::time::Duration::from_secs(30);
    let mut last = 0;
    for index in 0..event_count {
        let event = tokio::time::timeout(wait, events.next())
            .await
            .unwrap_or_else(|_| panic!("event {index} did not come"))
            .unwrap_or_else(|| panic!("the stream ended at event {index}"))
            .unwrap_or_else(|error| panic!("event {index}: {error}"));
        assert!(event.sequence > last, "in order, each once");
        last = event.sequence;
    }
    send(&credit, &ada, &bo, 9, "after-the-flood").await;
    let event = tokio::time::timeout(wait, events.next())
        .await
        .expect("the live event came")
        .expect("the stream goes on")
        .expect("no error");
    assert_eq!(event.amount, 9, "the very next event is the new one");
}

async fn an_after_id_the_ledger_never_issued_is_refused(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let bo = credit.person("Bo").await;
    let mut client = connect_as(&credit, &credit.websocket_url(), &bo).await;
    client
        .subscribe("r", WALLET_ACTIVITY, json!({ "after": "999999" }))
        .await;
    let payload = client.next_payload("r").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "INVALID_ID",
        "{payload:#}"
    );
}

/// A connection opened as the router itself, as the router's shared connections are.
async fn connect_as_router(credit: &TestCredit, url: &str) -> WebSocketClient {
    let mut client = WebSocketClient::connect(url).await;
    client
        .init(json!({ "authorization": credit.trust.authorization_for(&Principal::service(ROUTER_ISSUER, "")) }))
        .await;
    client
}

/// `subscribe` with `extensions.c9pay.authorization` set to `authorization`, or no
/// extension at all.
async fn subscribe_with(client: &mut WebSocketClient, id: &str, authorization: Option<&str>) {
    let mut payload = json!({ "query": WALLET_ACTIVITY, "variables": { "after": "0" } });
    if let Some(authorization) = authorization {
        payload["extensions"] = json!({ "c9pay": { "authorization": authorization } });
    }
    client.send(json!({ "id": id, "type": "subscribe", "payload": payload })).await;
}

async fn on_the_routers_shared_connection_each_subscription_runs_as_its_own_principal(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 10_000).await;
    send(&credit, &ada, &bo, 7, "for-bo").await;
    let mut shared = connect_as_router(&credit, &credit.websocket_url()).await;

    subscribe_with(&mut shared, "bo", Some(&credit.trust.user(&bo))).await;
    let payload = shared.next_payload("bo").await;
    assert_eq!(event(&payload)["amount"], "7", "Bo's gift, replayed to Bo's subscription");
    assert_eq!(event(&payload)["recipient"]["id"], bo.to_string(), "{payload:#}");
    subscribe_with(&mut shared, "ada", Some(&credit.trust.user(&ada))).await;
    let payload = shared.next_payload("ada").await;
    assert!(involves(event(&payload), &ada), "Ada's subscription replays Ada's activity: {payload:#}");

    // A live payment reaches both subscriptions of the connection, each as its own.
    send(&credit, &ada, &bo, 5, "for-bo-live").await;
    let mut live = std::collections::BTreeSet::new();
    while live.len() < 2 {
        match shared.read().await {
            WebSocketMessage::Message(message) if message["type"] == "next" => {
                let activity = &message["payload"]["data"]["walletActivity"];
                let id = message["id"].as_str().unwrap_or_default().to_string();
                let owner = if id == "ada" { &ada } else { &bo };
                assert!(involves(activity, owner), "{id} sees only its own activity: {message:#}");
                if activity["amount"] == "5" {
                    live.insert(id);
                }
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }

    // The router pings its shared connections and takes one that answers nothing for lost.
    shared.ping().await;
}

/// Tokens naming `person` that credit must refuse: forged, expired, for another service.
fn invalid_tokens_of(credit: &TestCredit, person: &Principal) -> [(&'static str, String); 3] {
    [
        ("forged", TestTrust::forged(person)),
        ("expired", credit.trust.authorization_as_of(person, AUDIENCE, 10 * 60)),
        ("other-audience", credit.trust.authorization_as_of(person, &audience_of("users"), 0)),
    ]
}

/// Whether `user` paid or received the event's transfer.
fn involves(event: &Value, user: &UserId) -> bool {
    [&event["payer"]["id"], &event["recipient"]["id"]].contains(&&json!(user.to_string()))
}

async fn a_subscribe_on_the_routers_connection_without_a_valid_token_of_its_own_is_refused(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 10_000).await;
    send(&credit, &ada, &bo, 7, "from-ada").await;
    let mut shared = connect_as_router(&credit, &credit.websocket_url()).await;
    let person = Principal::user(&ada, "");
    let mut refused: Vec<(&str, Option<String>)> = invalid_tokens_of(&credit, &person)
        .into_iter()
        .map(|(id, token)| (id, Some(token)))
        .collect();
    refused.extend([
        ("missing", None),
        ("the-router-itself", Some(credit.trust.authorization_for(&Principal::service(ROUTER_ISSUER, "")))),
        ("not-a-token", Some("Bearer not.a.token".to_string())),
    ]);
    for (id, authorization) in &refused {
        subscribe_with(&mut shared, id, authorization.as_deref()).await;
        let payload = shared.next_payload(id).await;
        assert_eq!(payload["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{id}: {payload:#}");
        let message = payload["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("its own principal's internal token"), "{id}: refused for its token: {payload:#}");
        assert!(payload["data"].is_null(), "{id}: nothing ran: {payload:#}");
        match shared.read().await {
            WebSocketMessage::Message(message) if message["type"] == "complete" && message["id"] == *id => {}
            other => panic!("{id}: expected complete, got {other:?}"),
        }
    }

    // The connection is still open, and a subscription with a valid token runs on it.
    subscribe_with(&mut shared, "valid", Some(&credit.trust.user(&ada))).await;
    let payload = shared.next_payload("valid").await;
    assert!(involves(event(&payload), &ada), "{payload:#}");
}

/// An event's fetch as the router sends it: the router's token as `Authorization`, the
/// principal's in `extensions.c9pay`.
async fn a_routers_fetch_runs_as_the_principal_its_extension_names_or_is_refused(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    credit.grant(&ada, 1_234).await;
    let router = credit.trust.authorization_for(&Principal::service(ROUTER_ISSUER, ""));
    let fetch = |operation: Option<String>| {
        let mut body = json!({
            "query": "query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { wallet { balance } } } }",
            "variables": { "r": [{ "__typename": "User", "id": ada }] },
        });
        if let Some(operation) = operation {
            body["extensions"] = json!({ "c9pay": { "authorization": operation } });
        }
        credit.http.post(format!("{}/graphql", credit.address)).header("authorization", &router).json(&body).send()
    };

    let response = fetch(Some(credit.trust.user(&ada))).await.unwrap_or_else(|error| panic!("{error}"));
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["data"]["_entities"][0]["wallet"]["balance"], "1234", "as Ada: {body:#}");

    for (what, operation) in invalid_tokens_of(&credit, &Principal::user(&ada, "")) {
        let response = fetch(Some(operation)).await.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(response.status().as_u16(), 401, "{what}");
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{what}: {body:#}");
    }
}

async fn a_principals_own_connection_ignores_an_operations_token(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 10_000).await;
    let mut bos = connect_as(&credit, &credit.websocket_url(), &bo).await;
    // Bo's connection runs as Bo whatever the operation names: Ada's grant is not Bo's.
    subscribe_with(&mut bos, "w", Some(&credit.trust.user(&ada))).await;
    send(&credit, &ada, &bo, 3, "for-bo").await;
    let payload = bos.next_payload("w").await;
    assert_eq!(event(&payload)["amount"], "3", "Bo's first event is the gift to Bo: {payload:#}");
}

on_both_backends!(
    on_the_routers_shared_connection_each_subscription_runs_as_its_own_principal,
    a_subscribe_on_the_routers_connection_without_a_valid_token_of_its_own_is_refused,
    a_principals_own_connection_ignores_an_operations_token,
    a_routers_fetch_runs_as_the_principal_its_extension_names_or_is_refused,
    a_top_up_reaches_the_persons_wallet_activity_once,
    an_after_id_the_ledger_never_issued_is_refused,
    a_subscriber_that_falls_behind_the_live_channel_still_gets_every_event_once,
    a_subscriber_that_comes_back_with_its_last_id_gets_exactly_what_it_missed,
    each_person_sees_only_their_own_wallet_activity,
    only_the_owner_may_follow_a_stores_payments,
    a_kiosk_follows_its_own_stores_payments_only,
    a_connection_without_an_internal_token_is_refused,
    a_resume_too_far_back_is_refused_with_its_code,
    the_delivery_lag_of_live_events_is_measured_and_replayed_history_is_not,
);

mod postgres_only {
    use super::*;

    /// Transaction A takes a sequence number and stays open; transaction B (another pair
    /// of people) records its event meanwhile. If B could commit first with the higher
    /// number, the feed would move past A's number and never deliver A's event. The
    /// dispatcher's commit watermark holds B back until A has ended instead (B itself
    /// never waits).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_that_took_its_number_first_is_delivered_even_if_a_later_one_is_ready_sooner()
    {
        let credit = spawn_credit(Backend::Postgres).await;
        let ada = credit.person("Ada").await;
        let bo = credit.person("Bo").await;
        let cy = credit.person("Cy").await;
        let di = credit.person("Di").await;
        credit.grant(&ada, 10_000).await;
        credit.grant(&cy, 10_000).await;
        let url = credit.websocket_url();
        let mut watcher = connect_as(&credit, &url, &bo).await;
        watcher
            .subscribe("w", WALLET_ACTIVITY, json!({ "after": "0" }))
            .await;
        // Once the first gift arrives the watcher is following the live feed.
        send(&credit, &ada, &bo, 1, "warm-up").await;
        assert_eq!(event(&watcher.next_payload("w").await)["amount"], "1");

        let from = db::find_account_by_owner(&credit.database, OwnerKind::User, ada.as_str())
            .await
            .expect("reading")
            .expect("Ada has an account");
        let to = db::ensure_user_account(&credit.database, &bo)
            .await
            .expect("Bo's account");
        let mut transaction = credit.database.begin_write().await.expect("a transaction");
        let transfer = ledger::post(
            &mut transaction,
            Movement {
                debit: &from.reference(),
                credit: &to.reference(),
                amount: Amount::parse_positive(42).expect("42"),
                kind: TransferKind::Gift,
                reference: None,
                memo: None,
            },
        )
        .await
        .expect("posting");
        ledger::record_event(&mut transaction, &transfer, Some(&ada), None, Some(&bo))
            .await
            .expect("recording A's event");

        let later = {
            let graphql = credit.graphql.clone();
            let authorization = credit.trust.user(&cy);
            let di = di.clone();
            tokio::spawn(async move {
                graphql
                    .execute(
                        Some(&authorization),
                        SEND,
                        json!({ "to": di, "amount": "5", "key": "later" }),
                    )
                    .await
            })
        };
        // Give B every chance to overtake A (this only makes the race likely; the test
        // passes with the lock whatever the timing).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        transaction.commit().await.expect("committing A");
        c9pay_credit::events::announce();
        later.await.expect("B finished").data();

        assert_eq!(event(&watcher.next_payload("w").await)["amount"], "42");
    }

    /// A movement from `payer` to `recipient` with its event for `store`, recorded in a
    /// transaction left open for the caller to commit.
    async fn open_payment(
        credit: &TestCredit,
        payer: &UserId,
        recipient: &UserId,
        store: &StoreId,
        amount: i64,
    ) -> (ledger::Tx, String) {
        let from = db::find_account_by_owner(&credit.database, OwnerKind::User, payer.as_str())
            .await
            .expect("reading")
            .expect("the payer has an account");
        let to = db::ensure_user_account(&credit.database, recipient)
            .await
            .expect("the recipient's account");
        let mut transaction = credit.database.begin_write().await.expect("a transaction");
        let transfer = ledger::post(
            &mut transaction,
            Movement {
                debit: &from.reference(),
                credit: &to.reference(),
                amount: Amount::parse_positive(amount).expect("positive"),
                kind: TransferKind::Payment,
                reference: None,
                memo: None,
            },
        )
        .await
        .expect("posting");
        ledger::record_event(&mut transaction, &transfer, Some(payer), Some(store), None)
            .await
            .expect("recording the event");
        (transaction, transfer.id.to_string())
    }

    /// Writers to several stores commit concurrently and out of sequence order: one
    /// transaction takes the first number and commits last, while the others (to its own
    /// store and to others) commit around it, some of them held open a while too. Every
    /// store's follower, live or resuming from the start, gets exactly its store's events,
    /// each once, in increasing id order, and the first one is never skipped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_to_several_stores_are_delivered_in_order_each_once() {
        use futures::StreamExt;
        let credit = spawn_credit(Backend::Postgres).await;
        let hub = c9pay_credit::events::EventHub::start(
            credit.database.clone(),
            credit.config.database.url.expose(),
            std::time::Duration::from_secs(3_600),
        )
        .await
        .expect("starting a hub");
        let stores: Vec<StoreId> = (0..3).map(|_| StoreId::generate()).collect();
        let mut live = Vec::new();
        for store in &stores {
            let events = hub
                .follow(c9pay_credit::events::Audience::Store(store.clone()), None)
                .await
                .expect("following");
            live.push(Box::pin(events));
        }
        // Each writer has its own payer and recipient, so none waits for another's rows.
        let mut payers = Vec::new();
        let mut recipients = Vec::new();
        for index in 0..7 {
            let payer = credit.person(&format!("Payer {index}")).await;
            credit.grant(&payer, 10_000).await;
            payers.push(payer);
            recipients.push(credit.person(&format!("Recipient {index}")).await);
        }

        // A takes the first number and stays open.
        let (first, first_transfer) =
            open_payment(&credit, &payers[0], &recipients[0], &stores[0], 42).await;
        // Six more writers, two per store; every other one is held open for a moment
        // before it commits.
        let writers: Vec<_> = (1_usize..7)
            .map(|index| {
                let credit = &credit;
                let payer = payers[index].clone();
                let store = stores[index % stores.len()].clone();
                let recipient = recipients[index].clone();
                async move {
                    let (transaction, transfer) =
                        open_payment(credit, &payer, &recipient, &store, 100 + i64::try_from(index).unwrap_or_default()).await;
                    if index % 2 == 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    transaction.commit().await.expect("committing");
                    (store, transfer)
                }
            })
            .collect();
        let mut expected: std::collections::HashMap<StoreId, Vec<String>> =
            std::collections::HashMap::new();
        for (store, transfer) in futures::future::join_all(writers).await {
            expected.entry(store).or_default().push(transfer);
        }
        // Give the dispatcher every chance to run ahead of A (the test passes with the
        // watermark whatever the timing; without it, A's event is skipped).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        first.commit().await.expect("committing A");
        expected.entry(stores[0].clone()).or_default().push(first_transfer.clone());

        let wait = std::time::Duration::from_secs(30);
        for (index, store) in stores.iter().enumerate() {
            let mut wanted = expected.remove(store).unwrap_or_default();
            wanted.sort();
            let resumed = hub
                .follow(c9pay_credit::events::Audience::Store(store.clone()), Some(0))
                .await
                .expect("resuming");
            let mut resumed = Box::pin(resumed);
            for events in [&mut live[index], &mut resumed] {
                let mut got = Vec::new();
                let mut last = 0;
                for _ in 0..wanted.len() {
                    let event = tokio::time::timeout(wait, events.next())
                        .await
                        .expect("the event came")
                        .expect("the stream goes on")
                        .expect("no error");
                    assert!(event.sequence > last, "in order, each once");
                    assert_eq!(event.store_id.as_deref(), Some(store.as_str()));
                    last = event.sequence;
                    got.push(event.transfer_id.clone());
                }
                if index == 0 {
                    assert_eq!(got[0], first_transfer, "the first number comes first");
                }
                got.sort();
                assert_eq!(got, wanted, "store {index}: every event, each once");
            }
        }
        // Nothing else follows: the next event on store 0's live feed is a new one.
        let (next, next_transfer) =
            open_payment(&credit, &payers[1], &recipients[1], &stores[0], 9).await;
        next.commit().await.expect("committing");
        let event = tokio::time::timeout(wait, live[0].next())
            .await
            .expect("the event came")
            .expect("the stream goes on")
            .expect("no error");
        assert_eq!(event.transfer_id, next_transfer);
    }

    /// Two credit replicas share one database; the second learns of an event written
    /// through the first only by NOTIFY (its poll interval is far beyond the test's wait).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_delivers_an_event_written_through_another() {
        let credit = spawn_credit(Backend::Postgres).await;
        let ada = credit.person("Ada").await;
        let bo = credit.person("Bo").await;
        credit.grant(&ada, 10_000).await;
        let replica = credit
            .spawn_replica(|config| config.events_poll_interval_ms = 3_600_000)
            .await;
        let mut watcher = connect_as(&credit, &replica, &bo).await;
        watcher
            .subscribe("w", WALLET_ACTIVITY, json!({ "after": "0" }))
            .await;
        // The first gift may arrive by the replay; once it has, the subscription follows
        // the replica's live feed, which only a notification can wake.
        send(&credit, &ada, &bo, 1, "warm-up").await;
        assert_eq!(event(&watcher.next_payload("w").await)["amount"], "1");

        send(&credit, &ada, &bo, 250, "through-the-first").await;

        assert_eq!(event(&watcher.next_payload("w").await)["amount"], "250");
    }
}
