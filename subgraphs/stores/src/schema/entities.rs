//! `Store` (owned here), `User` (owned by users; stores adds `User.stores`), and their
//! entity resolvers.

use async_graphql::{Context, ID, Object};
use c9pay_platform::{
    error::{GraphQLResultExt, internal_error},
    graphql::require_user,
    id::{StoreId, UserId},
    time::from_ms,
};
use chrono::{DateTime, Utc};

use super::{
    loaders::{load_owner_stores, load_store, load_store_products},
    product::Product,
};
use crate::{db, error::StoresError};

/// A merchant's store.
pub struct Store(pub db::Store);

#[Object(name = "Store")]
impl Store {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// 1 to 64 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The person who opened the store and manages it.
    async fn owner(&self) -> User {
        User { id: self.0.owner_user_id.clone() }
    }

    /// The catalogue, oldest product first.
    async fn products(&self, context: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        Ok(load_store_products(context, self.0.id.clone()).await?.into_iter().map(Product).collect())
    }

    /// When the store was opened.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at_ms)
    }
}

/// A person; stores knows only which stores they own.
pub struct User {
    pub id: UserId,
}

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The stores this person owns, oldest first. Only the person may list them
    /// (`FORBIDDEN` for anyone else).
    async fn stores(&self, context: &Context<'_>) -> async_graphql::Result<Vec<Store>> {
        let viewer = require_user(context)?;
        if viewer != self.id {
            return Err(StoresError::Forbidden("only the person may list their stores")).graphql();
        }
        Ok(load_owner_stores(context, self.id.clone()).await?.into_iter().map(Store).collect())
    }
}

/// A store a product points at must exist (the foreign key says so); its absence is a
/// broken invariant, reported as an internal error.
pub async fn existing_store(context: &Context<'_>, id: StoreId) -> async_graphql::Result<Store> {
    match load_store(context, id.clone()).await? {
        Some(store) => Ok(Store(store)),
        None => Err(internal_error(&StoresError::Corrupt(format!("store {id} is missing")))),
    }
}

#[derive(Default)]
pub struct EntityQuery;

#[Object]
impl EntityQuery {
    #[graphql(entity)]
    async fn find_store_by_id(&self, context: &Context<'_>, id: ID) -> async_graphql::Result<Option<Store>> {
        let id = StoreId::try_from(&id).map_err(StoresError::from).graphql()?;
        Ok(load_store(context, id).await?.map(Store))
    }

    /// Resolves without touching the database; `User.stores` loads and authorizes.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<User> {
        let id = UserId::try_from(&id).map_err(StoresError::from).graphql()?;
        Ok(User { id })
    }
}
