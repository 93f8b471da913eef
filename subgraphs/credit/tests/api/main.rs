//! The credit subgraph's API and ledger, on SQLite and PostgreSQL.

#![allow(
    clippy::expect_used,
    reason = "a test stops at its first broken expectation, and the message says which"
)]

mod admins;
mod events;
mod helpers;
mod holds;
mod internal;
mod ledger;
mod money;
mod requests;
mod sdl;
mod simulation;
mod wallet;
