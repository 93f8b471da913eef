//! `me` and `updateProfile`.

use c9pay_platform::graphql::authenticated;
use async_graphql::{Context, InputObject, Object};
use c9pay_platform::{
    database::Database, error::GraphQLResultExt, graphql::require_user, text::DisplayName,
};

use super::entities::{User, load_user};
use crate::{db, error::UsersError};

#[derive(Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// The signed-in person.
    #[graphql(directive = authenticated::apply())]
    async fn me(&self, context: &Context<'_>) -> async_graphql::Result<User> {
        let user_id = require_user(context)?;
        load_user(context, user_id)
            .await?
            .ok_or(UsersError::NotFound)
            .graphql()
    }
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 1 to 64 characters; surrounding spaces are removed.
    pub display_name: String,
}

#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Changes the signed-in person's profile.
    async fn update_profile(
        &self,
        context: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<User> {
        let user_id = require_user(context)?;
        let display_name = DisplayName::parse(&input.display_name)
            .map_err(UsersError::from)
            .graphql()?;
        let profile = db::update_display_name(context.data::<Database>()?, &user_id, &display_name)
            .await
            .graphql()?;
        Ok(User(profile))
    }
}
