//! DPoP (RFC 9449) proofs with Ed25519 keys: what binds a kiosk's tokens to the key the
//! kiosk device holds (made with WebCrypto, never leaving the device).
//!
//! A proof is a JWS of type `dpop+jwt`, signed with the device's private key, whose
//! header carries the public key as a JWK; its claims name the HTTP method (`htm`) and
//! URL (`htu`) of the one request it accompanies, when it was made (`iat`), a unique id
//! (`jti`, so that it is used once) and, with an access token, `ath`: the base64url
//! SHA-256 of that token. The router verifies one per kiosk request; auth verifies one
//! when a kiosk asks for a token. What this module checks is what any verifier must
//! (type, algorithm, key, signature, freshness); what the request must match (method,
//! URL, token, key thumbprint, single use) is the caller's to compare.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The JWS `typ` of a proof.
pub const PROOF_TYPE: &str = "dpop+jwt";
/// The longest `jti` accepted: a UUID or 128 random bits fit many times over.
pub const JTI_LENGTH_MAX: usize = 128;
/// The largest proof accepted, in bytes (header, claims and signature).
pub const PROOF_SIZE_MAX_BYTES: usize = 2_048;

/// How far a proof's `iat` may lie from now: proofs are made just before their request,
/// so the window is short in the past and shorter still in the future (clock skew).
#[derive(Clone, Copy, Debug)]
pub struct ProofWindow {
    pub past_s: i64,
    pub future_s: i64,
}

impl Default for ProofWindow {
    fn default() -> Self {
        Self { past_s: 60, future_s: 5 }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("the DPoP proof is malformed")]
    Malformed,
    #[error("the DPoP proof must have typ dpop+jwt")]
    WrongType,
    #[error("the DPoP proof must be signed with EdDSA (or `Ed25519`) over an Ed25519 key")]
    WrongAlgorithm,
    #[error("the DPoP proof's jwk is not a public Ed25519 key")]
    BadKey,
    #[error("the DPoP proof's signature does not verify")]
    BadSignature,
    #[error("the DPoP proof is not fresh (iat outside the window)")]
    Stale,
}

/// The claims of a proof.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofClaims {
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
}

/// A proof whose signature verified with the key in its header, made inside the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    pub claims: ProofClaims,
    /// RFC 7638 thumbprint of the key that signed it.
    pub jkt: String,
    /// Base64url of the 32-byte public key (the JWK's `x`).
    pub public_key: String,
}

#[derive(Deserialize)]
struct ProofHeader {
    typ: Option<String>,
    alg: String,
    jwk: Option<Value>,
}

/// RFC 7638 thumbprint of an Ed25519 public key given as its JWK `x` (base64url).
pub fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The `x` of a public Ed25519 JWK, checked to be a 32-byte key; `None` for anything
/// else (another key type, a private key with `d`, a malformed value).
pub fn ed25519_public_x(jwk: &Value) -> Option<String> {
    let object = jwk.as_object()?;
    if object.get("kty")?.as_str()? != "OKP" || object.get("crv")?.as_str()? != "Ed25519" || object.contains_key("d") {
        return None;
    }
    let x = object.get("x")?.as_str()?;
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(x).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()?;
    Some(x.to_string())
}

/// `ath`: base64url of the SHA-256 of an access token.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Verifies a proof's form, key and signature, and that its `iat` is inside `window`
/// around `now_s`.
pub fn verify(proof: &str, now_s: i64, window: ProofWindow) -> Result<VerifiedProof, ProofError> {
    if proof.len() > PROOF_SIZE_MAX_BYTES {
        return Err(ProofError::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(header_part), Some(claims_part), Some(signature_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| ProofError::Malformed);
    let header: ProofHeader = serde_json::from_slice(&decode(header_part)?).map_err(|_| ProofError::Malformed)?;
    if header.typ.as_deref() != Some(PROOF_TYPE) {
        return Err(ProofError::WrongType);
    }
    // The algorithm is the verifier's choice; the header only has to agree with it. Both
    // names denote Ed25519 here: `EdDSA` (RFC 8037) and the fully specified `Ed25519`
    // (RFC 9864), which browser libraries write for WebCrypto keys.
    if !ACCEPTED_ALGORITHMS.contains(&header.alg.as_str()) {
        return Err(ProofError::WrongAlgorithm);
    }
    let x = header.jwk.as_ref().and_then(ed25519_public_x).ok_or(ProofError::BadKey)?;
    let key_bytes: [u8; 32] = decode(&x)?.try_into().map_err(|_| ProofError::BadKey)?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| ProofError::BadKey)?;
    let signature_bytes: [u8; 64] = decode(signature_part)?.try_into().map_err(|_| ProofError::BadSignature)?;
    let signing_input = &proof[..header_part.len() + 1 + claims_part.len()];
    key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature_bytes))
        .map_err(|_| ProofError::BadSignature)?;
    let claims: ProofClaims = serde_json::from_slice(&decode(claims_part)?).map_err(|_| ProofError::Malformed)?;
    if claims.jti.is_empty() || claims.jti.len() > JTI_LENGTH_MAX {
        return Err(ProofError::Malformed);
    }
    if claims.iat < now_s.saturating_sub(window.past_s) || claims.iat > now_s.saturating_add(window.future_s) {
        return Err(ProofError::Stale);
    }
    Ok(VerifiedProof { claims, jkt: thumbprint(&x), public_key: x })
}

/// The public JWK of an Ed25519 key (what a kiosk registers).
pub fn public_jwk(key: &SigningKey) -> Value {
    json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()) })
}

/// The `alg` names a proof may carry, all meaning Ed25519 signatures.
pub const ACCEPTED_ALGORITHMS: [&str; 2] = ["EdDSA", "Ed25519"];

/// Makes a proof with `key`: what a kiosk does before each request (in the browser with
/// WebCrypto; here for tests, demos and native clients).
pub fn sign(key: &SigningKey, claims: &ProofClaims) -> String {
    sign_with_algorithm(key, claims, "EdDSA")
}

/// [`sign`] with the header's `alg` chosen: `EdDSA` or `Ed25519` (RFC 9864), as browser
/// libraries write it.
pub fn sign_with_algorithm(key: &SigningKey, claims: &ProofClaims, algorithm: &str) -> String {
    let header = json!({ "typ": PROOF_TYPE, "alg": algorithm, "jwk": public_jwk(key) });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::to_string(claims).unwrap_or_default())
    );
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: i64) -> ProofClaims {
        ProofClaims {
            htm: "POST".to_string(),
            htu: "https://pay.example/graphql".to_string(),
            iat,
            jti: "j-1".to_string(),
            ath: Some(access_token_hash("token")),
        }
    }

    #[test]
    fn a_signed_proof_verifies_with_the_key_in_its_header() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let verified = verify(&sign(&key, &claims(1_000)), 1_000, ProofWindow::default());
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
        assert_eq!(verified, Ok(VerifiedProof { claims: claims(1_000), jkt: thumbprint(&x), public_key: x }));
    }

    #[test]
    fn a_proof_named_ed25519_as_rfc_9864_writes_it_verifies_and_other_algorithms_do_not() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let verified = verify(&sign_with_algorithm(&key, &claims(1_000), "Ed25519"), 1_000, ProofWindow::default());
        assert_eq!(verified.map(|proof| proof.claims), Ok(claims(1_000)));
        for algorithm in ["ES256", "none", "ed25519", ""] {
            assert_eq!(
                verify(&sign_with_algorithm(&key, &claims(1_000), algorithm), 1_000, ProofWindow::default()),
                Err(ProofError::WrongAlgorithm),
                "alg {algorithm:?}"
            );
        }
    }

    #[test]
    fn a_stale_or_future_proof_is_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let window = ProofWindow::default();
        assert_eq!(verify(&sign(&key, &claims(1_000)), 1_061, window), Err(ProofError::Stale));
        assert_eq!(verify(&sign(&key, &claims(1_010)), 1_000, window), Err(ProofError::Stale));
    }

    #[test]
    fn a_proof_with_a_swapped_key_or_changed_claims_is_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let other = SigningKey::from_bytes(&[4; 32]);
        let proof = sign(&key, &claims(1_000));
        let other_proof = sign(&other, &claims(1_000));
        let parts: Vec<&str> = proof.split('.').collect();
        let other_parts: Vec<&str> = other_proof.split('.').collect();
        // The other key's header over this proof's claims and signature.
        let swapped = format!("{}.{}.{}", other_parts[0], parts[1], parts[2]);
        assert_eq!(verify(&swapped, 1_000, ProofWindow::default()), Err(ProofError::BadSignature));
        let changed = URL_SAFE_NO_PAD.encode(serde_json::to_string(&ProofClaims { htm: "GET".to_string(), ..claims(1_000) }).unwrap_or_default());
        let tampered = format!("{}.{changed}.{}", parts[0], parts[2]);
        assert_eq!(verify(&tampered, 1_000, ProofWindow::default()), Err(ProofError::BadSignature));
    }

    #[test]
    fn the_thumbprint_matches_rfc_8037_appendix_a3() {
        assert_eq!(thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }
}
