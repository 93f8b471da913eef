//! Seeding for `c9pay up`: demo balances and store accounts written straight into the
//! credit database, through the same ledger functions the API uses.

use c9pay_platform::{database::Database, id::UserId, money::Amount};

use crate::{
    db,
    domain::{Transfer, TransferKind},
    error::CreditError,
};

pub use crate::db::ensure_store_account;

/// Tops up a person's wallet from the funding account: one `top_up` transfer, so the
/// ledger stays balanced. Not idempotent: every call moves the amount again, so a seeder
/// that runs at each start should look at the balance first ([`balance_of_user`]).
pub async fn grant(
    database: &Database,
    user_id: &UserId,
    amount: Amount,
) -> Result<Transfer, CreditError> {
    let funding = db::funding_account(database).await?;
    let wallet = db::ensure_user_account(database, user_id).await?;
    db::post_transfer(database, &funding, &wallet, amount, TransferKind::TopUp).await
}

/// A person's balance; zero when they have no wallet yet.
pub async fn balance_of_user(database: &Database, user_id: &UserId) -> Result<Amount, CreditError> {
    let account =
        db::find_account_by_owner(database, crate::domain::OwnerKind::User, user_id.as_str())
            .await?;
    Ok(account.map_or(Amount::ZERO, |account| account.balance))
}
