//! How requests arrive: GraphQL over HTTP ([`http`]), server-sent events ([`sse`]) and
//! GraphQL over WebSocket ([`websocket`]). Each turns what it received into a
//! [`crate::pipeline::GraphQLRequest`] and a [`crate::pipeline::Caller`], and the
//! pipeline's answer back into its own framing.

pub mod http;
pub mod sse;
pub mod websocket;
