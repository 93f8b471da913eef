//! Store and product queries; sales and refunds in [`sale`].

pub mod sale;

use std::collections::HashMap;

use c9pay_platform::{
    database::{Database, ResultExt, contains_pattern, placeholders},
    id::{ProductId, StoreId, UserId},
    money::Amount,
    time::now_ms,
};
use sqlx::Row;

use crate::{domain::Name, error::StoresError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    pub id: StoreId,
    pub owner_user_id: UserId,
    pub name: String,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub store_id: StoreId,
    pub name: String,
    pub price: Amount,
    pub created_at_ms: i64,
}

const STORE_COLUMNS: &str = "id, owner_user_id, name, created_at_ms";
const PRODUCT_COLUMNS: &str = "id, store_id, name, price, created_at_ms";

fn store_from_row(row: &sqlx::any::AnyRow) -> Result<Store, StoresError> {
    let id: String = row.try_get("id")?;
    let owner_user_id: String = row.try_get("owner_user_id")?;
    Ok(Store {
        id: StoreId::parse(&id)?,
        owner_user_id: UserId::parse(&owner_user_id)?,
        name: row.try_get("name")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn product_from_row(row: &sqlx::any::AnyRow) -> Result<Product, StoresError> {
    let id: String = row.try_get("id")?;
    let store_id: String = row.try_get("store_id")?;
    let price: i64 = row.try_get("price")?;
    Ok(Product {
        id: ProductId::parse(&id)?,
        store_id: StoreId::parse(&store_id)?,
        name: row.try_get("name")?,
        price: Amount::parse_positive(price).map_err(|error| StoresError::Corrupt(format!("price of {id}: {error}")))?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

/// Inserts a store whose id the caller chose (it was already given to credit).
pub async fn insert_store(database: &Database, id: &StoreId, owner_user_id: &UserId, name: &Name) -> Result<Store, StoresError> {
    let store = Store {
        id: id.clone(),
        owner_user_id: owner_user_id.clone(),
        name: name.as_str().to_string(),
        created_at_ms: now_ms(),
    };
    sqlx::query("insert into store (id, owner_user_id, name, created_at_ms) values ($1, $2, $3, $4)")
        .bind(store.id.as_str())
        .bind(store.owner_user_id.as_str())
        .bind(store.name.as_str())
        .bind(store.created_at_ms)
        .execute(database.writer())
        .await?;
    Ok(store)
}

pub async fn find_store(database: &Database, id: &StoreId) -> Result<Option<Store>, StoresError> {
    let sql = format!("select {STORE_COLUMNS} from store where id = $1");
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(database.pool()).await?;
    row.as_ref().map(store_from_row).transpose()
}

/// Stores by id, for the entity loader: one query for a whole batch.
pub async fn find_stores(database: &Database, ids: &[StoreId]) -> Result<HashMap<StoreId, Store>, StoresError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!("select {STORE_COLUMNS} from store where id in ({})", placeholders(1, ids.len()));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id.as_str());
    }
    let rows = query.fetch_all(database.pool()).await?;
    rows.iter()
        .map(|row| store_from_row(row).map(|store| (store.id.clone(), store)))
        .collect()
}

/// Each owner's stores, oldest first; owners without stores get an empty list.
pub async fn find_stores_by_owners(database: &Database, owner_user_ids: &[UserId]) -> Result<HashMap<UserId, Vec<Store>>, StoresError> {
    let mut stores: HashMap<UserId, Vec<Store>> = owner_user_ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    if owner_user_ids.is_empty() {
        return Ok(stores);
    }
    let sql = format!(
        "select {STORE_COLUMNS} from store where owner_user_id in ({}) order by created_at_ms, id",
        placeholders(1, owner_user_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in owner_user_ids {
        query = query.bind(id.as_str());
    }
    for row in query.fetch_all(database.pool()).await? {
        let store = store_from_row(&row)?;
        stores.entry(store.owner_user_id.clone()).or_default().push(store);
    }
    Ok(stores)
}

/// Stores whose name contains `fragment`, ignoring case (`fragment` in lower case; on
/// SQLite only ASCII letters fold), by name, at most `limit`.
pub async fn search_stores(database: &Database, fragment: &str, limit: i64) -> Result<Vec<Store>, StoresError> {
    let sql = format!("select {STORE_COLUMNS} from store where lower(name) like $1 escape '\\' order by name, id limit $2");
    let rows = sqlx::query(&sql).bind(contains_pattern(fragment)).bind(limit).fetch_all(database.pool()).await?;
    rows.iter().map(store_from_row).collect()
}

/// How many stores there are.
pub async fn store_count(database: &Database) -> Result<i64, StoresError> {
    let row = sqlx::query("select count(*) as stores from store").fetch_one(database.pool()).await?;
    Ok(row.try_get("stores")?)
}

/// An owner's store by name (for idempotent demo seeding; names are not unique per owner).
pub async fn find_store_by_owner_and_name(database: &Database, owner_user_id: &UserId, name: &Name) -> Result<Option<Store>, StoresError> {
    let sql = format!("select {STORE_COLUMNS} from store where owner_user_id = $1 and name = $2 order by created_at_ms, id limit 1");
    let row = sqlx::query(&sql)
        .bind(owner_user_id.as_str())
        .bind(name.as_str())
        .fetch_optional(database.pool())
        .await?;
    row.as_ref().map(store_from_row).transpose()
}

/// Adds a product; a name the store already uses is [`StoresError::ProductNameTaken`],
/// decided by the unique constraint so that two racing requests cannot both win.
pub async fn insert_product(database: &Database, store_id: &StoreId, name: &Name, price: Amount) -> Result<Product, StoresError> {
    let product = Product {
        id: ProductId::generate(),
        store_id: store_id.clone(),
        name: name.as_str().to_string(),
        price,
        created_at_ms: now_ms(),
    };
    sqlx::query("insert into product (id, store_id, name, price, created_at_ms) values ($1, $2, $3, $4, $5)")
        .bind(product.id.as_str())
        .bind(product.store_id.as_str())
        .bind(product.name.as_str())
        .bind(product.price.get())
        .bind(product.created_at_ms)
        .execute(database.writer())
        .await
        .on_unique_violation(|| StoresError::ProductNameTaken)?;
    Ok(product)
}

pub async fn find_product(database: &Database, id: &ProductId) -> Result<Option<Product>, StoresError> {
    let sql = format!("select {PRODUCT_COLUMNS} from product where id = $1");
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(database.pool()).await?;
    row.as_ref().map(product_from_row).transpose()
}

/// Renames and/or re-prices a product (what is `None` stays); a name another product of
/// the store uses is [`StoresError::ProductNameTaken`], decided by the unique constraint.
/// Sales keep the name and price each line was sold at: they are copied into the line.
pub async fn update_product(database: &Database, id: &ProductId, name: Option<&Name>, price: Option<Amount>) -> Result<Option<Product>, StoresError> {
    let mut assignments = Vec::new();
    if name.is_some() {
        assignments.push(format!("name = ${}", assignments.len() + 1));
    }
    if price.is_some() {
        assignments.push(format!("price = ${}", assignments.len() + 1));
    }
    if !assignments.is_empty() {
        let sql = format!("update product set {} where id = ${}", assignments.join(", "), assignments.len() + 1);
        let mut query = sqlx::query(&sql);
        if let Some(name) = name {
            query = query.bind(name.as_str());
        }
        if let Some(price) = price {
            query = query.bind(price.get());
        }
        query
            .bind(id.as_str())
            .execute(database.writer())
            .await
            .on_unique_violation(|| StoresError::ProductNameTaken)?;
    }
    find_product(database, id).await
}

/// Each store's products, oldest first; stores without products get an empty list.
pub async fn find_products_by_stores(database: &Database, store_ids: &[StoreId]) -> Result<HashMap<StoreId, Vec<Product>>, StoresError> {
    let mut products: HashMap<StoreId, Vec<Product>> = store_ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    if store_ids.is_empty() {
        return Ok(products);
    }
    let sql = format!(
        "select {PRODUCT_COLUMNS} from product where store_id in ({}) order by created_at_ms, id",
        placeholders(1, store_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in store_ids {
        query = query.bind(id.as_str());
    }
    for row in query.fetch_all(database.pool()).await? {
        let product = product_from_row(&row)?;
        products.entry(product.store_id.clone()).or_default().push(product);
    }
    Ok(products)
}

/// The products among `ids` that belong to `store_id`, by id; ids of other stores' (or
/// no) products are simply absent, which the caller reports as `PRODUCT_NOT_IN_STORE`.
pub async fn find_store_products_by_ids(database: &Database, store_id: &StoreId, ids: &[ProductId]) -> Result<HashMap<ProductId, Product>, StoresError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!("select {PRODUCT_COLUMNS} from product where store_id = $1 and id in ({})", placeholders(2, ids.len()));
    let mut query = sqlx::query(&sql).bind(store_id.as_str());
    for id in ids {
        query = query.bind(id.as_str());
    }
    let rows = query.fetch_all(database.pool()).await?;
    rows.iter()
        .map(|row| product_from_row(row).map(|product| (product.id.clone(), product)))
        .collect()
}
