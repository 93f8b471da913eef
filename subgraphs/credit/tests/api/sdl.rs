//! The exported SDL declares what the supergraph composition relies on.

#[test]
fn the_exported_sdl_extends_user_and_store_by_id() {
    // Credit has no root fields of its own yet, so its SDL has no `Query` type: it only
    // contributes fields to entities, which federation v2 allows.
    let sdl = c9pay_credit::schema_sdl();
    assert!(sdl.contains(r#"type User @key(fields: "id")"#), "{sdl}");
    assert!(sdl.contains(r#"type Store @key(fields: "id")"#), "{sdl}");
    assert!(sdl.contains("wallet: Wallet!"), "{sdl}");
    assert!(sdl.contains("account: StoreAccount"), "{sdl}");
}
