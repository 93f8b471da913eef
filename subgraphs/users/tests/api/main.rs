//! The users subgraph over HTTP, spawned on port 0 with a fresh database; every test runs
//! on SQLite and on PostgreSQL.

mod helpers;
mod profile;
