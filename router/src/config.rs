//! Configuration of the router (`C9PAY_ROUTER__…`): where the supergraph is, where each
//! subgraph listens, how to verify the access tokens auth issues, the key the router signs
//! internal tokens with, and the limits every request is held to.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use c9pay_platform::{circuit_breaker::CircuitBreakerConfig, config::Secret, telemetry::TelemetryConfig};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Address to listen on. Default `0.0.0.0:8080`.
    #[serde(default = "default_listen_address")]
    pub listen_address: String,
    /// The composed supergraph. Default `schema/supergraph.graphql`.
    #[serde(default = "default_supergraph_path")]
    pub supergraph_path: PathBuf,
    /// Who may call the router and what it tells the subgraphs: `authenticated` (the
    /// default, and the only mode c9pay runs in) or `open` (see [`Access`]).
    #[serde(default)]
    pub access: Access,
    /// Subgraph name → base URL, e.g. `auth = "http://auth:8080"`; the router posts to
    /// `<base URL>/graphql`. With `access = "authenticated"` every subgraph of the
    /// supergraph must be named here (the URLs written into the supergraph file are never
    /// used). With `access = "open"` a subgraph not named here is called at the URL the
    /// supergraph gives it. No default.
    #[serde(default)]
    pub subgraph_urls: BTreeMap<String, String>,
    /// Where auth publishes the keys that verify access tokens, e.g.
    /// `http://auth:8080/.well-known/jwks.json`. Required, except with `access = "open"`,
    /// which refuses it. No default.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Base64 of the router's 32-byte Ed25519 seed; every subgraph trusts its public key
    /// under the issuer name `router`. Required, except with `access = "open"`, which
    /// refuses it. No default.
    #[serde(default)]
    pub internal_signing_key: Option<Secret<String>>,
    /// What access tokens must say about themselves.
    #[serde(default)]
    pub access_tokens: AccessTokenConfig,
    /// Root fields a request without an access token may select, as `Type.field`.
    /// Default `["Mutation.signUp", "Mutation.logIn", "Mutation.refreshSession",
    /// "Mutation.issueKioskToken"]` (a refresh token and a kiosk's proof of possession
    /// are checked by auth itself). Introspection (`__schema`,
    /// `__type`) and `__typename` are always allowed.
    #[serde(default = "default_anonymous_root_fields")]
    pub anonymous_root_fields: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    /// Following auth's revocation feed.
    #[serde(default)]
    pub revocations: RevocationConfig,
    /// Kiosk requests' DPoP proofs.
    #[serde(default)]
    pub dpop: DpopConfig,
    /// Scopes each kind of principal holds, for `@requiresScopes`. Default: users
    /// `["user"]`, kiosks `["kiosk"]`, admins `["admin"]`.
    #[serde(default)]
    pub scopes: ScopesConfig,
    /// How often a client address or a principal may call the sensitive root fields.
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    /// Web origins other than the router's own that may call `/graphql` from a browser
    /// (CORS), e.g. `["https://shop.example.com"]`. The web clients are served by the
    /// router itself and need none. Default none: browsers refuse cross-origin calls.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// Whether pages of the router's own origin (the web clients) may send only the
    /// documents of the embedded trusted-documents manifest: `enforce` (default) or
    /// `allow` (any document; `documentId` still looks one up).
    #[serde(default)]
    pub trusted_documents: crate::pipeline::trusted_documents::Mode,
    /// The circuit breaker in front of each subgraph (one per subgraph, all with these
    /// settings): after `consecutive_failures_max` fetches in a row without a usable
    /// answer (time-out, refused connection), requests that need the subgraph are refused
    /// at once (`SERVICE_UNAVAILABLE`, HTTP 503 with `Retry-After`) for `cool_down_ms`,
    /// then one request probes it. Defaults 5 and 10000.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    /// Trace export (OTLP). Default: none.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Whether identical query fetches in flight at once — same subgraph, same internal
    /// credential (so the same principal), same document and variables — share one fetch.
    /// Mutations and subscriptions never share. Default true.
    #[serde(default = "default_deduplicate_queries")]
    pub deduplicate_queries: bool,
    /// Upstream WebSocket connections per subgraph that subscriptions share (each opened
    /// with the router's own credential; every subscription sends its principal's in its
    /// `subscribe` message). `0` gives every subscription a connection of its own, as
    /// the router did before (for comparison in benchmarks). Default 64: a subgraph's
    /// WebSocket server polls every subscription of a connection when one of them wakes,
    /// so 50,000 subscribers connected in 31 s over 64 connections against 94 s over 16,
    /// with the same commit → event latency (loadtests/RESULTS.md).
    #[serde(default = "default_shared_subscription_connections")]
    pub shared_subscription_connections: u64,
}

fn default_deduplicate_queries() -> bool {
    true
}

/// Who may call the router (`access`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// c9pay's own mode: clients prove who they are with auth's access tokens (or ask
    /// only for the anonymous root fields), and every subgraph fetch carries an internal
    /// token the router signs for the principal.
    #[default]
    Authenticated,
    /// A plain federation gateway, for benchmarking the router on other people's
    /// supergraphs (the public gateways benchmark): no client is authenticated, every
    /// request runs as anonymous (fields the supergraph marks `@authenticated` or
    /// `@requiresScopes` are still refused), subgraphs are called at the supergraph's
    /// own URLs with no credential, and no session endpoints are served. c9pay's
    /// subgraphs refuse such calls (they require an internal token). Refused unless set
    /// explicitly, refused together with `jwks_url` or `internal_signing_key`, logged as
    /// a warning at start; never used by `c9pay up` or the Kubernetes manifests.
    Open,
}

fn default_shared_subscription_connections() -> u64 {
    64
}

/// Rate limits (`RATE_LIMITED`, HTTP 429 with `Retry-After`), counted in this replica's
/// memory: with `r` replicas a client can get up to `r` times a quota.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Count per address the rightmost `X-Forwarded-For` entry (the one the proxy in front
    /// of the router appended) instead of the peer address. Only true behind a proxy that
    /// appends it; otherwise a client could name any address. Default false.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// Most keys (field × address or principal) tracked; keys whose limit has passed are
    /// forgotten first. Default 100000.
    #[serde(default = "default_rate_limit_keys_max")]
    pub keys_max: usize,
    /// `Type.field` → quotas. Default: `Mutation.logIn` 10/min per address;
    /// `Mutation.signUp` 20/h per address; `Mutation.issuePaymentCode` and
    /// `Mutation.payRequest` 30/min per principal and 120/min per address; `Mutation.sell`
    /// 300/min per principal; `Query.findPerson` 20/min per principal and 120/min per
    /// address; `Mutation.refreshSession` and `Mutation.issueKioskToken`
    /// 60/min per address; `Admin.logIn` (the router's `POST /admin/log-in`) 5/min per
    /// address. Each alias of a field counts as a call.
    #[serde(default = "default_rate_limit_fields")]
    pub fields: BTreeMap<String, RateLimitRule>,
}

/// The quotas of one root field; a missing one is not limited.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    #[serde(default)]
    pub per_ip: Option<Quota>,
    #[serde(default)]
    pub per_principal: Option<Quota>,
}

/// `requests` at once, then `requests` per `period_s` evenly spread.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub requests: u32,
    pub period_s: u32,
}

impl Quota {
    pub fn period(&self) -> Duration {
        Duration::from_secs(u64::from(self.period_s))
    }

    /// The steady spacing of requests: `period / requests`.
    pub fn interval(&self) -> Duration {
        self.period() / self.requests.max(1)
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            trust_forwarded_for: false,
            keys_max: default_rate_limit_keys_max(),
            fields: default_rate_limit_fields(),
        }
    }
}

/// How the router learns which sessions ended (see `revocations`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationConfig {
    /// Auth's revocation feed. Default: `<subgraph_urls.auth>/internal/revocations`.
    #[serde(default)]
    pub feed_url: Option<String>,
    /// How often the feed is read: the usual delay between a log-out and the router
    /// refusing its tokens. Default 1000.
    #[serde(default = "default_revocation_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Time-out of one read. Default 3000.
    #[serde(default = "default_jwks_fetch_timeout_ms")]
    pub fetch_timeout_ms: u64,
    /// With no complete read for this long, signed-in requests are refused
    /// (`SERVICE_UNAVAILABLE`): the most a revocation can go unnoticed. Default 10000.
    #[serde(default = "default_revocation_staleness_max_ms")]
    pub staleness_max_ms: u64,
}

/// What a kiosk request's DPoP proof must satisfy.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopConfig {
    /// The URL clients reach the GraphQL endpoint at, which proofs must name as `htu`,
    /// e.g. `https://pay.example.com/graphql` behind a TLS-terminating proxy. Default:
    /// `http://<Host header>/graphql`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Oldest `iat` accepted, in seconds before now. Default 60.
    #[serde(default = "default_proof_age_max_s")]
    pub proof_age_max_s: i64,
    /// Newest `iat` accepted, in seconds after now (clock skew). Default 5.
    #[serde(default = "default_proof_future_max_s")]
    pub proof_future_max_s: i64,
    /// Most proof ids remembered (to refuse replays) at once. Default 1000000.
    #[serde(default = "default_replay_cache_size_max")]
    pub replay_cache_size_max: u64,
}

/// The scopes of each principal kind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopesConfig {
    #[serde(default = "default_user_scopes")]
    pub user: Vec<String>,
    #[serde(default = "default_kiosk_scopes")]
    pub kiosk: Vec<String>,
    #[serde(default = "default_admin_scopes")]
    pub admin: Vec<String>,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        Self {
            feed_url: None,
            poll_interval_ms: default_revocation_poll_interval_ms(),
            fetch_timeout_ms: default_jwks_fetch_timeout_ms(),
            staleness_max_ms: default_revocation_staleness_max_ms(),
        }
    }
}

fn default_rate_limit_keys_max() -> usize {
    100_000
}

fn default_rate_limit_fields() -> BTreeMap<String, RateLimitRule> {
    let quota = |requests, period_s| Some(Quota { requests, period_s });
    [
        ("Mutation.logIn", RateLimitRule { per_ip: quota(10, 60), per_principal: None }),
        ("Mutation.signUp", RateLimitRule { per_ip: quota(20, 3_600), per_principal: None }),
        ("Mutation.issuePaymentCode", RateLimitRule { per_ip: quota(120, 60), per_principal: quota(30, 60) }),
        ("Mutation.payRequest", RateLimitRule { per_ip: quota(120, 60), per_principal: quota(30, 60) }),
        ("Mutation.sell", RateLimitRule { per_ip: None, per_principal: quota(300, 60) }),
        // Finding a person by email tells whether the email has an account: bounded, so
        // that it cannot be used to enumerate who uses c9pay.
        ("Query.findPerson", RateLimitRule { per_ip: quota(120, 60), per_principal: quota(20, 60) }),
        // Anonymous ways in besides log-in: a refresh token or a kiosk's proof is checked
        // by auth, but guessing at either is still bounded per address.
        ("Mutation.refreshSession", RateLimitRule { per_ip: quota(60, 60), per_principal: None }),
        ("Mutation.issueKioskToken", RateLimitRule { per_ip: quota(60, 60), per_principal: None }),
        // `POST /admin/log-in` (not a GraphQL field; counted under this name).
        (crate::credentials::admin_session::RATE_LIMIT_FIELD, RateLimitRule { per_ip: quota(5, 60), per_principal: None }),
    ]
    .into_iter()
    .map(|(field, rule)| (field.to_string(), rule))
    .collect()
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            proof_age_max_s: default_proof_age_max_s(),
            proof_future_max_s: default_proof_future_max_s(),
            replay_cache_size_max: default_replay_cache_size_max(),
        }
    }
}

impl Default for ScopesConfig {
    fn default() -> Self {
        Self {
            user: default_user_scopes(),
            kiosk: default_kiosk_scopes(),
            admin: default_admin_scopes(),
        }
    }
}

fn default_revocation_poll_interval_ms() -> u64 {
    1_000
}
fn default_revocation_staleness_max_ms() -> u64 {
    10_000
}
fn default_proof_age_max_s() -> i64 {
    60
}
fn default_proof_future_max_s() -> i64 {
    5
}
fn default_replay_cache_size_max() -> u64 {
    1_000_000
}
fn default_user_scopes() -> Vec<String> {
    vec!["user".to_string()]
}
fn default_kiosk_scopes() -> Vec<String> {
    vec!["kiosk".to_string()]
}
fn default_admin_scopes() -> Vec<String> {
    vec!["admin".to_string()]
}

/// The claims the router requires of an access token (auth's `keys.rs` sets them).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTokenConfig {
    /// Required `iss`. Default `c9pay-auth`.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// Required `aud`. Default `c9pay`.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Clock skew tolerated on `exp`. Default 5.
    #[serde(default = "default_leeway_s")]
    pub leeway_s: u64,
    /// A token signed with a key id the router does not know makes it fetch the JWKS
    /// again, but not more often than this, so that a stream of forged key ids cannot turn
    /// the router into a load generator against auth. Default 10000.
    #[serde(default = "default_jwks_refresh_interval_min_ms")]
    pub jwks_refresh_interval_min_ms: u64,
    /// Time-out of one JWKS fetch. Default 3000.
    #[serde(default = "default_jwks_fetch_timeout_ms")]
    pub jwks_fetch_timeout_ms: u64,
    /// Keys older than this are fetched again on next use, so that a key auth retired
    /// stops verifying without a restart. Default 300000.
    #[serde(default = "default_jwks_cache_age_max_ms")]
    pub jwks_cache_age_max_ms: u64,
    /// Access tokens remembered as verified (by SHA-256 of the token, each until its
    /// `exp` and at most 60 s), so that a token sent again is not verified again.
    /// Default 4096.
    #[serde(default = "default_verified_cache_size_max")]
    pub verified_cache_size_max: u64,
}

/// Every request is held to these; each breach has its own error code.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body (`PAYLOAD_TOO_LARGE`, HTTP 413). Default 65536.
    #[serde(default = "default_body_size_max_bytes")]
    pub body_size_max_bytes: usize,
    /// Most tokens in a GraphQL document (`QUERY_TOO_COMPLEX`). Default 5000, enough for
    /// GraphiQL's introspection query.
    #[serde(default = "default_tokens_max")]
    pub tokens_max: usize,
    /// Deepest field nesting, fragments expanded (`QUERY_TOO_DEEP`). Default 15, enough
    /// for GraphiQL's introspection query (its type references nest 9 deep).
    #[serde(default = "default_depth_max")]
    pub depth_max: usize,
    /// Most aliased fields, fragments expanded (`TOO_MANY_ALIASES`). Default 30.
    #[serde(default = "default_aliases_max")]
    pub aliases_max: usize,
    /// Most fields in the operation with every fragment spread expanded
    /// (`QUERY_TOO_COMPLEX`): what a client can make the router fetch per request.
    /// Default 1000.
    #[serde(default = "default_fields_max")]
    pub fields_max: usize,
    /// Time-out of one subgraph fetch (`SUBGRAPH_TIMEOUT`). Default 10000.
    #[serde(default = "default_subgraph_timeout_ms")]
    pub subgraph_timeout_ms: u64,
    /// Per-subgraph overrides of `subgraph_timeout_ms`, by subgraph name. Default none.
    #[serde(default)]
    pub subgraph_timeouts_ms: BTreeMap<String, u64>,
    /// A whole request, all fetches included, is abandoned after this (HTTP 408).
    /// Default 30000.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Query plans kept in memory, by normalized operation. Default 1024.
    #[serde(default = "default_plan_cache_size_max")]
    pub plan_cache_size_max: usize,
    /// Documents kept parsed, measured and validated (with their plan), by the SHA-256 of
    /// the document and operation name, bounded by the total length of their text; a
    /// document longer than an eighth of this is never kept. Default 2097152.
    #[serde(default = "default_document_cache_text_bytes_max")]
    pub document_cache_text_bytes_max: usize,
    /// Events buffered per subscription for a client that has not read them yet, beyond
    /// a whole replay (the up to 1,000 events credit sends at once to a client that
    /// resumes); a client that falls further behind is disconnected
    /// (`SUBSCRIBER_TOO_SLOW`) and may resume from its last event id. The buffer takes
    /// memory only while events wait in it. Default 64.
    #[serde(default = "default_subscription_buffer_size_max")]
    pub subscription_buffer_size_max: usize,
    /// Messages queued for one WebSocket client before it counts as too slow and is
    /// disconnected (close code 1008). Default 256.
    #[serde(default = "default_websocket_outbound_messages_max")]
    pub websocket_outbound_messages_max: usize,
    /// How long a WebSocket client has to send `connection_init` (close code 4408).
    /// Default 3000, as graphql-ws servers do.
    #[serde(default = "default_websocket_init_timeout_ms")]
    pub websocket_init_timeout_ms: u64,
    /// How long one write to a WebSocket client may take before the connection is
    /// dropped. Default 10000.
    #[serde(default = "default_websocket_write_timeout_ms")]
    pub websocket_write_timeout_ms: u64,
    /// Operations one WebSocket connection may run at once (`TOO_MANY_SUBSCRIPTIONS`).
    /// Default 100.
    #[serde(default = "default_subscriptions_per_connection_max")]
    pub subscriptions_per_connection_max: usize,
}

impl Default for AccessTokenConfig {
    fn default() -> Self {
        Self {
            issuer: default_issuer(),
            audience: default_audience(),
            leeway_s: default_leeway_s(),
            jwks_refresh_interval_min_ms: default_jwks_refresh_interval_min_ms(),
            jwks_fetch_timeout_ms: default_jwks_fetch_timeout_ms(),
            jwks_cache_age_max_ms: default_jwks_cache_age_max_ms(),
            verified_cache_size_max: default_verified_cache_size_max(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_size_max_bytes: default_body_size_max_bytes(),
            tokens_max: default_tokens_max(),
            depth_max: default_depth_max(),
            aliases_max: default_aliases_max(),
            fields_max: default_fields_max(),
            subgraph_timeout_ms: default_subgraph_timeout_ms(),
            subgraph_timeouts_ms: BTreeMap::new(),
            request_timeout_ms: default_request_timeout_ms(),
            plan_cache_size_max: default_plan_cache_size_max(),
            document_cache_text_bytes_max: default_document_cache_text_bytes_max(),
            subscription_buffer_size_max: default_subscription_buffer_size_max(),
            websocket_outbound_messages_max: default_websocket_outbound_messages_max(),
            websocket_init_timeout_ms: default_websocket_init_timeout_ms(),
            websocket_write_timeout_ms: default_websocket_write_timeout_ms(),
            subscriptions_per_connection_max: default_subscriptions_per_connection_max(),
        }
    }
}

impl Limits {
    /// The fetch time-out of `subgraph`.
    pub fn subgraph_timeout_ms(&self, subgraph: &str) -> u64 {
        self.subgraph_timeouts_ms
            .get(subgraph)
            .copied()
            .unwrap_or(self.subgraph_timeout_ms)
    }
}

fn default_listen_address() -> String {
    "0.0.0.0:8080".to_string()
}
fn default_supergraph_path() -> PathBuf {
    PathBuf::from("schema/supergraph.graphql")
}
fn default_anonymous_root_fields() -> Vec<String> {
    [
        "Mutation.signUp",
        "Mutation.logIn",
        "Mutation.refreshSession",
        "Mutation.issueKioskToken",
    ]
    .map(str::to_string)
    .to_vec()
}
fn default_issuer() -> String {
    "c9pay-auth".to_string()
}
fn default_audience() -> String {
    "c9pay".to_string()
}
fn default_leeway_s() -> u64 {
    5
}
fn default_jwks_refresh_interval_min_ms() -> u64 {
    c9pay_platform::jwks::REFRESH_INTERVAL_MIN_MS_DEFAULT
}
fn default_jwks_fetch_timeout_ms() -> u64 {
    c9pay_platform::jwks::FETCH_TIMEOUT_MS_DEFAULT
}
fn default_jwks_cache_age_max_ms() -> u64 {
    c9pay_platform::jwks::CACHE_AGE_MAX_MS_DEFAULT
}
fn default_body_size_max_bytes() -> usize {
    64 * 1024
}
fn default_tokens_max() -> usize {
    5_000
}
fn default_depth_max() -> usize {
    15
}
fn default_aliases_max() -> usize {
    30
}
fn default_fields_max() -> usize {
    1_000
}
fn default_subgraph_timeout_ms() -> u64 {
    10_000
}
fn default_request_timeout_ms() -> u64 {
    30_000
}
fn default_verified_cache_size_max() -> u64 {
    4_096
}
fn default_document_cache_text_bytes_max() -> usize {
    2 * 1024 * 1024
}
fn default_plan_cache_size_max() -> usize {
    1_024
}
fn default_subscription_buffer_size_max() -> usize {
    64
}
fn default_websocket_outbound_messages_max() -> usize {
    256
}
fn default_websocket_init_timeout_ms() -> u64 {
    3_000
}
fn default_websocket_write_timeout_ms() -> u64 {
    10_000
}
fn default_subscriptions_per_connection_max() -> usize {
    100
}

impl RouterConfig {
    /// A configuration with every default, for `c9pay up` and tests.
    pub fn new(
        listen_address: impl Into<String>,
        supergraph_path: impl Into<PathBuf>,
        subgraph_urls: BTreeMap<String, String>,
        jwks_url: impl Into<String>,
        internal_signing_key: Secret<String>,
    ) -> Self {
        Self {
            subgraph_urls,
            jwks_url: Some(jwks_url.into()),
            internal_signing_key: Some(internal_signing_key),
            ..Self::defaults(listen_address.into(), supergraph_path.into())
        }
    }

    /// An `access = "open"` configuration with every other default: a plain gateway in
    /// front of the subgraphs the supergraph names (tests; see [`Access::Open`]).
    pub fn open(listen_address: impl Into<String>, supergraph_path: impl Into<PathBuf>) -> Self {
        Self {
            access: Access::Open,
            ..Self::defaults(listen_address.into(), supergraph_path.into())
        }
    }

    /// Every default: authenticated, but with no subgraph URLs, JWKS or key yet.
    fn defaults(listen_address: String, supergraph_path: PathBuf) -> Self {
        Self {
            listen_address,
            supergraph_path,
            access: Access::Authenticated,
            subgraph_urls: BTreeMap::new(),
            jwks_url: None,
            internal_signing_key: None,
            access_tokens: AccessTokenConfig::default(),
            anonymous_root_fields: default_anonymous_root_fields(),
            limits: Limits::default(),
            revocations: RevocationConfig::default(),
            dpop: DpopConfig::default(),
            scopes: ScopesConfig::default(),
            rate_limits: RateLimitConfig::default(),
            cors_allowed_origins: Vec::new(),
            trusted_documents: crate::pipeline::trusted_documents::Mode::default(),
            circuit_breaker: CircuitBreakerConfig::default(),
            telemetry: TelemetryConfig::default(),
            deduplicate_queries: default_deduplicate_queries(),
            shared_subscription_connections: default_shared_subscription_connections(),
        }
    }

    /// Where auth's revocation feed is.
    pub fn revocation_feed_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.revocations.feed_url {
            return Ok(url.clone());
        }
        let auth = self
            .subgraph_urls
            .get("auth")
            .ok_or_else(|| anyhow::anyhow!("revocations.feed_url is needed when subgraph_urls has no auth"))?;
        Ok(format!("{}/internal/revocations", auth.trim_end_matches('/')))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        match self.access {
            Access::Authenticated => {
                anyhow::ensure!(self.jwks_url.is_some(), "jwks_url is required");
                anyhow::ensure!(self.internal_signing_key.is_some(), "internal_signing_key is required");
                anyhow::ensure!(!self.subgraph_urls.is_empty(), "subgraph_urls is required");
            }
            Access::Open => {
                // A configuration with keys was written for c9pay's own mode: one line
                // must not turn it into an unauthenticated gateway.
                anyhow::ensure!(
                    self.jwks_url.is_none() && self.internal_signing_key.is_none(),
                    "access = \"open\" authenticates no one and signs nothing: it takes no jwks_url or internal_signing_key"
                );
            }
        }
        let limits = &self.limits;
        for (name, value) in [
            ("body_size_max_bytes", limits.body_size_max_bytes),
            ("tokens_max", limits.tokens_max),
            ("depth_max", limits.depth_max),
            ("fields_max", limits.fields_max),
            ("plan_cache_size_max", limits.plan_cache_size_max),
            ("document_cache_text_bytes_max", limits.document_cache_text_bytes_max),
            ("subscription_buffer_size_max", limits.subscription_buffer_size_max),
            ("websocket_outbound_messages_max", limits.websocket_outbound_messages_max),
            ("subscriptions_per_connection_max", limits.subscriptions_per_connection_max),
        ] {
            anyhow::ensure!(value > 0, "limits.{name} must be positive");
        }
        anyhow::ensure!(
            limits.subgraph_timeout_ms > 0
                && limits.request_timeout_ms > 0
                && limits.websocket_init_timeout_ms > 0
                && limits.websocket_write_timeout_ms > 0,
            "time-outs must be positive"
        );
        for (subgraph, timeout_ms) in &limits.subgraph_timeouts_ms {
            anyhow::ensure!(
                *timeout_ms > 0,
                "limits.subgraph_timeouts_ms.{subgraph} must be positive"
            );
            anyhow::ensure!(
                self.subgraph_urls.contains_key(subgraph),
                "limits.subgraph_timeouts_ms names {subgraph:?}, which has no subgraph_urls entry"
            );
        }
        anyhow::ensure!(
            self.revocations.poll_interval_ms > 0
                && self.revocations.fetch_timeout_ms > 0
                && self.revocations.staleness_max_ms > self.revocations.poll_interval_ms,
            "revocations: time-outs must be positive and staleness_max_ms above poll_interval_ms"
        );
        anyhow::ensure!(
            self.dpop.proof_age_max_s > 0 && self.dpop.proof_future_max_s >= 0 && self.dpop.replay_cache_size_max > 0,
            "dpop: the proof window and replay cache must be positive"
        );
        for field in &self.anonymous_root_fields {
            anyhow::ensure!(
                matches!(field.split_once('.'), Some((type_name, field_name)) if !type_name.is_empty() && !field_name.is_empty()),
                "anonymous_root_fields entries look like `Mutation.logIn`, not {field:?}"
            );
        }
        for origin in &self.cors_allowed_origins {
            anyhow::ensure!(
                (origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.trim_end_matches('/').contains(['*', ' '])
                    && origin.matches('/').count() == 2,
                "cors_allowed_origins entries are origins like `https://shop.example.com`, not {origin:?}"
            );
        }
        anyhow::ensure!(self.rate_limits.keys_max > 0, "rate_limits.keys_max must be positive");
        for (field, rule) in &self.rate_limits.fields {
            anyhow::ensure!(
                matches!(field.split_once('.'), Some((type_name, field_name)) if !type_name.is_empty() && !field_name.is_empty()),
                "rate_limits.fields entries look like `Mutation.logIn`, not {field:?}"
            );
            for quota in [rule.per_ip, rule.per_principal].into_iter().flatten() {
                anyhow::ensure!(
                    quota.requests > 0 && quota.period_s > 0,
                    "rate_limits.fields.{field}: requests and period_s must be positive"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        let parsed = serde_json::from_value::<Limits>(serde_json::json!({ "depth_maxx": 3 }));
        assert!(parsed.is_err());
    }

    #[test]
    fn the_example_configuration_parses_and_validates() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("router.example.toml");
        let loaded: anyhow::Result<RouterConfig> =
            c9pay_platform::config::load(Some(&path), "C9PAY_ROUTER_EXAMPLE_TEST");
        let config = match loaded {
            Ok(config) => config,
            Err(error) => panic!("router.example.toml: {error:#}"),
        };
        assert!(config.validate().is_ok());
        assert_eq!(config.subgraph_urls.len(), 4);
        assert_eq!(config.limits.depth_max, Limits::default().depth_max);
        assert_eq!(config.rate_limits.fields, RateLimitConfig::default().fields);
    }

    fn parsed(toml: &str) -> anyhow::Result<RouterConfig> {
        let path = std::env::temp_dir().join(format!("c9pay-router-config-test-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, toml)?;
        let loaded = c9pay_platform::config::load(Some(&path), "C9PAY_ROUTER_ACCESS_TEST");
        std::fs::remove_file(&path)?;
        loaded
    }

    const AUTHENTICATED: &str = r#"
        jwks_url = "http://auth:8080/.well-known/jwks.json"
        internal_signing_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        [subgraph_urls]
        users = "http://users:8080"
    "#;

    #[test]
    fn access_is_authenticated_unless_open_is_set_explicitly() -> anyhow::Result<()> {
        let default = parsed(AUTHENTICATED)?;
        assert_eq!(default.access, Access::Authenticated);
        assert!(default.validate().is_ok());
        assert_eq!(RouterConfig::new("a", "s", BTreeMap::new(), "j", Secret::new(String::new())).access, Access::Authenticated);
        // Without its keys, the default mode does not start (it does not fall back to open).
        let keyless = parsed("[subgraph_urls]\nusers = \"http://users:8080\"")?;
        assert_eq!(keyless.access, Access::Authenticated);
        assert!(keyless.validate().is_err());
        // No other spelling opens it.
        for value in ["\"Open\"", "\"none\"", "true", "\"\""] {
            assert!(parsed(&format!("access = {value}")).is_err(), "access = {value}");
        }
        let open = parsed("access = \"open\"")?;
        assert_eq!(open.access, Access::Open);
        assert!(open.validate().is_ok());
        Ok(())
    }

    #[test]
    fn open_access_refuses_a_configuration_that_has_keys() -> anyhow::Result<()> {
        let reopened = parsed(&format!("access = \"open\"\n{AUTHENTICATED}"))?;
        let refused = reopened.validate().err().map(|error| error.to_string()).unwrap_or_default();
        assert!(refused.contains("takes no jwks_url or internal_signing_key"), "{refused}");
        Ok(())
    }

    /// Every file under `k8s/`: none sets the router's `access` (as a key of router.toml
    /// or as `C9PAY_ROUTER__ACCESS`), and the router.toml it ships is authenticated.
    #[test]
    fn no_kubernetes_manifest_opens_the_router() -> anyhow::Result<()> {
        let k8s = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s");
        let mut pending = vec![k8s.clone()];
        let mut files = 0;
        while let Some(path) = pending.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path)? {
                    pending.push(entry?.path());
                }
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            files += 1;
            assert!(!text.to_ascii_uppercase().contains("C9PAY_ROUTER__ACCESS"), "{} sets the router's access", path.display());
            let sets_access = text.lines().any(|line| {
                line.trim_start().strip_prefix("access").is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            assert!(!sets_access, "{} sets access", path.display());
        }
        assert!(files > 10, "read only {files} files under {}", k8s.display());
        let shipped = parsed(&std::fs::read_to_string(k8s.join("base/router.toml"))?)?;
        assert_eq!(shipped.access, Access::Authenticated);
        assert!(shipped.jwks_url.is_some());
        Ok(())
    }

    #[test]
    fn a_per_subgraph_timeout_overrides_the_default() {
        let mut limits = Limits::default();
        limits.subgraph_timeouts_ms.insert("credit".to_string(), 50);
        assert_eq!(limits.subgraph_timeout_ms("credit"), 50);
        assert_eq!(limits.subgraph_timeout_ms("auth"), 10_000);
    }
}
