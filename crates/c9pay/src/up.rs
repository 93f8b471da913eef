//! `c9pay up`: every part in one process, on SQLite files, with demo data.
//!
//! The router listens on one well-known address; subgraphs listen on ephemeral loopback
//! ports: they are internal (they accept only tokens signed by the router or by a trusted
//! service), so nobody needs their addresses.

use std::{future::Future, path::PathBuf, pin::Pin};

use c9pay_auth::AuthConfig;
use c9pay_credit::CreditConfig;
use c9pay_platform::{
    config::Secret,
    database::DatabaseConfig,
    http::{Application, shutdown_signal},
    internal_token::{self, InternalTrustConfig, ROUTER_ISSUER},
};
use c9pay_router::RouterConfig;
use c9pay_stores::StoresConfig;
use c9pay_users::UsersConfig;
use anyhow::Context as _;
use clap::Args;
use tokio::task::JoinSet;

#[derive(Args)]
pub struct UpOptions {
    /// Where the router listens: the one address to use.
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: String,
    /// Where the SQLite files live.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Do not create the demo accounts, store and balances in an empty data directory.
    #[arg(long)]
    no_demo: bool,
    /// A TOML file of router settings to use instead of `up`'s defaults: `limits`,
    /// `rate_limits`, `cors_allowed_origins`, `dpop`, `revocations`, `circuit_breaker` (as in
    /// `router/router.example.toml`); `C9PAY_ROUTER__…` environment variables too.
    #[arg(long)]
    router_config: Option<PathBuf>,
    /// A TOML file of auth settings to use instead of the defaults: token, session and
    /// payment-code lifetimes, admin time-outs; `C9PAY_AUTH__…` environment variables too.
    #[arg(long)]
    auth_config: Option<PathBuf>,
    /// Export traces of every part over OTLP/HTTP to this URL, e.g.
    /// `http://127.0.0.1:4318/v1/traces`. Default: no export.
    #[arg(long, env = "C9PAY_UP__TELEMETRY__OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Share of requests whose traces are exported, from 0.0 to 1.0.
    #[arg(long, env = "C9PAY_UP__TELEMETRY__SAMPLING_RATIO", default_value_t = 1.0)]
    trace_sampling_ratio: f64,
}

impl UpOptions {
    /// The one process's trace export.
    pub fn telemetry(&self) -> c9pay_platform::telemetry::TelemetryConfig {
        c9pay_platform::telemetry::TelemetryConfig {
            otlp_endpoint: self.otlp_endpoint.clone(),
            sampling_ratio: self.trace_sampling_ratio,
            ..Default::default()
        }
    }
}

/// The router settings `up` lets a file or the environment change; the rest (addresses,
/// keys, the supergraph) are `up`'s own.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterSettings {
    limits: Option<c9pay_router::config::Limits>,
    rate_limits: Option<c9pay_router::config::RateLimitConfig>,
    cors_allowed_origins: Option<Vec<String>>,
    dpop: Option<c9pay_router::config::DpopConfig>,
    revocations: Option<c9pay_router::config::RevocationConfig>,
    circuit_breaker: Option<c9pay_platform::circuit_breaker::CircuitBreakerConfig>,
}

impl RouterSettings {
    fn apply(self, mut config: RouterConfig) -> RouterConfig {
        config.limits = self.limits.unwrap_or(config.limits);
        config.circuit_breaker = self.circuit_breaker.unwrap_or(config.circuit_breaker);
        config.rate_limits = self.rate_limits.unwrap_or(config.rate_limits);
        config.cors_allowed_origins = self.cors_allowed_origins.unwrap_or(config.cors_allowed_origins);
        config.dpop = self.dpop.unwrap_or(config.dpop);
        config.revocations = self.revocations.unwrap_or(config.revocations);
        config
    }
}

/// The auth settings `up` lets a file or the environment change.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSettings {
    access_token_lifetime_s: Option<i64>,
    session_lifetime_s: Option<i64>,
    payment_code_lifetime_s: Option<i64>,
    kiosk_token_lifetime_s: Option<i64>,
    admin_idle_timeout_s: Option<i64>,
    admin_session_lifetime_s: Option<i64>,
}

impl AuthSettings {
    fn apply(self, config: &mut AuthConfig) {
        let fields = [
            (self.access_token_lifetime_s, &mut config.access_token_lifetime_s),
            (self.session_lifetime_s, &mut config.session_lifetime_s),
            (self.payment_code_lifetime_s, &mut config.payment_code_lifetime_s),
            (self.kiosk_token_lifetime_s, &mut config.kiosk_token_lifetime_s),
            (self.admin_idle_timeout_s, &mut config.admin_idle_timeout_s),
            (self.admin_session_lifetime_s, &mut config.admin_session_lifetime_s),
        ];
        for (setting, field) in fields {
            if let Some(value) = setting {
                *field = value;
            }
        }
    }
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

/// The composed supergraph, built into the binary.
const SUPERGRAPH: &str = include_str!("../../../schema/supergraph.graphql");

pub async fn run(options: UpOptions) -> anyhow::Result<()> {
    let router_settings: RouterSettings =
        c9pay_platform::config::load(options.router_config.as_deref(), "C9PAY_ROUTER")
            .context("the router settings (--router-config, C9PAY_ROUTER__…)")?;
    let auth_settings: AuthSettings = c9pay_platform::config::load(options.auth_config.as_deref(), "C9PAY_AUTH")
        .context("the auth settings (--auth-config, C9PAY_AUTH__…)")?;
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
    let mut auth_config = AuthConfig::new(
        LOOPBACK,
        sqlite(&data_dir, "auth"),
        trust.config_for("auth")?,
        users_url.clone(),
    );
    auth_config.admin_emails = vec![crate::demo::ADMIN_EMAIL.to_string()];
    auth_settings.apply(&mut auth_config);
    let auth = c9pay_auth::build(&auth_config).await?;
    let auth_jwks_url = format!("http://{}/.well-known/jwks.json", auth.address());
    let credit = c9pay_credit::build(
        &credit_config
            .with_users_url(users_url)
            .with_auth_jwks_url(auth_jwks_url),
    )
    .await?;
    let credit_url = format!("http://{}", credit.address());
    let stores = c9pay_stores::build(
        &StoresConfig::new(
            LOOPBACK,
            sqlite(&data_dir, "stores"),
            trust.config_for("stores")?,
            credit_url,
        )
        .with_auth_url(format!("http://{}", auth.address())),
    )
    .await?;

    // The supergraph this binary was built with (it is the contract the subgraphs above
    // export), written next to the data so that `up` works from any directory.
    let supergraph_path = data_dir.join("supergraph.graphql");
    std::fs::write(&supergraph_path, SUPERGRAPH)?;
    let subgraph_urls = [&auth, &users, &credit, &stores]
        .iter()
        .map(|application| {
            (
                application.name().to_string(),
                format!("http://{}", application.address()),
            )
        })
        .collect();
    let jwks_url = format!("http://{}/.well-known/jwks.json", auth.address());
    // Each part has its own /metrics (its own registry), on its own loopback port.
    let part_metrics: Vec<String> = [&auth, &users, &credit, &stores]
        .iter()
        .map(|application| format!("{} http://{}/metrics", application.name(), application.address()))
        .collect();
    // Subgraphs first, so that the router finds auth's keys when it starts.
    let mut running = Running::new();
    for application in [auth, users, credit, stores] {
        running.start(application);
    }
    let router = c9pay_router::build(&router_settings.apply(RouterConfig::new(
        options.listen,
        supergraph_path,
        subgraph_urls,
        jwks_url,
        trust.router.clone(),
    )))
    .await?;

    let address = router.address();
    println!();
    println!("c9pay is up at http://{address}/graphql");
    println!("  the app:  http://{address}/app      (people: pay, top up, send credits)");
    println!("  stores:   http://{address}/store    (kiosks and merchant dashboards)");
    println!("  admin:    http://{address}/admin    (admin console)");
    println!("  open /graphql in a browser for GraphiQL; POST GraphQL to it with");
    println!("  `Authorization: Bearer <accessToken from logIn>`; kiosks: `Authorization: DPoP`");
    println!("  with a DPoP proof per request; admins: POST /admin/log-in (sets the cookie)");
    println!("  data:    SQLite files in {}", data_dir.display());
    println!("  metrics: router http://{address}/metrics, {}", part_metrics.join(", "));
    if let Some(seeded) = seeded {
        println!("  demo:    {seeded}");
    }
    println!(
        "  try:     mutation {{ logIn(input: {{ email: \"ada@demo.c9pay\", password: \"{}\" }}) {{ accessToken }} }}",
        crate::demo::PASSWORD
    );
    println!("Stop with Ctrl-C.");

    running.start(router);
    running.until_stopped().await
}

/// Applications serving until Ctrl-C or SIGTERM, when each drains; the first that fails
/// stops the rest.
struct Running {
    stop: tokio::sync::broadcast::Sender<()>,
    tasks: JoinSet<(&'static str, std::io::Result<()>)>,
}

impl Running {
    fn new() -> Self {
        Self {
            stop: tokio::sync::broadcast::channel(1).0,
            tasks: JoinSet::new(),
        }
    }

    fn start(&mut self, application: Application) {
        let mut stopped = self.stop.subscribe();
        let signal: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let _ = stopped.recv().await;
        });
        self.tasks
            .spawn(async move { (application.name(), application.run_until(signal).await) });
    }

    async fn until_stopped(mut self) -> anyhow::Result<()> {
        let mut outcome = Ok(());
        tokio::select! {
            () = shutdown_signal() => {}
            Some(finished) = self.tasks.join_next() => {
                outcome = match finished {
                    Ok((name, Ok(()))) => Err(anyhow::anyhow!("{name} stopped unexpectedly")),
                    Ok((name, Err(error))) => Err(anyhow::anyhow!("{name} failed: {error}")),
                    Err(error) => Err(anyhow::anyhow!("a server task failed: {error}")),
                };
            }
        }
        let _ = self.stop.send(());
        while self.tasks.join_next().await.is_some() {}
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use c9pay_router::Access;

    use super::*;

    /// `up` runs c9pay itself: its router settings cannot open the router (`access` is
    /// not one of them, from a file or from `C9PAY_ROUTER__ACCESS`), and the router it
    /// builds is authenticated.
    #[test]
    fn up_never_opens_the_router() -> anyhow::Result<()> {
        let path = std::env::temp_dir().join(format!("c9pay-up-access-test-{}.toml", std::process::id()));
        std::fs::write(&path, "access = \"open\"\n")?;
        let opened = c9pay_platform::config::load::<RouterSettings>(Some(&path), "C9PAY_UP_ACCESS_TEST");
        std::fs::remove_file(&path)?;
        assert!(opened.is_err(), "up's router settings took `access`");

        let config = RouterSettings::default().apply(RouterConfig::new(
            LOOPBACK,
            "supergraph.graphql",
            BTreeMap::new(),
            "http://127.0.0.1:1/.well-known/jwks.json",
            Secret::new(String::new()),
        ));
        assert_eq!(config.access, Access::Authenticated);
        Ok(())
    }
}
