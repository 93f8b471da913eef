//! `c9pay`: one binary, many targets (the Grafana Mimir/Loki model).
//!
//! - `c9pay up` runs every part in one process on SQLite files under `./data`, with demo
//!   data: the laptop mode.
//! - `c9pay run <target>` runs one part, configured from a file and `C9PAY_<TARGET>__…`
//!   environment variables: the Kubernetes mode.
//! - `c9pay keygen` prints a fresh Ed25519 key for internal trust (for Secrets).
//! - `c9pay keys rotate --config auth.toml` rotates auth's signing key (tokens, payment
//!   codes) in auth's database; running replicas pick it up without a restart.
//!
//! This crate only parses arguments and wires the libraries together.

use std::path::PathBuf;

use c9pay::up;
use c9pay_platform::{config, internal_token, telemetry};
use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc rather than glibc's malloc: the router's executor allocates and frees many
/// small values per request (see the workspace's Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "c9pay",
    version,
    about = "c9pay: prepaid credits, QR payments, live confirmations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform in one process on SQLite, with demo data.
    Up(up::UpOptions),
    /// Run one part, as a Kubernetes pod does.
    Run {
        target: Target,
        /// A TOML configuration file; environment variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print a new Ed25519 key (base64 seed) and its public key, for internal trust.
    Keygen,
    /// Manage auth's signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Publish a new signing key (it signs after auth's publish-ahead time), keep the
    /// previous one published so that what it signed verifies until it expires, and
    /// retire keys superseded more than `--retire-after-s` ago.
    Rotate {
        /// Auth's configuration file (for its database); environment variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Default 3600: beyond the longest access token (900 s) and payment code (180 s)
        /// plus the publish-ahead time.
        #[arg(long, default_value_t = 3600)]
        retire_after_s: i64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    Auth,
    Users,
    Credit,
    Stores,
    Router,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Up(options) => {
            telemetry::init_with(telemetry::LogFormat::Pretty, &options.telemetry(), "c9pay")?;
            let result = up::run(options).await;
            telemetry::shutdown();
            result
        }
        Command::Run { target, config } => {
            let result = run_target(target, config).await;
            telemetry::shutdown();
            result
        }
        Command::Keys {
            command: KeysCommand::Rotate { config: file, retire_after_s },
        } => {
            telemetry::init(telemetry::LogFormat::Pretty);
            let auth_config: c9pay_auth::AuthConfig = config::load(file.as_deref(), "C9PAY_AUTH")?;
            let database = c9pay_auth::open_database(&auth_config).await?;
            let rotation = c9pay_auth::keys::rotate(&database, retire_after_s.saturating_mul(1000)).await?;
            println!("new signing key: {}", rotation.new_kid);
            for kid in rotation.retired {
                println!("retired:         {kid}");
            }
            database.close().await;
            Ok(())
        }
        Command::Keygen => {
            let seed = internal_token::generate_seed();
            println!("signing_key (secret): {}", seed.expose());
            println!(
                "public key:           {}",
                internal_token::public_key_of(&seed)?
            );
            Ok(())
        }
    }
}

/// Loads the part's configuration, starts its logs and traces (`telemetry` in that
/// configuration), then builds it.
async fn run_target(target: Target, file: Option<PathBuf>) -> anyhow::Result<()> {
    use telemetry::{LogFormat::Json, init_with};
    let file = file.as_deref();
    let application = match target {
        Target::Auth => {
            let config: c9pay_auth::AuthConfig = config::load(file, "C9PAY_AUTH")?;
            init_with(Json, &config.telemetry, "c9pay-auth")?;
            c9pay_auth::build(&config).await?
        }
        Target::Users => {
            let config: c9pay_users::UsersConfig = config::load(file, "C9PAY_USERS")?;
            init_with(Json, &config.telemetry, "c9pay-users")?;
            c9pay_users::build(&config).await?
        }
        Target::Credit => {
            let config: c9pay_credit::CreditConfig = config::load(file, "C9PAY_CREDIT")?;
            init_with(Json, &config.telemetry, "c9pay-credit")?;
            c9pay_credit::build(&config).await?
        }
        Target::Stores => {
            let config: c9pay_stores::StoresConfig = config::load(file, "C9PAY_STORES")?;
            init_with(Json, &config.telemetry, "c9pay-stores")?;
            c9pay_stores::build(&config).await?
        }
        Target::Router => {
            let config: c9pay_router::RouterConfig = config::load(file, "C9PAY_ROUTER")?;
            init_with(Json, &config.telemetry, "c9pay-router")?;
            c9pay_router::build(&config).await?
        }
    };
    Ok(application.run_until_stopped().await?)
}
