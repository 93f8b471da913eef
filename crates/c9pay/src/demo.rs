//! Demo data for `c9pay up`: two people with credit, and a merchant with a store.
//!
//! Seeding writes each subgraph's own database through that subgraph's library, with the
//! same rules as the API (password policy, double-entry grants). It runs only when auth
//! has no accounts, and creates the logins last: a seed interrupted half-way leaves only
//! unreachable rows behind and is simply done again at the next start.

use c9pay_credit::CreditConfig;
use c9pay_platform::{
    database::{Database, DatabaseConfig},
    id::UserId,
    money::Amount,
    text::DisplayName,
};
use c9pay_users::UsersConfig;

/// The demo administrator's log-in email.
pub const ADMIN_EMAIL: &str = "admin@demo.c9pay";

/// Every demo account's password.
pub const PASSWORD: &str = "c9pay-demo-password";

struct Person {
    email: &'static str,
    display_name: &'static str,
    credit: i64,
}

const PEOPLE: &[Person] = &[
    Person {
        email: "ada@demo.c9pay",
        display_name: "Ada Lovelace",
        credit: 50_000,
    },
    Person {
        email: "grace@demo.c9pay",
        display_name: "Grace Hopper",
        credit: 20_000,
    },
    // An administrator (`up` lists this email in auth's `admin_emails`): log in at the
    // router's `/admin/log-in` for the admin fields.
    Person {
        email: ADMIN_EMAIL,
        display_name: "Platform Admin",
        credit: 0,
    },
    Person {
        email: "minsu@demo.c9pay",
        display_name: "Minsu Kim",
        credit: 0,
    },
];

const STORE_NAME: &str = "Cafe Nine";
const PRODUCTS: &[(&str, i64)] = &[
    ("Americano", 4_500),
    ("Cafe latte", 5_000),
    ("Croissant", 3_800),
    ("Green tea", 4_000),
];

/// Seeds an empty platform; returns a one-line summary, or `None` if it was not empty.
pub async fn seed_if_empty(
    auth: &DatabaseConfig,
    users: &UsersConfig,
    credit: &CreditConfig,
    stores: &DatabaseConfig,
) -> anyhow::Result<Option<String>> {
    let auth = Database::connect(auth, &c9pay_auth::migrations()).await?;
    if c9pay_auth::demo::has_users(&auth).await? {
        return Ok(None);
    }
    let users = c9pay_users::open_database(users).await?;
    let credit = c9pay_credit::open_database(credit).await?;
    let stores = Database::connect(stores, &c9pay_stores::migrations()).await?;

    let ids: Vec<UserId> = PEOPLE.iter().map(|_| UserId::generate()).collect();
    for (person, user_id) in PEOPLE.iter().zip(&ids) {
        c9pay_users::db::create_profile(&users, user_id, &DisplayName::parse(person.display_name)?)
            .await?;
        if person.credit > 0 {
            c9pay_credit::demo::grant(&credit, user_id, Amount::parse_positive(person.credit)?)
                .await?;
        }
    }
    let merchant = ids
        .last()
        .ok_or_else(|| anyhow::anyhow!("no demo merchant"))?;
    let products = PRODUCTS
        .iter()
        .map(|(name, price)| Ok((*name, Amount::parse_positive(*price)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = c9pay_stores::demo::seed_store(&stores, merchant, STORE_NAME, &products).await?;
    c9pay_credit::demo::ensure_store_account(&credit, &store.id, merchant).await?;
    for (person, user_id) in PEOPLE.iter().zip(&ids) {
        c9pay_auth::demo::create_user(&auth, user_id, person.email, PASSWORD).await?;
    }
    for database in [&auth, &users, &credit, &stores] {
        database.close().await;
    }
    let logins = PEOPLE
        .iter()
        .map(|person| person.email)
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Some(format!(
        "created {logins} (password {PASSWORD:?}); ada and grace have credit, minsu owns {STORE_NAME:?}, {ADMIN_EMAIL} is an admin"
    )))
}
