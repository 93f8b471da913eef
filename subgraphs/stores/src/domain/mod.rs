//! Catalogue and sale rules, without I/O.

pub mod sale;

use thiserror::Error;

/// The name of a store or a product: trimmed, 1 to 64 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("a name may not be empty")]
    Empty,
    #[error("a name may have at most {max} characters", max = Name::LENGTH_MAX_CHARS)]
    TooLong,
    #[error("a name may not contain control characters")]
    ControlCharacter,
}

impl Name {
    /// Matches the `length(name) between 1 and 64` checks in the migrations.
    pub const LENGTH_MAX_CHARS: usize = 64;

    pub fn parse(value: &str) -> Result<Self, NameError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Err(NameError::Empty)
        } else if trimmed.chars().count() > Self::LENGTH_MAX_CHARS {
            Err(NameError::TooLong)
        } else if trimmed.chars().any(char::is_control) {
            Err(NameError::ControlCharacter)
        } else {
            Ok(Self(trimmed.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Corner Café ").map(|name| name.as_str().to_string()), Ok("Corner Café".to_string()));
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse(" \t "), Err(NameError::Empty));
        assert!(Name::parse(&"가".repeat(64)).is_ok(), "64 characters, not bytes");
        assert_eq!(Name::parse(&"x".repeat(65)), Err(NameError::TooLong));
        assert_eq!(Name::parse("tab\there"), Err(NameError::ControlCharacter));
    }
}
