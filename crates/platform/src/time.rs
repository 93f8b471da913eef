//! Time as the database stores it: milliseconds since the Unix epoch in a 64-bit integer,
//! the one timestamp representation both PostgreSQL and SQLite compare natively.

use chrono::{DateTime, TimeZone, Utc};

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored Unix-millisecond timestamp as a `DateTime`; out-of-range values (which the
/// schema's check constraints rule out) fall back to the epoch rather than panicking.
pub fn from_ms(unix_ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(unix_ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// An RFC 3339 instant (as the GraphQL `DateTime` scalar writes it) in Unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.timestamp_millis())
}
