//! What administrators may read of the ledger (`ledgerStatistics`, any wallet, any
//! store's account) and that nobody else may; each resolver checks the principal,
//! whatever the router did.

use c9pay_platform::{
    database::Backend,
    id::{StoreId, UserId},
    internal_token::{Principal, PrincipalKind},
    on_both_backends,
};
use serde_json::{Value, json};

use crate::helpers::spawn_credit;

const STATISTICS: &str = "{ ledgerStatistics { transfersToday volumeToday userBalances } }";
const WALLET: &str = r#"query ($representations: [_Any!]!) {
    _entities(representations: $representations) { ... on User { wallet { balance available history(first: 10) { nodes { kind amount } } } } }
}"#;
const ACCOUNT: &str = r#"query ($representations: [_Any!]!) {
    _entities(representations: $representations) { ... on Store { account { balance history(first: 10) { nodes { kind amount } } } } }
}"#;

async fn an_administrator_reads_todays_transfers_and_what_people_hold(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 10_000).await;
    credit
        .execute_as(&ada, "mutation { topUp(input: { amount: \"5000\", idempotencyKey: \"t\" }) { transferId } }", json!({}))
        .await
        .data();
    credit
        .execute_as(&ada, "mutation($to: ID!) { sendCredits(input: { toUserId: $to, amount: \"300\", idempotencyKey: \"g\" }) { transferId } }", json!({ "to": bo }))
        .await
        .data();

    let response = credit.graphql.execute(Some(&credit.trust.admin(&UserId::generate())), STATISTICS, json!({})).await;

    assert_eq!(
        response.data()["ledgerStatistics"],
        json!({ "transfersToday": 3, "volumeToday": "15300", "userBalances": "15000" })
    );
}

async fn an_administrator_reads_any_wallet_and_any_stores_account(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let admin = credit.trust.admin(&UserId::generate());
    let ada = credit.person("Ada").await;
    credit.grant(&ada, 7_000).await;
    let owner = UserId::generate();
    let store = StoreId::generate();
    let (status, _) = credit.put_store_account(Some(&credit.trust.service("stores")), &store, &owner).await;
    assert_eq!(status, 200);
    let user = |id: &UserId| json!({ "representations": [{ "__typename": "User", "id": id }] });
    let store_of = |id: &StoreId| json!({ "representations": [{ "__typename": "Store", "id": id }] });

    let wallet = credit.graphql.execute(Some(&admin), WALLET, user(&ada)).await;
    let account = credit.graphql.execute(Some(&admin), ACCOUNT, store_of(&store)).await;
    let unknown = credit.graphql.execute(Some(&admin), ACCOUNT, store_of(&StoreId::generate())).await;

    let wallet = &wallet.data()["_entities"][0]["wallet"];
    assert_eq!(wallet["balance"], "7000");
    assert_eq!(wallet["available"], "7000");
    assert_eq!(wallet["history"]["nodes"], json!([{ "kind": "TOP_UP", "amount": "7000" }]));
    assert_eq!(account.data()["_entities"][0]["account"], json!({ "balance": "0", "history": { "nodes": [] } }));
    assert_eq!(unknown.data()["_entities"][0]["account"], Value::Null, "no account: null, not a secret");
}

async fn a_person_who_is_not_an_administrator_reads_no_statistics_and_no_one_elses_money(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let ada = credit.person("Ada").await;
    let bo = credit.person("Bo").await;
    credit.grant(&ada, 7_000).await;
    let store = StoreId::generate();
    credit.put_store_account(Some(&credit.trust.service("stores")), &store, &ada).await;
    // An admin-kind token without the admin scope is no administrator either.
    let mut unscoped = Principal::user(&bo, "test");
    unscoped.kind = PrincipalKind::Admin;

    for authorization in [credit.trust.user(&bo), credit.trust.authorization_for(&unscoped)] {
        let statistics = credit.graphql.execute(Some(&authorization), STATISTICS, json!({})).await;
        assert_eq!(statistics.error_code(), "FORBIDDEN");
        assert!(statistics.body["data"].is_null(), "{:#}", statistics.body);
        let wallet = credit.graphql.execute(Some(&authorization), WALLET, json!({ "representations": [{ "__typename": "User", "id": ada }] })).await;
        assert_eq!(wallet.error_code(), "FORBIDDEN");
        let account = credit.graphql.execute(Some(&authorization), ACCOUNT, json!({ "representations": [{ "__typename": "Store", "id": store }] })).await;
        assert_eq!(account.error_code(), "FORBIDDEN");
    }
}

on_both_backends!(
    an_administrator_reads_todays_transfers_and_what_people_hold,
    an_administrator_reads_any_wallet_and_any_stores_account,
    a_person_who_is_not_an_administrator_reads_no_statistics_and_no_one_elses_money,
);
