//! `post_transfer` and the double-entry invariants, straight against the database.

use c9pay_credit::{db, domain::TransferKind, error::CreditError};
use c9pay_platform::{
    database::Backend,
    id::UserId,
    money::Amount,
};

use crate::helpers::spawn_credit;

fn amount(value: i64) -> Amount {
    Amount::parse_positive(value).expect("a positive test amount")
}

async fn a_transfer_moves_money_between_two_wallets(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    credit.grant(&alice, 1_000).await;
    let from = credit.wallet_account(&alice).await;
    let to = credit.wallet_account(&bob).await;

    let transfer = db::post_transfer(
        &credit.database,
        &from,
        &to,
        amount(400),
        TransferKind::Gift,
    )
    .await
    .expect("a gift alice can afford");

    assert_eq!(transfer.amount.get(), 400);
    assert_eq!(
        (
            credit.balance_of(&alice).await,
            credit.balance_of(&bob).await
        ),
        (600, 400)
    );
}

async fn a_transfer_of_the_whole_balance_leaves_zero(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    credit.grant(&alice, 250).await;
    let from = credit.wallet_account(&alice).await;
    let to = credit.wallet_account(&bob).await;

    db::post_transfer(
        &credit.database,
        &from,
        &to,
        amount(250),
        TransferKind::Gift,
    )
    .await
    .expect("exactly the balance");

    assert_eq!(credit.balance_of(&alice).await, 0);
}

async fn post_transfer_refuses_an_overdraft_and_leaves_balances_unchanged(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    credit.grant(&alice, 100).await;
    credit.grant(&bob, 5).await;
    let from = credit.wallet_account(&alice).await;
    let to = credit.wallet_account(&bob).await;

    let result = db::post_transfer(
        &credit.database,
        &from,
        &to,
        amount(101),
        TransferKind::Gift,
    )
    .await;

    assert!(
        matches!(result, Err(CreditError::InsufficientCredit)),
        "expected INSUFFICIENT_CREDIT, got {result:?}"
    );
    assert_eq!(
        (
            credit.balance_of(&alice).await,
            credit.balance_of(&bob).await
        ),
        (100, 5)
    );
    credit.assert_books_balance().await;
}

async fn an_overdraft_is_refused_whichever_account_is_locked_first(backend: Backend) {
    // post_transfer updates the two rows in id order; refuse the overdraft in both orders.
    let credit = spawn_credit(backend).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    credit.grant(&alice, 10).await;
    credit.grant(&bob, 10).await;
    let first = credit.wallet_account(&alice).await;
    let second = credit.wallet_account(&bob).await;

    let forwards = db::post_transfer(
        &credit.database,
        &first,
        &second,
        amount(11),
        TransferKind::Gift,
    )
    .await;
    let backwards = db::post_transfer(
        &credit.database,
        &second,
        &first,
        amount(11),
        TransferKind::Gift,
    )
    .await;

    assert!(
        matches!(forwards, Err(CreditError::InsufficientCredit)),
        "{forwards:?}"
    );
    assert!(
        matches!(backwards, Err(CreditError::InsufficientCredit)),
        "{backwards:?}"
    );
    assert_eq!(
        (
            credit.balance_of(&alice).await,
            credit.balance_of(&bob).await
        ),
        (10, 10)
    );
}

async fn a_store_account_cannot_be_overdrawn_either(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let owner = UserId::generate();
    let store = credit.new_store_account(&owner).await;
    let wallet = credit.wallet_account(&owner).await;

    let result = db::post_transfer(
        &credit.database,
        &store,
        &wallet,
        amount(1),
        TransferKind::Refund,
    )
    .await;

    assert!(
        matches!(result, Err(CreditError::InsufficientCredit)),
        "{result:?}"
    );
}

async fn a_transfer_to_itself_is_refused(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let user = UserId::generate();
    credit.grant(&user, 10).await;
    let wallet = credit.wallet_account(&user).await;

    let result = db::post_transfer(
        &credit.database,
        &wallet,
        &wallet,
        amount(1),
        TransferKind::Gift,
    )
    .await;

    assert!(
        matches!(result, Err(CreditError::SelfTransfer)),
        "{result:?}"
    );
    assert_eq!(credit.balance_of(&user).await, 10);
}

async fn a_zero_negative_or_too_large_amount_moves_nothing(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    credit.grant(&alice, 10).await;
    let from = credit.wallet_account(&alice).await;
    let to = credit.wallet_account(&bob).await;

    for value in [0, -5, Amount::MAX.get() + 1] {
        let result = db::post_transfer(
            &credit.database,
            &from,
            &to,
            Amount::from_stored(value),
            TransferKind::Gift,
        )
        .await;
        assert!(
            matches!(result, Err(CreditError::InvalidAmount(_))),
            "{value}: {result:?}"
        );
    }
    assert_eq!(
        (
            credit.balance_of(&alice).await,
            credit.balance_of(&bob).await
        ),
        (10, 0)
    );
}

async fn the_sum_of_all_balances_is_zero_after_grants(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let users: Vec<UserId> = (0..3).map(|_| UserId::generate()).collect();
    for (index, user) in (1..).zip(&users) {
        credit.grant(user, 1_000 * index).await;
    }
    credit.grant(&users[0], 1).await;

    assert_eq!(credit.funding_balance().await, -6_001);
    credit.assert_books_balance().await;
}

async fn concurrent_spending_never_overdraws_a_wallet(backend: Backend) {
    // Twenty gifts of 10 race for a balance of 100: exactly ten succeed, whatever the
    // interleaving, and the wallet ends at zero.
    let credit = spawn_credit(backend).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    credit.grant(&alice, 100).await;
    let from = credit.wallet_account(&alice).await;
    let to = credit.wallet_account(&bob).await;

    let attempts = (0..20).map(|_| {
        let (database, from, to) = (credit.database.clone(), from.clone(), to.clone());
        tokio::spawn(async move {
            db::post_transfer(&database, &from, &to, amount(10), TransferKind::Gift).await
        })
    });
    let mut posted = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.expect("a transfer task") {
            Ok(_) => posted += 1,
            Err(CreditError::InsufficientCredit) => {}
            Err(error) => panic!("unexpected error: {error:?}"),
        }
    }

    assert_eq!(posted, 10);
    assert_eq!(
        (
            credit.balance_of(&alice).await,
            credit.balance_of(&bob).await
        ),
        (0, 100)
    );
    assert_eq!(
        db::balance_total(&credit.database)
            .await
            .expect("summing balances"),
        0
    );
}

async fn wallets_are_created_once_however_often_they_are_asked_for(backend: Backend) {
    let credit = spawn_credit(backend).await;
    let user = UserId::generate();

    let first = credit.wallet_account(&user).await;
    let second = credit.wallet_account(&user).await;

    assert_eq!(first.id, second.id);
}

c9pay_platform::on_both_backends!(
    a_transfer_moves_money_between_two_wallets,
    a_transfer_of_the_whole_balance_leaves_zero,
    post_transfer_refuses_an_overdraft_and_leaves_balances_unchanged,
    an_overdraft_is_refused_whichever_account_is_locked_first,
    a_store_account_cannot_be_overdrawn_either,
    a_transfer_to_itself_is_refused,
    a_zero_negative_or_too_large_amount_moves_nothing,
    the_sum_of_all_balances_is_zero_after_grants,
    concurrent_spending_never_overdraws_a_wallet,
    wallets_are_created_once_however_often_they_are_asked_for,
);
