//! The router in front of the four real subgraphs, everything on port 0 with fresh
//! databases. Every test runs on SQLite and on PostgreSQL.

mod access_tokens;
mod audit;
mod federation;
mod graphql_over_http;
mod helpers;
mod internal_trust;
mod limits;
mod payments;
mod subscriptions;
