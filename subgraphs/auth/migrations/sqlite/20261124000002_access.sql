-- Rotating refresh tokens. A log-in (a `session` row) is one family: every refresh spends
-- the presented token and stores its successor in the same session. Only the SHA-256 of
-- a token is stored, so a copy of this table signs nobody in.
create table refresh_token (
    token_hash text primary key check (length(token_hash) = 64),
    session_id text not null references session (id),
    created_at_ms integer not null,
    expires_at_ms integer not null,
    spent_at_ms integer,
    check (expires_at_ms > created_at_ms)
) strict;
create index refresh_token_session_id on refresh_token (session_id);

-- The revocation feed the router follows: one entry per ended session or kiosk, kept
-- until every access token issued before the revocation has expired.
create table revocation (
    sequence integer primary key autoincrement,
    session_id text not null,
    revoked_at_ms integer not null,
    expires_at_ms integer not null
) strict;
create index revocation_revoked_at_ms on revocation (revoked_at_ms);

-- Kiosk devices: a store's owner registers the device's Ed25519 public key; kiosk
-- tokens are bound to it by its RFC 7638 thumbprint (`cnf.jkt`).
create table kiosk (
    id text primary key check (id like 'kio\_%' escape '\'),
    store_id text not null check (store_id like 'sto\_%' escape '\'),
    name text not null check (length(name) between 1 and 64),
    public_key text not null,
    jkt text not null unique,
    created_at_ms integer not null,
    revoked_at_ms integer
) strict;
create index kiosk_store_id on kiosk (store_id);

-- Proofs a kiosk presented to get a token, each usable once (by its `jti`), kept while
-- its `iat` is inside the freshness window.
create table kiosk_proof (
    jti text primary key check (length(jti) between 1 and 128),
    kiosk_id text not null references kiosk (id),
    expires_at_ms integer not null
) strict;
