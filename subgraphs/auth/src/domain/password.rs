//! Password rules and hashing.
//!
//! Rules follow NIST SP 800-63B: a minimum length, a generous maximum, no composition
//! rules, and a refusal of passwords that are known to be common or that repeat the
//! email. Hashing is argon2id with the OWASP-recommended parameters (19 MiB, 2 passes,
//! 1 lane), run on the blocking pool because it is deliberately slow.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use thiserror::Error;

use super::email::Email;

pub const LENGTH_MIN_CHARS: usize = 10;
pub const LENGTH_MAX_CHARS: usize = 128;

/// A short list of the most common passwords of at least the minimum length; a real
/// deployment would check a breached-password corpus as well.
const COMMON: &[&str] = &[
    "1234567890",
    "0123456789",
    "qwertyuiop",
    "password12",
    "password123",
    "password1234",
    "1q2w3e4r5t",
    "qwerty1234",
    "iloveyou12",
    "abcdefghij",
    "1111111111",
    "0000000000",
    "123456789a",
    "a123456789",
    "passw0rd12",
    "letmein123",
    "welcome123",
    "asdfghjkl1",
    "qwertyuiop1",
    "zaq12wsxcde",
    "1qaz2wsx3edc",
    "football12",
    "baseball12",
    "sunshine12",
];

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct WeakPassword(&'static str);

/// A password that passed the rules; it exists only long enough to be hashed.
pub struct Password(String);

impl Password {
    pub fn parse(value: &str, email: &Email) -> Result<Self, WeakPassword> {
        let length = value.chars().count();
        if length < LENGTH_MIN_CHARS {
            return Err(WeakPassword("a password needs at least 10 characters"));
        }
        if length > LENGTH_MAX_CHARS {
            return Err(WeakPassword("a password may have at most 128 characters"));
        }
        let lowered = value.to_lowercase();
        if COMMON.contains(&lowered.as_str()) {
            return Err(WeakPassword("this password is too common"));
        }
        if value.chars().all(|character| value.starts_with(character)) {
            return Err(WeakPassword("a password may not repeat one character"));
        }
        if lowered.contains(email.local_part()) && email.local_part().chars().count() >= 4 {
            return Err(WeakPassword(
                "a password may not contain your email address",
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Error)]
#[error("password hashing failed: {0}")]
pub struct HashingError(String);

/// Hashes on the blocking pool (argon2id, PHC string format).
pub async fn hash(password: Password) -> Result<String, HashingError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_str().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| HashingError(error.to_string()))
    })
    .await
    .map_err(|error| HashingError(error.to_string()))?
}

/// Verifies on the blocking pool. `stored` is `None` when no account has this email: a
/// fixed dummy hash is verified instead, so that an unknown email takes as long as a
/// wrong password and response times do not reveal which accounts exist.
pub async fn verify(candidate: String, stored: Option<String>) -> Result<bool, HashingError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = match stored {
            Some(stored) => stored,
            None => dummy_hash()?.to_string(),
        };
        let parsed = PasswordHash::new(&stored).map_err(|error| HashingError(error.to_string()))?;
        let matches = Argon2::default()
            .verify_password(candidate.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|error| HashingError(error.to_string()))?
}

/// The argon2id hash of a random string nobody knows, made once per process with the
/// same parameters as real hashes.
fn dummy_hash() -> Result<&'static str, HashingError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let salt = SaltString::generate(&mut OsRng);
    let secret = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(secret.as_str().as_bytes(), &salt)
        .map_err(|error| HashingError(error.to_string()))?
        .to_string();
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        match Email::parse("grace@example.com") {
            Ok(email) => email,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        for value in [
            "short",
            "1234567890",
            "aaaaaaaaaaaa",
            "grace-is-my-password",
            &"x".repeat(129),
        ] {
            assert!(
                Password::parse(value, &email()).is_err(),
                "{value:?} accepted"
            );
        }
    }

    #[test]
    fn a_long_uncommon_password_is_accepted() {
        assert!(Password::parse("correct horse battery staple", &email()).is_ok());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hashed = match Password::parse("correct horse battery staple", &email()) {
            Ok(password) => hash(password).await.unwrap_or_default(),
            Err(error) => panic!("{error}"),
        };
        assert!(
            verify("correct horse battery staple".into(), Some(hashed.clone()))
                .await
                .unwrap_or(false)
        );
        assert!(
            !verify("correct horse battery stapler".into(), Some(hashed))
                .await
                .unwrap_or(true)
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify("anything at all".into(), None).await.unwrap_or(true));
    }
}
