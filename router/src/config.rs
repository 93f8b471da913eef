//! Configuration of the router (`C9PAY_ROUTER__…`): where the supergraph is, where each
//! subgraph listens, how to verify the access tokens auth issues, the key the router signs
//! internal tokens with, and the limits every request is held to.

use std::{collections::BTreeMap, path::PathBuf};

use c9pay_platform::config::Secret;
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
    /// Subgraph name → base URL, e.g. `auth = "http://auth:8080"`; the router posts to
    /// `<base URL>/graphql`. Every subgraph of the supergraph must be named here (the URLs
    /// written into the supergraph file are only defaults and are never used). No default.
    pub subgraph_urls: BTreeMap<String, String>,
    /// Where auth publishes the keys that verify access tokens, e.g.
    /// `http://auth:8080/.well-known/jwks.json`. No default.
    pub jwks_url: String,
    /// Base64 of the router's 32-byte Ed25519 seed; every subgraph trusts its public key
    /// under the issuer name `router`. No default.
    pub internal_signing_key: Secret<String>,
    /// What access tokens must say about themselves.
    #[serde(default)]
    pub access_tokens: AccessTokenConfig,
    /// Root fields a request without an access token may select, as `Type.field`.
    /// Default `["Mutation.signUp", "Mutation.logIn"]`. Introspection (`__schema`,
    /// `__type`) and `__typename` are always allowed.
    #[serde(default = "default_anonymous_root_fields")]
    pub anonymous_root_fields: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
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
    /// Events buffered per subscription for a client that has not read them yet; a
    /// client that falls further behind is disconnected (`SUBSCRIBER_TOO_SLOW`) and may
    /// resume from its last event id. Default 64.
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
    vec!["Mutation.signUp".to_string(), "Mutation.logIn".to_string()]
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
            listen_address: listen_address.into(),
            supergraph_path: supergraph_path.into(),
            subgraph_urls,
            jwks_url: jwks_url.into(),
            internal_signing_key,
            access_tokens: AccessTokenConfig::default(),
            anonymous_root_fields: default_anonymous_root_fields(),
            limits: Limits::default(),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let limits = &self.limits;
        for (name, value) in [
            ("body_size_max_bytes", limits.body_size_max_bytes),
            ("tokens_max", limits.tokens_max),
            ("depth_max", limits.depth_max),
            ("fields_max", limits.fields_max),
            ("plan_cache_size_max", limits.plan_cache_size_max),
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
        for field in &self.anonymous_root_fields {
            anyhow::ensure!(
                matches!(field.split_once('.'), Some((type_name, field_name)) if !type_name.is_empty() && !field_name.is_empty()),
                "anonymous_root_fields entries look like `Mutation.logIn`, not {field:?}"
            );
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
    }

    #[test]
    fn a_per_subgraph_timeout_overrides_the_default() {
        let mut limits = Limits::default();
        limits.subgraph_timeouts_ms.insert("credit".to_string(), 50);
        assert_eq!(limits.subgraph_timeout_ms("credit"), 50);
        assert_eq!(limits.subgraph_timeout_ms("auth"), 10_000);
    }
}
