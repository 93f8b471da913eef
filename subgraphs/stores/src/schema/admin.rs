//! Admin fields: the router refuses `@requiresScopes(scopes: [["admin"]])` fields to
//! anyone but an admin in an admin session before fetching; each resolver checks the
//! principal again.

use async_graphql::{Context, ID, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, client_error, code},
    graphql::principal,
    id::KioskId,
    time::now_ms,
};

use super::entities::Store;
use crate::{db, domain::Name, error::StoresError, kiosks::KioskRegistry};

/// The most stores one `findStores` answers with, and how many without `first`.
pub const FIND_STORES_MAX: i32 = 100;
pub const FIND_STORES_DEFAULT: i32 = 20;

const DAY_MS: i64 = 24 * 3_600_000;

/// Counts an administrator watches.
#[derive(SimpleObject)]
pub struct StoreStatistics {
    /// Stores opened.
    pub stores: i64,
    /// Paid sales, in every store, since midnight UTC.
    pub sales_today: i64,
}

fn require_admin(context: &Context<'_>) -> async_graphql::Result<()> {
    if principal(context)?.is_admin() {
        Ok(())
    } else {
        Err(StoresError::Forbidden("for administrators only")).graphql()
    }
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Stores whose name contains `query`, ignoring case, by name, at most `first` (1 to
    /// 100, default 20). Errors: `FORBIDDEN`, `INVALID_INPUT` (`first` out of range, or
    /// a query longer than a name can be).
    #[graphql(requires_scopes = "admin")]
    async fn find_stores(&self, context: &Context<'_>, query: String, first: Option<i32>) -> async_graphql::Result<Vec<Store>> {
        require_admin(context)?;
        let first = first.unwrap_or(FIND_STORES_DEFAULT);
        if !(1..=FIND_STORES_MAX).contains(&first) {
            return Err(client_error(code::INVALID_INPUT, format!("first must be between 1 and {FIND_STORES_MAX}")));
        }
        let fragment = query.trim().to_lowercase();
        if fragment.chars().count() > Name::LENGTH_MAX_CHARS {
            return Err(client_error(code::INVALID_INPUT, "no store name is that long"));
        }
        let stores = db::search_stores(context.data::<Database>()?, &fragment, i64::from(first)).await.graphql()?;
        Ok(stores.into_iter().map(Store).collect())
    }

    /// Platform-wide store counts, for administrators. Errors: `FORBIDDEN`.
    #[graphql(requires_scopes = "admin")]
    async fn store_statistics(&self, context: &Context<'_>) -> async_graphql::Result<StoreStatistics> {
        require_admin(context)?;
        let database = context.data::<Database>()?;
        let now = now_ms();
        let midnight_ms = now - now.rem_euclid(DAY_MS);
        let stores = db::store_count(database).await.graphql()?;
        let sales_today = db::sale::paid_sales_since(database, midnight_ms).await.graphql()?;
        Ok(StoreStatistics { stores, sales_today })
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Revokes any store's kiosk, as its owner's `revokeKiosk` does: it gets no new
    /// tokens, and the router refuses the ones it holds within its revocation poll
    /// interval. Errors: `FORBIDDEN`, `INVALID_ID`, `NOT_FOUND` (no such kiosk, or revoked
    /// already), `SERVICE_UNAVAILABLE`.
    #[graphql(requires_scopes = "admin")]
    async fn admin_revoke_kiosk(&self, context: &Context<'_>, kiosk_id: ID) -> async_graphql::Result<bool> {
        require_admin(context)?;
        let kiosk_id = KioskId::try_from(&kiosk_id).map_err(StoresError::from).graphql()?;
        let caller = principal(context)?;
        context.data::<KioskRegistry>()?.revoke_any(&kiosk_id, &caller.request_id).await.graphql()?;
        tracing::warn!(%kiosk_id, admin = %caller.subject, "an admin revoked a kiosk");
        Ok(true)
    }
}
