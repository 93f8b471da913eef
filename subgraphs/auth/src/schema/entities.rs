//! `User` as auth resolves it: the login fields.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context, ID, Object,
    dataloader::{DataLoader, Loader},
};
use c9pay_platform::{database::Database, error::GraphQLResultExt, graphql::principal, id::UserId};

use crate::{db, error::AuthError};

pub struct User {
    pub id: UserId,
    /// Known already when the user was just signed up or logged in (and then shown to
    /// the person who proved the credentials).
    pub email: Option<String>,
}

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The login email; only the person themself (and administrators) may read it.
    async fn email(&self, context: &Context<'_>) -> async_graphql::Result<String> {
        // Known already only in the answer to the sign-up or log-in that just proved it,
        // and in an administrator's search.
        if let Some(email) = &self.email {
            return Ok(email.clone());
        }
        let viewer = principal(context)?;
        if viewer.user_id().as_ref() != Some(&self.id) && !viewer.is_admin() {
            return Err(AuthError::Forbidden).graphql();
        }
        let loader = context.data::<Arc<DataLoader<EmailLoader>>>()?;
        loader
            .load_one(self.id.clone())
            .await
            .map_err(|error| c9pay_platform::error::internal_error(error.as_ref()))?
            .ok_or_else(|| {
                c9pay_platform::error::client_error(
                    c9pay_platform::error::code::NOT_FOUND,
                    "no such user",
                )
            })
    }
}

pub struct EmailLoader {
    pub database: Database,
}

impl Loader<UserId> for EmailLoader {
    type Value = String;
    type Error = Arc<AuthError>;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, String>, Self::Error> {
        db::find_emails(&self.database, keys)
            .await
            .map_err(Arc::new)
    }
}

#[derive(Default)]
pub struct EntityQuery;

#[Object]
impl EntityQuery {
    /// Every user id is resolvable here; whether it exists is checked when a field is read.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<User> {
        let id = UserId::try_from(&id).map_err(AuthError::from).graphql()?;
        Ok(User { id, email: None })
    }
}
