//! `User` as the users subgraph resolves it, and the batched loader behind it.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context, ID, Object,
    dataloader::{DataLoader, Loader},
};
use c9pay_platform::{database::Database, error::GraphQLResultExt, id::UserId, time::from_ms};
use chrono::{DateTime, Utc};

use crate::{db, db::Profile, error::UsersError};

/// A person's public profile.
pub struct User(pub Profile);

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }

    /// The name shown to merchants and friends.
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    /// When this person signed up.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at_ms)
    }
}

pub struct ProfileLoader {
    pub database: Database,
}

impl Loader<UserId> for ProfileLoader {
    type Value = Profile;
    type Error = Arc<UsersError>;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Profile>, Self::Error> {
        db::find_profiles(&self.database, keys)
            .await
            .map_err(Arc::new)
    }
}

pub async fn load_user(
    context: &Context<'_>,
    user_id: UserId,
) -> async_graphql::Result<Option<User>> {
    let loader = context.data::<Arc<DataLoader<ProfileLoader>>>()?;
    let profile = loader
        .load_one(user_id)
        .await
        .map_err(|error| c9pay_platform::error::internal_error(error.as_ref()))?;
    Ok(profile.map(User))
}

#[derive(Default)]
pub struct EntityQuery;

#[Object]
impl EntityQuery {
    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        context: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<User>> {
        let user_id = UserId::try_from(&id).map_err(UsersError::from).graphql()?;
        load_user(context, user_id).await
    }
}
