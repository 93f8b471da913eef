//! Following auth's revocation feed, so that a log-out (or a revoked kiosk, or a session
//! ended because its refresh token was replayed) stops its access tokens at once rather
//! than when they expire.
//!
//! Access tokens carry their session id (`sid`). Auth records each revocation with the
//! time it lasts (the longest an access token of it can still be valid). The router polls
//! `GET /internal/revocations?sinceMs=…` on auth every `poll_interval_ms`, keeps the
//! revoked ids in memory until they lapse, and refuses any token whose `sid` is among
//! them. Each poll asks from a little before auth's clock at the previous answer
//! (`overlap_ms`), so that a revocation committed while the previous poll was answered
//! is not skipped; entries seen twice are harmless.
//!
//! Propagation: a revocation reaches every replica within one poll interval plus one
//! fetch. If the feed cannot be read for `staleness_max_ms`, the router no longer knows
//! which sessions ended and refuses every signed-in request (`SERVICE_UNAVAILABLE`)
//! until it can read it again: for a payment platform a stale revocation list is a
//! hole, and auth being down stops log-ins anyway.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use c9pay_platform::internal_token::{InternalTokenSigner, Principal, ROUTER_ISSUER};
use serde::Deserialize;

use crate::config::RevocationConfig;

/// How far back each poll reaches before auth's clock at the previous answer.
const OVERLAP_MS: i64 = 5_000;

#[derive(Default)]
struct State {
    /// Revoked session (or kiosk) id → when the entry lapses (Unix ms).
    revoked: HashMap<String, i64>,
    /// When the feed was last read completely.
    read_at: Option<Instant>,
    /// What to ask for next.
    since_ms: i64,
}

/// The revocations the router knows of.
pub struct RevocationList {
    state: RwLock<State>,
    staleness_max: Duration,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    Valid,
    Revoked,
    /// The feed has not been read recently enough to tell.
    Unknown,
}

impl RevocationList {
    pub fn new(staleness_max_ms: u64) -> Self {
        Self {
            state: RwLock::new(State::default()),
            staleness_max: Duration::from_millis(staleness_max_ms),
        }
    }

    /// Whether a token of session `session_id` still stands.
    pub fn standing(&self, session_id: &str) -> Standing {
        let Ok(state) = self.state.read() else { return Standing::Unknown };
        if state.read_at.is_none_or(|read_at| read_at.elapsed() > self.staleness_max) {
            return Standing::Unknown;
        }
        if state.revoked.contains_key(session_id) {
            Standing::Revoked
        } else {
            Standing::Valid
        }
    }

    /// Whether the feed has been read completely at least once (readiness: a replica
    /// that never read it would refuse every signed-in request). A feed that went stale
    /// later does not make the replica unready: every replica would go unready together
    /// and clients would get connection errors instead of `SERVICE_UNAVAILABLE`.
    pub fn has_been_read(&self) -> bool {
        self.state.read().is_ok_and(|state| state.read_at.is_some())
    }

    fn since_ms(&self) -> i64 {
        self.state.read().map(|state| state.since_ms).unwrap_or(0)
    }

    fn apply(&self, page: FeedPage, now_ms: i64) {
        let Ok(mut state) = self.state.write() else { return };
        let last_revoked_at_ms = page.revocations.last().map(|entry| entry.revoked_at_ms);
        for entry in page.revocations {
            state.revoked.insert(entry.session_id, entry.expires_at_ms);
        }
        state.revoked.retain(|_, expires_at_ms| *expires_at_ms > now_ms);
        if page.complete {
            state.since_ms = page.now_ms.saturating_sub(OVERLAP_MS);
            state.read_at = Some(Instant::now());
        } else if let Some(last) = last_revoked_at_ms {
            state.since_ms = last;
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedEntry {
    session_id: String,
    revoked_at_ms: i64,
    expires_at_ms: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedPage {
    revocations: Vec<FeedEntry>,
    complete: bool,
    now_ms: i64,
}

/// Reads auth's feed into a [`RevocationList`].
pub struct RevocationFollower {
    list: Arc<RevocationList>,
    url: String,
    http: reqwest::Client,
    signer: InternalTokenSigner,
    poll_interval: Duration,
}

impl RevocationFollower {
    pub fn new(
        list: Arc<RevocationList>,
        url: String,
        signer: InternalTokenSigner,
        config: &RevocationConfig,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.fetch_timeout_ms))
            .build()?;
        Ok(Self {
            list,
            url,
            http,
            signer,
            poll_interval: Duration::from_millis(config.poll_interval_ms),
        })
    }

    /// Reads the feed until it is complete (at most a few pages: one normally).
    pub async fn poll(&self) -> anyhow::Result<()> {
        for _ in 0..100 {
            let since_ms = self.list.since_ms();
            let request_id = format!("revocations-{}", uuid::Uuid::now_v7().simple());
            let token = self.signer.sign(&Principal::service(ROUTER_ISSUER, request_id))?;
            let response = self
                .http
                .get(&self.url)
                .query(&[("sinceMs", since_ms)])
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?;
            let page: FeedPage = response.json().await?;
            let complete = page.complete;
            self.list.apply(page, c9pay_platform::time::now_ms());
            if complete {
                return Ok(());
            }
        }
        anyhow::bail!("the revocation feed did not complete in 100 pages")
    }

    /// Polls forever (a background task).
    pub async fn run(self) {
        let mut interval = tokio::time::interval(self.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            interval.tick().await;
            match self.poll().await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("reading auth's revocation feed again");
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(error = %format!("{error:#}"), "cannot read auth's revocation feed");
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(entries: &[(&str, i64, i64)], complete: bool, now_ms: i64) -> FeedPage {
        FeedPage {
            revocations: entries
                .iter()
                .map(|(session_id, revoked_at_ms, expires_at_ms)| FeedEntry {
                    session_id: session_id.to_string(),
                    revoked_at_ms: *revoked_at_ms,
                    expires_at_ms: *expires_at_ms,
                })
                .collect(),
            complete,
            now_ms,
        }
    }

    #[test]
    fn nothing_stands_until_the_feed_has_been_read() {
        let list = RevocationList::new(10_000);
        assert_eq!(list.standing("ses_a"), Standing::Unknown);
        list.apply(page(&[("ses_a", 100, 5_000)], true, 1_000), 1_000);
        assert_eq!(list.standing("ses_a"), Standing::Revoked);
        assert_eq!(list.standing("ses_b"), Standing::Valid);
        assert_eq!(list.since_ms(), 1_000 - OVERLAP_MS);
    }

    #[test]
    fn lapsed_entries_are_forgotten_and_an_incomplete_page_continues_from_its_last_entry() {
        let list = RevocationList::new(10_000);
        list.apply(page(&[("ses_a", 100, 2_000), ("ses_b", 150, 9_000)], false, 1_000), 1_000);
        assert_eq!(list.since_ms(), 150);
        assert_eq!(list.standing("ses_a"), Standing::Unknown, "not complete yet");
        list.apply(page(&[("ses_c", 200, 9_000)], true, 3_000), 3_000);
        assert_eq!(list.standing("ses_a"), Standing::Valid, "its tokens have all expired");
        assert_eq!(list.standing("ses_b"), Standing::Revoked);
        assert_eq!(list.standing("ses_c"), Standing::Revoked);
    }
}
