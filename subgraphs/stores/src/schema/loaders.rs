//! Batched loading: one query per batch of stores, owners or product lists, however many
//! entity representations or nested fields a request asks for.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};
use c9pay_platform::{
    database::Database,
    error::internal_error,
    id::{StoreId, UserId},
};

use crate::{db, error::StoresError};

pub struct StoreLoader {
    database: Database,
}

impl Loader<StoreId> for StoreLoader {
    type Value = db::Store;
    type Error = Arc<StoresError>;

    async fn load(&self, keys: &[StoreId]) -> Result<HashMap<StoreId, db::Store>, Self::Error> {
        db::find_stores(&self.database, keys).await.map_err(Arc::new)
    }
}

pub struct OwnerStoresLoader {
    database: Database,
}

impl Loader<UserId> for OwnerStoresLoader {
    type Value = Vec<db::Store>;
    type Error = Arc<StoresError>;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Vec<db::Store>>, Self::Error> {
        db::find_stores_by_owners(&self.database, keys).await.map_err(Arc::new)
    }
}

pub struct StoreProductsLoader {
    database: Database,
}

impl Loader<StoreId> for StoreProductsLoader {
    type Value = Vec<db::Product>;
    type Error = Arc<StoresError>;

    async fn load(&self, keys: &[StoreId]) -> Result<HashMap<StoreId, Vec<db::Product>>, Self::Error> {
        db::find_products_by_stores(&self.database, keys).await.map_err(Arc::new)
    }
}

/// Every loader of the schema, in the schema's data.
pub struct Loaders {
    store: DataLoader<StoreLoader>,
    owner_stores: DataLoader<OwnerStoresLoader>,
    store_products: DataLoader<StoreProductsLoader>,
}

impl Loaders {
    pub fn new(database: &Database) -> Self {
        Self {
            store: DataLoader::new(StoreLoader { database: database.clone() }, tokio::spawn),
            owner_stores: DataLoader::new(OwnerStoresLoader { database: database.clone() }, tokio::spawn),
            store_products: DataLoader::new(StoreProductsLoader { database: database.clone() }, tokio::spawn),
        }
    }
}

fn loaders<'a>(context: &'a Context<'_>) -> async_graphql::Result<&'a Loaders> {
    Ok(context.data::<Arc<Loaders>>()?.as_ref())
}

pub async fn load_store(context: &Context<'_>, id: StoreId) -> async_graphql::Result<Option<db::Store>> {
    loaders(context)?.store.load_one(id).await.map_err(|error| internal_error(error.as_ref()))
}

pub async fn load_owner_stores(context: &Context<'_>, owner: UserId) -> async_graphql::Result<Vec<db::Store>> {
    let stores = loaders(context)?.owner_stores.load_one(owner).await.map_err(|error| internal_error(error.as_ref()))?;
    Ok(stores.unwrap_or_default())
}

pub async fn load_store_products(context: &Context<'_>, store: StoreId) -> async_graphql::Result<Vec<db::Product>> {
    let products = loaders(context)?.store_products.load_one(store).await.map_err(|error| internal_error(error.as_ref()))?;
    Ok(products.unwrap_or_default())
}
