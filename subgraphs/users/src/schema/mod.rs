//! The users subgraph's GraphQL schema.

mod entities;
mod profile;

use std::sync::Arc;

use async_graphql::{
    EmptySubscription, MergedObject, Schema, SchemaBuilder, dataloader::DataLoader,
};
use c9pay_platform::database::Database;

pub use entities::ProfileLoader;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(profile::ProfileQuery, entities::EntityQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(profile::ProfileMutation);

pub type UsersSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).enable_federation()
}

/// The schema with its data: the database and the entity loader.
pub fn build(database: Database) -> UsersSchema {
    let loader = DataLoader::new(
        ProfileLoader {
            database: database.clone(),
        },
        tokio::spawn,
    );
    builder().data(database).data(Arc::new(loader)).finish()
}

/// The exported federation SDL (`schema/users.graphql`).
pub fn sdl() -> String {
    c9pay_platform::graphql::federation_sdl(&builder().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    ))
}
