//! The `Authorization` header of each subgraph fetch, chosen per subgraph from inside the
//! executor with its plugin hook: the pipeline hands the engine a function from subgraph
//! name to header value (`FetchAuthorization::PerSubgraph`, see
//! `credentials::internal_credentials`), which [`Runner::run`](super::Runner) keeps in the
//! request's plugin context, and this hook sets the header before the fetch is sent —
//! and before the executor compares it with the fetches in flight, so that identical
//! queries of one principal to one subgraph can share one fetch.
//!
//! A fetch whose header cannot be made (signing failed) ends with an error instead of
//! going out without one.

use std::sync::Arc;

use hive_router_plan_executor::{
    hooks::{
        on_plugin_init::{OnPluginInitPayload, OnPluginInitResult},
        on_subgraph_execute::{OnSubgraphExecuteStartHookPayload, OnSubgraphExecuteStartHookResult},
    },
    plugin_trait::{RouterPlugin, StartHookPayload},
    response::graphql_error::GraphQLError,
};

/// The code of a fetch whose credential could not be made (`SUBGRAPH_` like the
/// executor's own codes, so the pipeline masks it as an internal error).
const NO_CREDENTIAL_CODE: &str = "SUBGRAPH_CREDENTIAL_UNAVAILABLE";

/// Subgraph name → `Authorization` header value, for one request.
pub type PerSubgraph = Arc<dyn Fn(&str) -> Option<Arc<str>> + Send + Sync>;

/// What [`Runner::run`](super::Runner) puts in the plugin context of a request whose
/// fetches each need their own header.
pub(super) struct RequestCredentials(pub(super) PerSubgraph);

pub(super) struct FetchCredentials;

#[async_trait::async_trait]
impl RouterPlugin for FetchCredentials {
    fn plugin_name() -> &'static str {
        "c9pay_fetch_credentials"
    }

    type Config = ();

    /// Never called: the engine constructs this plugin itself.
    fn on_plugin_init(_payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        Ok(None)
    }

    async fn on_subgraph_execute<'exec>(
        &'exec self,
        mut payload: OnSubgraphExecuteStartHookPayload<'exec>,
    ) -> OnSubgraphExecuteStartHookResult<'exec> {
        // A request with one header for every fetch has it in place already.
        let Some(authorization) = payload
            .context
            .get_ref::<RequestCredentials>()
            .map(|credentials| (credentials.0)(payload.subgraph_name))
        else {
            return payload.proceed();
        };
        match authorization.and_then(|value| http::HeaderValue::from_str(&value).ok()) {
            Some(value) => {
                payload.execution_request.headers.insert(http::header::AUTHORIZATION, value);
                payload.proceed()
            }
            None => {
                let error = GraphQLError::from_message_and_code("no internal credential for the subgraph", NO_CREDENTIAL_CODE)
                    .add_subgraph_name(payload.subgraph_name);
                payload.end_with_graphql_error(error, http::StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}
