//! The auth subgraph's GraphQL schema.

mod account;
mod admin;
mod entities;
mod kiosk;
mod payment_code;
mod people;

use std::sync::Arc;

use async_graphql::{
    EmptySubscription, MergedObject, Schema, SchemaBuilder, dataloader::DataLoader,
};
use c9pay_platform::database::Database;
pub(crate) use c9pay_platform::graphql::authenticated;

use crate::{admin::AdminPolicy, keys::KeyRing, profiles::ProfileDirectory};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(entities::EntityQuery, people::PeopleQuery, admin::AdminQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    account::AccountMutation,
    payment_code::PaymentCodeMutation,
    kiosk::KioskMutation,
    admin::AdminMutation,
);

pub type AuthSchema = Schema<Query, Mutation, EmptySubscription>;

/// Token and payment-code lifetimes, from the configuration.
#[derive(Clone, Copy)]
pub struct Lifetimes {
    pub access_token_s: i64,
    pub session_s: i64,
    pub payment_code_s: i64,
    pub kiosk_token_s: i64,
    pub kiosk_proof_age_max_s: i64,
}

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).enable_federation()
}

pub fn build(
    database: Database,
    keys: Arc<KeyRing>,
    profiles: ProfileDirectory,
    lifetimes: Lifetimes,
    admins: Arc<AdminPolicy>,
) -> AuthSchema {
    let loader = DataLoader::new(
        entities::EmailLoader {
            database: database.clone(),
        },
        tokio::spawn,
    );
    builder()
        .data(database)
        .data(keys)
        .data(profiles)
        .data(lifetimes)
        .data(admins)
        .data(Arc::new(loader))
        .finish()
}

pub fn sdl() -> String {
    c9pay_platform::graphql::federation_sdl(&builder().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    ))
}
