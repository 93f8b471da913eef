//! Email addresses as login names: trimmed and lower-cased, so `Ada@Example.com ` and
//! `ada@example.com` are one account. Only the shape is checked here; whether the mailbox
//! exists is a question for a confirmation mail, not a parser.

use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidEmail(&'static str);

impl Email {
    pub const LENGTH_MAX_BYTES: usize = 254;

    pub fn parse(value: &str) -> Result<Self, InvalidEmail> {
        let normalised = value.trim().to_lowercase();
        if normalised.len() > Self::LENGTH_MAX_BYTES {
            return Err(InvalidEmail(
                "an email address may have at most 254 characters",
            ));
        }
        let Some((local, domain)) = normalised.split_once('@') else {
            return Err(InvalidEmail("an email address needs an @"));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(InvalidEmail("an email address is name@domain"));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(InvalidEmail(
                "the domain of an email address needs a dot, as in example.com",
            ));
        }
        if normalised
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(InvalidEmail("an email address may not contain spaces"));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").map(|email| email.0),
            Ok("ada@example.com".to_string())
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for value in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@example.",
        ] {
            assert!(Email::parse(value).is_err(), "{value:?} accepted");
        }
    }
}
