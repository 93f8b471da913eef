//! The internal credential each subgraph fetch carries: an EdDSA token the router signs
//! (`c9pay_platform::internal_token`), naming the principal, for one subgraph, reused
//! while it is fresh instead of signed anew for every fetch.
//!
//! # Design
//!
//! The router signs one token per (principal, subgraph): the principal's kind, subject,
//! roles, scopes and session, with `aud = c9pay-internal:<subgraph>`, `iat` now and `exp`
//! 60 s later, and no request id. It keeps the token in a bounded cache for at most
//! [`REUSE_MAX`] (30 s), so every token it sends has at least 30 s left, more than a
//! request may take (`request_timeout_ms`, 30 s by default, ends it first). Two requests
//! of the same principal to the same subgraph within those 30 s carry the same header,
//! which is what lets the executor share one in-flight fetch between identical queries
//! (see `engine::traffic_shaping`); and signing costs one EdDSA signature per principal
//! and subgraph per 30 s instead of one per request.
//!
//! The request id of a mutation travels beside the token, in `x-request-id` (mutations
//! are never shared, so it costs no sharing); a query's fetch carries none, and the
//! subgraph gives it an id of its own. A subscription's token names the whole platform
//! (`aud = c9pay-internal`): one token serves its `subscribe` and every fetch of its
//! events, whichever subgraph. It travels in the `subscribe` message's (and each event
//! fetch's) `extensions`, because the upstream WebSocket is shared with other
//! subscriptions and is opened with the router's own token, which names nobody
//! ([`InternalCredentials::for_subscription`]).
//!
//! A subscription's tokens are signed when it starts and live until the client's access
//! token expires (at most 15 minutes), not one minute: every event's entity fetches (a
//! payer's name, a store's name) go with the credentials the subscription started with,
//! so a one-minute token left every event after the first minute without them. The
//! router ends the subscription when the access token expires, and on revocation at
//! once; a subscription's token stolen inside the cluster replays as its principal for at
//! most the rest of that access token's life, which the stolen access token itself would
//! allow through the router. The router's own token beside it (the `Authorization` of
//! the event fetches) names nobody, so subscriptions share it: one per minute of expiry,
//! rounded up, signed once.
//!
//! # Threat model
//!
//! What the internal credential must guarantee, and how a reused token still does:
//!
//! - **Unforgeable by anyone but the router.** Unchanged: a token is an Ed25519
//!   signature by the router's key over every claim; subgraphs trust only that key for
//!   people and devices. Nothing about a reused token is unsigned: the request id, the
//!   only value no longer in it, identifies a request in the logs and grants nothing.
//! - **Scoped to its audience.** Stronger than before: a token names one subgraph, and
//!   every subgraph's verifier refuses a token for another one
//!   (`InternalTokenVerifier::for_service`), so a token seen by the users subgraph (in
//!   its logs, or by whoever controls it) cannot be replayed to credit to move money.
//!   Subgraphs still accept the platform-wide audience, which services calling each
//!   other and the router's subscriptions use.
//! - **Short-lived.** Unchanged: `exp` is 60 s after signing, as for a token per request;
//!   a copied token is useless after that minute whether it was used once or a hundred
//!   times. Reuse does not extend it: the cache drops a token 30 s after signing.
//! - **Bound to the principal.** Unchanged: the cache key is every claim the token
//!   carries (kind, subject, roles, scopes, session, audience), so two principals, two
//!   sessions of one person, or one person with other scopes never share a token; a
//!   request gets a token only after the pipeline authenticated it (signature or cache,
//!   revocation feed, DPoP proof or admin cookie) and authorized it, on every request.
//! - **Revocation.** A revoked session's requests are refused before any token is
//!   looked up, so its cached token is never sent again; the token itself, like a
//!   per-request one, stays valid at the subgraphs until its `exp` (≤ 60 s), which is the
//!   exposure the platform already accepted for internal tokens.
//!
//! What reuse does change: one token now covers every request of that principal to that
//! subgraph for up to 30 s, so a token stolen in transit inside the cluster replays as
//! that principal for the rest of its minute — exactly what a stolen per-request token
//! allowed, since subgraphs never bound a token to one request.

use std::{sync::Arc, time::Duration};

use c9pay_platform::internal_token::{
    AUDIENCE, InternalTokenError, InternalTokenSigner, Principal, PrincipalKind, ROUTER_ISSUER, TOKEN_LIFETIME_S,
    audience_of,
};

/// The longest a token is reused after it was signed: half its lifetime, so every token
/// sent has at least half of it left.
pub const REUSE_MAX: Duration = Duration::from_secs(TOKEN_LIFETIME_S.unsigned_abs() / 2);

/// The longest a subscription's tokens live: the longest an access token lives (auth's
/// `access_token_lifetime_s` is at most 900 s), after which the router has ended the
/// subscription.
pub const SUBSCRIPTION_TOKEN_LIFETIME_MAX_S: i64 = 900;

/// The internal tokens of one subscription.
#[derive(Clone)]
pub struct SubscriptionTokens {
    /// The router's own (`Principal::service("router")`): a shared upstream connection
    /// is opened with it, and it is the `Authorization` of the subscription's event
    /// fetches. It names nobody, so a subgraph runs nothing on it alone; subscriptions
    /// whose tokens expire in the same minute share it.
    pub connection: Arc<str>,
    /// The principal's, sent in the `subscribe` message's and each event fetch's
    /// `extensions.c9pay` (`c9pay_platform::graphql`).
    pub operation: Arc<str>,
}

/// The router's own subscription tokens kept at once. A token is looked up only by an
/// expiry at least a minute ahead, so one past its expiry is never handed out; it stays
/// cached until its time to live ends, up to 17 minutes after it was signed. A new
/// minute starts at most once a minute, so fewer than 40 are ever kept, and none is
/// evicted to make room.
const ROUTER_TOKEN_MINUTES_MAX: u64 = 64;

/// Tokens kept at once: one per principal and subgraph active in the last 30 s, beyond
/// which the least used are signed again when next needed.
pub const CACHED_TOKENS_MAX: u64 = 8_192;

/// Everything a token says, except the times: two principals with the same key get the
/// same token.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct CredentialKey {
    kind: PrincipalKind,
    subject: String,
    roles: Vec<String>,
    scopes: Vec<String>,
    session_id: Option<String>,
    audience: String,
}

/// The router's internal tokens, signed once per principal and audience and reused for
/// [`REUSE_MAX`]; bounded.
pub struct InternalCredentials {
    signer: InternalTokenSigner,
    tokens: moka::sync::Cache<CredentialKey, Arc<str>>,
    /// The router's own tokens for subscriptions, by their expiry (a whole minute).
    router_tokens: moka::sync::Cache<i64, Arc<str>>,
}

impl InternalCredentials {
    pub fn new(signer: InternalTokenSigner, size_max: u64) -> Self {
        Self {
            signer,
            tokens: moka::sync::Cache::builder().max_capacity(size_max).time_to_live(REUSE_MAX).build(),
            // One per minute of expiry ahead, each dropped once it has expired.
            router_tokens: moka::sync::Cache::builder()
                .max_capacity(ROUTER_TOKEN_MINUTES_MAX)
                .time_to_live(Duration::from_secs(SUBSCRIPTION_TOKEN_LIFETIME_MAX_S.unsigned_abs() + 120))
                .build(),
        }
    }

    /// The `Authorization` header value for `principal`'s fetches from `subgraph` alone.
    pub fn for_subgraph(&self, principal: &Principal, subgraph: &str) -> Result<Arc<str>, Arc<InternalTokenError>> {
        self.authorization(principal, audience_of(subgraph))
    }

    /// The `Authorization` header value for `principal`'s fetches from every subgraph
    /// (a subscription and its event fetches).
    pub fn for_every_subgraph(&self, principal: &Principal) -> Result<Arc<str>, Arc<InternalTokenError>> {
        self.authorization(principal, AUDIENCE.to_string())
    }

    /// The two tokens of one subscription (see [`SubscriptionTokens`]), for every
    /// subgraph, valid until `expires_at_s` (when the router ends the subscription: the
    /// expiry of the client's access token), at least [`TOKEN_LIFETIME_S`] and at most
    /// [`SUBSCRIPTION_TOKEN_LIFETIME_MAX_S`] from now. The principal's is signed for each
    /// subscription; the router's lives to the end of that minute and is shared.
    pub fn for_subscription(
        &self,
        principal: &Principal,
        expires_at_s: Option<i64>,
    ) -> Result<SubscriptionTokens, Arc<InternalTokenError>> {
        let now = chrono::Utc::now().timestamp();
        let expires_at = expires_at_s
            .unwrap_or(now)
            .clamp(now + TOKEN_LIFETIME_S, now + SUBSCRIPTION_TOKEN_LIFETIME_MAX_S);
        let sign = |principal: &Principal, expires_at: i64| -> Result<Arc<str>, InternalTokenError> {
            let unnamed = Principal { request_id: String::new(), ..principal.clone() };
            let token = self.signer.sign_until(&unnamed, AUDIENCE, expires_at)?;
            Ok(Arc::from(format!("Bearer {token}")))
        };
        let minute = (expires_at + 59).div_euclid(60) * 60;
        let connection = self
            .router_tokens
            .try_get_with(minute, || sign(&Principal::service(ROUTER_ISSUER, ""), minute))?;
        Ok(SubscriptionTokens { connection, operation: sign(principal, expires_at).map_err(Arc::new)? })
    }

    fn authorization(&self, principal: &Principal, audience: String) -> Result<Arc<str>, Arc<InternalTokenError>> {
        let key = CredentialKey {
            kind: principal.kind,
            subject: principal.subject.clone(),
            roles: principal.roles.clone(),
            scopes: principal.scopes.clone(),
            session_id: principal.session_id.clone(),
            audience,
        };
        // Concurrent requests for a missing key wait for one signature.
        self.tokens.try_get_with_by_ref(&key, || {
            let unnamed = Principal { request_id: String::new(), ..principal.clone() };
            let token = self.signer.sign_for(&unnamed, &key.audience)?;
            Ok(Arc::from(format!("Bearer {token}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use c9pay_platform::{
        id::UserId,
        internal_token::{InternalTokenVerifier, ROUTER_ISSUER, generate_seed, public_key_of},
    };

    use super::*;

    fn credentials() -> (InternalCredentials, BTreeMap<String, String>) {
        let seed = generate_seed();
        let signer = InternalTokenSigner::new(ROUTER_ISSUER, &seed).unwrap_or_else(|error| panic!("{error}"));
        let trusted = [(ROUTER_ISSUER.to_string(), public_key_of(&seed).unwrap_or_default())].into_iter().collect();
        (InternalCredentials::new(signer, 64), trusted)
    }

    fn token(authorization: Result<Arc<str>, Arc<InternalTokenError>>) -> String {
        match authorization {
            Ok(value) => value.strip_prefix("Bearer ").unwrap_or_default().to_string(),
            Err(error) => panic!("{error}"),
        }
    }

    fn user(user_id: &UserId, session: &str, request_id: &str) -> Principal {
        Principal { session_id: Some(session.to_string()), scopes: vec!["user".to_string()], ..Principal::user(user_id, request_id) }
    }

    #[test]
    fn one_principal_reuses_its_token_across_requests_and_others_never_share_it() {
        let (credentials, _) = credentials();
        let ada = UserId::generate();
        let first = token(credentials.for_subgraph(&user(&ada, "ses_1", "request-1"), "users"));

        assert_eq!(token(credentials.for_subgraph(&user(&ada, "ses_1", "request-2"), "users")), first, "another request, same principal");
        assert_ne!(token(credentials.for_subgraph(&user(&ada, "ses_1", "request-1"), "credit")), first, "another subgraph");
        assert_ne!(token(credentials.for_subgraph(&user(&ada, "ses_2", "request-1"), "users")), first, "another session");
        assert_ne!(token(credentials.for_subgraph(&user(&UserId::generate(), "ses_1", "request-1"), "users")), first, "another person");
        let mut wider = user(&ada, "ses_1", "request-1");
        wider.scopes.push("admin".to_string());
        assert_ne!(token(credentials.for_subgraph(&wider, "users")), first, "other scopes");
        assert_ne!(token(credentials.for_every_subgraph(&user(&ada, "ses_1", "request-1"))), first, "another audience");
    }

    #[test]
    fn a_token_names_its_principal_and_is_accepted_only_by_its_subgraph() {
        let (credentials, trusted) = credentials();
        let ada = UserId::generate();
        let principal = user(&ada, "ses_1", "request-1");
        let for_users = token(credentials.for_subgraph(&principal, "users"));
        let verifier = |service: &str| InternalTokenVerifier::for_service(&trusted, service).unwrap_or_else(|error| panic!("{error}"));

        let verified = verifier("users").verify(&for_users).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(verified, Principal { request_id: String::new(), ..principal.clone() });
        assert!(verifier("credit").verify(&for_users).is_err());
        let for_all = token(credentials.for_every_subgraph(&principal));
        assert!(verifier("credit").verify(&for_all).is_ok());
    }

    /// `exp` of a `Bearer …` value, read without verifying it.
    fn expiry_of(authorization: &str) -> i64 {
        use base64::Engine as _;
        let payload = authorization.split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        claims["exp"].as_i64().unwrap_or_default()
    }

    #[test]
    fn a_subscriptions_tokens_live_until_its_access_token_expires_within_bounds() {
        let (credentials, trusted) = credentials();
        let verifier = InternalTokenVerifier::for_service(&trusted, "credit").unwrap_or_else(|error| panic!("{error}"));
        let principal = user(&UserId::generate(), "ses_1", "request-1");
        let now = chrono::Utc::now().timestamp();
        let tokens = credentials.for_subscription(&principal, Some(now + 600)).unwrap_or_else(|error| panic!("{error}"));

        assert_eq!(expiry_of(&tokens.operation), now + 600, "the access token's expiry");
        assert_eq!(expiry_of(&tokens.connection), (now + 600 + 59) / 60 * 60, "the end of that minute");
        let operation = verifier.verify_authorization(Some(&tokens.operation)).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(operation, Principal { request_id: String::new(), ..principal.clone() });
        let connection = verifier.verify_authorization(Some(&tokens.connection)).unwrap_or_else(|error| panic!("{error}"));
        assert!(connection.is_service(ROUTER_ISSUER), "the connection's token names the router alone");

        let far = credentials.for_subscription(&principal, Some(now + 86_400)).unwrap_or_else(|error| panic!("{error}"));
        assert!(expiry_of(&far.operation) <= now + 1 + SUBSCRIPTION_TOKEN_LIFETIME_MAX_S, "capped");
        let soon = credentials.for_subscription(&principal, None).unwrap_or_else(|error| panic!("{error}"));
        assert!(expiry_of(&soon.operation) >= now + TOKEN_LIFETIME_S, "at least an ordinary token's life");
    }

    #[test]
    fn subscriptions_share_the_routers_token_by_minute_of_expiry_and_never_the_principals() {
        let (credentials, _) = credentials();
        let (ada, bo) = (user(&UserId::generate(), "ses_1", "r"), user(&UserId::generate(), "ses_2", "r"));
        let minute = (chrono::Utc::now().timestamp() / 60 + 5) * 60;
        let subscribe = |principal: &Principal, expires_at: i64| {
            credentials.for_subscription(principal, Some(expires_at)).unwrap_or_else(|error| panic!("{error}"))
        };

        let first = subscribe(&ada, minute + 1);
        let same_minute = subscribe(&bo, minute + 59);
        assert!(Arc::ptr_eq(&first.connection, &same_minute.connection), "one signature, one allocation");
        assert_ne!(first.operation, same_minute.operation, "each principal's own");
        assert_eq!(expiry_of(&first.connection), minute + 60);
        let next_minute = subscribe(&ada, minute + 61);
        assert_ne!(next_minute.connection, first.connection);
        assert_ne!(next_minute.operation, first.operation, "signed for each subscription");
    }
}
