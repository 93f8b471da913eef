//! Rules about identities, with no I/O.

pub mod email;
pub mod password;
pub mod refresh_token;
