//! One database per subgraph, PostgreSQL in production and SQLite on a laptop, behind
//! sqlx's `Any` driver so that each query is written once with `$N` placeholders.
//!
//! The portable subset this implies (and which every migration respects): integers,
//! text, booleans and blobs only; timestamps are Unix milliseconds in `bigint`; ids are
//! text. Each subgraph still has its own migrations per backend, because DDL differs.
//!
//! TLS to PostgreSQL: rustls (aws-lc-rs), driven by the URL as libpq would be:
//! `sslmode=disable|prefer|require|verify-ca|verify-full` and `sslrootcert=/path/ca.pem`,
//! or the CA file in [`DatabaseConfig::ca_certificate_file`]. See [`postgres_url_with_tls`]
//! for what this module adds to sqlx's own handling (refusing a CA that would be ignored).

use std::{path::PathBuf, str::FromStr, sync::Once, time::Duration};

use anyhow::Context;

use serde::Deserialize;
use sqlx::{
    Any, AnyPool, Executor, Transaction,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};

use crate::config::Secret;

/// Where a subgraph keeps its data and how hard it may lean on it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://path/to/file.db`. No default: every target names its own.
    pub url: Secret<String>,
    /// Connections in the pool. Default 10 (SQLite: writers are serialised by the file
    /// lock anyway, so a small pool is enough).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing. Default 5000.
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// PostgreSQL `statement_timeout`, and SQLite's busy timeout. Default 5000.
    #[serde(default = "default_statement_timeout_ms")]
    pub statement_timeout_ms: u64,
    /// PostgreSQL: a PEM file of the certificate authorities that sign the server's
    /// certificate, for `sslmode=verify-ca` or `verify-full` (the same as `sslrootcert` in
    /// the URL; set one or the other). With it and no `sslmode` in the URL, the mode is
    /// `verify-full`. Default: none (verifying modes then trust only the Mozilla roots
    /// built into the binary).
    #[serde(default)]
    pub ca_certificate_file: Option<PathBuf>,
}

fn default_max_connections() -> u32 {
    10
}
fn default_acquire_timeout_ms() -> u64 {
    5_000
}
fn default_statement_timeout_ms() -> u64 {
    5_000
}

impl DatabaseConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: Secret::new(url.into()),
            max_connections: default_max_connections(),
            acquire_timeout_ms: default_acquire_timeout_ms(),
            statement_timeout_ms: default_statement_timeout_ms(),
            ca_certificate_file: None,
        }
    }

    pub fn backend(&self) -> anyhow::Result<Backend> {
        Backend::from_url(self.url.expose())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            anyhow::bail!("database url must start with postgres:// or sqlite:")
        }
    }
}

impl FromStr for Backend {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "sqlite" => Ok(Self::Sqlite),
            other => anyhow::bail!("unknown database backend {other:?}"),
        }
    }
}

/// A subgraph's migrations, one set per backend (`sqlx::migrate!("./migrations/postgres")`).
pub struct Migrations {
    pub postgres: Migrator,
    pub sqlite: Migrator,
}

/// A connection pool and the backend behind it.
#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
    /// Where write transactions come from. On PostgreSQL the same pool. On SQLite, which
    /// lets one writer in at a time, a pool of one connection: writers of this process
    /// queue for it in turn instead of each taking the file lock in a loop of
    /// sleep-and-retry (SQLite's busy handler), which left the file idle between
    /// writers and was most of the time a busy ledger spent.
    writer: AnyPool,
    backend: Backend,
}

impl Database {
    /// Connects, configures every new connection, and applies pending migrations.
    pub async fn connect(config: &DatabaseConfig, migrations: &Migrations) -> anyhow::Result<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(install_default_drivers);
        // sqlx builds its rustls configuration from the process's default crypto
        // provider, which rustls can only pick by itself when one provider is linked in.
        // The OTLP exporter's HTTP client (reqwest 0.13, with the features the Hive
        // crates turn on) links ring as well, so aws-lc-rs is named here; an error means
        // one was installed already (the router installs the same).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

        let backend = config.backend()?;
        let url = match backend {
            Backend::Sqlite => {
                if config.ca_certificate_file.is_some() {
                    anyhow::bail!(
                        "database.ca_certificate_file is for PostgreSQL; this database is SQLite"
                    );
                }
                create_sqlite_parent_directory(config.url.expose())?;
                sqlite_url_with_create(config.url.expose())
            }
            Backend::Postgres => {
                postgres_url_with_tls(config.url.expose(), config.ca_certificate_file.as_deref())?
            }
        };
        // Names the server and the TLS mode, never the URL: it holds the password.
        let target = match backend {
            Backend::Sqlite => "SQLite".to_string(),
            Backend::Postgres => postgres_target(&url),
        };
        let statement_timeout_ms = config.statement_timeout_ms;
        let options = |max_connections| {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
                .after_connect(move |connection, _| {
                    Box::pin(async move {
                        let setup = match backend {
                            Backend::Postgres => format!(
                                "set statement_timeout = {statement_timeout_ms}; set idle_in_transaction_session_timeout = {}",
                                statement_timeout_ms.saturating_mul(4)
                            ),
                            // WAL lets readers proceed while one writer commits; the busy
                            // timeout makes a second writer wait instead of failing at once.
                            Backend::Sqlite => format!(
                                "pragma journal_mode = wal; pragma synchronous = normal; pragma foreign_keys = on; pragma busy_timeout = {statement_timeout_ms}"
                            ),
                        };
                        connection.execute(setup.as_str()).await?;
                        Ok(())
                    })
                })
        };
        let pool = options(config.max_connections)
            .connect(&url)
            .await
            .with_context(|| format!("connecting to {target}"))?;
        let migrator = match backend {
            Backend::Postgres => &migrations.postgres,
            Backend::Sqlite => &migrations.sqlite,
        };
        migrator.run(&pool).await?;
        let writer = match backend {
            Backend::Postgres => pool.clone(),
            Backend::Sqlite => options(1)
                .connect(&url)
                .await
                .with_context(|| format!("connecting the writer to {target}"))?,
        };
        Ok(Self {
            pool,
            writer,
            backend,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for a write that is one statement outside any transaction (an insert
    /// that may do nothing, a delete of expired rows): on SQLite it queues with the
    /// write transactions instead of contending with them for the file lock.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`begin immediate`): a deferred transaction that reads and then writes can fail with
    /// `SQLITE_BUSY` when another writer committed in between, which no retry of the
    /// statement can fix. PostgreSQL's row locks and constraints need no such help.
    /// On SQLite the transaction runs on the one writer connection, so writers of this
    /// process wait for it in turn (see the `writer` field).
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Postgres => self.writer.begin().await,
            Backend::Sqlite => self.writer.begin_with("begin immediate").await,
        }
    }

    /// Readiness: the database answers a trivial query.
    pub async fn is_ready(&self) -> bool {
        sqlx::query("select 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

fn create_sqlite_parent_directory(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!(
            "c9pay needs a SQLite file, not an in-memory database: every pooled connection must see the same data"
        );
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// SQLite files are created on first use, so that `c9pay up` needs no set-up step.
fn sqlite_url_with_create(url: &str) -> String {
    if !url.contains("mode=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_string()
    }
}

/// The `sslmode` values libpq documents. sqlx treats `allow` as `disable`.
const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// The PostgreSQL URL to connect with: `url`, with `ca_certificate_file` as its
/// `sslrootcert`. sqlx reads `sslmode` and `sslrootcert` itself; this adds what it does
/// not check, so that a CA given for verification is never silently unused:
///
/// - an unknown `sslmode` is refused here, with the list of valid ones;
/// - a CA file (from either place) with `sslmode` `disable`, `allow`, `prefer` or
///   `require` is refused: sqlx would not verify the server with it (libpq would treat
///   `require` as `verify-ca`; refusing is clearer than guessing);
/// - a CA file without any `sslmode` means `verify-full`;
/// - a CA both in the URL and in the config is refused;
/// - the CA file must exist and be readable, or the error says so before connecting.
pub fn postgres_url_with_tls(
    url: &str,
    ca_certificate_file: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    // Errors never quote the URL: it holds the password.
    let mut parsed = url::Url::parse(url).context("the PostgreSQL URL is not a valid URL")?;
    let parameter = |name: &str| {
        parsed
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let ssl_mode = parameter("sslmode").or_else(|| parameter("ssl-mode"));
    let url_root_certificate = parameter("sslrootcert")
        .or_else(|| parameter("ssl-root-cert"))
        .or_else(|| parameter("ssl-ca"));
    if let Some(mode) = &ssl_mode
        && !SSL_MODES.contains(&mode.as_str())
    {
        anyhow::bail!(
            "sslmode={mode:?} in the PostgreSQL URL is not one of {}",
            SSL_MODES.join(", ")
        );
    }
    let root_certificate = match (url_root_certificate, ca_certificate_file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "the PostgreSQL CA is set twice, as sslrootcert in the URL and as database.ca_certificate_file; keep one"
        ),
        (Some(path), None) => Some(PathBuf::from(path)),
        (None, Some(path)) => Some(path.to_path_buf()),
        (None, None) => None,
    };
    let Some(root_certificate) = root_certificate else {
        return Ok(url.to_string());
    };
    std::fs::metadata(&root_certificate).with_context(|| {
        format!(
            "the PostgreSQL CA file {} cannot be read",
            root_certificate.display()
        )
    })?;
    match ssl_mode.as_deref() {
        Some("verify-ca" | "verify-full") => {}
        Some(mode) => anyhow::bail!(
            "a PostgreSQL CA file is set but sslmode={mode} does not verify the server with it; use sslmode=verify-full (or verify-ca)"
        ),
        None => {
            parsed
                .query_pairs_mut()
                .append_pair("sslmode", "verify-full");
        }
    }
    if let Some(path) = ca_certificate_file {
        let path = path
            .to_str()
            .context("the PostgreSQL CA file's path is not UTF-8")?;
        parsed.query_pairs_mut().append_pair("sslrootcert", path);
    }
    Ok(parsed.to_string())
}

/// `PostgreSQL at host:port (sslmode=…)`, for errors: enough to see which server and
/// which TLS mode failed, without the password.
fn postgres_target(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "PostgreSQL".to_string();
    };
    let ssl_mode = parsed
        .query_pairs()
        .find(|(key, _)| key == "sslmode" || key == "ssl-mode")
        .map_or_else(
            || "prefer (the default)".to_string(),
            |(_, value)| value.into_owned(),
        );
    format!(
        "PostgreSQL at {}:{} (sslmode={ssl_mode})",
        parsed.host_str().unwrap_or("localhost"),
        parsed.port().unwrap_or(5432)
    )
}

/// Maps a constraint violation to a domain error (realworld-axum-sqlx `on_constraint`):
/// the database is the last line of defence for uniqueness and checks, and a client that
/// trips one deserves its own error code, not an internal error.
pub trait ResultExt<T> {
    fn on_unique_violation<E>(self, map: impl FnOnce() -> E) -> Result<T, E>
    where
        E: From<sqlx::Error>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_unique_violation<E>(self, map: impl FnOnce() -> E) -> Result<T, E>
    where
        E: From<sqlx::Error>,
    {
        self.map_err(|error| match &error {
            sqlx::Error::Database(database_error) if database_error.is_unique_violation() => map(),
            _ => E::from(error),
        })
    }
}

/// A `like … escape '\'` pattern that matches values containing `fragment` literally
/// (its `%`, `_` and `\` match themselves). The same on SQLite and PostgreSQL.
pub fn contains_pattern(fragment: &str) -> String {
    let mut pattern = String::with_capacity(fragment.len() + 2);
    pattern.push('%');
    for character in fragment.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

/// `$first, $first+1, …` for `count` values: an `in (…)` list that both backends accept.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
}
