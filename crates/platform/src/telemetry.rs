//! Logging, initialised once per process: JSON lines in production, readable lines on a
//! terminal; the filter comes from `RUST_LOG` (default `info`).

use std::sync::Once;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

pub fn init(format: LogFormat) {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
        let registry = tracing_subscriber::registry().with(filter);
        let result = match format {
            LogFormat::Json => registry
                .with(fmt::layer().json().flatten_event(true))
                .try_init(),
            LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
        };
        if let Err(error) = result {
            eprintln!("logging was already initialised: {error}");
        }
    });
}
