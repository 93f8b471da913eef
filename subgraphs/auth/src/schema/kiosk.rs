//! `issueKioskToken`: a registered kiosk proves it holds its key and gets a short-lived
//! access token bound to that key (RFC 9449 `cnf.jkt`).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use c9pay_platform::{
    database::Database,
    dpop::{self, ProofWindow},
    error::GraphQLResultExt,
    id::KioskId,
    time::{from_ms, now_ms},
};
use chrono::{DateTime, Utc};

use super::Lifetimes;
use crate::{db, error::AuthError, keys::KeyRing};

#[derive(InputObject)]
pub struct IssueKioskTokenInput {
    /// The id the store's owner got when registering the kiosk (`kio_…`). Without it,
    /// the kiosk is the one registered with the proof's key (its RFC 7638 thumbprint):
    /// how a device pairs, showing its public key to its owner and asking until the owner
    /// has registered it (`NOT_FOUND` until then).
    pub kiosk_id: Option<ID>,
    /// A DPoP proof (RFC 9449: `typ` `dpop+jwt`, `alg` `EdDSA`, the kiosk's public key as
    /// `jwk`; claims `htm` `POST`, `htu`, `iat`, `jti`, and no `ath`) signed with the
    /// kiosk's private key.
    pub proof: String,
}

/// A kiosk's access token. Send it as `Authorization: DPoP <token>`, each request with
/// a fresh proof in the `DPoP` header signed by the same key.
#[derive(SimpleObject)]
pub struct KioskTokenPayload {
    pub access_token: String,
    /// Always `DPoP`.
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    pub store_id: ID,
}

#[derive(Default)]
pub struct KioskMutation;

#[Object]
impl KioskMutation {
    /// Issues a kiosk its access token, for a proof of possession of the key its owner
    /// registered. Errors: `INVALID_ID`, `NOT_FOUND` (no such kiosk, no kiosk registered
    /// with the proof's key, or revoked), `KIOSK_PROOF_INVALID` (malformed, stale,
    /// replayed, or signed by another key).
    async fn issue_kiosk_token(
        &self,
        context: &Context<'_>,
        input: IssueKioskTokenInput,
    ) -> async_graphql::Result<KioskTokenPayload> {
        issue(context, input).await.graphql()
    }
}

async fn issue(context: &Context<'_>, input: IssueKioskTokenInput) -> Result<KioskTokenPayload, AuthError> {
    let kiosk_id = input.kiosk_id.as_ref().map(KioskId::try_from).transpose()?;
    let lifetimes = context
        .data::<Lifetimes>()
        .map_err(|error| AuthError::Signing(error.message))?;
    let window = ProofWindow { past_s: lifetimes.kiosk_proof_age_max_s, future_s: 5 };
    let now = now_ms();
    let proof = dpop::verify(&input.proof, now / 1000, window)
        .map_err(|error| AuthError::KioskProofInvalid(error.to_string()))?;
    if proof.claims.htm != "POST" || proof.claims.ath.is_some() {
        return Err(AuthError::KioskProofInvalid(
            "a token request's proof has htm POST and no ath".to_string(),
        ));
    }
    let database = context
        .data::<Database>()
        .map_err(|error| AuthError::Signing(error.message))?;
    let kiosk = match &kiosk_id {
        Some(kiosk_id) => db::kiosk::find(database, kiosk_id).await?,
        None => db::kiosk::find_by_jkt(database, &proof.jkt).await?,
    }
    .filter(|kiosk| !kiosk.revoked)
    .ok_or(AuthError::KioskNotFound)?;
    if proof.jkt != kiosk.jkt {
        tracing::warn!(kiosk_id = %kiosk.id, "a kiosk token was asked for with another key");
        return Err(AuthError::KioskProofInvalid("signed by another key".to_string()));
    }
    let remembered_until_ms = (proof.claims.iat + window.past_s + window.future_s).saturating_mul(1000);
    if !db::kiosk::use_proof(database, &kiosk.id, &proof.claims.jti, remembered_until_ms).await? {
        tracing::warn!(kiosk_id = %kiosk.id, "a kiosk's proof was presented twice");
        return Err(AuthError::ProofReplayed);
    }
    let signer = context
        .data::<Arc<KeyRing>>()
        .map_err(|error| AuthError::Signing(error.message))?
        .signer()
        .await?;
    let (access_token, expires_at_ms) =
        signer.kiosk_token(&kiosk.id, &kiosk.store_id, &kiosk.jkt, lifetimes.kiosk_token_s)?;
    tracing::info!(kiosk_id = %kiosk.id, store_id = %kiosk.store_id, "issued a kiosk token");
    Ok(KioskTokenPayload {
        access_token,
        token_type: "DPoP",
        expires_at: from_ms(expires_at_ms),
        store_id: ID(kiosk.store_id.to_string()),
    })
}
