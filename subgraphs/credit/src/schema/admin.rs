//! Admin fields: the router refuses `@requiresScopes(scopes: [["admin"]])` fields to
//! anyone but an admin in an admin session before fetching; each resolver checks the
//! principal again.

use async_graphql::{Context, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::GraphQLResultExt,
    graphql::principal,
    money::Amount,
    time::now_ms,
};

use crate::{db, error::CreditError};

const DAY_MS: i64 = 24 * 3_600_000;

/// What an administrator watches of the ledger.
#[derive(SimpleObject)]
pub struct LedgerStatistics {
    /// Transfers of every kind (top-ups, payments, refunds, gifts) since midnight UTC.
    pub transfers_today: i64,
    /// Their amounts added up.
    pub volume_today: Amount,
    /// What people hold in their wallets now, added up (reservations included).
    pub user_balances: Amount,
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Platform-wide ledger figures, for administrators. Errors: `FORBIDDEN`.
    #[graphql(requires_scopes = "admin")]
    async fn ledger_statistics(&self, context: &Context<'_>) -> async_graphql::Result<LedgerStatistics> {
        if !principal(context)?.is_admin() {
            return Err(CreditError::Forbidden("for administrators only")).graphql();
        }
        let now = now_ms();
        let midnight_ms = now - now.rem_euclid(DAY_MS);
        let statistics = db::statistics(context.data::<Database>()?, midnight_ms).await.graphql()?;
        Ok(LedgerStatistics {
            transfers_today: statistics.transfers,
            volume_today: statistics.volume,
            user_balances: statistics.user_balances,
        })
    }
}
