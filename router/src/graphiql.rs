//! The page `GET /graphql` serves to a browser.
//!
//! It must not load scripts from a CDN (the router is the trust boundary; a compromised
//! CDN would run in the admins' origin). Until GraphiQL itself is vendored, this is a
//! small self-contained console: a query box, a variables box, an access-token box, and
//! the response, posted to this same endpoint.

pub const PAGE: &str = include_str!("graphiql.html");
