//! Sale rules, without I/O: who may sell for a store, what a valid cart is, how the
//! total comes from the store's own catalogue, and what makes two requests "the same"
//! for idempotency.
//!
//! The seed system trusted the kiosk's total and accepted negative quantities; here the
//! client names products and quantities only, and every price comes from this store's
//! catalogue.

use std::collections::HashMap;

use c9pay_platform::{
    id::{ProductId, StoreId, UserId},
    internal_token::{Principal, PrincipalKind},
    money::{Amount, AmountError},
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{db::Product, error::StoresError};

c9pay_platform::id_type!(
    /// A sale: one checkout at a store, paid (or not) with one payment code. Credit
    /// knows it as the payment id.
    SaleId, "sal", "sale"
);
c9pay_platform::id_type!(
    /// A refund of (part of) a paid sale.
    RefundId, "ref", "refund"
);

/// Fewest and most lines in one sale.
pub const ITEMS_MAX: usize = 50;
/// Most of one product in one sale (after lines naming the same product are merged).
pub const QUANTITY_MAX: i64 = 99;
/// Longest idempotency key (a UUID fits).
pub const IDEMPOTENCY_KEY_LENGTH_MAX: usize = 64;
/// Longest payment code stores forwards to credit (a real one is about 300 bytes).
pub const PAYMENT_CODE_LENGTH_MAX_BYTES: usize = c9pay_platform::payment_code::TOKEN_LENGTH_MAX_BYTES;
/// Longest refund reason, in characters.
pub const REASON_LENGTH_MAX_CHARS: usize = 200;

/// A validated idempotency key: 1 to 64 characters of `[A-Za-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, StoresError> {
        let valid = !value.is_empty()
            && value.len() <= IDEMPOTENCY_KEY_LENGTH_MAX
            && value.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if valid { Ok(Self(value.to_string())) } else { Err(StoresError::InvalidIdempotencyKey) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who rang up a sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seller {
    /// The store's owner, selling from the dashboard.
    Owner(UserId),
    /// One of the store's kiosk devices (its id as auth knows it).
    Kiosk(String),
}

impl Seller {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Owner(_) => "user",
            Self::Kiosk(_) => "kiosk",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Owner(user_id) => user_id.as_str(),
            Self::Kiosk(kiosk_id) => kiosk_id,
        }
    }
}

/// The role a kiosk principal carries for the store it belongs to.
pub fn kiosk_role(store_id: &StoreId) -> String {
    format!("store:{store_id}")
}

/// Whether `principal` may sell for the store `store_id` owned by `owner`: its owner,
/// or a kiosk whose roles name this store. Anyone else is `FORBIDDEN` (a kiosk of another
/// store included); nobody signed in is `UNAUTHENTICATED`.
pub fn seller_for(principal: &Principal, store_id: &StoreId, owner: &UserId) -> Result<Seller, StoresError> {
    match principal.kind {
        PrincipalKind::User | PrincipalKind::Admin => match principal.user_id() {
            Some(user_id) if &user_id == owner => Ok(Seller::Owner(user_id)),
            Some(_) => Err(StoresError::Forbidden("only the store's owner or its kiosks may sell")),
            None => Err(StoresError::Unauthenticated),
        },
        PrincipalKind::Kiosk => {
            let role = kiosk_role(store_id);
            let belongs = !principal.subject.is_empty()
                && principal.subject.len() <= 64
                && principal.roles.iter().any(|granted| granted == &role);
            if belongs {
                Ok(Seller::Kiosk(principal.subject.clone()))
            } else {
                Err(StoresError::Forbidden("this kiosk belongs to another store"))
            }
        }
        PrincipalKind::Anonymous | PrincipalKind::Service => Err(StoresError::Unauthenticated),
    }
}

/// Whether `principal` may read the store `store_id` owned by `owner` (its sales and
/// takings): its owner, one of its kiosks, or an administrator.
pub fn may_read_store(principal: &Principal, store_id: &StoreId, owner: &UserId) -> Result<(), StoresError> {
    if principal.is_admin() {
        return Ok(());
    }
    seller_for(principal, store_id, owner)
        .map(|_| ())
        .map_err(|error| match error {
            StoresError::Forbidden(_) => StoresError::Forbidden("only the store's owner, its kiosks and administrators may read its sales"),
            other => other,
        })
}

/// Whether `principal` may manage the store owned by `owner` (see its kiosks): its owner
/// or an administrator; a kiosk may not.
pub fn may_manage_store(principal: &Principal, owner: &UserId) -> Result<(), StoresError> {
    if principal.is_admin() {
        return Ok(());
    }
    match principal.user_id() {
        Some(user_id) if &user_id == owner => Ok(()),
        Some(_) => Err(StoresError::Forbidden("only the store's owner and administrators may manage it")),
        None if principal.kind == PrincipalKind::Kiosk => Err(StoresError::Forbidden("a kiosk may not manage its store")),
        None => Err(StoresError::Unauthenticated),
    }
}

/// One requested line: a product and how many.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: i64,
}

/// Validates the requested items: 1 to [`ITEMS_MAX`] lines, each a product id and a
/// quantity of at least 1. Lines naming the same product are merged (a kiosk that scans
/// an item twice sells two), in the order each product first appears; the merged
/// quantity is at most [`QUANTITY_MAX`].
pub fn cart(items: &[(String, i64)]) -> Result<Vec<CartLine>, StoresError> {
    if items.is_empty() || items.len() > ITEMS_MAX {
        return Err(StoresError::InvalidItems(format!("a sale has 1 to {ITEMS_MAX} items")));
    }
    let mut lines: Vec<CartLine> = Vec::with_capacity(items.len());
    for (product_id, quantity) in items {
        let product_id = ProductId::parse(product_id)?;
        if !(1..=QUANTITY_MAX).contains(quantity) {
            return Err(StoresError::QuantityInvalid);
        }
        match lines.iter_mut().find(|line| line.product_id == product_id) {
            Some(line) => {
                line.quantity = line.quantity.checked_add(*quantity).ok_or(StoresError::QuantityInvalid)?;
                if line.quantity > QUANTITY_MAX {
                    return Err(StoresError::QuantityInvalid);
                }
            }
            None => lines.push(CartLine { product_id, quantity: *quantity }),
        }
    }
    Ok(lines)
}

/// A line as sold: the product's name and price at the time of sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub name: String,
    pub unit_price: Amount,
    pub quantity: i64,
    pub line_total: Amount,
}

/// Prices `cart` from `catalogue` (the store's products by id): every product must be
/// one of this store's (`PRODUCT_NOT_IN_STORE` otherwise), arithmetic is checked, and the
/// total must be a positive amount no larger than [`Amount::MAX`].
pub fn price(cart: &[CartLine], store_id: &StoreId, catalogue: &HashMap<ProductId, Product>) -> Result<(Vec<PricedLine>, Amount), StoresError> {
    let mut lines = Vec::with_capacity(cart.len());
    let mut total = Amount::ZERO;
    for line in cart {
        let product = catalogue
            .get(&line.product_id)
            .filter(|product| &product.store_id == store_id)
            .ok_or_else(|| StoresError::ProductNotInStore(line.product_id.to_string()))?;
        let line_total = product.price.checked_mul(line.quantity)?;
        total = total.checked_add(line_total)?;
        lines.push(PricedLine {
            product_id: product.id.clone(),
            name: product.name.clone(),
            unit_price: product.price,
            quantity: line.quantity,
            line_total,
        });
    }
    let total = Amount::parse_positive(total.get()).map_err(|error| match error {
        AmountError::TooLarge => StoresError::SaleTooLarge,
        other => StoresError::InvalidAmount(other),
    })?;
    Ok((lines, total))
}

/// The hash that decides whether a repeated request is "the same": SHA-256 over the
/// operation and the request as the client sent it (store, items in order, payment
/// code), in canonical JSON.
pub fn request_hash(operation: &str, input: &impl Serialize) -> Result<String, StoresError> {
    let json = serde_json::to_vec(input).map_err(|error| StoresError::Corrupt(format!("hashing a request: {error}")))?;
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(&json);
    Ok(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

/// What a `sell` request is, for its hash.
#[derive(Serialize)]
pub struct SellRequest<'a> {
    pub store_id: &'a str,
    pub items: &'a [(String, i64)],
    pub payment_code: &'a str,
}

/// What a `refundSale` request is, for its hash (the sale id is part of the key's scope).
#[derive(Serialize)]
pub struct RefundRequest<'a> {
    pub amount: i64,
    pub reason: &'a str,
}

/// A payment code as stores forwards it: non-empty and of plausible length. Whether it is
/// genuine, unexpired and unused is credit's decision.
pub fn payment_code(value: &str) -> Result<&str, StoresError> {
    let value = value.trim();
    if value.is_empty() || value.len() > PAYMENT_CODE_LENGTH_MAX_BYTES {
        Err(StoresError::PaymentCodeMalformed)
    } else {
        Ok(value)
    }
}

/// A refund reason: trimmed, 1 to 200 characters, no control characters.
pub fn reason(value: &str) -> Result<String, StoresError> {
    let trimmed = value.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > REASON_LENGTH_MAX_CHARS || trimmed.chars().any(char::is_control) {
        Err(StoresError::InvalidReason)
    } else {
        Ok(trimmed.to_string())
    }
}

/// The codes credit may refuse a payment or refund with that stores passes on to its
/// client as they are; any other refusal becomes `PAYMENT_DECLINED`.
pub fn client_code_of_refusal(code: &str) -> &'static str {
    const PASSED_ON: &[&str] = &[
        "PAYMENT_CODE_EXPIRED",
        "PAYMENT_CODE_USED",
        "PAYMENT_CODE_INVALID",
        "INSUFFICIENT_CREDIT",
        "INVALID_AMOUNT",
        "HOLD_EXPIRED",
        "HOLD_VOIDED",
        "REFUND_EXCEEDS_PAYMENT",
        "PAYMENT_NOT_CAPTURED",
    ];
    PASSED_ON.iter().copied().find(|known| *known == code).unwrap_or("PAYMENT_DECLINED")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(store_id: &StoreId, name: &str, price: i64) -> Product {
        Product {
            id: ProductId::generate(),
            store_id: store_id.clone(),
            name: name.to_string(),
            price: Amount::from_stored(price),
            created_at_ms: 0,
        }
    }

    fn catalogue(products: &[&Product]) -> HashMap<ProductId, Product> {
        products.iter().map(|product| (product.id.clone(), (*product).clone())).collect()
    }

    fn item(product: &Product, quantity: i64) -> (String, i64) {
        (product.id.to_string(), quantity)
    }

    #[test]
    fn the_total_is_the_sum_of_catalogue_price_times_quantity() {
        let store = StoreId::generate();
        let coffee = product(&store, "Coffee", 4500);
        let bagel = product(&store, "Bagel", 3200);
        let cart = cart(&[item(&coffee, 2), item(&bagel, 1)]).unwrap_or_default();

        let (lines, total) = price(&cart, &store, &catalogue(&[&coffee, &bagel])).unwrap_or_else(|error| panic!("{error}"));

        assert_eq!(total, Amount::from_stored(2 * 4500 + 3200));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].name, "Coffee");
        assert_eq!(lines[0].line_total, Amount::from_stored(9000));
    }

    #[test]
    fn lines_of_the_same_product_are_merged_and_the_merged_quantity_is_bounded() {
        let store = StoreId::generate();
        let coffee = product(&store, "Coffee", 4500);

        let merged = cart(&[item(&coffee, 2), item(&coffee, 3)]).unwrap_or_default();
        assert_eq!(merged, vec![CartLine { product_id: coffee.id.clone(), quantity: 5 }]);

        assert!(matches!(cart(&[item(&coffee, 50), item(&coffee, 50)]), Err(StoresError::QuantityInvalid)));
    }

    #[test]
    fn quantities_must_be_1_to_99() {
        let store = StoreId::generate();
        let coffee = product(&store, "Coffee", 4500);
        for quantity in [0, -1, -100, QUANTITY_MAX + 1, i64::MAX, i64::MIN] {
            assert!(matches!(cart(&[item(&coffee, quantity)]), Err(StoresError::QuantityInvalid)), "{quantity}");
        }
        assert!(cart(&[item(&coffee, 1)]).is_ok());
        assert!(cart(&[item(&coffee, QUANTITY_MAX)]).is_ok());
    }

    #[test]
    fn a_sale_has_1_to_50_items() {
        assert!(matches!(cart(&[]), Err(StoresError::InvalidItems(_))));
        let store = StoreId::generate();
        let products: Vec<Product> = (0..=ITEMS_MAX).map(|index| product(&store, &format!("p{index}"), 1)).collect();
        let items: Vec<(String, i64)> = products.iter().map(|product| item(product, 1)).collect();
        assert!(cart(&items[..ITEMS_MAX]).is_ok());
        assert!(matches!(cart(&items), Err(StoresError::InvalidItems(_))));
    }

    #[test]
    fn a_malformed_product_id_is_refused() {
        assert!(matches!(cart(&[("sto_0123456789abcdef0123456789abcdef".to_string(), 1)]), Err(StoresError::InvalidId(_))));
    }

    #[test]
    fn a_product_of_another_store_is_refused() {
        let store = StoreId::generate();
        let other_store = StoreId::generate();
        let foreign = product(&other_store, "Foreign", 100);
        let cart = cart(&[item(&foreign, 1)]).unwrap_or_default();

        // Even if the lookup handed it over, a product of another store never prices.
        let result = price(&cart, &store, &catalogue(&[&foreign]));
        assert!(matches!(result, Err(StoresError::ProductNotInStore(_))), "{result:?}");
        let result = price(&cart, &store, &HashMap::new());
        assert!(matches!(result, Err(StoresError::ProductNotInStore(_))), "{result:?}");
    }

    #[test]
    fn a_total_above_the_largest_amount_is_refused_without_overflowing() {
        let store = StoreId::generate();
        let products: Vec<Product> = (0..ITEMS_MAX).map(|index| product(&store, &format!("p{index}"), Amount::MAX.get())).collect();
        let items: Vec<(String, i64)> = products.iter().map(|product| item(product, QUANTITY_MAX)).collect();
        let cart = cart(&items).unwrap_or_default();
        let references: Vec<&Product> = products.iter().collect();

        let result = price(&cart, &store, &catalogue(&references));

        assert!(matches!(result, Err(StoresError::SaleTooLarge)), "{result:?}");
    }

    #[test]
    fn idempotency_keys_are_1_to_64_safe_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse("0b6c9f3e-5a4d-4b8e-9f00-abcdefABCDEF_x").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(64)).is_ok());
        for bad in ["", "has space", "ümlaut", "semi;colon", &"k".repeat(65)] {
            assert!(matches!(IdempotencyKey::parse(bad), Err(StoresError::InvalidIdempotencyKey)), "{bad:?}");
        }
    }

    #[test]
    fn the_request_hash_changes_with_any_part_of_the_request() {
        let items = vec![("prd_0123456789abcdef0123456789abcdef".to_string(), 1)];
        let more = vec![("prd_0123456789abcdef0123456789abcdef".to_string(), 2)];
        let hash = |store_id: &str, items: &[(String, i64)], payment_code: &str| {
            request_hash("sell", &SellRequest { store_id, items, payment_code }).unwrap_or_default()
        };
        let base = hash("sto_a", &items, "code");
        assert_eq!(base.len(), 64);
        assert_eq!(base, hash("sto_a", &items, "code"));
        assert_ne!(base, hash("sto_b", &items, "code"));
        assert_ne!(base, hash("sto_a", &more, "code"));
        assert_ne!(base, hash("sto_a", &items, "other code"));
    }

    #[test]
    fn only_the_owner_or_a_kiosk_of_this_store_may_sell() {
        let store = StoreId::generate();
        let owner = UserId::generate();
        let kiosk = |roles: Vec<String>| Principal {
            kind: PrincipalKind::Kiosk,
            subject: "kio_1".to_string(),
            roles,
            scopes: Vec::new(),
            request_id: "r".to_string(),
            session_id: None,
        };

        assert_eq!(seller_for(&Principal::user(&owner, "r"), &store, &owner).ok(), Some(Seller::Owner(owner.clone())));
        assert!(matches!(seller_for(&Principal::user(&UserId::generate(), "r"), &store, &owner), Err(StoresError::Forbidden(_))));
        assert_eq!(seller_for(&kiosk(vec![kiosk_role(&store)]), &store, &owner).ok(), Some(Seller::Kiosk("kio_1".to_string())));
        assert!(matches!(seller_for(&kiosk(vec![kiosk_role(&StoreId::generate())]), &store, &owner), Err(StoresError::Forbidden(_))));
        assert!(matches!(seller_for(&kiosk(vec![]), &store, &owner), Err(StoresError::Forbidden(_))));
        assert!(matches!(seller_for(&Principal::anonymous("r"), &store, &owner), Err(StoresError::Unauthenticated)));
        assert!(matches!(seller_for(&Principal::service("credit", "r"), &store, &owner), Err(StoresError::Unauthenticated)));
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(reason("  wrong size ").ok(), Some("wrong size".to_string()));
        assert!(matches!(reason("   "), Err(StoresError::InvalidReason)));
        assert!(matches!(reason(&"r".repeat(201)), Err(StoresError::InvalidReason)));
        assert!(matches!(reason("a\u{7}b"), Err(StoresError::InvalidReason)));
    }

    #[test]
    fn unknown_refusals_become_payment_declined() {
        assert_eq!(client_code_of_refusal("PAYMENT_CODE_USED"), "PAYMENT_CODE_USED");
        assert_eq!(client_code_of_refusal("SOMETHING_NEW"), "PAYMENT_DECLINED");
    }
}
