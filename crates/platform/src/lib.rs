//! What every c9pay target shares.
//!
//! Each subgraph and the router is a library with a `build(config)` that returns an
//! [`http::Application`]; this crate holds the pieces they have in common so that each
//! of them reads as its domain and nothing else.

pub mod circuit_breaker;
pub mod config;
pub mod database;
pub mod dpop;
pub mod error;
pub mod graphql;
pub mod http;
pub mod id;
pub mod internal_token;
pub mod jwks;
pub mod metrics;
pub mod money;
pub mod payment_code;
pub mod qr;
pub mod service;
pub mod telemetry;
pub mod text;
pub mod time;

#[cfg(feature = "testing")]
pub mod testing;
