//! Typed identifiers (hyperswitch `id_type`): each kind of id is its own newtype with a
//! prefix (`usr_`, `sto_`, …) and a validating `parse`, so a store id can never be passed
//! where a user id is expected, in Rust or over the API.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{value:?} is not a valid {kind} id")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an id newtype: `prefix_` followed by the 32 lower-case hex digits of a UUIDv7
/// (time-ordered, so new rows append to the end of an index).
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, $crate::id::uuid_v7_hex()))
            }

            /// Accepts exactly `prefix_` + 32 lower-case hex digits.
            pub fn parse(value: &str) -> Result<Self, $crate::id::InvalidId> {
                if $crate::id::has_shape(value, $prefix) {
                    Ok(Self(value.to_string()))
                } else {
                    Err($crate::id::InvalidId { kind: $kind, value: value.chars().take(64).collect() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::id::InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl TryFrom<&async_graphql::ID> for $name {
            type Error = $crate::id::InvalidId;
            fn try_from(id: &async_graphql::ID) -> Result<Self, Self::Error> {
                Self::parse(id.as_str())
            }
        }
    };
}

id_type!(
    /// A person (app user or merchant owner).
    UserId, "usr", "user"
);
id_type!(
    /// A store, owned by one user.
    StoreId, "sto", "store"
);
id_type!(
    /// A product in one store's catalogue.
    ProductId, "prd", "product"
);
id_type!(
    /// A store's kiosk device, registered by the store's owner with its public key.
    KioskId, "kio", "kiosk"
);
id_type!(
    /// A ledger account (a user's wallet, a store's account, a system account).
    AccountId, "acc", "account"
);

#[doc(hidden)]
pub fn uuid_v7_hex() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[doc(hidden)]
pub fn has_shape(value: &str, prefix: &str) -> bool {
    let Some(rest) = value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
    else {
        return false;
    };
    rest.len() == 32
        && rest
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_id_parses_back() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let store = StoreId::generate();
        assert!(UserId::parse(store.as_str()).is_err());
    }

    #[test]
    fn malformed_ids_are_refused() {
        for value in [
            "",
            "usr_",
            "usr_XYZ",
            "usr_0123456789abcdef0123456789abcdeF",
            "usr-0123456789abcdef0123456789abcdef",
        ] {
            assert!(UserId::parse(value).is_err(), "{value:?} parsed");
        }
    }
}
