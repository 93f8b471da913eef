//! `topUp`, `sendCredits` and wallet history through the subgraph's GraphQL API.

use c9pay_credit::db;
use c9pay_platform::{database::Backend, database::Database, id::UserId, on_both_backends};
use serde_json::{Value, json};

use crate::helpers::{TestCredit, spawn_credit};

const TOP_UP: &str = "mutation($amount: Amount!, $key: String!) {
    topUp(input: { amount: $amount, idempotencyKey: $key }) { transferId kind amount balanceAfter }
}";
const SEND: &str = "mutation($to: ID!, $amount: Amount!, $memo: String, $key: String!) {
    sendCredits(input: { toUserId: $to, amount: $amount, memo: $memo, idempotencyKey: $key }) {
        transferId amount memo balanceAfter recipient { id }
    }
}";
const HISTORY: &str = "query($representations: [_Any!]!, $first: Int, $after: String, $filter: HistoryFilter) {
    _entities(representations: $representations) { ... on User { wallet { balance available history(first: $first, after: $after, filter: $filter) {
        edges { cursor node { id kind direction amount memo counterpartyUser { id } } }
        pageInfo { hasNextPage endCursor }
    } } } }
}";

async fn top_up(
    credit: &TestCredit,
    user: &UserId,
    amount: &str,
    key: &str,
) -> c9pay_platform::testing::TestResponse {
    credit
        .execute_as(user, TOP_UP, json!({ "amount": amount, "key": key }))
        .await
}

async fn ledger_is_balanced(database: &Database) {
    assert_eq!(
        db::balance_total(database).await.ok(),
        Some(0),
        "all balances sum to zero"
    );
    assert!(
        db::accounts_out_of_balance(database)
            .await
            .unwrap_or_default()
            .is_empty(),
        "balances match transfers"
    );
}

async fn a_top_up_adds_credit_once_per_idempotency_key(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;

    let first = top_up(&credit, &ada, "15000", "top-up-1").await;
    let replay = top_up(&credit, &ada, "15000", "top-up-1").await;

    assert_eq!(first.data()["topUp"]["balanceAfter"], "15000");
    assert_eq!(
        replay.data()["topUp"],
        first.data()["topUp"],
        "the same key and input return the first result"
    );
    assert_eq!(credit.balance_of(&ada).await, 15_000);
    ledger_is_balanced(&credit.database).await;
}

async fn a_reused_idempotency_key_with_another_input_is_refused(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    top_up(&credit, &ada, "15000", "key-1").await.data();

    let reused = top_up(&credit, &ada, "20000", "key-1").await;

    assert_eq!(reused.error_code(), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(credit.balance_of(&ada).await, 15_000);
}

async fn top_ups_outside_the_limits_are_refused_and_move_nothing(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;

    for (amount, code) in [
        ("0", "INVALID_AMOUNT"),
        ("-100", "INVALID_AMOUNT"),
        ("1000001", "TOP_UP_LIMIT_EXCEEDED"),
    ] {
        assert_eq!(
            top_up(&credit, &ada, amount, &format!("k{amount}"))
                .await
                .error_code(),
            code,
            "{amount}"
        );
    }
    top_up(&credit, &ada, "1000000", "day-1").await.data();
    top_up(&credit, &ada, "1000000", "day-2").await.data();
    assert_eq!(
        top_up(&credit, &ada, "1", "day-3").await.error_code(),
        "TOP_UP_LIMIT_EXCEEDED",
        "the daily limit"
    );
    assert_eq!(
        top_up(&credit, &ada, "1", "bad key!").await.error_code(),
        "INVALID_IDEMPOTENCY_KEY"
    );
    assert_eq!(credit.balance_of(&ada).await, 2_000_000);
    ledger_is_balanced(&credit.database).await;
}

async fn sending_credits_moves_them_once_and_shows_in_both_histories(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let grace = credit.person("Grace").await;
    credit.grant(&ada, 10_000).await;

    let variables =
        json!({ "to": grace.as_str(), "amount": "2500", "memo": "lunch", "key": "gift-1" });
    let sent = credit.execute_as(&ada, SEND, variables.clone()).await;
    let replay = credit.execute_as(&ada, SEND, variables).await;

    assert_eq!(sent.data()["sendCredits"]["balanceAfter"], "7500");
    assert_eq!(
        sent.data()["sendCredits"]["recipient"]["id"],
        grace.as_str()
    );
    assert_eq!(replay.data()["sendCredits"], sent.data()["sendCredits"]);
    assert_eq!(
        (
            credit.balance_of(&ada).await,
            credit.balance_of(&grace).await
        ),
        (7_500, 2_500)
    );

    let history = credit
        .execute_as(
            &grace,
            HISTORY,
            json!({ "representations": [{ "__typename": "User", "id": grace.as_str() }] }),
        )
        .await;
    let edges = &history.data()["_entities"][0]["wallet"]["history"]["edges"];
    assert_eq!(edges.as_array().map(Vec::len), Some(1));
    assert_eq!(edges[0]["node"]["direction"], "INCOMING");
    assert_eq!(edges[0]["node"]["kind"], "GIFT");
    assert_eq!(edges[0]["node"]["memo"], "lunch");
    assert_eq!(edges[0]["node"]["counterpartyUser"]["id"], ada.as_str());
    ledger_is_balanced(&credit.database).await;
}

async fn sending_is_refused_for_bad_input_and_moves_nothing(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let grace = credit.person("Grace").await;
    credit.grant(&ada, 100).await;
    let send = |to: String, amount: &str, memo: Option<String>, key: &str| {
        credit.execute_as(
            &ada,
            SEND,
            json!({ "to": to, "amount": amount, "memo": memo, "key": key }),
        )
    };

    assert_eq!(
        send(grace.to_string(), "101", None, "a").await.error_code(),
        "INSUFFICIENT_CREDIT"
    );
    assert_eq!(
        send(grace.to_string(), "0", None, "b").await.error_code(),
        "INVALID_AMOUNT"
    );
    assert_eq!(
        send(UserId::generate().to_string(), "10", None, "c")
            .await
            .error_code(),
        "RECIPIENT_NOT_FOUND"
    );
    assert_eq!(
        send("sto_0123".to_string(), "10", None, "d")
            .await
            .error_code(),
        "INVALID_ID"
    );
    assert_eq!(
        send(grace.to_string(), "10", Some("x".repeat(141)), "e")
            .await
            .error_code(),
        "INVALID_MEMO"
    );
    assert_eq!(
        (
            credit.balance_of(&ada).await,
            credit.balance_of(&grace).await
        ),
        (100, 0)
    );
}

async fn history_pages_newest_first_and_filters(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let grace = credit.person("Grace").await;
    for index in 1..=5 {
        top_up(
            &credit,
            &ada,
            &format!("{}", index * 100),
            &format!("t{index}"),
        )
        .await
        .data();
    }
    credit
        .execute_as(
            &ada,
            SEND,
            json!({ "to": grace.as_str(), "amount": "50", "key": "g" }),
        )
        .await
        .data();
    let representations = json!([{ "__typename": "User", "id": ada.as_str() }]);

    let page = |first: i64, after: Value, filter: Value| {
        credit.execute_as(&ada, HISTORY, json!({ "representations": representations, "first": first, "after": after, "filter": filter }))
    };
    let first = page(4, Value::Null, Value::Null).await;
    let history = &first.data()["_entities"][0]["wallet"]["history"];
    assert_eq!(history["edges"].as_array().map(Vec::len), Some(4));
    assert_eq!(history["edges"][0]["node"]["kind"], "GIFT", "newest first");
    assert_eq!(history["pageInfo"]["hasNextPage"], true);
    let second = page(4, history["pageInfo"]["endCursor"].clone(), Value::Null).await;
    let rest = &second.data()["_entities"][0]["wallet"]["history"];
    assert_eq!(rest["edges"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["edges"][1]["node"]["amount"], "100", "the oldest last");

    let outgoing = page(10, Value::Null, json!({ "direction": "OUTGOING" })).await;
    assert_eq!(
        outgoing.data()["_entities"][0]["wallet"]["history"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let top_ups = page(10, Value::Null, json!({ "kinds": ["TOP_UP"] })).await;
    assert_eq!(
        top_ups.data()["_entities"][0]["wallet"]["history"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    assert_eq!(
        page(101, Value::Null, Value::Null).await.error_code(),
        "INVALID_INPUT"
    );
}

async fn concurrent_retries_of_one_top_up_move_money_once(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;

    let attempts: Vec<_> = (0..8)
        .map(|_| top_up(&credit, &ada, "700", "same-key"))
        .collect();
    let responses = futures::future::join_all(attempts).await;

    for response in &responses {
        assert_eq!(
            response.data()["topUp"]["transferId"],
            responses[0].data()["topUp"]["transferId"]
        );
    }
    assert_eq!(credit.balance_of(&ada).await, 700);
    ledger_is_balanced(&credit.database).await;
}

on_both_backends!(
    a_top_up_adds_credit_once_per_idempotency_key,
    a_reused_idempotency_key_with_another_input_is_refused,
    top_ups_outside_the_limits_are_refused_and_move_nothing,
    sending_credits_moves_them_once_and_shows_in_both_histories,
    sending_is_refused_for_bad_input_and_moves_nothing,
    history_pages_newest_first_and_filters,
    concurrent_retries_of_one_top_up_move_money_once,
);
