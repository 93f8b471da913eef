//! `Store` (owned here), `User` (owned by users; stores adds `User.stores`), and their
//! entity resolvers.

use async_graphql::{Context, ID, Object, connection::Connection};
use c9pay_platform::{
    error::{GraphQLResultExt, internal_error},
    graphql::{authenticated, principal, require_user},
    id::{StoreId, UserId},
    time::from_ms,
};
use chrono::{DateTime, Utc};

use super::{
    kiosk::{Kiosk, store_kiosks},
    loaders::{load_owner_stores, load_store, load_store_products},
    product::Product,
    sale::{Sale, sales_page},
    takings::{Takings, TakingsInterval, takings},
};
use crate::{
    db,
    domain::sale::{may_manage_store, may_read_store},
    error::StoresError,
};

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

    /// The store's sales of every status, newest first, `first` (0 to 100, default 20)
    /// at a time after the cursor `after`; for its owner, its kiosks and administrators.
    /// Errors: `FORBIDDEN`, `INVALID_INPUT` (`first` out of range, or a bad cursor).
    #[graphql(directive = authenticated::apply())]
    async fn sales(&self, context: &Context<'_>, first: Option<i32>, after: Option<String>) -> async_graphql::Result<Connection<String, Sale>> {
        may_read_store(principal(context)?, &self.0.id, &self.0.owner_user_id).graphql()?;
        sales_page(context, &self.0.id, first, after).await
    }

    /// Paid sales made in `[since, until)` (`until`: now, by default), in all and per
    /// hour or day (UTC): every bucket of the range, those without sales too. At most 31
    /// days by the hour, 366 by the day. For its owner, its kiosks and administrators.
    /// Errors: `FORBIDDEN`, `INVALID_INPUT` (`until` not after `since`, or too long a
    /// range).
    #[graphql(directive = authenticated::apply())]
    async fn takings(
        &self,
        context: &Context<'_>,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        #[graphql(default_with = "Some(TakingsInterval::Hour)")] interval: Option<TakingsInterval>,
    ) -> async_graphql::Result<Takings> {
        may_read_store(principal(context)?, &self.0.id, &self.0.owner_user_id).graphql()?;
        // An explicit null means the default too.
        takings(context, &self.0.id, since, until, interval.unwrap_or(TakingsInterval::Hour)).await
    }

    /// The store's kiosks, revoked ones too, oldest first; for its owner and
    /// administrators. Errors: `FORBIDDEN`, `SERVICE_UNAVAILABLE` (auth, which keeps
    /// kiosks, did not answer).
    #[graphql(directive = authenticated::apply())]
    async fn kiosks(&self, context: &Context<'_>) -> async_graphql::Result<Vec<Kiosk>> {
        may_manage_store(principal(context)?, &self.0.owner_user_id).graphql()?;
        store_kiosks(context, &self.0.id).await
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

    /// The stores this person owns, oldest first. Only the person (and administrators)
    /// may list them (`FORBIDDEN` for anyone else).
    async fn stores(&self, context: &Context<'_>) -> async_graphql::Result<Vec<Store>> {
        let viewer = require_user(context)?;
        if viewer != self.id && !principal(context)?.is_admin() {
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
