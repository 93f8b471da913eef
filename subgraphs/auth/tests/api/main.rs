//! The auth subgraph over HTTP, spawned on port 0 with fresh databases, next to a real
//! users subgraph (sign-up creates the profile there). Every test runs on SQLite and on
//! PostgreSQL.

mod admins;
mod circuit_breaker;
mod helpers;
mod internal_endpoints;
mod internal_trust;
mod kiosks;
mod log_in;
mod payment_code;
mod people;
mod sign_up;
mod signing_keys;
