//! Finding a person to send credits to.

use async_graphql::{Context, Object};
use c9pay_platform::{
    database::Database,
    error::GraphQLResultExt,
    graphql::{authenticated, require_user},
};

use super::entities::User;
use crate::{db, domain::email::Email, error::AuthError};

#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// The person who logs in with exactly this email (case and surrounding spaces do
    /// not matter), or null if nobody does: for sending credits to someone by email. Only
    /// `id` and what other subgraphs show of a person (`displayName`) are readable; the
    /// email stays the person's own. Errors: `INVALID_EMAIL`, `UNAUTHENTICATED`.
    #[graphql(directive = authenticated::apply())]
    async fn find_person(&self, context: &Context<'_>, email: String) -> async_graphql::Result<Option<User>> {
        require_user(context)?;
        let email = Email::parse(&email).map_err(AuthError::from).graphql()?;
        let user_id = db::find_user_id_by_email(context.data::<Database>()?, &email).await.graphql()?;
        Ok(user_id.map(|id| User { id, email: None }))
    }
}
