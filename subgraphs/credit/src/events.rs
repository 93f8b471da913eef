//! Live ledger events: the outbox `ledger_event` (written by [`crate::ledger::record_event`]
//! in the same transaction as the movement) read back and fanned out to subscribers.
//!
//! One dispatcher per process reads new rows in `sequence` order and sends each on the
//! bounded channels of its audiences (its store, its payer, its recipient), so an event
//! wakes only the subscriptions that may see it, however many others are connected. The
//! table is the source of truth and the channels only a shortcut: a subscriber first
//! subscribes to its channel, then reads what it missed (`sequence > after`) from the
//! table, then takes live events, skipping any sequence it already delivered; one that
//! falls behind its channel reads from the table again. Nothing committed is missed and
//! nothing is delivered twice.
//!
//! What wakes the dispatcher:
//! - on SQLite (one process, `c9pay up`), [`announce`] after a commit: a process-wide
//!   doorbell (in tests several credit instances share a process; a dispatcher woken for
//!   another database reads nothing new);
//! - on PostgreSQL, `NOTIFY c9pay_ledger_event`, sent by the writing transaction and
//!   delivered at commit to every replica's listener, this one included; the payload is
//!   empty and every replica reads the rows themselves, so a notification lost while a
//!   listener reconnects costs nothing (the reconnect wakes the dispatcher too);
//! - a slow poll (`events_poll_interval_ms`), as the last safety net.
//!
//! Sequence order equals commit order. On SQLite writers are serialised by the database.
//! On PostgreSQL, `bigserial` values are handed out at insert time and transactions may
//! commit in another order (A takes 5, B takes 6, B commits first): a dispatcher that read
//! 6 would never go back for 5. `record_event` therefore takes a transaction-scoped
//! advisory lock before it inserts, so that taking a sequence and committing happen under
//! one lock; the cost is that the last statements of event-writing transactions (the
//! event insert, the idempotency record and the commit) run one at a time.
//!
//! How late events arrive is measured (see [`EventHub::measure_delivery_lag`]): for each
//! event handed to a subscription, the time since its transfer was recorded, in the
//! histogram `c9pay_event_delivery_lag_seconds`. Only events recorded after the
//! subscription started count: a replay of older ones on resuming is history, not lag.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, LazyLock, Mutex, PoisonError,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use c9pay_platform::{
    database::{Backend, Database},
    id::{StoreId, UserId},
    metrics::{LATENCY_BUCKETS_S, Metrics},
    time::now_ms,
};
use futures::Stream;
use sqlx::Row;
use tokio::sync::{Notify, broadcast, watch};

use crate::error::CreditError;

/// Events an audience's live channel keeps for subscribers that have not taken them yet.
/// A subscriber that falls further behind reads what it missed from the table instead
/// (its client, if it is too slow, is disconnected by the router, which holds the
/// per-client buffers). Small, because each audience with a subscriber has a channel.
pub const LIVE_EVENTS_BUFFERED_MAX: usize = 64;
/// Missed events one subscription will replay. Further behind, the client is told to
/// read its history instead (`RESUME_TOO_FAR_BEHIND`): a replay has no back-pressure
/// through the router, whose per-subscription buffer is bounded.
pub const REPLAY_EVENTS_MAX: i64 = 1_000;
/// Rows read per query, by the dispatcher and by a replay.
const PAGE_SIZE_MAX: i64 = 200;
/// How long a lost listener connection waits before connecting again.
const LISTENER_RETRY_MS: u64 = 1_000;
/// The PostgreSQL notification channel.
pub const NOTIFY_CHANNEL: &str = "c9pay_ledger_event";
/// The advisory lock that orders event sequences by commit (`c9pay_ev` in ASCII).
pub const SEQUENCE_LOCK_KEY: i64 = 0x6339_7061_795f_6576;

static DOORBELL: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Wakes every dispatcher in this process: call after committing a transaction that
/// recorded an event.
pub fn announce() {
    DOORBELL.send_modify(|rung| *rung = rung.wrapping_add(1));
}

/// One row of the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEvent {
    pub sequence: i64,
    pub transfer_id: String,
    pub kind: String,
    pub amount: i64,
    pub payer_user_id: Option<String>,
    pub store_id: Option<String>,
    pub recipient_user_id: Option<String>,
    pub created_at_ms: i64,
}

/// Whose events a subscription follows.
#[derive(Clone, Debug)]
pub enum Audience {
    /// Payments to and refunds from one store.
    Store(StoreId),
    /// Everything that moved one person's credit: what they paid, what they received.
    User(UserId),
}

impl Audience {
    fn sees(&self, event: &LedgerEvent) -> bool {
        match self {
            Self::Store(store_id) => event.store_id.as_deref() == Some(store_id.as_str()),
            Self::User(user_id) => {
                event.payer_user_id.as_deref() == Some(user_id.as_str())
                    || event.recipient_user_id.as_deref() == Some(user_id.as_str())
            }
        }
    }

    /// The name of this audience's live channel.
    fn channel(&self) -> String {
        match self {
            Self::Store(store_id) => format!("store:{store_id}"),
            Self::User(user_id) => format!("user:{user_id}"),
        }
    }

    fn condition(&self) -> (&'static str, &str) {
        match self {
            Self::Store(store_id) => ("store_id = $1", store_id.as_str()),
            Self::User(user_id) => (
                "(payer_user_id = $1 or recipient_user_id = $1)",
                user_id.as_str(),
            ),
        }
    }
}

/// The channels of the audiences someone follows, by [`Audience::channel`] name. The
/// first subscriber of an audience creates its channel; the dispatcher removes a channel
/// it finds without receivers.
type Channels = Arc<Mutex<HashMap<String, broadcast::Sender<Arc<LedgerEvent>>>>>;

/// The channel names an event goes to.
fn channels_of(event: &LedgerEvent) -> Vec<String> {
    let mut names = Vec::with_capacity(3);
    if let Some(store_id) = &event.store_id {
        names.push(format!("store:{store_id}"));
    }
    for user_id in [&event.payer_user_id, &event.recipient_user_id]
        .into_iter()
        .flatten()
    {
        let name = format!("user:{user_id}");
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The live feed of one database: a dispatcher task and the channels it sends on.
#[derive(Clone)]
pub struct EventHub {
    channels: Channels,
    /// The highest sequence broadcast so far.
    dispatched: Arc<AtomicI64>,
    database: Database,
    /// `c9pay_event_delivery_lag_seconds`, once measured.
    lag: Option<prometheus::Histogram>,
}

const COLUMNS: &str = "sequence, transfer_id, kind, amount, payer_user_id, store_id, recipient_user_id, created_at_ms";

fn event_of(row: &sqlx::any::AnyRow) -> Result<LedgerEvent, CreditError> {
    Ok(LedgerEvent {
        sequence: row.try_get("sequence")?,
        transfer_id: row.try_get("transfer_id")?,
        kind: row.try_get("kind")?,
        amount: row.try_get("amount")?,
        payer_user_id: row.try_get("payer_user_id")?,
        store_id: row.try_get("store_id")?,
        recipient_user_id: row.try_get("recipient_user_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl EventHub {
    /// Starts the dispatcher (and, on PostgreSQL, the listener on `database_url`) from the
    /// newest event now in the table.
    pub async fn start(
        database: Database,
        database_url: &str,
        poll_interval: Duration,
    ) -> Result<Self, CreditError> {
        let newest: Option<i64> = sqlx::query("select max(sequence) as newest from ledger_event")
            .fetch_one(database.pool())
            .await?
            .try_get("newest")?;
        let hub = Self {
            channels: Arc::default(),
            dispatched: Arc::new(AtomicI64::new(newest.unwrap_or(0))),
            database,
            lag: None,
        };
        let notified = Arc::new(Notify::new());
        if hub.database.backend() == Backend::Postgres {
            tokio::spawn(listen_forever(database_url.to_string(), notified.clone()));
        }
        tokio::spawn(hub.clone().dispatch_forever(notified, poll_interval));
        Ok(hub)
    }

    /// Measures each event's delivery lag into `c9pay_event_delivery_lag_seconds` of
    /// `metrics`: the time from the transfer (recorded in the transaction that commits it)
    /// to the event being handed to a subscription.
    pub fn measure_delivery_lag(mut self, metrics: &Metrics) -> anyhow::Result<Self> {
        let lag = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "event_delivery_lag_seconds",
                "Time from a ledger transfer to its event being handed to a subscription",
            )
            .buckets(LATENCY_BUCKETS_S.to_vec()),
        )?;
        metrics.registry().register(Box::new(lag.clone()))?;
        self.lag = Some(lag);
        Ok(self)
    }

    async fn dispatch_forever(self, notified: Arc<Notify>, poll_interval: Duration) {
        let mut doorbell =
            (self.database.backend() == Backend::Sqlite).then(|| DOORBELL.subscribe());
        loop {
            if let Err(error) = self.dispatch_new().await {
                tracing::warn!(%error, "reading new ledger events");
            }
            let rung = async {
                match doorbell.as_mut() {
                    Some(doorbell) => {
                        if doorbell.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = rung => {}
                () = notified.notified() => {}
                () = tokio::time::sleep(poll_interval) => {}
            }
        }
    }

    /// Broadcasts every row after the last one broadcast, in order.
    async fn dispatch_new(&self) -> Result<(), CreditError> {
        loop {
            let after = self.dispatched.load(Ordering::Acquire);
            let rows = sqlx::query(&format!(
                "select {COLUMNS} from ledger_event where sequence > $1 order by sequence limit $2"
            ))
            .bind(after)
            .bind(PAGE_SIZE_MAX)
            .fetch_all(self.database.pool())
            .await?;
            let count = rows.len();
            for row in rows {
                let event = event_of(&row)?;
                let sequence = event.sequence;
                assert!(
                    sequence > self.dispatched.load(Ordering::Acquire),
                    "events are dispatched in sequence order"
                );
                let names = channels_of(&event);
                let event = Arc::new(event);
                {
                    let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
                    for name in names {
                        let abandoned = channels
                            .get(&name)
                            .is_some_and(|sender| sender.send(event.clone()).is_err());
                        if abandoned {
                            channels.remove(&name);
                        }
                    }
                }
                self.dispatched.store(sequence, Ordering::Release);
            }
            if i64::try_from(count).unwrap_or(i64::MAX) < PAGE_SIZE_MAX {
                return Ok(());
            }
        }
    }

    /// The events `audience` may see after `after` (or after the newest event, without
    /// one), then every new one as it commits, in order and each once, however far the
    /// subscriber falls behind the live channel.
    pub async fn follow(
        &self,
        audience: Audience,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<Arc<LedgerEvent>, CreditError>> + use<>, CreditError>
    {
        // Subscribe before reading anything, so that whatever commits from here on is in
        // the channel if it is not in the table read.
        let receiver = self
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(audience.channel())
            .or_insert_with(|| broadcast::channel(LIVE_EVENTS_BUFFERED_MAX).0)
            .subscribe();
        let last = match after {
            Some(after) => {
                self.check_replay_length(&audience, after).await?;
                after
            }
            None => self.dispatched.load(Ordering::Acquire),
        };
        let state = Follow {
            receiver,
            lag: self.lag.clone(),
            since_ms: now_ms(),
            database: self.database.clone(),
            audience,
            last,
            replay: VecDeque::new(),
            replayed: false,
            ended: false,
        };
        Ok(futures::stream::unfold(state, Follow::next))
    }

    async fn check_replay_length(
        &self,
        audience: &Audience,
        after: i64,
    ) -> Result<(), CreditError> {
        // An id this ledger has not issued (from another installation, or made up) would
        // silently skip every event until the sequence caught up with it.
        let newest: Option<i64> = sqlx::query("select max(sequence) as newest from ledger_event")
            .fetch_one(self.database.pool())
            .await?
            .try_get("newest")?;
        if after > newest.unwrap_or(0) {
            return Err(CreditError::UnknownEventId);
        }
        let (condition, value) = audience.condition();
        let beyond = sqlx::query(&format!(
            "select sequence from ledger_event where {condition} and sequence > $2 order by sequence limit 1 offset $3"
        ))
        .bind(value)
        .bind(after)
        .bind(REPLAY_EVENTS_MAX)
        .fetch_optional(self.database.pool())
        .await?;
        if beyond.is_some() {
            return Err(CreditError::ResumeTooFarBehind(REPLAY_EVENTS_MAX));
        }
        Ok(())
    }
}

struct Follow {
    receiver: broadcast::Receiver<Arc<LedgerEvent>>,
    lag: Option<prometheus::Histogram>,
    /// When the subscription started: events recorded before are history, not lag.
    since_ms: i64,
    database: Database,
    audience: Audience,
    /// The sequence of the last event delivered (or the starting point).
    last: i64,
    replay: VecDeque<Arc<LedgerEvent>>,
    /// Whether the table has been read up to what the channel holds.
    replayed: bool,
    ended: bool,
}

type Step = Option<(Result<Arc<LedgerEvent>, CreditError>, Follow)>;

impl Follow {
    async fn next(mut self) -> Step {
        loop {
            if self.ended {
                return None;
            }
            if let Some(event) = self.replay.pop_front() {
                self.last = event.sequence;
                self.delivering(&event);
                return Some((Ok(event), self));
            }
            if !self.replayed {
                match self.read_page().await {
                    Ok(()) => continue,
                    Err(error) => {
                        self.ended = true;
                        return Some((Err(error), self));
                    }
                }
            }
            match self.receiver.recv().await {
                Ok(event) => {
                    if event.sequence > self.last && self.audience.sees(&event) {
                        self.last = event.sequence;
                        self.delivering(&event);
                        return Some((Ok(event), self));
                    }
                }
                // The channel moved on without this subscriber. What it missed is in the
                // table: read it from there, at the subscriber's own pace.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "a subscriber fell behind the live ledger events");
                    self.replayed = false;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Records the lag of an event about to be handed to the subscription.
    fn delivering(&self, event: &LedgerEvent) {
        if let Some(lag) = &self.lag
            && event.created_at_ms >= self.since_ms
        {
            let late = u64::try_from(now_ms().saturating_sub(event.created_at_ms)).unwrap_or(0);
            lag.observe(Duration::from_millis(late).as_secs_f64());
        }
    }

    async fn read_page(&mut self) -> Result<(), CreditError> {
        let (condition, value) = self.audience.condition();
        let rows = sqlx::query(&format!(
            "select {COLUMNS} from ledger_event where {condition} and sequence > $2 order by sequence limit $3"
        ))
        .bind(value)
        .bind(self.last)
        .bind(PAGE_SIZE_MAX)
        .fetch_all(self.database.pool())
        .await?;
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) < PAGE_SIZE_MAX {
            self.replayed = true;
        }
        for row in rows {
            self.replay.push_back(Arc::new(event_of(&row)?));
        }
        Ok(())
    }
}

/// Listens for `NOTIFY c9pay_ledger_event` on its own connection and wakes the
/// dispatcher for each, and after every (re)connection, when notifications may have been
/// missed.
async fn listen_forever(database_url: String, notified: Arc<Notify>) {
    loop {
        match sqlx::postgres::PgListener::connect(&database_url).await {
            Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                Ok(()) => {
                    notified.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => notified.notify_one(),
                            // The connection was lost; the next call reconnects, and
                            // whatever was notified meanwhile is read from the table.
                            Ok(None) => notified.notify_one(),
                            Err(error) => {
                                tracing::warn!(%error, "the ledger event listener failed");
                                break;
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "listening for ledger events"),
            },
            Err(error) => tracing::warn!(%error, "connecting the ledger event listener"),
        }
        tokio::time::sleep(Duration::from_millis(LISTENER_RETRY_MS)).await;
    }
}
