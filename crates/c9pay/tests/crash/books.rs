//! The checks after the crashes, read straight from the two databases: every sale a till
//! rang up is paid once or failed, none lost or pending; each paid sale moved its amount
//! once in credit's ledger, from its payer to its store; no money moved for anything
//! else; credit's double entry holds, and the stores' takings are credit's transfers.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context as _;
use c9pay_platform::database::Database;
use sqlx::{PgPool, Row as _};

use crate::till::{Attempt, Seen};

/// Both databases, as the checks read them.
pub struct Books {
    pub stores: PgPool,
    pub credit: PgPool,
    /// Credit's database through the platform, for the ledger's own balance checks.
    pub ledger: Database,
}

/// A sale row of the stores database.
#[derive(sqlx::FromRow)]
struct Sale {
    id: String,
    store_id: String,
    key: String,
    status: String,
    total: i64,
    refunded: i64,
    payer_user_id: Option<String>,
    transfer_id: Option<String>,
    failure_code: Option<String>,
}

/// A `payment` transfer of credit's ledger.
#[derive(sqlx::FromRow)]
struct Transfer {
    id: String,
    debit_account_id: String,
    credit_account_id: String,
    amount: i64,
    reference: Option<String>,
}

/// What the books hold after the run.
#[derive(Default)]
pub struct Tally {
    pub paid: usize,
    pub failed: BTreeMap<String, usize>,
    /// Sales the tills stopped asking about, settled by a retry in flight or the reconciler.
    pub unfinished_paid: usize,
    pub unfinished_failed: usize,
    /// Sales left without a row: the tills' requests never reached stores' database.
    pub never_recorded: usize,
}

impl Books {
    /// Sales still pending in stores, and holds still pending in credit.
    pub async fn pending(&self) -> anyhow::Result<(i64, i64)> {
        let sales: i64 = sqlx::query_scalar("select count(*) from sale where status = 'pending'")
            .fetch_one(&self.stores)
            .await?;
        let holds: i64 = sqlx::query_scalar("select count(*) from hold where status = 'pending'")
            .fetch_one(&self.credit)
            .await?;
        Ok((sales, holds))
    }

    /// Every check; the violations found, and the tally.
    pub async fn audit(&self, attempts: &[Attempt], grants: &BTreeMap<String, i64>) -> anyhow::Result<(Vec<String>, Tally)> {
        let mut violations = Vec::new();
        let sales = self.sales().await?;
        let transfers = self.payment_transfers().await?;
        let accounts = self.accounts().await?;
        let tally = check_attempts(attempts, &sales, &mut violations);
        check_payments(&sales, &transfers, &accounts, &mut violations);
        self.check_payment_rows(&sales, &mut violations).await?;
        self.check_ledger(&mut violations).await?;
        check_takings(&sales, &accounts, grants, &mut violations);
        Ok((violations, tally))
    }

    async fn sales(&self) -> anyhow::Result<Vec<Sale>> {
        let sql = "select id, store_id, idempotency_key as key, status, total, refunded, payer_user_id, transfer_id, failure_code from sale";
        Ok(sqlx::query_as(sql).fetch_all(&self.stores).await?)
    }

    async fn payment_transfers(&self) -> anyhow::Result<Vec<Transfer>> {
        let sql = "select id, debit_account_id, credit_account_id, amount, reference from transfer where kind = 'payment'";
        Ok(sqlx::query_as(sql).fetch_all(&self.credit).await?)
    }

    /// (owner kind, owner id) → (account id, balance with its shards).
    async fn accounts(&self) -> anyhow::Result<HashMap<(String, String), (String, i64)>> {
        let rows = sqlx::query(
            "select id, owner_kind, owner_id,
                    cast(balance + coalesce((select sum(account_shard.balance) from account_shard where account_shard.account_id = account.id), 0) as bigint) as balance
             from account",
        )
        .fetch_all(&self.credit)
        .await?;
        rows.iter()
            .map(|row| Ok(((row.try_get("owner_kind")?, row.try_get("owner_id")?), (row.try_get("id")?, row.try_get("balance")?))))
            .collect()
    }

    /// Credit's payment rows: one per paid sale, naming its payer, store and amount, its
    /// hold posted with the sale's transfer; a failed sale's payment (if credit made one)
    /// released.
    async fn check_payment_rows(&self, sales: &[Sale], violations: &mut Vec<String>) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "select payment.id, payment.store_id, payment.payer_user_id, payment.amount, hold.status, hold.transfer_id
             from payment join hold on hold.id = payment.hold_id",
        )
        .fetch_all(&self.credit)
        .await?;
        let mut payments = HashMap::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let fields: (String, String, i64, String, Option<String>) = (
                row.try_get("store_id")?,
                row.try_get("payer_user_id")?,
                row.try_get("amount")?,
                row.try_get("status")?,
                row.try_get("transfer_id")?,
            );
            payments.insert(id, fields);
        }
        let by_id: HashMap<&str, &Sale> = sales.iter().map(|sale| (sale.id.as_str(), sale)).collect();
        for (id, (store_id, payer, amount, hold_status, transfer_id)) in &payments {
            let Some(sale) = by_id.get(id.as_str()) else {
                violations.push(format!("credit has payment {id} ({amount} from {payer}) for a sale stores does not have"));
                continue;
            };
            match sale.status.as_str() {
                "paid" => {
                    if *store_id != sale.store_id || Some(payer) != sale.payer_user_id.as_ref() || *amount != sale.total {
                        violations.push(format!(
                            "paid sale {id} ({} of {} by {:?}) has credit's payment of {amount} at {store_id} by {payer}",
                            sale.total, sale.store_id, sale.payer_user_id
                        ));
                    }
                    if hold_status != "posted" || transfer_id != &sale.transfer_id {
                        violations.push(format!(
                            "paid sale {id} (transfer {:?}) has a hold {hold_status} with transfer {transfer_id:?}",
                            sale.transfer_id
                        ));
                    }
                }
                _ if hold_status == "posted" => {
                    violations.push(format!("sale {id} is {} but credit posted its payment ({transfer_id:?})", sale.status));
                }
                _ => {}
            }
        }
        for sale in sales.iter().filter(|sale| sale.status == "paid") {
            if !payments.contains_key(&sale.id) {
                violations.push(format!("paid sale {} has no payment in credit", sale.id));
            }
        }
        Ok(())
    }

    /// Double entry: all balances sum to zero, each account is what its transfers add up
    /// to, what is held is what pending holds reserve, nobody is overdrawn.
    async fn check_ledger(&self, violations: &mut Vec<String>) -> anyhow::Result<()> {
        let total = c9pay_credit::db::balance_total(&self.ledger).await?;
        if total != 0 {
            violations.push(format!("credit's balances sum to {total}, not 0"));
        }
        let out_of_balance = c9pay_credit::db::accounts_out_of_balance(&self.ledger).await?;
        if !out_of_balance.is_empty() {
            violations.push(format!("accounts whose balance is not their transfers: {out_of_balance:?}"));
        }
        let misheld: Vec<String> = sqlx::query_scalar(
            "select id from account
             where held <> coalesce((select sum(amount) from hold where hold.debit_account_id = account.id and hold.status = 'pending'), 0)
                or (owner_kind <> 'system' and balance
                    + coalesce((select sum(account_shard.balance) from account_shard where account_shard.account_id = account.id), 0)
                    - held < 0)",
        )
        .fetch_all(&self.credit)
        .await?;
        if !misheld.is_empty() {
            violations.push(format!("accounts whose held credit is not their pending holds, or overdrawn: {misheld:?}"));
        }
        Ok(())
    }
}

/// Every sale a till rang up against the stores database: what the till saw is what is
/// recorded, nothing is pending, nothing is missing, nothing is there that no till sold.
fn check_attempts(attempts: &[Attempt], sales: &[Sale], violations: &mut Vec<String>) -> Tally {
    let mut tally = Tally::default();
    let by_key: HashMap<(&str, &str), &Sale> = sales.iter().map(|sale| ((sale.store_id.as_str(), sale.key.as_str()), sale)).collect();
    let mut keys = HashSet::new();
    for attempt in attempts {
        keys.insert((attempt.store_id.as_str(), attempt.key.as_str()));
        let Some(sale) = by_key.get(&(attempt.store_id.as_str(), attempt.key.as_str())) else {
            if attempt.seen == Seen::Unfinished && attempt.sale_id.is_none() {
                tally.never_recorded += 1;
            } else {
                violations.push(format!("lost: {} was answered as sale {:?} ({:?}) but stores has no sale", attempt.key, attempt.sale_id, attempt.seen));
            }
            continue;
        };
        if attempt.sale_id.as_ref().is_some_and(|id| *id != sale.id) {
            violations.push(format!("{} was answered as sale {:?} but stores recorded {}", attempt.key, attempt.sale_id, sale.id));
        }
        if sale.total != attempt.price {
            violations.push(format!("sale {} totals {}, its product costs {}", sale.id, sale.total, attempt.price));
        }
        match (&attempt.seen, sale.status.as_str()) {
            (Seen::Paid, "paid") => tally.paid += 1,
            (Seen::Failed(code), "failed") if sale.failure_code.as_ref() == Some(code) => {
                *tally.failed.entry(code.clone()).or_default() += 1;
            }
            (Seen::Unfinished, "paid") => {
                tally.paid += 1;
                tally.unfinished_paid += 1;
            }
            (Seen::Unfinished, "failed") => {
                *tally.failed.entry(sale.failure_code.clone().unwrap_or_default()).or_default() += 1;
                tally.unfinished_failed += 1;
            }
            (seen, status) => violations.push(format!(
                "sale {} ({}) is {status} ({:?}) but the till saw {seen:?}",
                sale.id, attempt.key, sale.failure_code
            )),
        }
    }
    for sale in sales {
        if !keys.contains(&(sale.store_id.as_str(), sale.key.as_str())) {
            violations.push(format!("sale {} ({}) was recorded but no till rang it up", sale.id, sale.key));
        }
    }
    tally
}

/// Each paid sale's amount moved exactly once, from its payer's wallet to its store's
/// account, as the transfer the sale names; no payment transfer for anything else.
fn check_payments(sales: &[Sale], transfers: &[Transfer], accounts: &HashMap<(String, String), (String, i64)>, violations: &mut Vec<String>) {
    let mut by_reference: HashMap<&str, Vec<&Transfer>> = HashMap::new();
    for transfer in transfers {
        match &transfer.reference {
            Some(reference) => by_reference.entry(reference.as_str()).or_default().push(transfer),
            None => violations.push(format!("payment transfer {} names no sale", transfer.id)),
        }
    }
    let account_of = |kind: &str, owner: &str| accounts.get(&(kind.to_string(), owner.to_string())).map(|(id, _)| id.as_str());
    let mut paid = HashSet::new();
    for sale in sales {
        let moved = by_reference.get(sale.id.as_str()).map_or(&[][..], Vec::as_slice);
        if sale.status != "paid" {
            if !moved.is_empty() {
                violations.push(format!("sale {} is {} but {} payment transfer(s) moved its money", sale.id, sale.status, moved.len()));
            }
            continue;
        }
        paid.insert(sale.id.as_str());
        let [transfer] = moved else {
            violations.push(format!("paid sale {} moved money {} times in credit's ledger", sale.id, moved.len()));
            continue;
        };
        let payer = sale.payer_user_id.as_deref().unwrap_or_default();
        if Some(&transfer.id) != sale.transfer_id.as_ref()
            || transfer.amount != sale.total
            || Some(transfer.debit_account_id.as_str()) != account_of("user", payer)
            || Some(transfer.credit_account_id.as_str()) != account_of("store", &sale.store_id)
        {
            violations.push(format!(
                "paid sale {} ({} from {payer} to {}, transfer {:?}) has transfer {} of {} from {} to {}",
                sale.id, sale.total, sale.store_id, sale.transfer_id, transfer.id, transfer.amount, transfer.debit_account_id, transfer.credit_account_id
            ));
        }
    }
    for (reference, moved) in &by_reference {
        if !paid.contains(reference) && !sales.iter().any(|sale| sale.id == *reference) {
            violations.push(format!("{} payment transfer(s) for {reference}, which stores never recorded", moved.len()));
        }
    }
}

/// Stores' paid sales against credit's accounts: each store holds its takings, each
/// payer its grant less what it paid.
fn check_takings(sales: &[Sale], accounts: &HashMap<(String, String), (String, i64)>, grants: &BTreeMap<String, i64>, violations: &mut Vec<String>) {
    let mut takings: BTreeMap<&str, i64> = BTreeMap::new();
    let mut spent: BTreeMap<&str, i64> = BTreeMap::new();
    for sale in sales.iter().filter(|sale| sale.status == "paid") {
        *takings.entry(sale.store_id.as_str()).or_default() += sale.total - sale.refunded;
        *spent.entry(sale.payer_user_id.as_deref().unwrap_or_default()).or_default() += sale.total - sale.refunded;
    }
    let balance_of = |kind: &str, owner: &str| accounts.get(&(kind.to_string(), owner.to_string())).map_or(0, |(_, balance)| *balance);
    let stores: HashSet<&str> = accounts.keys().filter(|(kind, _)| kind == "store").map(|(_, owner)| owner.as_str()).collect();
    for store in stores.iter().copied().chain(takings.keys().copied()).collect::<HashSet<_>>() {
        let (sold, held) = (takings.get(store).copied().unwrap_or(0), balance_of("store", store));
        if sold != held {
            violations.push(format!("store {store} sold {sold} in stores' books but holds {held} in credit's"));
        }
    }
    for (payer, grant) in grants {
        let (paid, left) = (spent.get(payer.as_str()).copied().unwrap_or(0), balance_of("user", payer));
        if grant - paid != left {
            violations.push(format!("payer {payer} was granted {grant} and paid {paid} for sales, but holds {left}"));
        }
    }
    for payer in spent.keys() {
        if !grants.contains_key(*payer) {
            violations.push(format!("sales were paid by {payer}, who is none of the payers"));
        }
    }
}

/// Connects to both databases.
pub async fn open(stores_url: &str, credit: &c9pay_platform::database::DatabaseConfig) -> anyhow::Result<Books> {
    Ok(Books {
        stores: PgPool::connect(stores_url).await.context("connecting to stores' database")?,
        credit: PgPool::connect(credit.url.expose()).await.context("connecting to credit's database")?,
        ledger: Database::connect(credit, &c9pay_credit::migrations()).await?,
    })
}
