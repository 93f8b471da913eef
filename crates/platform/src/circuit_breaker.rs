//! Circuit breakers: one per downstream a process calls (each subgraph in the router;
//! credit and auth in stores; auth and users in credit; users in auth). A breaker stops sending NEW calls to a
//! downstream that keeps failing, so that callers get an answer at once instead of each
//! waiting out its own time-out, and the downstream gets room to recover.
//!
//! - **Closed**: calls pass. `consecutive_failures_max` failures in a row (no usable
//!   answer: refused connection, time-out, 5xx) open it; any success resets the count.
//! - **Open**: calls are refused at once with the time left ([`Refused::retry_after`]),
//!   for `cool_down_ms`.
//! - **Half-open**: after the cool-down, one call at a time goes through as a probe. A
//!   success closes the breaker, a failure opens it for another cool-down. A probe that
//!   never reports (its caller went away) gives its place to a new one after a cool-down.
//!
//! A breaker only decides whether a call may START. What a call that was sent and never
//! answered means is the caller's business, and for money it is never "failed": stores
//! keeps such a sale pending and settles it when the client retries with the same
//! idempotency key (see `subgraphs/stores/src/sales.rs`).
//!
//! The state of every breaker is a Prometheus gauge, `c9pay_circuit_breaker_state
//! {dependency}` (0 closed, 1 half-open, 2 open; `service` names the caller), with
//! `c9pay_circuit_breaker_transitions_total{dependency,state}` counting changes and
//! `c9pay_circuit_breaker_refusals_total{dependency}` the calls refused while open.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use serde::Deserialize;

use crate::metrics::Metrics;

/// Default of [`CircuitBreakerConfig::consecutive_failures_max`].
pub const CONSECUTIVE_FAILURES_MAX_DEFAULT: u32 = 5;
/// Default of [`CircuitBreakerConfig::cool_down_ms`].
pub const COOL_DOWN_MS_DEFAULT: u64 = 10_000;

/// How a breaker opens and for how long.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Failures or time-outs in a row that open the breaker; 0 turns the breaker off
    /// (it never opens). Default 5.
    #[serde(default = "default_consecutive_failures_max")]
    pub consecutive_failures_max: u32,
    /// How long an open breaker refuses calls before it lets one probe through.
    /// Default 10000.
    #[serde(default = "default_cool_down_ms")]
    pub cool_down_ms: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures_max: CONSECUTIVE_FAILURES_MAX_DEFAULT,
            cool_down_ms: COOL_DOWN_MS_DEFAULT,
        }
    }
}

fn default_consecutive_failures_max() -> u32 {
    CONSECUTIVE_FAILURES_MAX_DEFAULT
}

fn default_cool_down_ms() -> u64 {
    COOL_DOWN_MS_DEFAULT
}

/// The state a breaker is in, as the gauge reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half_open",
            Self::Open => "open",
        }
    }

    fn gauge_value(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }
}

/// A call the breaker refused: the dependency failed too often, try again later.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{dependency} is failing; calls to it are paused for {} ms", retry_after.as_millis())]
pub struct Refused {
    pub dependency: String,
    /// How long until the breaker lets a probe through.
    pub retry_after: Duration,
}

impl Refused {
    /// `retry_after` in whole seconds, rounded up and at least 1 (for `Retry-After`).
    pub fn retry_after_s(&self) -> u64 {
        let whole = self.retry_after.as_secs();
        let rounded = if self.retry_after.subsec_nanos() > 0 { whole.saturating_add(1) } else { whole };
        rounded.max(1)
    }
}

#[derive(Debug)]
enum Inner {
    Closed { consecutive_failures: u32 },
    Open { until: Instant },
    /// A probe went through at `probe_started`; others wait for its outcome.
    HalfOpen { probe_started: Instant },
}

impl Inner {
    fn state(&self) -> BreakerState {
        match self {
            Self::Closed { .. } => BreakerState::Closed,
            Self::Open { .. } => BreakerState::Open,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// One breaker, for one dependency of this process. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    dependency: String,
    config: CircuitBreakerConfig,
    inner: Mutex<Inner>,
    metrics: Option<BreakerMetrics>,
}

impl CircuitBreaker {
    /// A closed breaker for `dependency`, reporting to `metrics` when given.
    pub fn new(
        dependency: impl Into<String>,
        config: CircuitBreakerConfig,
        metrics: Option<&BreakerMetrics>,
    ) -> Self {
        let dependency = dependency.into();
        if let Some(metrics) = metrics {
            metrics.set_state(&dependency, BreakerState::Closed);
        }
        Self {
            shared: Arc::new(Shared {
                dependency,
                config,
                inner: Mutex::new(Inner::Closed { consecutive_failures: 0 }),
                metrics: metrics.cloned(),
            }),
        }
    }

    pub fn dependency(&self) -> &str {
        &self.shared.dependency
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state()
    }

    /// Whether a call may start now.
    pub fn admit(&self) -> Result<(), Refused> {
        self.admit_at(Instant::now())
    }

    /// Refuses only while the breaker is open and cooling down; never starts a probe nor
    /// takes a probe's place. For a call that belongs to a request [`Self::admit`]
    /// already let through (the router's fetches of an admitted plan).
    pub fn check(&self) -> Result<(), Refused> {
        let now = Instant::now();
        match *self.lock() {
            Inner::Open { until } if now < until => Err(Refused {
                dependency: self.shared.dependency.clone(),
                retry_after: until.saturating_duration_since(now),
            }),
            _ => Ok(()),
        }
    }

    /// The call that was admitted got a usable answer (a refusal with a code counts:
    /// the dependency is alive).
    pub fn record_success(&self) {
        let mut inner = self.lock();
        let previous = inner.state();
        *inner = Inner::Closed { consecutive_failures: 0 };
        drop(inner);
        self.changed(previous, BreakerState::Closed);
    }

    /// The call that was admitted got no usable answer (refused connection, time-out,
    /// 5xx).
    pub fn record_failure(&self) {
        self.record_failure_at(Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cool_down(&self) -> Duration {
        Duration::from_millis(self.shared.config.cool_down_ms)
    }

    fn admit_at(&self, now: Instant) -> Result<(), Refused> {
        let mut inner = self.lock();
        let previous = inner.state();
        let refused = |until: Instant| Refused {
            dependency: self.shared.dependency.clone(),
            retry_after: until.saturating_duration_since(now),
        };
        let outcome = match *inner {
            Inner::Closed { .. } => Ok(()),
            Inner::Open { until } if now < until => Err(refused(until)),
            // The cool-down is over: this call is the probe.
            Inner::Open { .. } => {
                *inner = Inner::HalfOpen { probe_started: now };
                Ok(())
            }
            Inner::HalfOpen { probe_started } => {
                let lost_at = probe_started + self.cool_down();
                if now < lost_at {
                    Err(refused(lost_at))
                } else {
                    // The probe never reported back; let another one try.
                    *inner = Inner::HalfOpen { probe_started: now };
                    Ok(())
                }
            }
        };
        let current = inner.state();
        drop(inner);
        self.changed(previous, current);
        if outcome.is_err()
            && let Some(metrics) = &self.shared.metrics
        {
            metrics.refusals.with_label_values(&[self.shared.dependency.as_str()]).inc();
        }
        outcome
    }

    fn record_failure_at(&self, now: Instant) {
        let failures_max = self.shared.config.consecutive_failures_max;
        let mut inner = self.lock();
        let previous = inner.state();
        let open = Inner::Open { until: now + self.cool_down() };
        *inner = match *inner {
            Inner::Closed { consecutive_failures } => {
                let consecutive_failures = consecutive_failures.saturating_add(1);
                if failures_max > 0 && consecutive_failures >= failures_max {
                    open
                } else {
                    Inner::Closed { consecutive_failures }
                }
            }
            // A failed probe opens it again; so does a late failure of a call admitted
            // before the breaker opened (it only moves the end of the cool-down).
            Inner::HalfOpen { .. } | Inner::Open { .. } => open,
        };
        let current = inner.state();
        drop(inner);
        self.changed(previous, current);
    }

    fn changed(&self, previous: BreakerState, current: BreakerState) {
        if previous == current {
            return;
        }
        let dependency = self.shared.dependency.as_str();
        match current {
            BreakerState::Open => tracing::warn!(dependency, from = previous.as_str(), "circuit breaker opened"),
            BreakerState::HalfOpen => tracing::info!(dependency, "circuit breaker half-open: probing"),
            BreakerState::Closed => tracing::info!(dependency, from = previous.as_str(), "circuit breaker closed"),
        }
        if let Some(metrics) = &self.shared.metrics {
            metrics.set_state(dependency, current);
            metrics.transitions.with_label_values(&[dependency, current.as_str()]).inc();
        }
    }
}

/// The breaker metrics of one process part (registered once in its registry).
#[derive(Clone, Debug)]
pub struct BreakerMetrics {
    state: IntGaugeVec,
    transitions: IntCounterVec,
    refusals: IntCounterVec,
}

impl BreakerMetrics {
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let state = IntGaugeVec::new(
            Opts::new(
                "circuit_breaker_state",
                "State of the circuit breaker in front of each dependency: 0 closed, 1 half-open, 2 open",
            ),
            &["dependency"],
        )?;
        let transitions = IntCounterVec::new(
            Opts::new(
                "circuit_breaker_transitions_total",
                "Circuit breaker state changes, by dependency and the state entered",
            ),
            &["dependency", "state"],
        )?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "circuit_breaker_refusals_total",
                "Calls refused at once because the dependency's circuit breaker was open",
            ),
            &["dependency"],
        )?;
        metrics.registry().register(Box::new(state.clone()))?;
        metrics.registry().register(Box::new(transitions.clone()))?;
        metrics.registry().register(Box::new(refusals.clone()))?;
        Ok(Self { state, transitions, refusals })
    }

    fn set_state(&self, dependency: &str, state: BreakerState) {
        self.state.with_label_values(&[dependency]).set(state.gauge_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(consecutive_failures_max: u32) -> CircuitBreaker {
        CircuitBreaker::new(
            "credit",
            CircuitBreakerConfig { consecutive_failures_max, cool_down_ms: 1_000 },
            None,
        )
    }

    #[test]
    fn consecutive_failures_open_the_breaker_and_a_success_in_between_resets_the_count() {
        let breaker = breaker(3);
        let now = Instant::now();
        breaker.record_failure_at(now);
        breaker.record_failure_at(now);
        breaker.record_success();
        breaker.record_failure_at(now);
        breaker.record_failure_at(now);
        assert_eq!(breaker.state(), BreakerState::Closed, "two in a row since the success");
        assert_eq!(breaker.admit_at(now), Ok(()));
        breaker.record_failure_at(now);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn an_open_breaker_refuses_calls_with_the_time_left_until_its_probe() {
        let breaker = breaker(1);
        let now = Instant::now();
        breaker.record_failure_at(now);
        let refused = breaker.admit_at(now + Duration::from_millis(400));
        let Err(refused) = refused else { panic!("an open breaker let a call through") };
        assert_eq!(refused.retry_after, Duration::from_millis(600));
        assert_eq!(refused.retry_after_s(), 1, "rounded up to whole seconds");
        assert_eq!(refused.dependency, "credit");
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_breaker() {
        let breaker = breaker(1);
        let now = Instant::now();
        breaker.record_failure_at(now);
        let later = now + Duration::from_millis(1_000);
        assert_eq!(breaker.admit_at(later), Ok(()), "the probe");
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.admit_at(later).is_err(), "only one probe at a time");
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.admit_at(later), Ok(()));
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_for_another_cool_down() {
        let breaker = breaker(1);
        let now = Instant::now();
        breaker.record_failure_at(now);
        let probe_at = now + Duration::from_millis(1_000);
        assert_eq!(breaker.admit_at(probe_at), Ok(()));
        breaker.record_failure_at(probe_at);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.admit_at(probe_at + Duration::from_millis(999)).is_err());
        assert_eq!(breaker.admit_at(probe_at + Duration::from_millis(1_000)), Ok(()));
    }

    #[test]
    fn a_probe_that_never_reports_gives_way_to_another_after_a_cool_down() {
        let breaker = breaker(1);
        let now = Instant::now();
        breaker.record_failure_at(now);
        let probe_at = now + Duration::from_millis(1_000);
        assert_eq!(breaker.admit_at(probe_at), Ok(()));
        assert!(breaker.admit_at(probe_at + Duration::from_millis(500)).is_err());
        assert_eq!(breaker.admit_at(probe_at + Duration::from_millis(1_000)), Ok(()));
    }

    #[test]
    fn a_breaker_with_no_failure_limit_never_opens() {
        let breaker = breaker(0);
        let now = Instant::now();
        for _ in 0..100 {
            breaker.record_failure_at(now);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn the_state_gauge_and_transitions_follow_the_breaker() -> anyhow::Result<()> {
        let metrics = Metrics::new("stores")?;
        let breaker_metrics = BreakerMetrics::register(&metrics)?;
        let breaker = CircuitBreaker::new(
            "credit",
            CircuitBreakerConfig { consecutive_failures_max: 1, cool_down_ms: 1_000 },
            Some(&breaker_metrics),
        );
        assert!(metrics.render().contains("c9pay_circuit_breaker_state{dependency=\"credit\",service=\"stores\"} 0"));
        let now = Instant::now();
        breaker.record_failure_at(now);
        let _ = breaker.admit_at(now);
        let text = metrics.render();
        assert!(text.contains("c9pay_circuit_breaker_state{dependency=\"credit\",service=\"stores\"} 2"), "{text}");
        assert!(text.contains("c9pay_circuit_breaker_transitions_total{dependency=\"credit\",state=\"open\",service=\"stores\"} 1"), "{text}");
        assert!(text.contains("c9pay_circuit_breaker_refusals_total{dependency=\"credit\",service=\"stores\"} 1"), "{text}");
        Ok(())
    }
}
