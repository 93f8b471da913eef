//! The credit subgraph's GraphQL schema: `User.wallet` and `Store.account` on entities
//! other subgraphs own, their histories, and the money-moving mutations.

mod account;
mod admin;
mod entities;
mod events;
mod history;
mod money;
mod requests;

use std::sync::Arc;

use async_graphql::{MergedObject, Schema, SchemaBuilder, dataloader::DataLoader};
use c9pay_platform::database::Database;

pub use account::AccountLoader;

pub use events::Subscription;

use crate::{
    directory::UserDirectory, events::EventHub, funding::FundingProvider,
    operations::TopUpLimits, payment_requests::RequestKeys,
};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(entities::EntityQuery, requests::RequestQuery, admin::AdminQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(money::MoneyMutation, requests::RequestMutation);

pub type CreditSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .enable_federation()
        .enable_subscription_in_federation()
}

/// What resolvers need besides the database.
pub struct Services {
    pub funding: Arc<dyn FundingProvider>,
    pub directory: UserDirectory,
    pub top_up_limits: TopUpLimits,
    /// Signs and verifies payment requests; `None` when credit has no signing key.
    pub request_keys: Option<RequestKeys>,
    /// The live feed of ledger events.
    pub events: EventHub,
}

/// The schema with its data.
pub fn build(database: Database, services: Services) -> CreditSchema {
    let loader = DataLoader::new(
        AccountLoader {
            database: database.clone(),
        },
        tokio::spawn,
    );
    builder()
        .data(database)
        .data(Arc::new(loader))
        .data(services.funding)
        .data(services.directory)
        .data(services.top_up_limits)
        .data(services.request_keys)
        .data(services.events)
        .finish()
}

/// The exported federation SDL (`schema/credit.graphql`).
pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    )
}
