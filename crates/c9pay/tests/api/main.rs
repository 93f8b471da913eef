//! The `c9pay` wiring: demo seeding into fresh SQLite files.

use c9pay::demo;
use c9pay_credit::CreditConfig;
use c9pay_platform::{database::DatabaseConfig, internal_token::InternalTrustConfig};
use c9pay_users::UsersConfig;

fn sqlite(directory: &std::path::Path, name: &str) -> DatabaseConfig {
    DatabaseConfig::new(format!(
        "sqlite://{}",
        directory.join(format!("{name}.db")).display()
    ))
}

fn no_trust() -> InternalTrustConfig {
    InternalTrustConfig {
        signing_key: None,
        trusted_issuers: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_is_seeded_once_and_the_ledger_balances() {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let path = directory.path();
    let users = UsersConfig::new("127.0.0.1:0", sqlite(path, "users"), no_trust());
    let credit = CreditConfig::new("127.0.0.1:0", sqlite(path, "credit"), no_trust());

    let first = demo::seed_if_empty(
        &sqlite(path, "auth"),
        &users,
        &credit,
        &sqlite(path, "stores"),
    )
    .await;
    let second = demo::seed_if_empty(
        &sqlite(path, "auth"),
        &users,
        &credit,
        &sqlite(path, "stores"),
    )
    .await;

    let summary = first.unwrap_or_else(|error| panic!("seeding: {error:#}"));
    assert!(summary.is_some_and(|summary| summary.contains("ada@demo.c9pay")));
    assert!(
        second.unwrap_or_else(|error| panic!("{error:#}")).is_none(),
        "a second start seeds nothing"
    );
    let ledger = c9pay_credit::open_database(&credit)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    assert_eq!(
        c9pay_credit::db::balance_total(&ledger).await.ok(),
        Some(0),
        "double entry: all balances sum to zero"
    );
}
