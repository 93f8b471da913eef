#!/usr/bin/env bash
# Runs once, when the dev PostgreSQL starts on an empty volume (the postgres image runs
# /docker-entrypoint-initdb.d/*.sh then). One database per subgraph, each owned by a
# login role of the same name that can reach only its own database: no subgraph reads
# another's tables (DESIGN.md, Storage). Passwords come from the Secret `postgres`.
set -euo pipefail

for name in auth users credit stores; do
    password_variable="${name^^}_PASSWORD"
    password="${!password_variable:?$password_variable is not set}"
    psql --no-psqlrc --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set name="$name" --set password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
