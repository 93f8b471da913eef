//! The stores subgraph's API, against a real credit subgraph, on SQLite and PostgreSQL.

#![allow(clippy::expect_used, reason = "a test stops at its first broken expectation, and the message says which")]

mod admins;
mod circuit_breaker;
mod demo;
mod helpers;
mod kiosks;
mod products;
mod reconciler;
mod refunds;
mod sales;
mod sdl;
mod stores;
mod takings;
