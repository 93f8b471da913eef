//! `Kiosk`, `Store.kiosks`, and `registerKiosk` and `revokeKiosk`, for a store's owner.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    error::GraphQLResultExt,
    graphql::{authenticated, principal, require_user},
    id::{KioskId, StoreId},
    time::from_ms,
};
use chrono::{DateTime, Utc};

use crate::{db, domain::Name, error::StoresError, kiosks::{KioskRegistry, ListedKiosk}};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KioskStatus {
    /// It gets tokens and may sell.
    Active,
    /// It gets no tokens; the ones it held are refused.
    Revoked,
}

/// A kiosk device of a store.
pub struct Kiosk(pub ListedKiosk);

#[Object(name = "Kiosk")]
impl Kiosk {
    /// `kio_…`.
    async fn id(&self) -> ID {
        ID(self.0.kiosk_id.clone())
    }

    /// What the owner called it, to tell the store's kiosks apart.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// RFC 7638 thumbprint of the device's public key: what the device shows to be paired.
    async fn key_thumbprint(&self) -> &str {
        &self.0.jkt
    }

    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at_ms)
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at_ms.map(from_ms)
    }

    async fn status(&self) -> KioskStatus {
        if self.0.revoked_at_ms.is_some() { KioskStatus::Revoked } else { KioskStatus::Active }
    }
}

/// A store's kiosks, oldest first (the caller has checked who may see them).
pub async fn store_kiosks(context: &Context<'_>, store_id: &StoreId) -> async_graphql::Result<Vec<Kiosk>> {
    let request_id = principal(context)?.request_id.clone();
    let kiosks = context.data::<KioskRegistry>()?.list(store_id, &request_id).await.graphql()?;
    Ok(kiosks.into_iter().map(Kiosk).collect())
}

#[derive(InputObject)]
pub struct RegisterKioskInput {
    pub store_id: ID,
    /// 1 to 64 characters, to tell the store's kiosks apart.
    pub name: String,
    /// The device's Ed25519 public key as a JWK (`{"kty":"OKP","crv":"Ed25519","x":"…"}`),
    /// e.g. from WebCrypto's `exportKey("jwk", publicKey)`. The private key never leaves
    /// the device.
    pub public_key: String,
}

#[derive(InputObject)]
pub struct RevokeKioskInput {
    pub store_id: ID,
    pub kiosk_id: ID,
}

/// A kiosk the owner registered: the device gets its tokens with `issueKioskToken`.
#[derive(SimpleObject)]
pub struct RegisteredKiosk {
    /// `kio_…`, what the device names when it asks for a token.
    pub id: ID,
    pub store_id: ID,
    /// RFC 7638 thumbprint of the registered key.
    pub key_thumbprint: String,
}

#[derive(Default)]
pub struct KioskMutation;

/// The store `store_id` if the signed-in person owns it.
async fn owned_store(context: &Context<'_>, store_id: &ID) -> async_graphql::Result<StoreId> {
    let owner = require_user(context)?;
    let store_id = StoreId::try_from(store_id).map_err(StoresError::from).graphql()?;
    let store = db::find_store(context.data::<Database>()?, &store_id)
        .await
        .graphql()?
        .ok_or(StoresError::StoreNotFound)
        .graphql()?;
    if store.owner_user_id != owner {
        return Err(StoresError::Forbidden("only the store's owner manages its kiosks")).graphql();
    }
    Ok(store_id)
}

#[Object]
impl KioskMutation {
    /// Registers a kiosk device of a store you own by its public key. Errors:
    /// `INVALID_ID`, `INVALID_NAME`, `NOT_FOUND`, `FORBIDDEN` (not the owner),
    /// `INVALID_KIOSK_KEY`, `KIOSK_KEY_TAKEN`, `SERVICE_UNAVAILABLE`.
    #[graphql(directive = authenticated::apply())]
    async fn register_kiosk(&self, context: &Context<'_>, input: RegisterKioskInput) -> async_graphql::Result<RegisteredKiosk> {
        let store_id = owned_store(context, &input.store_id).await?;
        let name = Name::parse(&input.name).map_err(StoresError::from).graphql()?;
        let public_key: serde_json::Value = serde_json::from_str(&input.public_key)
            .map_err(|_| StoresError::KioskRefused { code: "INVALID_KIOSK_KEY", message: "the public key is not a JSON JWK".to_string() })
            .graphql()?;
        let request_id = principal(context)?.request_id.clone();
        let registered = context
            .data::<KioskRegistry>()?
            .register(&store_id, name.as_str(), &public_key, &request_id)
            .await
            .graphql()?;
        Ok(RegisteredKiosk { id: ID(registered.kiosk_id), store_id: ID(store_id.to_string()), key_thumbprint: registered.jkt })
    }

    /// Revokes a kiosk of a store you own: it gets no new tokens, and the router refuses
    /// the ones it holds within its revocation poll interval. Errors: `INVALID_ID`,
    /// `NOT_FOUND` (no such kiosk in this store, or revoked already), `FORBIDDEN`,
    /// `SERVICE_UNAVAILABLE`.
    #[graphql(directive = authenticated::apply())]
    async fn revoke_kiosk(&self, context: &Context<'_>, input: RevokeKioskInput) -> async_graphql::Result<bool> {
        let store_id = owned_store(context, &input.store_id).await?;
        let kiosk_id = KioskId::try_from(&input.kiosk_id).map_err(StoresError::from).graphql()?;
        let request_id = principal(context)?.request_id.clone();
        context.data::<KioskRegistry>()?.revoke(&kiosk_id, &store_id, &request_id).await.graphql()?;
        Ok(true)
    }
}
