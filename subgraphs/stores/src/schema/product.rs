//! `Product` and `addProduct`.

use async_graphql::{Context, ID, InputObject, Object};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, client_error, code},
    graphql::{authenticated, require_user},
    id::{ProductId, StoreId},
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

#[derive(InputObject)]
pub struct UpdateProductInput {
    pub product_id: ID,
    /// A new name: 1 to 64 characters, unique within the store; surrounding spaces are
    /// removed. Unchanged when absent.
    pub name: Option<String>,
    /// A new price: greater than zero and at most 1000000000000. Unchanged when absent.
    pub price: Option<Amount>,
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

    /// Renames and/or re-prices a product of a store the signed-in person owns. Sales
    /// made before keep the name and price they were sold at. Errors: `INVALID_ID`,
    /// `INVALID_INPUT` (neither a name nor a price), `INVALID_NAME`, `INVALID_AMOUNT`,
    /// `NOT_FOUND` (no such product), `FORBIDDEN` (not the owner), `PRODUCT_NAME_TAKEN`.
    #[graphql(directive = authenticated::apply())]
    async fn update_product(&self, context: &Context<'_>, input: UpdateProductInput) -> async_graphql::Result<Product> {
        let viewer = require_user(context)?;
        let product_id = ProductId::try_from(&input.product_id).map_err(StoresError::from).graphql()?;
        if input.name.is_none() && input.price.is_none() {
            return Err(client_error(code::INVALID_INPUT, "give a new name, a new price, or both"));
        }
        let name = input.name.as_deref().map(Name::parse).transpose().map_err(StoresError::from).graphql()?;
        let price = input.price.map(|price| Amount::parse_positive(price.get())).transpose().map_err(StoresError::from).graphql()?;
        let database = context.data::<Database>()?;
        let product = db::find_product(database, &product_id).await.graphql()?.ok_or(StoresError::ProductNotFound).graphql()?;
        let store = load_store(context, product.store_id.clone())
            .await?
            .ok_or_else(|| StoresError::Corrupt(format!("store {} of product {product_id} is missing", product.store_id)))
            .graphql()?;
        // A store's owner never changes, and a product never moves to another store.
        if store.owner_user_id != viewer {
            return Err(StoresError::Forbidden("only the store's owner may change its products")).graphql();
        }
        let product = db::update_product(database, &product_id, name.as_ref(), price)
            .await
            .graphql()?
            .ok_or_else(|| StoresError::Corrupt(format!("product {product_id} disappeared")))
            .graphql()?;
        tracing::info!(%product_id, store_id = %store.id, "updated a product");
        Ok(Product(product))
    }
}
