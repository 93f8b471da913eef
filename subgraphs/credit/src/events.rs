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
//! Subscribers get events in `sequence` order, each once, none lost, also across a
//! reconnect with the last id they saw. On SQLite that order is commit order: writers are
//! serialised by the database. On PostgreSQL `bigserial` values are handed out at insert
//! time and transactions commit in any order (A takes 5, B takes 6, B commits first), and
//! nothing makes writers wait for each other; instead the dispatcher delivers an event
//! only once no transaction can still commit a smaller sequence (a commit watermark):
//!
//! 1. It reads the committed rows after the last one it delivered, and with them its
//!    snapshot's horizon, `pg_snapshot_xmin(pg_current_snapshot())`: every transaction
//!    with a smaller id has committed or aborted.
//! 2. If rows beyond what it may deliver were read, it then takes a *fence*: a fresh
//!    transaction id (`pg_current_xact_id()` in a statement of its own, so after the
//!    read). Transaction ids are handed out in increasing order, and every event writer
//!    holds its id before it takes its sequence (`record_event` makes sure of it), so
//!    every transaction that took any sequence up to the largest one read has an id below
//!    the fence.
//! 3. Once a later read's horizon is above a fence, all those transactions have ended: the
//!    rows that read sees up to the fence's sequence are all there will ever be, and are
//!    delivered. Rows above it wait for a later fence.
//!
//! The dispatcher's position (`dispatched`) therefore only passes sequences that are
//! final, and replays from the table read no further than it. A writer costs nothing
//! extra; an event waits for the transactions that were running when it was read (a few
//! milliseconds under load; a long-running write transaction anywhere on the PostgreSQL
//! server delays delivery, never order). The same wait happens once at start, so the
//! first position is final too.
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
/// How soon the dispatcher reads again while rows wait for their fence (PostgreSQL).
const FENCE_RETRY_MS: u64 = 2;

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
    /// newest event now in the table (on PostgreSQL, once every transaction that may still
    /// commit an older one has ended).
    pub async fn start(
        database: Database,
        database_url: &str,
        poll_interval: Duration,
    ) -> Result<Self, CreditError> {
        let newest = final_newest(&database).await?;
        let hub = Self {
            channels: Arc::default(),
            dispatched: Arc::new(AtomicI64::new(newest)),
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
        let mut fences = VecDeque::new();
        loop {
            let waiting = match self.dispatch_new(&mut fences).await {
                Ok(waiting) => waiting,
                Err(error) => {
                    tracing::warn!(%error, "reading new ledger events");
                    false
                }
            };
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
            let wait = if waiting {
                Duration::from_millis(FENCE_RETRY_MS).min(poll_interval)
            } else {
                poll_interval
            };
            tokio::select! {
                () = rung => {}
                () = notified.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Broadcasts, in order, every row after the last one broadcast that is final (see the
    /// module's notes). Returns whether committed rows are waiting for a fence.
    async fn dispatch_new(&self, fences: &mut VecDeque<Fence>) -> Result<bool, CreditError> {
        let postgres = self.database.backend() == Backend::Postgres;
        let horizon = if postgres {
            ", pg_snapshot_xmin(pg_current_snapshot())::text::bigint as horizon"
        } else {
            ""
        };
        // Every sequence up to here is final (no transaction can still commit one).
        let mut deliverable = if postgres { 0 } else { i64::MAX };
        loop {
            let after = self.dispatched.load(Ordering::Acquire);
            let rows = sqlx::query(&format!(
                "select {COLUMNS}{horizon} from ledger_event where sequence > $1 order by sequence limit $2"
            ))
            .bind(after)
            .bind(PAGE_SIZE_MAX)
            .fetch_all(self.database.pool())
            .await?;
            let Some(newest_read) = rows.last().map(|row| row.try_get::<i64, _>("sequence")).transpose()? else {
                return Ok(!fences.is_empty());
            };
            let full_page = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= PAGE_SIZE_MAX;
            if postgres {
                let horizon: i64 = rows[0].try_get("horizon")?;
                while let Some(fence) = fences.front().filter(|fence| fence.xid < horizon) {
                    deliverable = deliverable.max(fence.sequence);
                    fences.pop_front();
                }
            }
            for row in &rows {
                let event = event_of(row)?;
                if event.sequence > deliverable {
                    break;
                }
                self.broadcast(event);
            }
            if newest_read > deliverable {
                let fenced = fences.back().map_or(after, |fence| fence.sequence);
                if newest_read > fenced {
                    fences.push_back(Fence {
                        xid: take_fence(&self.database).await?,
                        sequence: newest_read,
                    });
                }
                return Ok(true);
            }
            if !full_page {
                return Ok(!fences.is_empty());
            }
        }
    }

    /// Sends one event on its audiences' channels and moves the dispatcher past it. The
    /// position moves under the channels' lock, before the sends: a subscriber that
    /// subscribes after this event was sent reads a position that includes it, and so
    /// finds it in the table.
    fn broadcast(&self, event: LedgerEvent) {
        let sequence = event.sequence;
        assert!(
            sequence > self.dispatched.load(Ordering::Acquire),
            "events are dispatched in sequence order"
        );
        let names = channels_of(&event);
        let event = Arc::new(event);
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        self.dispatched.store(sequence, Ordering::Release);
        for name in names {
            let abandoned = channels
                .get(&name)
                .is_some_and(|sender| sender.send(event.clone()).is_err());
            if abandoned {
                channels.remove(&name);
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
            dispatched: self.dispatched.clone(),
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

/// A transaction id taken after reading rows up to `sequence`: once every transaction
/// below it has ended, no sequence up to `sequence` can still commit.
struct Fence {
    xid: i64,
    sequence: i64,
}

/// A fresh transaction id, larger than every id handed out before this call; its own
/// transaction (this statement) commits at once and writes nothing.
async fn take_fence(database: &Database) -> Result<i64, CreditError> {
    Ok(sqlx::query_scalar("select pg_current_xact_id()::text::bigint")
        .fetch_one(database.pool())
        .await?)
}

/// The newest sequence that no transaction can still commit a smaller one under: on
/// SQLite the newest row; on PostgreSQL the newest row once a fence taken after reading
/// it is below the horizon.
async fn final_newest(database: &Database) -> Result<i64, CreditError> {
    let newest: Option<i64> = sqlx::query_scalar("select max(sequence) from ledger_event")
        .fetch_one(database.pool())
        .await?;
    let newest = newest.unwrap_or(0);
    if database.backend() == Backend::Postgres {
        let fence = take_fence(database).await?;
        loop {
            let horizon: i64 = sqlx::query_scalar(
                "select pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            )
            .fetch_one(database.pool())
            .await?;
            if horizon > fence {
                break;
            }
            tokio::time::sleep(Duration::from_millis(FENCE_RETRY_MS)).await;
        }
    }
    Ok(newest)
}

struct Follow {
    receiver: broadcast::Receiver<Arc<LedgerEvent>>,
    lag: Option<prometheus::Histogram>,
    /// When the subscription started: events recorded before are history, not lag.
    since_ms: i64,
    database: Database,
    /// The hub's position: replays read no further, as only it knows what is final.
    dispatched: Arc<AtomicI64>,
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
            "select {COLUMNS} from ledger_event where {condition} and sequence > $2 and sequence <= $3 order by sequence limit $4"
        ))
        .bind(value)
        .bind(self.last)
        .bind(self.dispatched.load(Ordering::Acquire))
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
