//! Refresh tokens: 256 random bits, shown to the client once and stored only as their
//! SHA-256, so that the database alone cannot sign anyone in.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "rt_";

/// A new refresh token and its hash.
pub fn generate() -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    (token, hash)
}

/// The stored form of a token: lower-case hex SHA-256, 64 characters.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `token` could be one of ours at all (cheap refusal of garbage before a query).
pub fn is_well_formed(token: &str) -> bool {
    token
        .strip_prefix(PREFIX)
        .is_some_and(|rest| rest.len() == 43 && URL_SAFE_NO_PAD.decode(rest).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_well_formed_and_hashes_to_its_hash() {
        let (token, stored) = generate();
        assert!(is_well_formed(&token));
        assert_eq!(hash(&token), stored);
        assert_eq!(stored.len(), 64);
        assert_ne!(generate().0, token);
    }

    #[test]
    fn garbage_is_not_well_formed() {
        for token in ["", "rt_", "rt_short", "xx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            assert!(!is_well_formed(token), "{token:?}");
        }
    }
}
