//! An account's history as a Relay connection, newest first.

use async_graphql::{
    Context, Enum, ID, InputObject, Object,
    connection::{Connection, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, client_error, code},
    id::{StoreId, UserId},
    money::Amount,
    time::from_ms,
};
use chrono::{DateTime, Utc};

use super::{
    entities::{Store, User},
    money::TransferKind,
};
use crate::{
    db::{self, HistoryFilter as DbFilter, HistoryLine},
    domain::{Account, OwnerKind},
};

/// The most entries one page may hold.
pub const PAGE_SIZE_MAX: i32 = 100;
pub const PAGE_SIZE_DEFAULT: i32 = 20;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Money came in.
    Incoming,
    /// Money went out.
    Outgoing,
}

#[derive(InputObject, Default)]
pub struct HistoryFilter {
    pub kinds: Option<Vec<TransferKind>>,
    pub direction: Option<Direction>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub until: Option<DateTime<Utc>>,
}

/// One transfer, seen from one account.
pub struct LedgerEntry(HistoryLine);

#[Object]
impl LedgerEntry {
    /// The transfer's id.
    async fn id(&self) -> ID {
        ID(self.0.transfer.id.to_string())
    }

    async fn kind(&self) -> async_graphql::Result<TransferKind> {
        TransferKind::from_stored(self.0.transfer.kind.as_str()).graphql()
    }

    async fn direction(&self) -> Direction {
        if self.0.incoming {
            Direction::Incoming
        } else {
            Direction::Outgoing
        }
    }

    async fn amount(&self) -> Amount {
        self.0.transfer.amount
    }

    async fn memo(&self) -> Option<&str> {
        self.0.transfer.memo.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.transfer.created_at_ms)
    }

    /// The other person, when the other side is a person.
    async fn counterparty_user(&self) -> Option<User> {
        (self.0.counterparty_kind == OwnerKind::User)
            .then(|| UserId::parse(&self.0.counterparty_owner_id).ok())
            .flatten()
            .map(|id| User { id })
    }

    /// The store, when the other side is a store.
    async fn counterparty_store(&self) -> Option<Store> {
        (self.0.counterparty_kind == OwnerKind::Store)
            .then(|| StoreId::parse(&self.0.counterparty_owner_id).ok())
            .flatten()
            .map(|id| Store { id })
    }
}

fn encode_cursor(line: &HistoryLine) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}:{}",
        line.transfer.created_at_ms, line.transfer.id
    ))
}

fn decode_cursor(cursor: &str) -> async_graphql::Result<(i64, String)> {
    let invalid = || client_error(code::INVALID_INPUT, "invalid cursor");
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid)?;
    let (created_at_ms, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok((
        created_at_ms.parse().map_err(|_| invalid())?,
        id.to_string(),
    ))
}

/// A page of `account`'s history (`None`: an account not yet opened has no history).
pub async fn page(
    context: &Context<'_>,
    account: Option<&Account>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<HistoryFilter>,
) -> async_graphql::Result<Connection<String, LedgerEntry>> {
    let size = first.unwrap_or(PAGE_SIZE_DEFAULT);
    if !(0..=PAGE_SIZE_MAX).contains(&size) {
        return Err(client_error(
            code::INVALID_INPUT,
            format!("first must be between 0 and {PAGE_SIZE_MAX}"),
        ));
    }
    let before = after.as_deref().map(decode_cursor).transpose()?;
    let Some(account) = account else {
        return Ok(Connection::new(before.is_some(), false));
    };
    let filter = filter.unwrap_or_default();
    let db_filter = DbFilter {
        kinds: filter
            .kinds
            .unwrap_or_default()
            .into_iter()
            .map(TransferKind::to_domain)
            .collect(),
        incoming: filter
            .direction
            .map(|direction| direction == Direction::Incoming),
        since_ms: filter.since.map(|since| since.timestamp_millis()),
        until_ms: filter.until.map(|until| until.timestamp_millis()),
    };
    // One more than asked tells whether another page follows.
    let mut lines = db::history(
        context.data::<Database>()?,
        &account.id,
        before.clone(),
        i64::from(size) + 1,
        &db_filter,
    )
    .await
    .graphql()?;
    let has_next_page = lines.len() > usize::try_from(size).unwrap_or_default();
    lines.truncate(usize::try_from(size).unwrap_or_default());
    let mut connection = Connection::new(before.is_some(), has_next_page);
    connection.edges.extend(
        lines
            .into_iter()
            .map(|line| Edge::new(encode_cursor(&line), LedgerEntry(line))),
    );
    Ok(connection)
}
