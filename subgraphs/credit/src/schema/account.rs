//! What a person or a store owner sees of an account, and the batched loader behind it.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context, SimpleObject,
    dataloader::{DataLoader, Loader},
};
use c9pay_platform::{
    database::Database,
    error::internal_error,
    id::{StoreId, UserId},
    money::Amount,
};

use crate::{db, domain::Account, error::CreditError};

/// A person's credit.
#[derive(SimpleObject)]
pub struct Wallet {
    /// Credits available to spend (1 credit = 1 KRW).
    pub balance: Amount,
}

/// A store's takings.
#[derive(SimpleObject)]
pub struct StoreAccount {
    /// Credits the store has received, net of refunds.
    pub balance: Amount,
}

/// Accounts by owner; one query per batch of entity representations.
pub struct AccountLoader {
    pub database: Database,
}

impl Loader<UserId> for AccountLoader {
    type Value = Account;
    type Error = Arc<CreditError>;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Account>, Self::Error> {
        db::find_user_accounts(&self.database, keys)
            .await
            .map_err(Arc::new)
    }
}

impl Loader<StoreId> for AccountLoader {
    type Value = Account;
    type Error = Arc<CreditError>;

    async fn load(&self, keys: &[StoreId]) -> Result<HashMap<StoreId, Account>, Self::Error> {
        db::find_store_accounts(&self.database, keys)
            .await
            .map_err(Arc::new)
    }
}

pub async fn load_user_account(
    context: &Context<'_>,
    user_id: UserId,
) -> async_graphql::Result<Option<Account>> {
    let loader = context.data::<Arc<DataLoader<AccountLoader>>>()?;
    loader
        .load_one(user_id)
        .await
        .map_err(|error| internal_error(error.as_ref()))
}

pub async fn load_store_account(
    context: &Context<'_>,
    store_id: StoreId,
) -> async_graphql::Result<Option<Account>> {
    let loader = context.data::<Arc<DataLoader<AccountLoader>>>()?;
    loader
        .load_one(store_id)
        .await
        .map_err(|error| internal_error(error.as_ref()))
}
