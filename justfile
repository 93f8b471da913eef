# c9pay developer commands. Run `just` to list them.
#
# Arguments after a recipe name are passed on as they are (quoting kept), e.g.
#   just test -E 'test(/sqlite/)'

set positional-arguments

# List the recipes.
default:
    @just --list

# scripts/test installs PostgreSQL if missing, runs clippy, then all Rust tests against
# SQLite and a throwaway PostgreSQL server.
# Every test, as CI runs it (extra arguments go to nextest).
test *args:
    bash scripts/test "$@"

# Every test that needs no database server: the SQLite half of the suite and every
# test without a database (tests named `postgres::...` are left out).
test-sqlite *args:
    cargo nextest run --workspace -E 'not test(/(^|::)postgres::/)' "$@"

# Lint: clippy with warnings as errors, and formatting check.
lint:
    cargo clippy --workspace --all-targets -- -D warnings
    cargo fmt --all -- --check

# Format the code.
fmt:
    cargo fmt --all

# Re-export each subgraph's SDL and compose schema/supergraph.graphql.
schema:
    cargo run -p c9pay-schema -- write

# Run every part of c9pay in one process (embedded SQLite).
up *args:
    cargo run -p c9pay -- up "$@"

# Prints its C9PAY_TEST_POSTGRES_URL, for running the PostgreSQL tests by hand in
# another shell; stops and removes it on Enter or Ctrl-C.
# A throwaway PostgreSQL server.
postgres:
    bash scripts/postgres-cluster
