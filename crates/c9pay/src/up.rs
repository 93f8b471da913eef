//! `c9pay up`: every part in one process, on SQLite files, with demo data.
//!
//! Subgraphs listen on ephemeral loopback ports: they are internal (they accept only
//! tokens signed by the router or by a trusted service), so nobody needs their addresses.

use std::{future::Future, path::PathBuf, pin::Pin};

use c9pay_auth::AuthConfig;
use c9pay_credit::CreditConfig;
use c9pay_platform::{
    config::Secret,
    database::DatabaseConfig,
    http::{Application, shutdown_signal},
    internal_token::{self, InternalTrustConfig, ROUTER_ISSUER},
};
use c9pay_stores::StoresConfig;
use c9pay_users::UsersConfig;
use clap::Args;
use tokio::task::JoinSet;

#[derive(Args)]
pub struct UpOptions {
    /// Where the SQLite files live.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Do not create the demo accounts, store and balances in an empty data directory.
    #[arg(long)]
    no_demo: bool,
}

/// The internal trust of one `up` run: fresh keys every start (internal tokens live a
/// minute, so nothing outlives a restart).
struct Trust {
    router: Secret<String>,
    auth: Secret<String>,
    credit: Secret<String>,
    stores: Secret<String>,
}

impl Trust {
    fn generate() -> Self {
        Self {
            router: internal_token::generate_seed(),
            auth: internal_token::generate_seed(),
            credit: internal_token::generate_seed(),
            stores: internal_token::generate_seed(),
        }
    }

    fn config_for(&self, service: &str) -> anyhow::Result<InternalTrustConfig> {
        let trusted_issuers = [
            (ROUTER_ISSUER, &self.router),
            ("auth", &self.auth),
            ("credit", &self.credit),
            ("stores", &self.stores),
        ]
        .into_iter()
        .map(|(issuer, seed)| Ok((issuer.to_string(), internal_token::public_key_of(seed)?)))
        .collect::<anyhow::Result<_>>()?;
        let signing_key = match service {
            "auth" => Some(self.auth.clone()),
            "credit" => Some(self.credit.clone()),
            "stores" => Some(self.stores.clone()),
            _ => None,
        };
        Ok(InternalTrustConfig {
            signing_key,
            trusted_issuers,
        })
    }
}

fn sqlite(data_dir: &std::path::Path, name: &str) -> DatabaseConfig {
    let mut config = DatabaseConfig::new(format!(
        "sqlite://{}",
        data_dir.join(format!("{name}.db")).display()
    ));
    // One writer at a time is all SQLite allows; a few readers beside it are plenty here.
    config.max_connections = 4;
    config
}

const LOOPBACK: &str = "127.0.0.1:0";

pub async fn run(options: UpOptions) -> anyhow::Result<()> {
    let data_dir = options.data_dir;
    std::fs::create_dir_all(&data_dir)?;
    let trust = Trust::generate();

    let users_config = UsersConfig::new(
        LOOPBACK,
        sqlite(&data_dir, "users"),
        trust.config_for("users")?,
    );
    let credit_config = CreditConfig::new(
        LOOPBACK,
        sqlite(&data_dir, "credit"),
        trust.config_for("credit")?,
    );

    let seeded = if options.no_demo {
        None
    } else {
        crate::demo::seed_if_empty(
            &sqlite(&data_dir, "auth"),
            &users_config,
            &credit_config,
            &sqlite(&data_dir, "stores"),
        )
        .await?
    };

    let users = c9pay_users::build(&users_config).await?;
    let users_url = format!("http://{}", users.address());
    let auth = c9pay_auth::build(&AuthConfig::new(
        LOOPBACK,
        sqlite(&data_dir, "auth"),
        trust.config_for("auth")?,
        users_url.clone(),
    ))
    .await?;
    let auth_jwks_url = format!("http://{}/.well-known/jwks.json", auth.address());
    let credit = c9pay_credit::build(
        &credit_config
            .with_users_url(users_url)
            .with_auth_jwks_url(auth_jwks_url),
    )
    .await?;
    let credit_url = format!("http://{}", credit.address());
    let stores = c9pay_stores::build(&StoresConfig::new(
        LOOPBACK,
        sqlite(&data_dir, "stores"),
        trust.config_for("stores")?,
        credit_url,
    ))
    .await?;

    println!();
    println!("c9pay is up: SQLite files in {}", data_dir.display());
    for application in [&auth, &users, &credit, &stores] {
        println!(
            "  subgraph {:<7} http://{}/graphql (internal: needs a router-signed token)",
            application.name(),
            application.address()
        );
    }
    println!(
        "  router:  not part of this build yet (the router issue); until it lands the subgraphs above"
    );
    println!(
        "           are reachable only with internal tokens, as they will be behind the router."
    );
    if let Some(seeded) = seeded {
        println!("  demo:    {seeded}");
    }
    println!("Stop with Ctrl-C.");

    serve_all(vec![auth, users, credit, stores]).await
}

/// Runs every application until Ctrl-C or SIGTERM, then lets each drain; the first that
/// fails stops the rest.
async fn serve_all(applications: Vec<Application>) -> anyhow::Result<()> {
    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut running = JoinSet::new();
    for application in applications {
        let mut stopped = stop.subscribe();
        let signal: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let _ = stopped.recv().await;
        });
        running.spawn(async move { (application.name(), application.run_until(signal).await) });
    }
    let mut outcome = Ok(());
    tokio::select! {
        () = shutdown_signal() => {}
        Some(finished) = running.join_next() => {
            outcome = match finished {
                Ok((name, Ok(()))) => Err(anyhow::anyhow!("{name} stopped unexpectedly")),
                Ok((name, Err(error))) => Err(anyhow::anyhow!("{name} failed: {error}")),
                Err(error) => Err(anyhow::anyhow!("a server task failed: {error}")),
            };
        }
    }
    let _ = stop.send(());
    while running.join_next().await.is_some() {}
    outcome
}
