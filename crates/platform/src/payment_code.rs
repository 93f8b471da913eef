//! The consumer-presented payment code: the QR a person's app shows at a till.
//!
//! Auth signs it with its current access-token key (Ed25519, published in its JWKS);
//! credit verifies it before it moves money. It is a compact JWS:
//!
//! - header `{"alg":"EdDSA","typ":"c9pay-pc+jwt","kid":…}`; the `typ` keeps an access
//!   token (signed by the same keys) from ever being accepted as a payment code, and the
//!   other way round;
//! - claims `{"iss":"c9pay-auth","aud":"c9pay-payment","sub":<payer>,"jti":<code id>,
//!   "iat":…,"exp":…}`, times in seconds.
//!
//! The seed system never checked a code's expiry and let one code pay any number of
//! times. Here [`verify`] checks the signature, the expiry and the lifetime; single use
//! is credit's business, which stores each `jti` once in the same transaction as the
//! payment (`PAYMENT_CODE_USED`).

use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    id::UserId,
    jwks::{JwksClient, KeySet},
};

/// The JWS `typ` of a payment code.
pub const TYPE: &str = "c9pay-pc+jwt";
/// The `iss` of every payment code.
pub const ISSUER: &str = "c9pay-auth";
/// The `aud` of every payment code: whoever takes payments.
pub const AUDIENCE: &str = "c9pay-payment";
/// The longest a payment code may live (DESIGN: ≤ 3 minutes). A code that claims a
/// longer life is refused even if its signature is good.
pub const LIFETIME_MAX_S: i64 = 180;
/// How far in the future a code's `iat` may lie: clocks of different pods drift a little,
/// but a code "issued" minutes from now would live longer than [`LIFETIME_MAX_S`].
pub const ISSUED_AT_SKEW_MAX_S: i64 = 60;
/// A payment code is about 300 bytes; anything much longer is not one, and is refused
/// before any parsing.
pub const TOKEN_LENGTH_MAX_BYTES: usize = 2048;
/// Stable error codes (`extensions.code`).
pub const CODE_INVALID: &str = "PAYMENT_CODE_INVALID";
pub const CODE_EXPIRED: &str = "PAYMENT_CODE_EXPIRED";
/// Credit's verdict when the code id was already spent (not decided here).
pub const CODE_USED: &str = "PAYMENT_CODE_USED";

/// A verified (or about to be signed) payment code. Times are Unix milliseconds but
/// carry whole seconds, the precision of the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentCode {
    /// 32 lower-case hex digits: 128 random bits, stored once by credit when spent.
    pub code_id: String,
    pub payer: UserId,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
    /// The `kid` of the key that signed it.
    pub key_id: String,
}

impl PaymentCode {
    /// A new code for `payer`, issued now (rounded down to the second) and living
    /// `lifetime_s` seconds, to be signed with key `key_id`.
    pub fn new(payer: UserId, key_id: &str, now_ms: i64, lifetime_s: i64) -> Self {
        let issued_at_ms = now_ms.div_euclid(1000).saturating_mul(1000);
        Self {
            code_id: generate_code_id(),
            payer,
            issued_at_ms,
            expires_at_ms: issued_at_ms.saturating_add(lifetime_s.saturating_mul(1000)),
            key_id: key_id.to_string(),
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PaymentCodeError {
    /// Not a compact JWS at all, or one whose parts do not decode.
    #[error("the payment code is malformed")]
    Malformed,
    /// Signed with a key id this key set does not know. The caller should refresh its
    /// JWKS once and retry ([`verify_with_refresh`] does); after that it is invalid.
    #[error("the payment code was signed with an unknown key {0:?}")]
    UnknownKey(String),
    #[error("the payment code's signature does not verify")]
    BadSignature,
    #[error("the payment code has expired; show a fresh one")]
    Expired,
    /// Well-formed and signed, but not a payment code we accept (wrong type, algorithm,
    /// issuer, audience, lifetime, id shape or payer).
    #[error("the payment code is invalid: {0}")]
    Invalid(String),
    /// The keys to verify with could not be fetched; nothing can be said about the code.
    #[error("the payment code cannot be verified now: {0}")]
    KeysUnavailable(String),
}

impl PaymentCodeError {
    /// The stable `extensions.code` for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired => CODE_EXPIRED,
            Self::Malformed | Self::UnknownKey(_) | Self::BadSignature | Self::Invalid(_) => {
                CODE_INVALID
            }
            Self::KeysUnavailable(_) => crate::error::code::UNAVAILABLE,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    jti: String,
    iat: i64,
    exp: i64,
}

/// 128 random bits as 32 lower-case hex digits.
pub fn generate_code_id() -> String {
    uuid::Uuid::from_bytes(rand::random::<[u8; 16]>())
        .simple()
        .to_string()
}

fn is_code_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// Signs `code` with `key`, naming it `kid` (which must be `code.key_id`).
pub fn sign(code: &PaymentCode, kid: &str, key: &EncodingKey) -> Result<String, PaymentCodeError> {
    if code.key_id != kid {
        return Err(PaymentCodeError::Invalid(format!(
            "the code names key {:?} but is signed with {kid:?}",
            code.key_id
        )));
    }
    if !is_code_id(&code.code_id) {
        return Err(PaymentCodeError::Invalid(
            "a code id is 32 lower-case hex digits".to_string(),
        ));
    }
    let issued_at_s = code.issued_at_ms.div_euclid(1000);
    let expires_at_s = code.expires_at_ms.div_euclid(1000);
    let lifetime_s = expires_at_s.saturating_sub(issued_at_s);
    if !(1..=LIFETIME_MAX_S).contains(&lifetime_s) {
        return Err(PaymentCodeError::Invalid(format!(
            "a payment code lives 1 to {LIFETIME_MAX_S} seconds, not {lifetime_s}"
        )));
    }
    let claims = Claims {
        iss: ISSUER.to_string(),
        aud: AUDIENCE.to_string(),
        sub: code.payer.to_string(),
        jti: code.code_id.clone(),
        iat: issued_at_s,
        exp: expires_at_s,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(TYPE.to_string());
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, &claims, key)
        .map_err(|error| PaymentCodeError::Invalid(format!("signing: {error}")))
}

/// Verifies a payment code against `keys` at time `now_ms`: algorithm EdDSA only, the
/// payment-code `typ`, a known `kid`, the signature, issuer and audience, not expired,
/// a lifetime of at most [`LIFETIME_MAX_S`], and the shapes of the code id and payer.
pub fn verify(token: &str, keys: &KeySet, now_ms: i64) -> Result<PaymentCode, PaymentCodeError> {
    if token.is_empty() || token.len() > TOKEN_LENGTH_MAX_BYTES {
        return Err(PaymentCodeError::Malformed);
    }
    // The header is read unverified only to pick the key and refuse what we would never
    // accept; the signature check below covers it again.
    let header = jsonwebtoken::decode_header(token).map_err(|_| PaymentCodeError::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(PaymentCodeError::Invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    if header.typ.as_deref() != Some(TYPE) {
        return Err(PaymentCodeError::Invalid(
            "not a payment code (typ)".to_string(),
        ));
    }
    if header.crit.is_some() {
        return Err(PaymentCodeError::Invalid(
            "critical header extensions are not understood".to_string(),
        ));
    }
    let kid = header
        .kid
        .ok_or_else(|| PaymentCodeError::Invalid("no key id".to_string()))?;
    let key = keys
        .get(&kid)
        .ok_or_else(|| PaymentCodeError::UnknownKey(kid.chars().take(64).collect()))?;

    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    // Expiry is checked below against the caller's clock, without leeway: a code that
    // has expired at the till has expired.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature => PaymentCodeError::BadSignature,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => PaymentCodeError::Malformed,
            other => PaymentCodeError::Invalid(format!("{other:?}")),
        })?
        .claims;

    let now_s = now_ms.div_euclid(1000);
    let lifetime_s = claims.exp.checked_sub(claims.iat);
    if !lifetime_s.is_some_and(|lifetime_s| (1..=LIFETIME_MAX_S).contains(&lifetime_s)) {
        return Err(PaymentCodeError::Invalid(format!(
            "a payment code lives at most {LIFETIME_MAX_S} seconds"
        )));
    }
    if claims.iat > now_s.saturating_add(ISSUED_AT_SKEW_MAX_S) {
        return Err(PaymentCodeError::Invalid(
            "issued in the future".to_string(),
        ));
    }
    let expires_at_ms = claims
        .exp
        .checked_mul(1000)
        .ok_or_else(|| PaymentCodeError::Invalid("expiry out of range".to_string()))?;
    if expires_at_ms <= now_ms {
        return Err(PaymentCodeError::Expired);
    }
    if !is_code_id(&claims.jti) {
        return Err(PaymentCodeError::Invalid(
            "a code id is 32 lower-case hex digits".to_string(),
        ));
    }
    let payer = UserId::parse(&claims.sub)
        .map_err(|_| PaymentCodeError::Invalid("the payer is not a user id".to_string()))?;
    Ok(PaymentCode {
        code_id: claims.jti,
        payer,
        issued_at_ms: claims.iat.saturating_mul(1000),
        expires_at_ms,
        key_id: kid,
    })
}

/// [`verify`] against the keys of `client`; a code signed by a key it does not know
/// makes it refresh its JWKS (at most once per its minimum interval) and try once more,
/// so that a key auth has just rotated in is picked up without a restart.
pub async fn verify_with_refresh(
    token: &str,
    client: &JwksClient,
    now_ms: i64,
) -> Result<PaymentCode, PaymentCodeError> {
    let keys = client
        .get()
        .await
        .map_err(|error| PaymentCodeError::KeysUnavailable(error.to_string()))?;
    match verify(token, &keys, now_ms) {
        Err(PaymentCodeError::UnknownKey(kid)) => {
            let keys = client
                .refresh()
                .await
                .map_err(|error| PaymentCodeError::KeysUnavailable(error.to_string()))?;
            match verify(token, &keys, now_ms) {
                Err(PaymentCodeError::UnknownKey(_)) => Err(PaymentCodeError::UnknownKey(kid)),
                result => result,
            }
        }
        result => result,
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
    use serde_json::json;

    use super::*;
    use crate::jwks::ed25519_jwk;

    const NOW_MS: i64 = 1_800_000_000_123;

    struct TestKey {
        kid: String,
        signing: SigningKey,
    }

    impl TestKey {
        fn new(kid: &str) -> Self {
            Self {
                kid: kid.to_string(),
                signing: SigningKey::generate(&mut rand::rngs::OsRng),
            }
        }

        fn encoding(&self) -> EncodingKey {
            match self.signing.to_pkcs8_der() {
                Ok(der) => EncodingKey::from_ed_der(der.as_bytes()),
                Err(error) => panic!("pkcs8: {error}"),
            }
        }

        fn key_set(&self) -> KeySet {
            key_set_of(&[self])
        }
    }

    fn key_set_of(keys: &[&TestKey]) -> KeySet {
        let document = json!({
            "keys": keys
                .iter()
                .map(|key| ed25519_jwk(&key.kid, &key.signing.verifying_key().to_bytes()))
                .collect::<Vec<_>>()
        });
        match KeySet::from_value(&document) {
            Ok(keys) => keys,
            Err(error) => panic!("key set: {error}"),
        }
    }

    fn code(key: &TestKey, lifetime_s: i64) -> PaymentCode {
        PaymentCode::new(UserId::generate(), &key.kid, NOW_MS, lifetime_s)
    }

    fn signed(key: &TestKey, code: &PaymentCode) -> String {
        match sign(code, &key.kid, &key.encoding()) {
            Ok(token) => token,
            Err(error) => panic!("signing: {error}"),
        }
    }

    /// Signs arbitrary header and claims with `key`, bypassing [`sign`]'s own checks.
    fn signed_raw(key: &TestKey, header: &Header, claims: &serde_json::Value) -> String {
        match jsonwebtoken::encode(header, claims, &key.encoding()) {
            Ok(token) => token,
            Err(error) => panic!("signing: {error}"),
        }
    }

    fn header(kid: &str) -> Header {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TYPE.to_string());
        header.kid = Some(kid.to_string());
        header
    }

    fn claims_of(code: &PaymentCode) -> serde_json::Value {
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": code.payer, "jti": code.code_id,
            "iat": code.issued_at_ms / 1000, "exp": code.expires_at_ms / 1000,
        })
    }

    #[test]
    fn a_signed_code_verifies_to_the_same_code() {
        let key = TestKey::new("k1");
        let code = code(&key, 120);
        let token = signed(&key, &code);

        let verified = verify(&token, &key.key_set(), NOW_MS);

        assert_eq!(verified, Ok(code.clone()));
        assert_eq!(code.expires_at_ms - code.issued_at_ms, 120_000);
        assert_eq!(code.issued_at_ms % 1000, 0, "whole seconds");
    }

    #[test]
    fn code_ids_are_128_random_bits_in_hex() {
        let first = generate_code_id();
        assert!(is_code_id(&first), "{first}");
        assert_ne!(first, generate_code_id());
    }

    #[test]
    fn an_expired_code_is_refused_as_expired() {
        let key = TestKey::new("k1");
        let code = code(&key, 60);
        let token = signed(&key, &code);

        assert_eq!(
            verify(&token, &key.key_set(), code.expires_at_ms),
            Err(PaymentCodeError::Expired)
        );
        assert_eq!(
            verify(&token, &key.key_set(), code.expires_at_ms + 1),
            Err(PaymentCodeError::Expired)
        );
        assert!(verify(&token, &key.key_set(), code.expires_at_ms - 1).is_ok());
        assert_eq!(PaymentCodeError::Expired.code(), "PAYMENT_CODE_EXPIRED");
    }

    #[test]
    fn a_code_whose_payer_was_changed_does_not_verify() {
        let key = TestKey::new("k1");
        let code = code(&key, 120);
        let token = signed(&key, &code);
        let mut parts: Vec<&str> = token.split('.').collect();
        let tampered_claims = URL_SAFE_NO_PAD.encode(
            claims_of(&PaymentCode {
                payer: UserId::generate(),
                ..code
            })
            .to_string(),
        );
        parts[1] = &tampered_claims;
        let tampered = parts.join(".");

        let result = verify(&tampered, &key.key_set(), NOW_MS);

        assert_eq!(result, Err(PaymentCodeError::BadSignature));
        assert_eq!(
            PaymentCodeError::BadSignature.code(),
            "PAYMENT_CODE_INVALID"
        );
    }

    #[test]
    fn a_code_signed_by_another_key_under_the_same_kid_does_not_verify() {
        let trusted = TestKey::new("k1");
        let forger = TestKey::new("k1");
        let token = signed(&forger, &code(&forger, 120));

        assert_eq!(
            verify(&token, &trusted.key_set(), NOW_MS),
            Err(PaymentCodeError::BadSignature)
        );
    }

    #[test]
    fn a_code_signed_by_an_unknown_key_names_the_key() {
        let trusted = TestKey::new("k1");
        let other = TestKey::new("k2");
        let token = signed(&other, &code(&other, 120));

        assert_eq!(
            verify(&token, &trusted.key_set(), NOW_MS),
            Err(PaymentCodeError::UnknownKey("k2".to_string()))
        );
        assert!(verify(&token, &key_set_of(&[&trusted, &other]), NOW_MS).is_ok());
    }

    #[test]
    fn a_code_claiming_a_life_longer_than_180_seconds_is_invalid() {
        let key = TestKey::new("k1");
        let code = code(&key, LIFETIME_MAX_S + 1);
        assert!(matches!(
            sign(&code, &key.kid, &key.encoding()),
            Err(PaymentCodeError::Invalid(_))
        ));
        let token = signed_raw(&key, &header(&key.kid), &claims_of(&code));

        let result = verify(&token, &key.key_set(), NOW_MS);

        assert!(
            matches!(result, Err(PaymentCodeError::Invalid(_))),
            "{result:?}"
        );
        let at_limit = PaymentCode {
            expires_at_ms: code.issued_at_ms + LIFETIME_MAX_S * 1000,
            ..code
        };
        assert!(verify(&signed(&key, &at_limit), &key.key_set(), NOW_MS).is_ok());
    }

    #[test]
    fn a_code_issued_in_the_future_is_invalid() {
        let key = TestKey::new("k1");
        let code = PaymentCode::new(UserId::generate(), &key.kid, NOW_MS + 3_600_000, 120);
        let token = signed(&key, &code);

        assert!(matches!(
            verify(&token, &key.key_set(), NOW_MS),
            Err(PaymentCodeError::Invalid(_))
        ));
    }

    #[test]
    fn unsigned_and_hmac_tokens_are_refused() {
        let key = TestKey::new("k1");
        let code = code(&key, 120);
        let claims = URL_SAFE_NO_PAD.encode(claims_of(&code).to_string());
        let none_header =
            URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": TYPE, "kid": "k1" }).to_string());
        let unsigned = format!("{none_header}.{claims}.");
        assert!(verify(&unsigned, &key.key_set(), NOW_MS).is_err());

        // HS256 with the public key as the secret: the classic algorithm confusion.
        let mut hmac_header = header(&key.kid);
        hmac_header.alg = Algorithm::HS256;
        let hmac = match jsonwebtoken::encode(
            &hmac_header,
            &claims_of(&code),
            &EncodingKey::from_secret(&key.signing.verifying_key().to_bytes()),
        ) {
            Ok(token) => token,
            Err(error) => panic!("hmac: {error}"),
        };
        let result = verify(&hmac, &key.key_set(), NOW_MS);
        assert!(
            matches!(result, Err(PaymentCodeError::Invalid(_))),
            "{result:?}"
        );
    }

    #[test]
    fn an_access_token_is_not_a_payment_code() {
        let key = TestKey::new("k1");
        let code = code(&key, 120);
        let mut jwt_header = header(&key.kid);
        jwt_header.typ = Some("JWT".to_string());
        let token = signed_raw(&key, &jwt_header, &claims_of(&code));

        assert!(matches!(
            verify(&token, &key.key_set(), NOW_MS),
            Err(PaymentCodeError::Invalid(_))
        ));
    }

    #[test]
    fn wrong_issuer_audience_code_id_or_payer_is_invalid() {
        let key = TestKey::new("k1");
        let code = code(&key, 120);
        for (field, value) in [
            ("iss", json!("someone-else")),
            ("aud", json!("c9pay")),
            ("jti", json!("not-hex")),
            ("sub", json!("sto_0123456789abcdef0123456789abcdef")),
        ] {
            let mut claims = claims_of(&code);
            claims[field] = value;
            let token = signed_raw(&key, &header(&key.kid), &claims);
            let result = verify(&token, &key.key_set(), NOW_MS);
            assert!(
                matches!(result, Err(PaymentCodeError::Invalid(_))),
                "{field}: {result:?}"
            );
        }
    }

    #[test]
    fn garbage_is_malformed() {
        let keys = TestKey::new("k1").key_set();
        for token in ["", "abc", "a.b.c", &"x".repeat(TOKEN_LENGTH_MAX_BYTES + 1)] {
            assert_eq!(
                verify(token, &keys, NOW_MS),
                Err(PaymentCodeError::Malformed),
                "{token:.20}"
            );
        }
    }
}
