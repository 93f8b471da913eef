//! The auth subgraph's GraphQL schema.

mod account;
mod entities;
mod payment_code;

use std::sync::Arc;

use async_graphql::{
    EmptySubscription, MergedObject, Schema, SchemaBuilder, dataloader::DataLoader,
};
use c9pay_platform::database::Database;

use crate::{keys::Signer, profiles::ProfileDirectory};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(entities::EntityQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(account::AccountMutation, payment_code::PaymentCodeMutation);

pub type AuthSchema = Schema<Query, Mutation, EmptySubscription>;

/// Token and payment-code lifetimes, from the configuration.
#[derive(Clone, Copy)]
pub struct Lifetimes {
    pub access_token_s: i64,
    pub session_s: i64,
    pub payment_code_s: i64,
}

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).enable_federation()
}

pub fn build(
    database: Database,
    signer: Arc<Signer>,
    profiles: ProfileDirectory,
    lifetimes: Lifetimes,
) -> AuthSchema {
    let loader = DataLoader::new(
        entities::EmailLoader {
            database: database.clone(),
        },
        tokio::spawn,
    );
    builder()
        .data(database)
        .data(signer)
        .data(profiles)
        .data(lifetimes)
        .data(Arc::new(loader))
        .finish()
}

pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    )
}
