//! The internal/external split. Clients talk only to the router; the router verifies
//! their credential and calls subgraphs with a short-lived token it signs itself, naming
//! the principal (id, kind, roles, scopes) and the request id. Services that call each
//! other (auth → users, stores → credit) sign their own tokens as `service` principals.
//!
//! Every subgraph refuses a request without a valid internal token, and reads identity
//! from nothing else: a client that reaches a subgraph directly, or sends an identity
//! header of its own, gets nothing.
//!
//! Trust is per issuer: each issuer has its own Ed25519 key, the router may speak for
//! people and devices, and any other issuer may speak only for itself.
//!
//! Audience: a token names either the whole platform ([`AUDIENCE`], what services
//! calling each other sign) or one service ([`audience_of`], what the router signs for
//! each subgraph, so that a token one subgraph received is refused by every other). A
//! service's verifier ([`InternalTokenVerifier::for_service`]) accepts both.
//!
//! The request id (`rid`) is optional: the router's tokens carry none, because it signs
//! one token per principal and subgraph and reuses it while it is fresh (see
//! `router/src/credentials/internal_credentials.rs`); it sends the request id of a
//! mutation in the `x-request-id` header instead, and a service gives a request without
//! either an id of its own.
//!
//! Because the router reuses a token, a service sees the same token many times; its
//! verifier remembers the tokens that verified (bounded, keyed by the whole token, each
//! until its `exp`) and does not check an Ed25519 signature twice. Nothing can make a
//! remembered token wrong before its `exp`: the trusted keys are fixed when the verifier
//! is built, and internal tokens are never revoked (the router stops signing for a session
//! it has revoked, and ends its subscriptions).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{config::Secret, id::UserId};

/// The issuer name the router signs with; the only issuer that may name a person.
pub const ROUTER_ISSUER: &str = "router";
/// The platform-wide audience of internal tokens (services calling each other).
pub const AUDIENCE: &str = "c9pay-internal";

/// The audience of a token for service `service` alone.
pub fn audience_of(service: &str) -> String {
    format!("{AUDIENCE}:{service}")
}
/// How long an internal token lives. Long enough for one request's fan-out, short
/// enough that a token copied out of a log is useless by the time anyone reads it.
pub const TOKEN_LIFETIME_S: i64 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// Nobody signed in: may reach only fields that allow it (sign-up, log-in).
    Anonymous,
    /// A person: app user or merchant owner.
    User,
    /// A store's kiosk device.
    Kiosk,
    /// A platform administrator.
    Admin,
    /// Another c9pay service, calling an internal endpoint.
    Service,
}

/// Who is asking, as the router (or a calling service) vouches for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The user id, kiosk id, admin id or service name; empty for anonymous.
    pub subject: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub request_id: String,
    /// The log-in session (user, admin) or kiosk the credential belongs to, so that auth
    /// can end exactly this session on log-out. `None` for anonymous and services.
    pub session_id: Option<String>,
}

impl Principal {
    pub fn anonymous(request_id: impl Into<String>) -> Self {
        Self {
            kind: PrincipalKind::Anonymous,
            subject: String::new(),
            roles: Vec::new(),
            scopes: Vec::new(),
            request_id: request_id.into(),
            session_id: None,
        }
    }

    pub fn user(user_id: &UserId, request_id: impl Into<String>) -> Self {
        Self {
            kind: PrincipalKind::User,
            subject: user_id.to_string(),
            roles: vec!["user".to_string()],
            scopes: Vec::new(),
            request_id: request_id.into(),
            session_id: None,
        }
    }

    pub fn service(name: impl Into<String>, request_id: impl Into<String>) -> Self {
        Self {
            kind: PrincipalKind::Service,
            subject: name.into(),
            roles: vec!["service".to_string()],
            scopes: Vec::new(),
            request_id: request_id.into(),
            session_id: None,
        }
    }

    /// The signed-in person, if this principal is one.
    pub fn user_id(&self) -> Option<UserId> {
        match self.kind {
            PrincipalKind::User | PrincipalKind::Admin => UserId::parse(&self.subject).ok(),
            _ => None,
        }
    }

    pub fn is_service(&self, name: &str) -> bool {
        self.kind == PrincipalKind::Service && self.subject == name
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }

    /// A platform administrator in an admin session: the principal kind the router gives
    /// an admin token, with the `admin` scope that `@requiresScopes(scopes: [["admin"]])`
    /// asks for. Resolvers check it again, whatever the router did.
    pub fn is_admin(&self) -> bool {
        self.kind == PrincipalKind::Admin && self.has_scope("admin")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    kind: PrincipalKind,
    #[serde(default)]
    roles: Vec<String>,
    /// Space-separated, as in OAuth 2.0.
    #[serde(default)]
    scope: String,
    /// The request id; absent from the router's reusable tokens.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    rid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Error)]
pub enum InternalTokenError {
    #[error("missing internal token")]
    Missing,
    #[error("invalid internal token: {0}")]
    Invalid(String),
    #[error("issuer {0:?} is not trusted")]
    UntrustedIssuer(String),
    #[error("issuer {issuer:?} may not speak for a {kind:?} principal")]
    NotAllowed { issuer: String, kind: PrincipalKind },
    #[error("invalid key: {0}")]
    Key(String),
}

/// A fresh Ed25519 private key as base64 of its 32-byte seed (for `c9pay up` and tests;
/// production keys come from a Kubernetes Secret).
pub fn generate_seed() -> Secret<String> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    Secret::new(STANDARD.encode(key.to_bytes()))
}

/// The public half of a base64 seed, as base64 of the 32-byte public key.
pub fn public_key_of(seed: &Secret<String>) -> Result<String, InternalTokenError> {
    let key = signing_key_from_seed(seed)?;
    Ok(STANDARD.encode(key.verifying_key().to_bytes()))
}

fn signing_key_from_seed(seed: &Secret<String>) -> Result<SigningKey, InternalTokenError> {
    let bytes = STANDARD
        .decode(seed.expose().trim())
        .map_err(|error| InternalTokenError::Key(error.to_string()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| InternalTokenError::Key("an Ed25519 seed is 32 bytes".to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Signs internal tokens as one issuer.
#[derive(Clone)]
pub struct InternalTokenSigner {
    issuer: String,
    key: EncodingKey,
}

impl std::fmt::Debug for InternalTokenSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("InternalTokenSigner")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl InternalTokenSigner {
    pub fn new(
        issuer: impl Into<String>,
        seed: &Secret<String>,
    ) -> Result<Self, InternalTokenError> {
        let der = signing_key_from_seed(seed)?
            .to_pkcs8_der()
            .map_err(|error| InternalTokenError::Key(error.to_string()))?;
        Ok(Self {
            issuer: issuer.into(),
            key: EncodingKey::from_ed_der(der.as_bytes()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A token for every service ([`AUDIENCE`]).
    pub fn sign(&self, principal: &Principal) -> Result<String, InternalTokenError> {
        self.sign_for(principal, AUDIENCE)
    }

    /// A token for `audience` alone (see [`audience_of`]), living [`TOKEN_LIFETIME_S`]
    /// from now. An empty `principal.request_id` leaves `rid` out.
    pub fn sign_for(&self, principal: &Principal, audience: &str) -> Result<String, InternalTokenError> {
        let now = chrono::Utc::now().timestamp();
        self.sign_issued_at(principal, audience, now, now + TOKEN_LIFETIME_S)
    }

    /// A token for `audience` that expires at `expires_at` (Unix seconds) rather than
    /// [`TOKEN_LIFETIME_S`] from now: the router's tokens for one subscription, which its
    /// events' fetches carry for as long as it runs.
    pub fn sign_until(&self, principal: &Principal, audience: &str, expires_at: i64) -> Result<String, InternalTokenError> {
        self.sign_issued_at(principal, audience, chrono::Utc::now().timestamp(), expires_at)
    }

    /// A token for `audience` as if signed at `issued_at` (Unix seconds): tests make
    /// expired tokens with it.
    #[cfg(any(test, feature = "testing"))]
    pub fn sign_as_of(&self, principal: &Principal, audience: &str, issued_at: i64) -> Result<String, InternalTokenError> {
        self.sign_issued_at(principal, audience, issued_at, issued_at + TOKEN_LIFETIME_S)
    }

    fn sign_issued_at(
        &self,
        principal: &Principal,
        audience: &str,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<String, InternalTokenError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: audience.to_string(),
            sub: principal.subject.clone(),
            kind: principal.kind,
            roles: principal.roles.clone(),
            scope: principal.scopes.join(" "),
            rid: principal.request_id.clone(),
            sid: principal.session_id.clone(),
            iat: issued_at,
            exp: expires_at,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)
            .map_err(|error| InternalTokenError::Key(error.to_string()))
    }

    /// `Authorization` header value for a service calling another service.
    pub fn service_authorization(&self, request_id: &str) -> Result<String, InternalTokenError> {
        let token = self.sign(&Principal::service(self.issuer.clone(), request_id))?;
        Ok(format!("Bearer {token}"))
    }
}

/// How many verified tokens a verifier remembers: about one per principal and subgraph
/// the router has spoken for in the last 30 s, each a few hundred bytes.
pub const VERIFIED_CACHE_SIZE_MAX: u64 = 20_000;

/// A token that verified, and when it stops being valid.
#[derive(Clone, Debug)]
struct VerifiedToken {
    principal: Principal,
    /// `exp`, Unix seconds.
    expires_at_s: i64,
}

/// moka's per-entry expiry: at the token's `exp`.
struct UntilExpiry;

impl moka::Expiry<String, VerifiedToken> for UntilExpiry {
    fn expire_after_create(&self, _token: &String, verified: &VerifiedToken, _created_at: Instant) -> Option<Duration> {
        let left_ms = verified.expires_at_s.saturating_mul(1000).saturating_sub(crate::time::now_ms());
        Some(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)))
    }
}

/// Verifies internal tokens against the issuers this service trusts.
#[derive(Clone)]
pub struct InternalTokenVerifier {
    issuers: BTreeMap<String, DecodingKey>,
    validation: Validation,
    /// Tokens that verified, by the whole token (see the module's documentation). A clone
    /// of the verifier shares them.
    verified: moka::sync::Cache<String, VerifiedToken>,
}

impl std::fmt::Debug for InternalTokenVerifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("InternalTokenVerifier")
            .field("issuers", &self.issuers.keys())
            .finish()
    }
}

impl InternalTokenVerifier {
    /// The verifier of service `service`: tokens for the whole platform or for `service`
    /// alone; a token for another service is refused.
    pub fn for_service(trusted: &BTreeMap<String, String>, service: &str) -> Result<Self, InternalTokenError> {
        let mut verifier = Self::new(trusted)?;
        verifier.validation.set_audience(&[AUDIENCE.to_string(), audience_of(service)]);
        Ok(verifier)
    }

    /// `trusted` maps an issuer name to base64 of its 32-byte Ed25519 public key. The
    /// verifier accepts only tokens for the whole platform ([`AUDIENCE`]).
    pub fn new(trusted: &BTreeMap<String, String>) -> Result<Self, InternalTokenError> {
        let mut issuers = BTreeMap::new();
        for (issuer, public_key) in trusted {
            let bytes = STANDARD
                .decode(public_key.trim())
                .map_err(|error| InternalTokenError::Key(format!("{issuer}: {error}")))?;
            if bytes.len() != 32 {
                return Err(InternalTokenError::Key(format!(
                    "{issuer}: an Ed25519 public key is 32 bytes"
                )));
            }
            let key = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&bytes))
                .map_err(|error| InternalTokenError::Key(format!("{issuer}: {error}")))?;
            issuers.insert(issuer.clone(), key);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            issuers,
            validation,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CACHE_SIZE_MAX)
                .expire_after(UntilExpiry)
                .build(),
        })
    }

    /// Verifies a bare token (no `Bearer ` prefix): from the tokens that verified before
    /// if it is one of them and its `exp` has not passed, else by its signature.
    pub fn verify(&self, token: &str) -> Result<Principal, InternalTokenError> {
        let now_s = crate::time::now_ms() / 1000;
        if let Some(principal) = self.remembered(token, now_s) {
            return Ok(principal);
        }
        let verified = self.verify_signed(token)?;
        let principal = verified.principal.clone();
        self.verified.insert(token.to_string(), verified);
        Ok(principal)
    }

    /// The principal of a token that verified before, if its `exp` is still ahead of
    /// `now_s` (stricter than verification, which allows a few seconds of clock skew).
    fn remembered(&self, token: &str, now_s: i64) -> Option<Principal> {
        let verified = self.verified.get(token)?;
        if now_s >= verified.expires_at_s {
            self.verified.invalidate(token);
            return None;
        }
        Some(verified.principal)
    }

    fn verify_signed(&self, token: &str) -> Result<VerifiedToken, InternalTokenError> {
        // The issuer picks the key, so read it first, unverified, then verify the whole
        // token with that issuer's key; nothing from the unverified read is used after.
        let issuer = unverified_issuer(token)?;
        let key = self
            .issuers
            .get(&issuer)
            .ok_or_else(|| InternalTokenError::UntrustedIssuer(issuer.clone()))?;
        let mut validation = self.validation.clone();
        validation.set_issuer(&[issuer.as_str()]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|error| InternalTokenError::Invalid(error.to_string()))?
            .claims;
        // The router speaks for people and devices, and for itself when it calls auth's
        // internal endpoints (the revocation feed); never for another service.
        let allowed = if claims.iss == ROUTER_ISSUER {
            claims.kind != PrincipalKind::Service || claims.sub == ROUTER_ISSUER
        } else {
            claims.kind == PrincipalKind::Service && claims.sub == claims.iss
        };
        if !allowed {
            return Err(InternalTokenError::NotAllowed {
                issuer: claims.iss,
                kind: claims.kind,
            });
        }
        let principal = Principal {
            kind: claims.kind,
            subject: claims.sub,
            roles: claims.roles,
            scopes: claims
                .scope
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            request_id: claims.rid,
            session_id: claims.sid,
        };
        Ok(VerifiedToken { principal, expires_at_s: claims.exp })
    }

    /// Verifies an `Authorization: Bearer …` header value.
    pub fn verify_authorization(
        &self,
        header: Option<&str>,
    ) -> Result<Principal, InternalTokenError> {
        let header = header.ok_or(InternalTokenError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(InternalTokenError::Missing)?;
        self.verify(token.trim())
    }
}

fn unverified_issuer(token: &str) -> Result<String, InternalTokenError> {
    #[derive(Deserialize)]
    struct IssuerOnly {
        iss: String,
    }
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| InternalTokenError::Invalid("not a JWT".to_string()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| InternalTokenError::Invalid("payload is not base64url".to_string()))?;
    serde_json::from_slice::<IssuerOnly>(&bytes)
        .map(|claims| claims.iss)
        .map_err(|_| InternalTokenError::Invalid("payload has no issuer".to_string()))
}

/// What a service needs to take part in internal trust: its own signing key (to call
/// other services) and the public keys of the issuers it accepts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalTrustConfig {
    /// Base64 of this service's 32-byte Ed25519 seed. Required for services that call
    /// other services; unused otherwise.
    #[serde(default)]
    pub signing_key: Option<Secret<String>>,
    /// Issuer name → base64 of its Ed25519 public key. Must include `router`.
    pub trusted_issuers: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(issuers: &[(&str, &Secret<String>)]) -> InternalTokenVerifier {
        let trusted = issuers
            .iter()
            .map(|(name, seed)| (name.to_string(), public_key_of(seed).unwrap_or_default()))
            .collect();
        match InternalTokenVerifier::new(&trusted) {
            Ok(verifier) => verifier,
            Err(error) => panic!("verifier: {error}"),
        }
    }

    fn signer(issuer: &str, seed: &Secret<String>) -> InternalTokenSigner {
        match InternalTokenSigner::new(issuer, seed) {
            Ok(signer) => signer,
            Err(error) => panic!("signer: {error}"),
        }
    }

    #[test]
    fn a_router_token_round_trips_the_principal() {
        let seed = generate_seed();
        let user = UserId::generate();
        let principal = Principal {
            scopes: vec!["a".into(), "b".into()],
            ..Principal::user(&user, "req-1")
        };
        let token = signer(ROUTER_ISSUER, &seed)
            .sign(&principal)
            .unwrap_or_default();
        let verified = trust(&[(ROUTER_ISSUER, &seed)]).verify(&token);
        assert_eq!(verified.ok(), Some(principal));
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let token = signer(ROUTER_ISSUER, &generate_seed())
            .sign(&Principal::anonymous("r"))
            .unwrap_or_default();
        assert!(
            trust(&[(ROUTER_ISSUER, &generate_seed())])
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn a_service_may_not_speak_for_a_person() {
        let seed = generate_seed();
        let token = signer("stores", &seed)
            .sign(&Principal::user(&UserId::generate(), "r"))
            .unwrap_or_default();
        assert!(matches!(
            trust(&[("stores", &seed)]).verify(&token),
            Err(InternalTokenError::NotAllowed { .. })
        ));
    }

    #[test]
    fn the_router_may_speak_for_itself_but_for_no_other_service() {
        let seed = generate_seed();
        let sign = |principal: &Principal| signer(ROUTER_ISSUER, &seed).sign(principal).unwrap_or_default();
        let itself = trust(&[(ROUTER_ISSUER, &seed)]).verify(&sign(&Principal::service(ROUTER_ISSUER, "r")));
        assert!(itself.is_ok_and(|principal| principal.is_service(ROUTER_ISSUER)));
        let other = trust(&[(ROUTER_ISSUER, &seed)]).verify(&sign(&Principal::service("credit", "r")));
        assert!(matches!(other, Err(InternalTokenError::NotAllowed { .. })));
    }

    #[test]
    fn a_service_may_not_claim_another_services_name() {
        let seed = generate_seed();
        let token = signer("stores", &seed)
            .sign(&Principal::service("auth", "r"))
            .unwrap_or_default();
        assert!(trust(&[("stores", &seed)]).verify(&token).is_err());
    }

    #[test]
    fn an_unknown_issuer_is_refused() {
        let token = signer("mallory", &generate_seed())
            .sign(&Principal::service("mallory", "r"))
            .unwrap_or_default();
        assert!(matches!(
            trust(&[(ROUTER_ISSUER, &generate_seed())]).verify(&token),
            Err(InternalTokenError::UntrustedIssuer(_))
        ));
    }

    #[test]
    fn a_token_for_one_service_is_refused_by_another() {
        let seed = generate_seed();
        let trusted: BTreeMap<String, String> =
            [(ROUTER_ISSUER.to_string(), public_key_of(&seed).unwrap_or_default())].into_iter().collect();
        let verifier = |service: &str| match InternalTokenVerifier::for_service(&trusted, service) {
            Ok(verifier) => verifier,
            Err(error) => panic!("verifier: {error}"),
        };
        let principal = Principal { request_id: String::new(), ..Principal::user(&UserId::generate(), "") };
        let for_users = signer(ROUTER_ISSUER, &seed).sign_for(&principal, &audience_of("users")).unwrap_or_default();

        assert_eq!(verifier("users").verify(&for_users).ok(), Some(principal.clone()), "no rid round-trips as empty");
        assert!(verifier("credit").verify(&for_users).is_err());
        assert!(trust(&[(ROUTER_ISSUER, &seed)]).verify(&for_users).is_err(), "a platform-wide verifier wants the platform audience");
        let platform_wide = signer(ROUTER_ISSUER, &seed).sign(&principal).unwrap_or_default();
        assert!(verifier("credit").verify(&platform_wide).is_ok());
    }

    #[test]
    fn a_token_that_verified_is_remembered_until_its_exp_and_no_further() {
        let seed = generate_seed();
        let verifier = trust(&[(ROUTER_ISSUER, &seed)]);
        let now_s = crate::time::now_ms() / 1000;
        let principal = Principal::user(&UserId::generate(), "r-1");
        let token = signer(ROUTER_ISSUER, &seed).sign_until(&principal, AUDIENCE, now_s + 30).unwrap_or_default();
        assert_eq!(verifier.remembered(&token, now_s), None, "nothing is remembered before it verifies");

        assert_eq!(verifier.verify(&token).ok(), Some(principal.clone()));
        assert_eq!(verifier.remembered(&token, now_s), Some(principal.clone()));
        assert_eq!(verifier.clone().remembered(&token, now_s), Some(principal.clone()), "clones share what is remembered");
        assert_eq!(verifier.verify(&token).ok(), Some(principal), "and a second verification agrees");

        assert_eq!(verifier.remembered(&token, now_s + 30), None, "at exp it is not used");
        assert_eq!(verifier.remembered(&token, now_s), None, "and it is forgotten");
    }

    #[test]
    fn a_refused_token_is_never_remembered() {
        let seed = generate_seed();
        let verifier = trust(&[(ROUTER_ISSUER, &seed)]);
        let principal = Principal::user(&UserId::generate(), "r-1");
        let forged = signer(ROUTER_ISSUER, &generate_seed()).sign(&principal).unwrap_or_default();
        let expired = signer(ROUTER_ISSUER, &seed)
            .sign_as_of(&principal, AUDIENCE, crate::time::now_ms() / 1000 - 600)
            .unwrap_or_default();
        let speaking_for_credit = signer(ROUTER_ISSUER, &seed)
            .sign(&Principal::service("credit", "r-1"))
            .unwrap_or_default();
        let now_s = crate::time::now_ms() / 1000;
        for token in [forged, expired, speaking_for_credit] {
            for attempt in 0..2 {
                assert!(verifier.verify(&token).is_err(), "attempt {attempt} is refused");
                assert_eq!(verifier.remembered(&token, now_s), None);
            }
        }
    }

    #[test]
    fn a_token_remembered_by_one_service_is_still_refused_by_another() {
        let seed = generate_seed();
        let trusted: BTreeMap<String, String> =
            [(ROUTER_ISSUER.to_string(), public_key_of(&seed).unwrap_or_default())].into_iter().collect();
        let (Ok(users), Ok(credit)) = (
            InternalTokenVerifier::for_service(&trusted, "users"),
            InternalTokenVerifier::for_service(&trusted, "credit"),
        ) else {
            panic!("verifiers");
        };
        let for_users = signer(ROUTER_ISSUER, &seed)
            .sign_for(&Principal::user(&UserId::generate(), ""), &audience_of("users"))
            .unwrap_or_default();
        assert!(users.verify(&for_users).is_ok());
        assert!(users.verify(&for_users).is_ok());
        assert!(credit.verify(&for_users).is_err());
    }

    #[test]
    fn a_missing_or_malformed_header_is_refused() {
        let verifier = trust(&[(ROUTER_ISSUER, &generate_seed())]);
        assert!(matches!(
            verifier.verify_authorization(None),
            Err(InternalTokenError::Missing)
        ));
        assert!(
            verifier
                .verify_authorization(Some("Bearer not.a.jwt"))
                .is_err()
        );
        assert!(verifier.verify_authorization(Some("Basic abc")).is_err());
    }
}
