//! The credit subgraph's GraphQL schema: it adds `User.wallet` and `Store.account` to
//! entities that other subgraphs own, and has no root fields of its own yet.

mod account;
mod entities;

use std::sync::Arc;

use async_graphql::{
    EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder, dataloader::DataLoader,
};
use c9pay_platform::database::Database;

pub use account::AccountLoader;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(entities::EntityQuery);

pub type CreditSchema = Schema<Query, EmptyMutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription).enable_federation()
}

/// The schema with its data: the database and the account loader.
pub fn build(database: Database) -> CreditSchema {
    let loader = DataLoader::new(
        AccountLoader {
            database: database.clone(),
        },
        tokio::spawn,
    );
    builder().data(database).data(Arc::new(loader)).finish()
}

/// The exported federation SDL (`schema/credit.graphql`).
pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .compose_directive(),
    )
}
