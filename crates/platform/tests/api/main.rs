//! c9pay-platform's integration tests: what needs a real server (PostgreSQL over TLS).
//! Tests under `postgres::` need PostgreSQL's server binaries; they never skip.

mod helpers;

mod postgres {
    mod tls;
}
