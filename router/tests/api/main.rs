//! The router in front of the four real subgraphs, everything on port 0 with fresh
//! databases. Every test runs on SQLite and on PostgreSQL.

mod access_tokens;
mod admins;
mod audit;
mod client_mistakes;
mod browser_sessions;
mod circuit_breakers;
mod cors;
mod deduplication;
mod documents;
mod federation;
mod fuzz;
mod graphql_over_http;
mod helpers;
mod internal_trust;
mod key_rotation;
mod kiosks;
mod limits;
mod open_access;
mod payments;
mod rate_limits;
mod sessions;
mod subscriptions;
mod trusted_documents;
mod web_assets;
