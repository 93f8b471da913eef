//! The wiring behind the `c9pay` binary, as a library so that tests can drive it.

pub mod demo;
pub mod up;
