//! Seeding for `c9pay up`: a demo store with its catalogue, written straight into the
//! stores database. Safe to run at every start.

use c9pay_platform::{database::Database, id::UserId, money::Amount};

use crate::{
    db::{self, Store},
    domain::Name,
    error::StoresError,
};

/// Finds `owner`'s store called `name`, or opens it, and makes sure it sells `products`
/// (name, price); products it already has are left as they are.
///
/// This writes only the stores database. The caller opens the store's ledger account
/// itself, with `c9pay_credit::demo::ensure_store_account(credit, &store.id, owner)`;
/// both steps are idempotent, so a seed interrupted between them is completed by the
/// next start.
pub async fn seed_store(database: &Database, owner: &UserId, name: &str, products: &[(&str, Amount)]) -> Result<Store, StoresError> {
    let name = Name::parse(name)?;
    let store = match db::find_store_by_owner_and_name(database, owner, &name).await? {
        Some(store) => store,
        None => db::insert_store(database, &c9pay_platform::id::StoreId::generate(), owner, &name).await?,
    };
    for (product_name, price) in products {
        let product_name = Name::parse(product_name)?;
        let price = Amount::parse_positive(price.get())?;
        match db::insert_product(database, &store.id, &product_name, price).await {
            Ok(_) | Err(StoresError::ProductNameTaken) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(store)
}
