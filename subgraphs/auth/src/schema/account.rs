//! Sign-up, log-in and log-out.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use c9pay_platform::{
    database::Database, error::GraphQLResultExt, graphql::principal, id::UserId, text::DisplayName,
    time::from_ms,
};
use chrono::{DateTime, Utc};

use super::{Lifetimes, authenticated, entities::User};
use crate::{
    config::REVOCATION_KEEP_MS,
    db::{self, session::Refreshed},
    domain::{
        email::Email,
        password::{self, Password},
        refresh_token,
    },
    error::AuthError,
    keys::KeyRing,
    profiles::ProfileDirectory,
};

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// At least 10 characters; not a common password; not containing the email.
    pub password: String,
    /// 1 to 64 characters, shown to merchants and friends.
    pub display_name: String,
}

#[derive(InputObject)]
pub struct LogInInput {
    pub email: String,
    pub password: String,
}

/// A signed-in session's credential.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// An EdDSA-signed JWT; send it as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    /// Exchange it with `refreshSession` for a new access token (and a new refresh
    /// token) before `expiresAt`. Each refresh token works once: presenting a spent one
    /// ends the whole log-in. Keep it out of reach of scripts.
    pub refresh_token: String,
    /// When the log-in ends; no refresh works after this.
    pub refresh_token_expires_at: DateTime<Utc>,
    pub user: User,
}

#[derive(InputObject)]
pub struct RefreshSessionInput {
    pub refresh_token: String,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in.
    async fn sign_up(
        &self,
        context: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<AuthPayload> {
        sign_up(context, input).await.graphql()
    }

    /// Signs in with email and password.
    async fn log_in(
        &self,
        context: &Context<'_>,
        input: LogInInput,
    ) -> async_graphql::Result<AuthPayload> {
        log_in(context, input).await.graphql()
    }

    /// Exchanges a refresh token for a new access token and a new refresh token; the
    /// presented one is spent. Errors: `REFRESH_TOKEN_INVALID` (unknown, expired, or its
    /// log-in ended), `REFRESH_TOKEN_REUSED` (it was spent before: the log-in is ended
    /// for everyone holding it, the rightful client included).
    async fn refresh_session(
        &self,
        context: &Context<'_>,
        input: RefreshSessionInput,
    ) -> async_graphql::Result<AuthPayload> {
        refresh(context, &input.refresh_token).await.graphql()
    }

    /// Ends the session this access token belongs to, at once: the router refuses its
    /// access tokens within its revocation poll interval, and its refresh token stops
    /// working. Returns whether the session was open.
    #[graphql(directive = authenticated::apply())]
    async fn log_out(&self, context: &Context<'_>) -> async_graphql::Result<bool> {
        let principal = principal(context)?;
        let user_id = principal.user_id().ok_or(AuthError::Unauthenticated).graphql()?;
        let Some(session_id) = principal.session_id.as_deref() else {
            return Err(AuthError::Unauthenticated).graphql();
        };
        let database = context.data::<Database>()?;
        let revoked = db::session::revoke(database, &user_id, session_id, REVOCATION_KEEP_MS)
            .await
            .graphql()?;
        tracing::info!(%user_id, session_id, revoked, "logged out");
        Ok(revoked)
    }

    /// Ends every session of the signed-in person (every device); returns how many were
    /// open.
    #[graphql(directive = authenticated::apply())]
    async fn log_out_everywhere(&self, context: &Context<'_>) -> async_graphql::Result<u64> {
        let user_id = principal(context)?
            .user_id()
            .ok_or(AuthError::Unauthenticated)
            .graphql()?;
        let revoked = db::session::revoke_all(context.data::<Database>()?, &user_id, REVOCATION_KEEP_MS)
            .await
            .graphql()?;
        tracing::info!(%user_id, revoked, "logged out everywhere");
        Ok(revoked)
    }
}

async fn refresh(context: &Context<'_>, presented: &str) -> Result<AuthPayload, AuthError> {
    if !refresh_token::is_well_formed(presented) {
        return Err(AuthError::RefreshTokenInvalid);
    }
    let database = data::<Database>(context)?;
    let (refresh_token, new_hash) = refresh_token::generate();
    let outcome =
        db::session::refresh(database, &refresh_token::hash(presented), &new_hash, REVOCATION_KEEP_MS).await?;
    match outcome {
        Refreshed::Rotated { user_id, session_id, expires_at_ms } => {
            let lifetimes = data::<Lifetimes>(context)?;
            let signer = data::<Arc<KeyRing>>(context)?.signer().await?;
            let (access_token, access_expires_at_ms) =
                signer.access_token(&user_id, &session_id, lifetimes.access_token_s)?;
            Ok(AuthPayload {
                access_token,
                token_type: "Bearer",
                expires_at: from_ms(access_expires_at_ms),
                refresh_token,
                refresh_token_expires_at: from_ms(expires_at_ms),
                user: User { id: user_id, email: None },
            })
        }
        Refreshed::Reused { user_id, session_id } => {
            // Two parties held this family; nobody can tell which is the thief, so it ends
            // for both. Worth an alert: it is what a stolen refresh token looks like.
            tracing::warn!(%user_id, %session_id, "a spent refresh token was presented: revoked its session");
            Err(AuthError::RefreshTokenReused)
        }
        Refreshed::Refused => Err(AuthError::RefreshTokenInvalid),
    }
}

fn data<'a, T: Send + Sync + 'static>(context: &'a Context<'_>) -> Result<&'a T, AuthError> {
    context
        .data::<T>()
        .map_err(|error| AuthError::Signing(format!("schema data missing: {}", error.message)))
}

async fn sign_up(context: &Context<'_>, input: SignUpInput) -> Result<AuthPayload, AuthError> {
    // Every rule is checked before anything is written, so bad input changes nothing.
    let email = Email::parse(&input.email)?;
    let password = Password::parse(&input.password, &email)?;
    let display_name = DisplayName::parse(&input.display_name)?;
    let database = data::<Database>(context)?;
    if db::email_exists(database, &email).await? {
        return Err(AuthError::EmailTaken);
    }
    let password_hash = password::hash(password).await?;
    let user_id = UserId::generate();
    // The profile first: creating it is idempotent and harmless if the credential insert
    // then loses a race for the email, whereas a credential without a profile would be a
    // person the rest of the platform cannot display.
    let request_id = c9pay_platform::error::current_request_id();
    data::<ProfileDirectory>(context)?
        .create(&user_id, &display_name, &request_id)
        .await?;
    db::insert_credential(database, &user_id, &email, &password_hash).await?;
    tracing::info!(user_id = %user_id, "signed up");
    issue(context, user_id, email).await
}

async fn log_in(context: &Context<'_>, input: LogInInput) -> Result<AuthPayload, AuthError> {
    let email = Email::parse(&input.email).map_err(|_| AuthError::InvalidCredentials)?;
    let database = data::<Database>(context)?;
    let credential = db::find_credential(database, &email).await?;
    let (user_id, stored_hash) = match credential {
        Some(credential) => (Some(credential.user_id), Some(credential.password_hash)),
        None => (None, None),
    };
    let verified = password::verify(input.password, stored_hash).await?;
    match user_id {
        Some(user_id) if verified => issue(context, user_id, email).await,
        _ => Err(AuthError::InvalidCredentials),
    }
}

async fn issue(
    context: &Context<'_>,
    user_id: UserId,
    email: Email,
) -> Result<AuthPayload, AuthError> {
    let lifetimes = data::<Lifetimes>(context)?;
    let (refresh_token, refresh_hash) = refresh_token::generate();
    let (session_id, session_expires_at_ms) = db::session::create(
        data::<Database>(context)?,
        &user_id,
        lifetimes.session_s.saturating_mul(1000),
        &refresh_hash,
    )
    .await?;
    let signer = data::<Arc<KeyRing>>(context)?.signer().await?;
    let (access_token, expires_at_ms) =
        signer.access_token(&user_id, &session_id, lifetimes.access_token_s)?;
    Ok(AuthPayload {
        access_token,
        token_type: "Bearer",
        expires_at: from_ms(expires_at_ms),
        refresh_token,
        refresh_token_expires_at: from_ms(session_expires_at_ms),
        user: User {
            id: user_id,
            email: Some(email.as_str().to_string()),
        },
    })
}
