//! `Store.takings`: what a store took in a time range, added up per hour or day.

use async_graphql::{Context, Enum, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, client_error, code},
    id::StoreId,
    money::Amount,
    time::{from_ms, now_ms},
};
use chrono::{DateTime, Utc};

use crate::{db, error::StoresError};

/// How long a bucket of takings is, aligned to UTC.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TakingsInterval {
    /// Buckets start on the hour (UTC).
    Hour,
    /// Buckets start at midnight UTC.
    Day,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

impl TakingsInterval {
    fn length_ms(self) -> i64 {
        match self {
            Self::Hour => HOUR_MS,
            Self::Day => DAY_MS,
        }
    }

    /// The longest range one answer covers with buckets of this interval (so at most
    /// 745 hourly or 367 daily buckets).
    fn range_max_ms(self) -> i64 {
        match self {
            Self::Hour => 31 * DAY_MS,
            Self::Day => 366 * DAY_MS,
        }
    }
}

/// Paid sales in one bucket.
#[derive(SimpleObject)]
pub struct TakingsBucket {
    /// When the bucket starts (on the hour or at midnight, UTC); it ends where the next
    /// begins. The first bucket may start before `since`, but counts only sales from
    /// `since` on.
    pub start: DateTime<Utc>,
    /// The paid sales' totals, before refunds.
    pub total: Amount,
    /// How many paid sales.
    pub count: i64,
}

/// What a store took in a time range.
#[derive(SimpleObject)]
pub struct Takings {
    /// The paid sales' totals, before refunds.
    pub total: Amount,
    /// How many paid sales.
    pub count: i64,
    /// How much of those sales has been refunded or is being refunded.
    pub refunded: Amount,
    /// Every bucket of the range, oldest first, those without sales included (with 0).
    pub buckets: Vec<TakingsBucket>,
}

/// The takings of `store_id` in `[since, until)` (`until` defaults to now); the caller
/// has checked who may read them.
pub async fn takings(
    context: &Context<'_>,
    store_id: &StoreId,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    interval: TakingsInterval,
) -> async_graphql::Result<Takings> {
    let since_ms = since.timestamp_millis();
    let until_ms = until.map_or_else(now_ms, |until| until.timestamp_millis());
    if until_ms <= since_ms {
        return Err(client_error(code::INVALID_INPUT, "`until` must be after `since`"));
    }
    if until_ms - since_ms > interval.range_max_ms() {
        let most = match interval {
            TakingsInterval::Hour => "31 days by the hour",
            TakingsInterval::Day => "366 days by the day",
        };
        return Err(client_error(code::INVALID_INPUT, format!("one answer covers at most {most}")));
    }
    let length_ms = interval.length_ms();
    let first_start_ms = since_ms - since_ms.rem_euclid(length_ms);
    let rows = db::sale::takings(context.data::<Database>()?, store_id, since_ms, until_ms, first_start_ms, length_ms)
        .await
        .graphql()?;
    let mut buckets = Vec::new();
    let mut start_ms = first_start_ms;
    while start_ms < until_ms {
        buckets.push(TakingsBucket { start: from_ms(start_ms), total: Amount::ZERO, count: 0 });
        start_ms += length_ms;
    }
    let (mut total, mut count, mut refunded) = (Amount::ZERO, 0_i64, Amount::ZERO);
    for row in rows {
        let bucket = usize::try_from(row.bucket)
            .ok()
            .and_then(|index| buckets.get_mut(index))
            .ok_or_else(|| StoresError::Corrupt(format!("takings bucket {} outside the range", row.bucket)))
            .graphql()?;
        bucket.total = row.total;
        bucket.count = row.count;
        total = total.checked_add(row.total).map_err(StoresError::from).graphql()?;
        refunded = refunded.checked_add(row.refunded).map_err(StoresError::from).graphql()?;
        count = count.checked_add(row.count).ok_or_else(|| StoresError::Corrupt("sale count overflow".to_string())).graphql()?;
    }
    Ok(Takings { total, count, refunded, buckets })
}
