//! The DPoP proof every kiosk request carries (RFC 9449): signed by the key the kiosk's
//! token is bound to (`cnf.jkt`), for this method and URL, this token (`ath`), made just
//! now (`iat`), and never seen before (`jti`).
//!
//! Replays are caught with a cache of the proof ids seen inside the freshness window;
//! a proof older than the window is refused as stale, so the cache never needs to hold
//! more than one window's worth. The cache is per router replica: a proof replayed to
//! another replica within the window is not caught there. Every proof still names the
//! one URL and token it was made for, and lives at most `proof_age_max_s`.

use std::time::Duration;

use c9pay_platform::dpop::{self, ProofError, ProofWindow};

use crate::config::DpopConfig;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DpopError {
    #[error("a kiosk request needs a DPoP proof in the DPoP header")]
    Missing,
    #[error("one DPoP proof per request")]
    Several,
    #[error(transparent)]
    Invalid(#[from] ProofError),
    #[error("the DPoP proof is signed by another key than the token is bound to")]
    OtherKey,
    #[error("the DPoP proof is for another method")]
    OtherMethod,
    #[error("the DPoP proof is for another URL")]
    OtherUrl,
    #[error("the DPoP proof is for another access token")]
    OtherToken,
    #[error("the DPoP proof was used before")]
    Replayed,
}

/// What the proof must match: the request as the router received it.
pub struct ProofContext<'request> {
    pub method: &'request str,
    /// The URL of the request, without query or fragment.
    pub url: &'request str,
    pub access_token: &'request str,
    pub jkt: &'request str,
}

pub struct ProofChecker {
    window: ProofWindow,
    seen: moka::sync::Cache<String, ()>,
}

impl ProofChecker {
    pub fn new(config: &DpopConfig) -> Self {
        let window = ProofWindow { past_s: config.proof_age_max_s, future_s: config.proof_future_max_s };
        let remembered_s = u64::try_from(window.past_s.saturating_add(window.future_s).saturating_add(1)).unwrap_or(u64::MAX);
        Self {
            window,
            seen: moka::sync::Cache::builder()
                .max_capacity(config.replay_cache_size_max)
                .time_to_live(Duration::from_secs(remembered_s))
                .build(),
        }
    }

    /// Checks the proof (the `DPoP` header values of the request) against the request.
    pub fn check(&self, proofs: &[&str], expected: &ProofContext<'_>, now_s: i64) -> Result<(), DpopError> {
        let proof = match proofs {
            [] => return Err(DpopError::Missing),
            [proof] => proof,
            _ => return Err(DpopError::Several),
        };
        let verified = dpop::verify(proof, now_s, self.window)?;
        if verified.jkt != expected.jkt {
            return Err(DpopError::OtherKey);
        }
        if verified.claims.htm != expected.method {
            return Err(DpopError::OtherMethod);
        }
        let htu = verified.claims.htu.split(['?', '#']).next().unwrap_or_default();
        if htu != expected.url {
            return Err(DpopError::OtherUrl);
        }
        if verified.claims.ath.as_deref() != Some(dpop::access_token_hash(expected.access_token).as_str()) {
            return Err(DpopError::OtherToken);
        }
        // Only a proof that passed every other check is remembered, so garbage cannot
        // fill the cache; the key includes the thumbprint, as `jti` is unique per key.
        let entry = self.seen.entry(format!("{}:{}", verified.jkt, verified.claims.jti)).or_insert(());
        if !entry.is_fresh() {
            return Err(DpopError::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use c9pay_platform::dpop::{ProofClaims, sign, thumbprint};
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use ed25519_dalek::SigningKey;

    use super::*;

    const URL: &str = "http://router.test/graphql";

    fn proof(key: &SigningKey, htm: &str, htu: &str, token: &str, jti: &str) -> String {
        sign(
            key,
            &ProofClaims {
                htm: htm.to_string(),
                htu: htu.to_string(),
                iat: 1_000,
                jti: jti.to_string(),
                ath: Some(dpop::access_token_hash(token)),
            },
        )
    }

    #[test]
    fn only_a_fresh_matching_proof_passes_and_only_once() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let jkt = thumbprint(&URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()));
        let checker = ProofChecker::new(&DpopConfig::default());
        let expected = ProofContext { method: "POST", url: URL, access_token: "token", jkt: &jkt };
        let check = |proof: &str| checker.check(&[proof], &expected, 1_000);

        assert_eq!(checker.check(&[], &expected, 1_000), Err(DpopError::Missing));
        assert_eq!(check(&proof(&SigningKey::from_bytes(&[6; 32]), "POST", URL, "token", "a")), Err(DpopError::OtherKey));
        assert_eq!(check(&proof(&key, "GET", URL, "token", "b")), Err(DpopError::OtherMethod));
        assert_eq!(check(&proof(&key, "POST", "http://elsewhere.test/graphql", "token", "c")), Err(DpopError::OtherUrl));
        assert_eq!(check(&proof(&key, "POST", URL, "other token", "d")), Err(DpopError::OtherToken));
        let good = proof(&key, "POST", URL, "token", "e");
        assert_eq!(check(&good), Ok(()));
        assert_eq!(check(&good), Err(DpopError::Replayed));
        assert_eq!(checker.check(&[&good], &expected, 1_100), Err(DpopError::Invalid(ProofError::Stale)));
    }
}
