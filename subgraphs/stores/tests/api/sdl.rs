//! The exported SDL declares what the supergraph composition relies on.

#[test]
fn the_exported_sdl_owns_store_and_extends_user_by_id() {
    let sdl = c9pay_stores::schema_sdl();
    assert!(sdl.contains(r#"type Store @key(fields: "id")"#), "{sdl}");
    assert!(sdl.contains(r#"type User @key(fields: "id")"#), "{sdl}");
    assert!(sdl.contains("type Query"), "{sdl}");
    assert!(sdl.contains("type Mutation"), "{sdl}");
    assert!(!sdl.contains("type Wallet"), "credit owns Wallet: {sdl}");
}
