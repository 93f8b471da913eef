//! What a person or a store owner sees of an account, and the batched loader behind it.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context, Object,
    connection::Connection,
    dataloader::{DataLoader, Loader},
};
use c9pay_platform::{
    database::Database,
    error::internal_error,
    id::{StoreId, UserId},
    money::Amount,
};

use super::history::{self, HistoryFilter, LedgerEntry};
use crate::{db, domain::Account, error::CreditError};

/// A person's credit.
pub struct Wallet(pub Option<Account>);

#[Object]
impl Wallet {
    /// Credits in the wallet (1 credit = 1 KRW), including any reserved by payments that
    /// are being authorised.
    async fn balance(&self) -> Amount {
        self.0
            .as_ref()
            .map_or(Amount::ZERO, |account| account.balance)
    }

    /// Credits that can be spent now: the balance less reservations.
    async fn available(&self) -> Amount {
        self.0.as_ref().map_or(Amount::ZERO, Account::available)
    }

    /// What came in and went out, newest first.
    async fn history(
        &self,
        context: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> async_graphql::Result<Connection<String, LedgerEntry>> {
        history::page(context, self.0.as_ref(), first, after, filter).await
    }
}

/// A store's takings.
pub struct StoreAccount(pub Account);

#[Object]
impl StoreAccount {
    /// Credits the store has received, net of refunds.
    async fn balance(&self) -> Amount {
        self.0.balance
    }

    /// Payments and refunds, newest first.
    async fn history(
        &self,
        context: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<HistoryFilter>,
    ) -> async_graphql::Result<Connection<String, LedgerEntry>> {
        history::page(context, Some(&self.0), first, after, filter).await
    }
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
