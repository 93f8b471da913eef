//! Who is calling: access tokens verified against auth's JWKS ([`access_tokens`]), kiosks'
//! DPoP proofs ([`dpop`]), auth's revocation feed ([`revocations`]), the admin session's
//! cookie ([`admin_session`]) and people's browser sessions, whose refresh token the router
//! keeps in a cookie so that no script can read it ([`browser_session`]).

pub mod access_tokens;
pub mod admin_session;
pub mod browser_session;
pub mod dpop;
pub mod internal_credentials;
pub mod revocations;
