//! The entities credit contributes fields to: `User.wallet` and `Store.account`.

use async_graphql::{Context, ID, Object};
use c9pay_platform::{
    error::GraphQLResultExt,
    graphql::{principal, require_user},
    id::{StoreId, UserId},
};

use super::account::{StoreAccount, Wallet, load_store_account, load_user_account};
use crate::error::CreditError;

/// A person, as far as the ledger knows them.
pub struct User {
    pub id: UserId,
}

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The person's credit. Only that person and administrators may read it
    /// (`FORBIDDEN` for anyone else); someone who never received credit has a balance
    /// of 0.
    async fn wallet(&self, context: &Context<'_>) -> async_graphql::Result<Wallet> {
        let viewer = require_user(context)?;
        if viewer != self.id && !principal(context)?.is_admin() {
            return Err(CreditError::Forbidden("only its owner may read a wallet")).graphql();
        }
        let account = load_user_account(context, self.id.clone()).await?;
        Ok(Wallet(account))
    }
}

/// A store, as far as the ledger knows it.
pub struct Store {
    pub id: StoreId,
}

#[Object(name = "Store")]
impl Store {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The store's takings. Only the store's owner and administrators may read them
    /// (`FORBIDDEN` for anyone else). A store without an account is `FORBIDDEN` as well
    /// (null, for an administrator): stores opens the account before the store exists,
    /// so a missing account means an unknown store, and without an owner on record there
    /// is nobody else the ledger could show it to.
    async fn account(&self, context: &Context<'_>) -> async_graphql::Result<Option<StoreAccount>> {
        let viewer = require_user(context)?;
        let account = load_store_account(context, self.id.clone()).await?;
        if principal(context)?.is_admin() {
            return Ok(account.map(StoreAccount));
        }
        match account {
            Some(account) if account.is_readable_by(&viewer) => Ok(Some(StoreAccount(account))),
            _ => Err(CreditError::Forbidden(
                "only the store's owner may read its account",
            ))
            .graphql(),
        }
    }
}

#[derive(Default)]
pub struct EntityQuery;

#[Object]
impl EntityQuery {
    /// Resolves without touching the database: authorization and loading happen per
    /// field, so a representation costs nothing unless a credit field is asked for.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<User> {
        let id = UserId::try_from(&id).map_err(CreditError::from).graphql()?;
        Ok(User { id })
    }

    #[graphql(entity)]
    async fn find_store_by_id(&self, id: ID) -> async_graphql::Result<Store> {
        let id = StoreId::try_from(&id)
            .map_err(CreditError::from)
            .graphql()?;
        Ok(Store { id })
    }
}
