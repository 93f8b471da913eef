//! `issuePaymentCode`: the QR a signed-in person shows at a till.

use c9pay_platform::graphql::authenticated;
use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Object, SimpleObject};
use c9pay_platform::{
    error::GraphQLResultExt,
    graphql::principal,
    time::{from_ms, now_ms},
};
use chrono::{DateTime, Utc};

use super::Lifetimes;
use crate::{error::AuthError, keys::KeyRing};

/// A payment code, ready to be shown: the raw token (for apps that draw their own QR or
/// offer a copy button) and the same token as a QR in SVG.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct PaymentCodePayload {
    /// The signed token (a compact JWS of type `c9pay-pc+jwt`) the QR encodes.
    pub token: String,
    /// The code's 128-bit id (32 hex digits); a till can pay with it once.
    pub code_id: String,
    /// After this moment the code is refused (`PAYMENT_CODE_EXPIRED`); at most three
    /// minutes after issue.
    pub expires_at: DateTime<Utc>,
}

#[ComplexObject]
impl PaymentCodePayload {
    /// An SVG document of the QR code (error correction level M). Drawn only when asked
    /// for: an app that draws its own QR from `token` does not pay for it.
    async fn svg(&self) -> async_graphql::Result<String> {
        render_svg(&self.token).graphql()
    }
}

#[derive(Default)]
pub struct PaymentCodeMutation;

#[Object]
impl PaymentCodeMutation {
    /// Issues a payment code for the signed-in person: a store's kiosk scans it to charge
    /// this person's wallet, once, before it expires. Errors: `UNAUTHENTICATED`.
    #[graphql(directive = authenticated::apply())]
    async fn issue_payment_code(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<PaymentCodePayload> {
        let payer = principal(context)?
            .user_id()
            .ok_or(AuthError::Unauthenticated)
            .graphql()?;
        let lifetime_s = context.data::<Lifetimes>()?.payment_code_s;
        let signer = context.data::<Arc<KeyRing>>()?.signer().await.graphql()?;
        let (token, code) = signer.payment_code(payer, now_ms(), lifetime_s).graphql()?;
        tracing::info!(code_id = %code.code_id, payer = %code.payer, "issued a payment code");
        Ok(PaymentCodePayload {
            token,
            code_id: code.code_id,
            expires_at: from_ms(code.expires_at_ms),
        })
    }
}

/// The token as an SVG QR code. Level M survives a scuffed phone screen and still fits
/// a ~350-byte token in a code a kiosk camera reads at arm's length.
fn render_svg(token: &str) -> Result<String, AuthError> {
    c9pay_platform::qr::svg(token).map_err(AuthError::QrCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_renders_as_an_svg_document() {
        let svg = render_svg(&"x".repeat(400)).unwrap_or_default();
        assert!(svg.starts_with("<?xml"), "{svg:.80}");
        assert!(svg.contains("<svg"), "{svg:.80}");
    }
}
