//! Live ledger events: `Subscription.storePayments` for a store's owner and
//! `Subscription.walletActivity` for the signed-in person. Each event names its payer,
//! store and recipient as entities, so the router fills in their display names and store
//! names from the subgraphs that own them.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Subscription};
use c9pay_platform::{
    database::Database,
    error::{GraphQLResultExt, client_error, code},
    graphql::{principal, require_user},
    internal_token::PrincipalKind,
    id::{StoreId, UserId},
    money::Amount,
    telemetry::TraceParent,
    time::from_ms,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use tracing::Instrument as _;

use super::{
    entities::{Store, User},
    money::TransferKind,
};
use crate::{
    db,
    domain::OwnerKind,
    error::CreditError,
    events::{Audience, EventHub, LedgerEvent},
};

/// A movement of money someone watches: a top-up, a payment, a refund or a gift.
pub struct LedgerEventObject(Arc<LedgerEvent>);

#[Object(name = "LedgerEvent")]
impl LedgerEventObject {
    /// The event's position in the ledger's event log. Pass the last one seen as `after`
    /// when subscribing again, to receive exactly what was missed.
    async fn id(&self) -> ID {
        ID(self.0.sequence.to_string())
    }

    /// The transfer that moved the money.
    async fn transfer_id(&self) -> ID {
        ID(self.0.transfer_id.clone())
    }

    async fn kind(&self) -> async_graphql::Result<TransferKind> {
        TransferKind::from_stored(&self.0.kind).graphql()
    }

    async fn amount(&self) -> Amount {
        Amount::from_stored(self.0.amount)
    }

    async fn occurred_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at_ms)
    }

    /// Who paid (the person refunded, for a refund; the sender, for a gift; nobody, for a
    /// top-up: that money comes from outside).
    async fn payer(&self) -> async_graphql::Result<Option<User>> {
        entity(self.0.payer_user_id.as_deref(), UserId::parse).map(|id| id.map(|id| User { id }))
    }

    /// The store paid or refunding, if a store was involved.
    async fn store(&self) -> async_graphql::Result<Option<Store>> {
        entity(self.0.store_id.as_deref(), StoreId::parse).map(|id| id.map(|id| Store { id }))
    }

    /// Who received the money, when it was a person (the person topping up, for a top-up).
    async fn recipient(&self) -> async_graphql::Result<Option<User>> {
        entity(self.0.recipient_user_id.as_deref(), UserId::parse)
            .map(|id| id.map(|id| User { id }))
    }
}

fn entity<T>(
    stored: Option<&str>,
    parse: fn(&str) -> Result<T, c9pay_platform::id::InvalidId>,
) -> async_graphql::Result<Option<T>> {
    stored
        .map(parse)
        .transpose()
        .map_err(CreditError::from)
        .graphql()
}

fn parse_after(after: Option<ID>) -> async_graphql::Result<Option<i64>> {
    after
        .map(|after| {
            after
                .parse::<i64>()
                .ok()
                .filter(|sequence| *sequence >= 0)
                .ok_or_else(|| client_error(code::INVALID_ID, "`after` is the id of an event"))
        })
        .transpose()
}

type Events =
    std::pin::Pin<Box<dyn Stream<Item = async_graphql::Result<LedgerEventObject>> + Send>>;

/// Follows `audience` inside a `subscribe` span that continues the router's trace (the
/// connection's [`TraceParent`]); each event delivered gets an `event` span, a child of
/// it, which ends when the next event is asked for (this one has been sent) or the
/// subscription ends.
async fn follow(
    context: &Context<'_>,
    audience: Audience,
    after: Option<i64>,
) -> async_graphql::Result<Events> {
    let hub = context.data::<EventHub>()?;
    let subscribe = tracing::info_span!(
        "subscribe",
        otel.name = %format!("credit subscribe {}", context.field().name()),
        otel.kind = "server",
        service = crate::NAME,
        trace_id = tracing::field::Empty,
    );
    context.data_opt::<TraceParent>().cloned().unwrap_or_default().adopt(&subscribe);
    let events = hub.follow(audience, after).instrument(subscribe.clone()).await.graphql()?;
    let trace = TraceParent::of(&subscribe);
    drop(subscribe);
    let delivering: Option<tracing::Span> = None;
    Ok(Box::pin(events.scan(delivering, move |delivering, event| {
        let span = tracing::info_span!("event", otel.name = "credit deliver event", trace_id = tracing::field::Empty);
        trace.adopt(&span);
        *delivering = Some(span);
        std::future::ready(Some(event.map(LedgerEventObject).graphql()))
    })))
}

#[derive(Default)]
pub struct Subscription;

#[Subscription(name = "Subscription")]
impl Subscription {
    /// Payments to and refunds from a store, for its owner and its kiosks: first those after `after`
    /// (the id of the last event the client saw), then each new one as it posts, in
    /// order and each once. `RESUME_TOO_FAR_BEHIND` if `after` is more than 1000 events
    /// back: read the history, then subscribe without `after`.
    async fn store_payments(
        &self,
        context: &Context<'_>,
        store_id: ID,
        after: Option<ID>,
    ) -> async_graphql::Result<Events> {
        let store_id = StoreId::try_from(&store_id)
            .map_err(CreditError::from)
            .graphql()?;
        let after = parse_after(after)?;
        // A kiosk follows the store it belongs to (the role the router gave its token).
        let caller = principal(context)?;
        if caller.kind == PrincipalKind::Kiosk {
            if !caller.roles.iter().any(|role| *role == format!("store:{store_id}")) {
                return Err(CreditError::Forbidden("a kiosk follows only its own store's payments")).graphql();
            }
        } else {
            let viewer = require_user(context)?;
            let database = context.data::<Database>()?;
            let account = db::find_account_by_owner(database, OwnerKind::Store, store_id.as_str())
                .await
                .graphql()?;
            if !account.is_some_and(|account| account.is_readable_by(&viewer)) {
                return Err(CreditError::Forbidden(
                    "only the store's owner or its kiosks may follow its payments",
                ))
                .graphql();
            }
        }
        follow(context, Audience::Store(store_id), after).await
    }

    /// Everything that moves the signed-in person's credit (a top-up, payment, refund or
    /// gift), so that every device of theirs keeps a true balance: first those after
    /// `after`, then each new one as it posts, like `storePayments`. A top-up names the
    /// person as `recipient` and has no payer.
    async fn wallet_activity(
        &self,
        context: &Context<'_>,
        after: Option<ID>,
    ) -> async_graphql::Result<Events> {
        let viewer = require_user(context)?;
        let after = parse_after(after)?;
        follow(context, Audience::User(viewer), after).await
    }
}
