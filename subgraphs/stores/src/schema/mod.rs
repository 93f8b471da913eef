//! The stores subgraph's GraphQL schema.

mod admin;
mod entities;
mod kiosk;
mod loaders;
mod product;
mod sale;
mod store;
mod takings;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};
use c9pay_platform::database::Database;

use crate::{credit::CreditClient, kiosks::KioskRegistry};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(store::StoreQuery, sale::SaleQuery, entities::EntityQuery, admin::AdminQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(store::StoreMutation, product::ProductMutation, sale::SaleMutation, kiosk::KioskMutation, admin::AdminMutation);

pub type StoresSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).enable_federation()
}

/// The schema with its data: the database, the loaders, and the client for credit.
pub fn build(database: Database, credit: CreditClient, kiosks: KioskRegistry, payments: crate::metrics::PaymentMetrics) -> StoresSchema {
    let loaders = Arc::new(loaders::Loaders::new(&database));
    builder().data(database).data(loaders).data(credit).data(kiosks).data(payments).finish()
}

/// The exported federation SDL (`schema/stores.graphql`).
pub fn sdl() -> String {
    c9pay_platform::graphql::federation_sdl(
        &builder().finish().sdl_with_options(async_graphql::SDLExportOptions::new().federation().compose_directive()),
    )
}
