//! `c9pay-schema`: export subgraph SDLs and compose `schema/supergraph.graphql`.
//!
//! - `write`        regenerate `schema/*.graphql` (what `just schema` runs)
//! - `check`        exit non-zero listing every missing or stale generated file
//! - `print <name>` print one generated file (`auth`, `users`, `credit`, `stores`, `supergraph`)

use std::process::ExitCode;

use anyhow::bail;
use c9pay_schema::{
    SUPERGRAPH_NAME, check_dir, compose, drift_report, schema_dir, subgraphs,
    with_header, write_dir,
};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "c9pay-schema",
    about = "Export the c9pay subgraph SDLs and compose schema/supergraph.graphql"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write schema/<subgraph>.graphql and schema/supergraph.graphql.
    Write,
    /// Fail, listing every file, when a generated file is missing or stale.
    Check,
    /// Print one generated file: a subgraph name or `supergraph`.
    Print {
        /// auth, users, credit, stores or supergraph
        name: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    let subgraphs = subgraphs();
    match command {
        Command::Write => {
            let dir = schema_dir();
            let written = write_dir(&dir, &subgraphs)?;
            if written.is_empty() {
                eprintln!("schema files in {} are up to date", dir.display());
            }
            for path in written {
                eprintln!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let drift = check_dir(&schema_dir(), &subgraphs)?;
            if drift.is_empty() {
                eprintln!("schema files are up to date");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{}", drift_report(&drift));
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Print { name } => {
            let sdl = if name == SUPERGRAPH_NAME {
                compose(&subgraphs)?
            } else if let Some(subgraph) = subgraphs.iter().find(|s| s.name == name) {
                subgraph.sdl.clone()
            } else {
                let known: Vec<&str> = subgraphs.iter().map(|s| s.name.as_str()).collect();
                bail!(
                    "unknown schema `{name}`; expected one of: {}, {SUPERGRAPH_NAME}",
                    known.join(", ")
                );
            };
            print!("{}", with_header(&sdl));
            Ok(ExitCode::SUCCESS)
        }
    }
}
