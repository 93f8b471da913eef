//! Money: whole credits (1 credit = 1 KRW) in an `i64`, with checked arithmetic only.
//!
//! `Amount` may be negative as a value (a system account's balance is), but every amount
//! a person types is checked with [`Amount::parse_positive`] before it means anything.
//! Over GraphQL it is the scalar `Amount`, a decimal string, so that no JSON client ever
//! rounds it through a float.

use std::fmt;

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(i64);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AmountError {
    #[error("an amount must be greater than zero")]
    NotPositive,
    #[error("an amount may be at most {max} credits", max = Amount::MAX.0)]
    TooLarge,
    #[error("arithmetic on amounts overflowed")]
    Overflow,
}

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// The largest amount anyone may type (a trillion credits). Keeping inputs this small
    /// means a line total (quantity × price, quantity capped separately) cannot overflow.
    pub const MAX: Amount = Amount(1_000_000_000_000);

    /// Wraps a value read back from the database, where check constraints already hold.
    pub const fn from_stored(value: i64) -> Self {
        Self(value)
    }

    /// An amount a person typed: strictly positive and at most [`Amount::MAX`].
    pub fn parse_positive(value: i64) -> Result<Self, AmountError> {
        if value <= 0 {
            Err(AmountError::NotPositive)
        } else if value > Self::MAX.0 {
            Err(AmountError::TooLarge)
        } else {
            Ok(Self(value))
        }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    pub fn checked_sub(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_sub(other.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    pub fn checked_mul(self, factor: i64) -> Result<Amount, AmountError> {
        self.0
            .checked_mul(factor)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Integer credits, serialised as a decimal string ("15000"). Input accepts a string of
/// an optional minus sign and digits, or a JSON integer; whether a value is acceptable
/// for a given field (positive, within limits) is the resolver's rule, so that a bad
/// amount gets a domain error code rather than a generic coercion failure.
/// Why a value is not an `Amount`: the message a client reads.
pub const AMOUNT_FORMAT: &str =
    "an Amount is a whole number of credits written as a decimal string, for example \"1500\"";

/// What a client may send as an `Amount`, before the resolver's own rules.
pub enum AmountInput<'a> {
    Text(&'a str),
    /// A JSON or GraphQL integer that fits an `i64`.
    Integer(i64),
    /// Anything else: a float, a boolean, an integer too large, a list, an object.
    Other,
}

impl Amount {
    /// The `Amount` scalar's input rule, shared by the subgraphs (through
    /// [`ScalarType::parse`]) and the router (which refuses a malformed amount before
    /// any subgraph is called): a string of an optional minus sign and at most 18
    /// digits, or an integer.
    pub fn from_input(input: AmountInput<'_>) -> Result<Self, &'static str> {
        match input {
            AmountInput::Text(text) => {
                let digits = text.strip_prefix('-').unwrap_or(text);
                if digits.is_empty()
                    || digits.len() > 18
                    || !digits.bytes().all(|byte| byte.is_ascii_digit())
                {
                    return Err(AMOUNT_FORMAT);
                }
                text.parse::<i64>().map(Amount).map_err(|_| "Amount out of range")
            }
            AmountInput::Integer(value) => Ok(Amount(value)),
            AmountInput::Other => Err(AMOUNT_FORMAT),
        }
    }
}

/// Integer credits, serialised as a decimal string ("15000"). Input accepts a string of
/// an optional minus sign and digits, or a JSON integer; whether a value is acceptable
/// for a given field (positive, within limits) is the resolver's rule, so that a bad
/// amount gets a domain error code rather than a generic coercion failure.
#[Scalar(name = "Amount")]
impl ScalarType for Amount {
    fn parse(value: Value) -> InputValueResult<Self> {
        let input = match &value {
            Value::String(text) => AmountInput::Text(text),
            Value::Number(number) => match number.as_i64() {
                Some(integer) => AmountInput::Integer(integer),
                None => AmountInput::Other,
            },
            _ => return Err(InputValueError::expected_type(value)),
        };
        Amount::from_input(input).map_err(InputValueError::custom)
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_amounts_within_the_limit_are_accepted() {
        assert_eq!(Amount::parse_positive(0), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse_positive(-1), Err(AmountError::NotPositive));
        assert_eq!(
            Amount::parse_positive(Amount::MAX.get() + 1),
            Err(AmountError::TooLarge)
        );
        assert_eq!(Amount::parse_positive(1).map(Amount::get), Ok(1));
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(
            Amount::from_stored(i64::MAX).checked_add(Amount::from_stored(1)),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Amount::from_stored(i64::MIN).checked_sub(Amount::from_stored(1)),
            Err(AmountError::Overflow)
        );
        assert_eq!(
            Amount::from_stored(3).checked_mul(4),
            Ok(Amount::from_stored(12))
        );
    }

    #[test]
    fn the_scalar_reads_strings_and_integers_and_writes_strings() {
        assert_eq!(
            <Amount as ScalarType>::parse(Value::String("1500".into())).ok(),
            Some(Amount(1500))
        );
        assert_eq!(
            <Amount as ScalarType>::parse(Value::String("-7".into())).ok(),
            Some(Amount(-7))
        );
        assert!(<Amount as ScalarType>::parse(Value::String("1.5".into())).is_err());
        assert!(<Amount as ScalarType>::parse(Value::String("".into())).is_err());
        assert_eq!(Amount(42).to_value(), Value::String("42".into()));
    }
}
