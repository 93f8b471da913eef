//! Demo seeding for `c9pay up`.

use c9pay_platform::{database::Backend, id::UserId, money::Amount};

use crate::helpers::spawn_stores;

fn price(value: i64) -> Amount {
    Amount::parse_positive(value).expect("a positive test price")
}

async fn seeding_a_demo_store_twice_leaves_one_store_with_one_catalogue(backend: Backend) {
    let app = spawn_stores(backend).await;
    let owner = UserId::generate();
    let catalogue = [("Americano", price(4_500)), ("Latte", price(5_000))];

    let first = c9pay_stores::demo::seed_store(&app.database, &owner, "Demo Café", &catalogue).await.expect("seeding");
    let second = c9pay_stores::demo::seed_store(&app.database, &owner, "Demo Café", &catalogue).await.expect("seeding again");
    c9pay_credit::demo::ensure_store_account(&app.credit().database, &first.id, &owner).await.expect("opening its account");

    assert_eq!(first.id, second.id);
    assert_eq!(app.product_names(&owner, first.id.as_str()).await, ["Americano", "Latte"]);
    let account = app.store_account(&owner, first.id.as_str()).await;
    assert_eq!(account.data()["_entities"][0]["account"]["balance"], "0");
}

c9pay_platform::on_both_backends!(seeding_a_demo_store_twice_leaves_one_store_with_one_catalogue);
