//! `Product` and `addProduct`.

use async_graphql::{Context, ID, InputObject, Object};
use c9pay_platform::{
    database::Database,
    error::GraphQLResultExt,
    graphql::require_user,
    id::StoreId,
    money::Amount,
};

use super::{
    entities::{Store, existing_store},
    loaders::load_store,
};
use crate::{db, domain::Name, error::StoresError};

/// Something a store sells, at a fixed price.
pub struct Product(pub db::Product);

#[Object(name = "Product")]
impl Product {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// 1 to 64 characters, unique within the store.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Price in credits, greater than zero.
    async fn price(&self) -> Amount {
        self.0.price
    }

    async fn store(&self, context: &Context<'_>) -> async_graphql::Result<Store> {
        existing_store(context, self.0.store_id.clone()).await
    }
}

#[derive(InputObject)]
pub struct AddProductInput {
    pub store_id: ID,
    /// 1 to 64 characters, unique within the store; surrounding spaces are removed.
    pub name: String,
    /// Greater than zero and at most 1000000000000 (`INVALID_AMOUNT` otherwise).
    pub price: Amount,
}

#[derive(Default)]
pub struct ProductMutation;

#[Object]
impl ProductMutation {
    /// Adds a product to a store the signed-in person owns. Errors: `INVALID_ID`,
    /// `INVALID_NAME`, `INVALID_AMOUNT`, `NOT_FOUND` (no such store), `FORBIDDEN` (not the
    /// owner), `PRODUCT_NAME_TAKEN`.
    async fn add_product(&self, context: &Context<'_>, input: AddProductInput) -> async_graphql::Result<Product> {
        let viewer = require_user(context)?;
        let store_id = StoreId::try_from(&input.store_id).map_err(StoresError::from).graphql()?;
        let name = Name::parse(&input.name).map_err(StoresError::from).graphql()?;
        let price = Amount::parse_positive(input.price.get()).map_err(StoresError::from).graphql()?;
        let store = load_store(context, store_id).await?.ok_or(StoresError::StoreNotFound).graphql()?;
        // A store's owner never changes, so this check cannot go stale before the insert.
        if store.owner_user_id != viewer {
            return Err(StoresError::Forbidden("only the store's owner may add products")).graphql();
        }
        let product = db::insert_product(context.data::<Database>()?, &store.id, &name, price).await.graphql()?;
        Ok(Product(product))
    }
}
