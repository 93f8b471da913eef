//! `store` and `openStore`.

use async_graphql::{Context, ID, InputObject, Object};
use c9pay_platform::{
    database::Database,
    error::GraphQLResultExt,
    graphql::{principal, require_user},
    id::StoreId,
};

use super::{entities::Store, loaders::load_store};
use crate::{credit::CreditClient, db, domain::Name, error::StoresError};

#[derive(Default)]
pub struct StoreQuery;

#[Object]
impl StoreQuery {
    /// A store by id, or null if there is none.
    async fn store(&self, context: &Context<'_>, id: ID) -> async_graphql::Result<Option<Store>> {
        let id = StoreId::try_from(&id).map_err(StoresError::from).graphql()?;
        Ok(load_store(context, id).await?.map(Store))
    }
}

#[derive(InputObject)]
pub struct OpenStoreInput {
    /// 1 to 64 characters; surrounding spaces are removed.
    pub name: String,
}

#[derive(Default)]
pub struct StoreMutation;

#[Object]
impl StoreMutation {
    /// Opens a store owned by the signed-in person, with its ledger account. Errors:
    /// `INVALID_NAME`, `SERVICE_UNAVAILABLE` (the ledger did not answer; nothing was
    /// created, retry).
    async fn open_store(&self, context: &Context<'_>, input: OpenStoreInput) -> async_graphql::Result<Store> {
        let owner = require_user(context)?;
        let name = Name::parse(&input.name).map_err(StoresError::from).graphql()?;
        let request_id = principal(context)?.request_id.clone();
        // The account first, then the store: a store that exists always has an account.
        // If the insert below fails, credit is left with an account no store uses, which
        // is harmless (its balance is zero and nobody can pay into an unknown store).
        let id = StoreId::generate();
        context
            .data::<CreditClient>()?
            .open_store_account(&id, &owner, &request_id)
            .await
            .graphql()?;
        let store = db::insert_store(context.data::<Database>()?, &id, &owner, &name).await.graphql()?;
        Ok(Store(store))
    }
}
