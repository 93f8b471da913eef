//! Text rules shared by more than one subgraph.

use thiserror::Error;

/// A person's display name: trimmed, 1 to 64 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DisplayNameError {
    #[error("a display name may not be empty")]
    Empty,
    #[error("a display name may have at most {max} characters", max = DisplayName::LENGTH_MAX_CHARS)]
    TooLong,
    #[error("a display name may not contain control characters")]
    ControlCharacter,
}

impl DisplayName {
    pub const LENGTH_MAX_CHARS: usize = 64;

    pub fn parse(value: &str) -> Result<Self, DisplayNameError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Err(DisplayNameError::Empty)
        } else if trimmed.chars().count() > Self::LENGTH_MAX_CHARS {
            Err(DisplayNameError::TooLong)
        } else if trimmed.chars().any(char::is_control) {
            Err(DisplayNameError::ControlCharacter)
        } else {
            Ok(Self(trimmed.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ada  ").map(DisplayName::into_inner),
            Ok("Ada".to_string())
        );
        assert_eq!(DisplayName::parse("   "), Err(DisplayNameError::Empty));
        assert_eq!(
            DisplayName::parse(&"x".repeat(65)),
            Err(DisplayNameError::TooLong)
        );
        assert_eq!(
            DisplayName::parse("a\u{0}b"),
            Err(DisplayNameError::ControlCharacter)
        );
    }
}
