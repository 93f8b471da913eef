//! Rate limits: how often one client address, or one principal, may call a root field
//! (log-in, sign-up, payment codes, payments), with the generic cell rate algorithm
//! (GCRA, as in ATM networks and `governor`).
//!
//! A quota of `n` requests per `period` allows a burst of `n` and then one request every
//! `period / n`. For each key the limiter keeps one number, the theoretical arrival time
//! (TAT) of the next request if the key sent exactly at the allowed rate: a request at
//! `now` is allowed when `TAT - now <= period - period / n`, and then moves TAT on by
//! `period / n`. So memory is one integer per active key and the check is O(1); a key
//! whose TAT has passed holds no information and is forgotten.
//!
//! The state is in this router's memory: with `r` replicas behind a load balancer a client
//! can get up to `r` times the quota. That is the usual trade (no shared store on the hot
//! path); the limits are set with it in mind.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::config::{Quota, RateLimitConfig};

/// Who a quota is counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The client's address.
    Address(IpAddr),
    /// The principal's id (user or kiosk) from its credential.
    Principal(String),
}

impl Subject {
    /// The metrics label of this kind of subject.
    pub fn scope(&self) -> &'static str {
        match self {
            Self::Address(_) => "ip",
            Self::Principal(_) => "principal",
        }
    }
}

/// A refusal: wait this long before the next request can pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

impl Refused {
    /// Whole seconds, rounded up, for `Retry-After`: never tell a client 0.
    pub fn retry_after_s(&self) -> u64 {
        let millis = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
        millis.div_ceil(1_000).max(1)
    }
}

/// The limiter of one router: a quota per (field, subject kind), TATs per key.
pub struct RateLimiter {
    /// `(root type, field)` → (per address, per principal).
    rules: HashMap<(String, String), (Option<Quota>, Option<Quota>)>,
    /// TAT of each (field, subject), as an offset from `epoch`.
    cells: Mutex<HashMap<(String, String, Subject), Duration>>,
    epoch: Instant,
    keys_max: usize,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        let rules = config
            .fields
            .iter()
            .filter_map(|(field, rule)| {
                let (type_name, field_name) = field.split_once('.')?;
                Some(((type_name.to_string(), field_name.to_string()), (rule.per_ip, rule.per_principal)))
            })
            .collect();
        Self {
            rules,
            cells: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            keys_max: config.keys_max,
        }
    }

    /// Whether the operation's root fields are limited at all (most are not, and then the
    /// limiter's lock is never taken).
    pub fn limits(&self, root_type: &str, field: &str) -> bool {
        self.rules
            .contains_key(&(root_type.to_string(), field.to_string()))
    }

    /// Counts one call of `root_type.field` against `subject`, at `now`.
    pub fn check(&self, root_type: &str, field: &str, subject: &Subject, now: Instant) -> Result<(), Refused> {
        let key = (root_type.to_string(), field.to_string());
        let Some((per_ip, per_principal)) = self.rules.get(&key) else {
            return Ok(());
        };
        let quota = match subject {
            Subject::Address(_) => per_ip,
            Subject::Principal(_) => per_principal,
        };
        let Some(quota) = quota else {
            return Ok(());
        };
        let now = now.saturating_duration_since(self.epoch);
        let interval = quota.interval();
        let tolerance = quota.period().saturating_sub(interval);
        // A poisoned lock only means another request panicked while holding it; the map
        // is still a map of numbers.
        let mut cells = self.cells.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cells.len() >= self.keys_max {
            cells.retain(|_, tat| *tat > now);
        }
        let cell = (key.0, key.1, subject.clone());
        let tat = cells.get(&cell).copied().unwrap_or(now).max(now);
        let ahead = tat.saturating_sub(now);
        if ahead > tolerance {
            return Err(Refused {
                retry_after: ahead.saturating_sub(tolerance),
            });
        }
        if cells.len() < self.keys_max || cells.contains_key(&cell) {
            cells.insert(cell, tat.saturating_add(interval));
        } else {
            // Full of keys that are all still limited: a flood from many addresses. The
            // request passes uncounted rather than evicting a limited key (which would
            // reset the limit of exactly the keys under attack).
            tracing::warn!(keys = cells.len(), "rate limiter full; a new key passes uncounted");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::RateLimitRule;

    fn limiter(per_ip: Option<Quota>, per_principal: Option<Quota>, keys_max: usize) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            trust_forwarded_for: false,
            keys_max,
            fields: BTreeMap::from([("Mutation.logIn".to_string(), RateLimitRule { per_ip, per_principal })]),
        })
    }

    fn address(last: u8) -> Subject {
        Subject::Address(IpAddr::from([192, 0, 2, last]))
    }

    const FIVE_PER_MINUTE: Quota = Quota { requests: 5, period_s: 60 };

    #[test]
    fn a_burst_of_the_quota_passes_then_one_per_interval() {
        let limiter = limiter(Some(FIVE_PER_MINUTE), None, 100);
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.check("Mutation", "logIn", &address(1), start), Ok(()));
        }
        let refused = limiter.check("Mutation", "logIn", &address(1), start);
        assert_eq!(refused, Err(Refused { retry_after: Duration::from_secs(12) }));
        assert_eq!(refused.map_err(|refused| refused.retry_after_s()), Err(12));
        // Another address has its own quota; another field is not limited.
        assert_eq!(limiter.check("Mutation", "logIn", &address(2), start), Ok(()));
        assert_eq!(limiter.check("Mutation", "signUp", &address(1), start), Ok(()));
        // One interval later exactly one more passes.
        let later = start + Duration::from_secs(12);
        assert_eq!(limiter.check("Mutation", "logIn", &address(1), later), Ok(()));
        assert!(limiter.check("Mutation", "logIn", &address(1), later).is_err());
        // After a whole period of silence the full burst is back.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..5 {
            assert_eq!(limiter.check("Mutation", "logIn", &address(1), much_later), Ok(()));
        }
    }

    #[test]
    fn refused_requests_do_not_push_the_limit_further_out() {
        let limiter = limiter(Some(FIVE_PER_MINUTE), None, 100);
        let start = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check("Mutation", "logIn", &address(1), start).is_ok());
        }
        for _ in 0..100 {
            assert!(limiter.check("Mutation", "logIn", &address(1), start).is_err());
        }
        assert!(limiter.check("Mutation", "logIn", &address(1), start + Duration::from_secs(12)).is_ok());
    }

    #[test]
    fn principals_and_addresses_have_their_own_quotas() {
        let one_per_minute = Quota { requests: 1, period_s: 60 };
        let limiter = limiter(None, Some(one_per_minute), 100);
        let now = Instant::now();
        let ada = Subject::Principal("usr_ada".to_string());
        assert!(limiter.check("Mutation", "logIn", &ada, now).is_ok());
        assert!(limiter.check("Mutation", "logIn", &ada, now).is_err());
        assert!(limiter.check("Mutation", "logIn", &Subject::Principal("usr_grace".to_string()), now).is_ok());
        // No per-address quota configured: addresses are not limited.
        for _ in 0..10 {
            assert!(limiter.check("Mutation", "logIn", &address(1), now).is_ok());
        }
    }

    #[test]
    fn a_full_limiter_forgets_expired_keys_and_never_frees_a_limited_one() {
        let one_per_minute = Quota { requests: 1, period_s: 60 };
        let limiter = limiter(Some(one_per_minute), None, 2);
        let start = Instant::now();
        assert!(limiter.check("Mutation", "logIn", &address(1), start).is_ok());
        assert!(limiter.check("Mutation", "logIn", &address(2), start).is_ok());
        // Full: a third address passes uncounted, and the limited ones stay limited.
        assert!(limiter.check("Mutation", "logIn", &address(3), start).is_ok());
        assert!(limiter.check("Mutation", "logIn", &address(1), start).is_err());
        assert!(limiter.check("Mutation", "logIn", &address(2), start).is_err());
        // Once their time has passed, the old keys are dropped and new ones are counted.
        let later = start + Duration::from_secs(61);
        assert!(limiter.check("Mutation", "logIn", &address(3), later).is_ok());
        assert!(limiter.check("Mutation", "logIn", &address(3), later).is_err());
    }
}
