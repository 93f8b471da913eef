//! A value that does not parse as its scalar is the client's mistake, and the answer says
//! so: a stable code naming the scalar (`INVALID_AMOUNT`, `INVALID_DATE_TIME`, or
//! `BAD_USER_INPUT` for the rest), never `DOWNSTREAM_SERVICE_ERROR` (which would tell the
//! client a service failed and invite a retry), and nothing moves.

use c9pay_platform::{database::Backend, on_both_backends};
use serde_json::{Value, json};

use crate::helpers::{TestRouter, bearer, metric, spawn_router, subject_of};

const TOP_UP: &str = "mutation($amount: Amount!, $key: String!) { topUp(input: { amount: $amount, idempotencyKey: $key }) { balanceAfter } }";
const TOP_UP_INPUT: &str = "mutation($input: TopUpInput!) { topUp(input: $input) { balanceAfter } }";
const HISTORY_SINCE: &str = "query($since: DateTime!) { me { wallet { history(first: 5, filter: { since: $since }) { edges { node { id } } } } } }";
const BALANCE: &str = "{ me { wallet { balance } } }";

async fn balance(router: &TestRouter, person: &str) -> Value {
    router.post(Some(person), BALANCE, json!({})).await.data()["me"]["wallet"]["balance"].clone()
}

fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| error["extensions"]["code"].as_str().unwrap_or("<none>").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn malformed_amounts_are_invalid_amount_and_move_nothing(backend: Backend) {
    let router = spawn_router(backend).await;
    let person = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let before = balance(&router, &person).await;

    for amount in [json!("1.5"), json!("1e309"), json!("99999999999999999999"), json!(""), json!("12a"), json!(1.5), json!(true)] {
        let as_variable = router.post(Some(&person), TOP_UP, json!({ "amount": amount, "key": "k-1" })).await;
        let nested = router.post(Some(&person), TOP_UP_INPUT, json!({ "input": { "amount": amount, "idempotencyKey": "k-2" } })).await;
        for (answer, how) in [(&as_variable, "a variable"), (&nested, "an input object's field")] {
            let found = codes(&answer.body);
            assert!(!found.is_empty(), "{amount} as {how}: {:#}", answer.body);
            assert!(found.iter().all(|code| code == "INVALID_AMOUNT" || code == "BAD_USER_INPUT"), "{amount} as {how}: {found:?} {:#}", answer.body);
            assert!(!found.iter().any(|code| code == "DOWNSTREAM_SERVICE_ERROR"), "{amount}: {found:?}");
            assert!(answer.body["data"].is_null() || answer.body["data"]["topUp"].is_null(), "{amount}: {:#}", answer.body);
        }
    }
    // A literal in the document is checked the same way.
    let literal = router
        .post(Some(&person), "mutation { topUp(input: { amount: \"1.5\", idempotencyKey: \"k-3\" }) { balanceAfter } }", json!({}))
        .await;
    assert_eq!(codes(&literal.body), ["INVALID_AMOUNT"], "{:#}", literal.body);
    let string_amount = router.post(Some(&person), TOP_UP, json!({ "amount": "1.5", "key": "k-4" })).await;
    assert_eq!(codes(&string_amount.body), ["INVALID_AMOUNT"], "{:#}", string_amount.body);
    assert_eq!(string_amount.body["errors"][0]["extensions"]["type"], "Amount", "{:#}", string_amount.body);

    assert_eq!(balance(&router, &person).await, before, "nothing moved");
}

async fn a_malformed_date_time_is_invalid_date_time(backend: Backend) {
    let router = spawn_router(backend).await;
    let person = bearer(&router.sign_up("ada@example.com", "Ada").await);

    for since in ["yesterday", "2026-13-01T00:00:00Z", ""] {
        let answer = router.post(Some(&person), HISTORY_SINCE, json!({ "since": since })).await;
        assert_eq!(codes(&answer.body), ["INVALID_DATE_TIME"], "{since}: {:#}", answer.body);
    }
    let fine = router.post(Some(&person), HISTORY_SINCE, json!({ "since": "2026-01-01T00:00:00Z" })).await;
    assert!(fine.body.get("errors").is_none(), "{:#}", fine.body);
}

/// The engine prints a whole Float literal (`1000.0`) as an Int (`1000`) in the document
/// it sends a subgraph, so a float amount once topped up 1000 credits (found by the fuzz
/// test). No argument of the schema takes a Float: the router refuses one before planning.
async fn a_float_amount_moves_nothing_as_a_literal_or_a_variable(backend: Backend) {
    let router = spawn_router(backend).await;
    let person = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let before = balance(&router, &person).await;

    for literal in ["1000.0", "1e3", "1.0E3", "-0.0"] {
        let document = format!("mutation {{ topUp(input: {{ amount: {literal}, idempotencyKey: \"k-{}\" }}) {{ balanceAfter }} }}", literal.len());
        let answer = router.post(Some(&person), &document, json!({})).await;
        assert_eq!(codes(&answer.body), ["BAD_USER_INPUT"], "{literal}: {:#}", answer.body);
        assert!(answer.body.get("data").is_none(), "{literal}: refused before anything ran: {:#}", answer.body);
    }
    let default = router
        .post(Some(&person), "mutation($amount: Amount = 1000.0) { topUp(input: { amount: $amount, idempotencyKey: \"k-default\" }) { balanceAfter } }", json!({}))
        .await;
    assert_eq!(codes(&default.body), ["BAD_USER_INPUT"], "a variable's default: {:#}", default.body);
    let variable = router.post(Some(&person), TOP_UP, json!({ "amount": 1000.0, "key": "k-variable" })).await;
    assert_eq!(codes(&variable.body), ["INVALID_AMOUNT"], "a variable: {:#}", variable.body);

    assert_eq!(balance(&router, &person).await, before, "nothing moved");
}

fn credit_fetches(metrics: &str) -> f64 {
    metric(metrics, "c9pay_subgraph_fetches_total", &[("subgraph", "credit")]).unwrap_or(0.0)
}

/// The router knows the formats of `Amount` and `DateTime`: a malformed one, in a
/// variable, inside an input object, in a list or as a literal, is refused before any
/// subgraph is called, with the scalar's code, its name and where the value sits.
async fn the_router_names_a_malformed_scalar_and_where_it_sits_before_calling_a_subgraph(backend: Backend) {
    let router = spawn_router(backend).await;
    let person = bearer(&router.sign_up("ada@example.com", "Ada").await);
    let before = balance(&router, &person).await;
    let fetches_before = credit_fetches(&router.metrics().await);

    let cases = [
        (TOP_UP, json!({ "amount": "1.5", "key": "k-1" }), "INVALID_AMOUNT", "Amount", "$amount"),
        (TOP_UP, json!({ "amount": true, "key": "k-1" }), "INVALID_AMOUNT", "Amount", "$amount"),
        (TOP_UP, json!({ "amount": 18446744073709551615u64, "key": "k-1" }), "INVALID_AMOUNT", "Amount", "$amount"),
        (TOP_UP_INPUT, json!({ "input": { "amount": "1e309", "idempotencyKey": "k-2" } }), "INVALID_AMOUNT", "Amount", "$input.amount"),
        (
            "mutation { topUp(input: { amount: \"99999999999999999999\", idempotencyKey: \"k-3\" }) { balanceAfter } }",
            json!({}),
            "INVALID_AMOUNT",
            "Amount",
            "topUp(input.amount)",
        ),
        ("mutation { topUp(input: { amount: false, idempotencyKey: \"k-4\" }) { balanceAfter } }", json!({}), "INVALID_AMOUNT", "Amount", "topUp(input.amount)"),
        (
            "mutation($amount: Amount = \"12a\") { topUp(input: { amount: $amount, idempotencyKey: \"k-5\" }) { balanceAfter } }",
            json!({}),
            "INVALID_AMOUNT",
            "Amount",
            "$amount",
        ),
        (HISTORY_SINCE, json!({ "since": "2026-02-30T00:00:00Z" }), "INVALID_DATE_TIME", "DateTime", "$since"),
        (HISTORY_SINCE, json!({ "since": 1_700_000_000 }), "INVALID_DATE_TIME", "DateTime", "$since"),
        (
            "{ me { wallet { history(first: 5, filter: { since: \"last week\" }) { edges { node { id } } } } } }",
            json!({}),
            "INVALID_DATE_TIME",
            "DateTime",
            "history(filter.since)",
        ),
        (
            "query { ...W } fragment W on Query { me { wallet { history(first: 5, filter: { since: \"today\" }) { edges { node { id } } } } } }",
            json!({}),
            "INVALID_DATE_TIME",
            "DateTime",
            "history(filter.since)",
        ),
    ];
    for (document, variables, code, scalar, argument) in cases {
        let answer = router.post(Some(&person), document, variables.clone()).await;
        let errors = answer.body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), 1, "{document} {variables}: {:#}", answer.body);
        let extensions = &errors[0]["extensions"];
        assert_eq!(extensions["code"], code, "{document} {variables}: {:#}", answer.body);
        assert_eq!(extensions["type"], scalar, "{document} {variables}: {:#}", answer.body);
        assert_eq!(extensions["argument"], argument, "{document} {variables}: {:#}", answer.body);
        let message = errors[0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(argument) && message.contains(scalar), "{message}");
        assert!(answer.body.get("data").is_none(), "refused before execution: {:#}", answer.body);
    }
    // A long value is not echoed back whole.
    let long = "9".repeat(10_000);
    let answer = router.post(Some(&person), TOP_UP, json!({ "amount": long, "key": "k-6" })).await;
    assert!(answer.body["errors"][0]["message"].as_str().unwrap_or_default().len() < 300, "{:#}", answer.body);

    // Well-formed values pass the router's check: null where the type allows it, an
    // integer amount, a date and time with an offset.
    let fine = router.post(Some(&person), HISTORY_SINCE, json!({ "since": "2026-01-01T09:00:00+09:00" })).await;
    assert!(fine.body.get("errors").is_none(), "{:#}", fine.body);
    let integer = router.post(Some(&person), TOP_UP, json!({ "amount": 100, "key": "k-7" })).await;
    assert_eq!(integer.data()["topUp"]["balanceAfter"], "100");

    let metrics = router.metrics().await;
    // The one top-up that went through and the history read reached credit; none of the
    // refused requests did.
    assert_eq!(credit_fetches(&metrics) - fetches_before, 2.0, "{metrics}");
    let invalid_amounts: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("c9pay_graphql_operation_errors_total{") && line.contains("code=\"INVALID_AMOUNT\""))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(invalid_amounts, 8.0, "every malformed amount counted as a client error by its code: {metrics}");
    assert_ne!(balance(&router, &person).await, before, "the well-formed top-up moved credits");
}

const SEND: &str = "mutation($to: ID!) { sendCredits(input: { toUserId: $to, amount: \"1\", idempotencyKey: \"gift-1\" }) { balanceAfter } }";

/// Found by the fuzz test: a gift to oneself answered INTERNAL_SERVER_ERROR.
async fn sending_credits_to_yourself_is_invalid_recipient(backend: Backend) {
    let router = spawn_router(backend).await;
    let token = router.sign_up("ada@example.com", "Ada").await;
    let person = bearer(&token);
    router.post(Some(&person), TOP_UP, json!({ "amount": "100", "key": "k-1" })).await.data();

    let answer = router.post(Some(&person), SEND, json!({ "to": subject_of(&token) })).await;

    assert_eq!(codes(&answer.body), ["INVALID_RECIPIENT"], "{:#}", answer.body);
    assert_eq!(balance(&router, &person).await, "100", "nothing moved");
}

on_both_backends!(
    the_router_names_a_malformed_scalar_and_where_it_sits_before_calling_a_subgraph,
    a_float_amount_moves_nothing_as_a_literal_or_a_variable,
    sending_credits_to_yourself_is_invalid_recipient,
    malformed_amounts_are_invalid_amount_and_move_nothing,
    a_malformed_date_time_is_invalid_date_time,
);
