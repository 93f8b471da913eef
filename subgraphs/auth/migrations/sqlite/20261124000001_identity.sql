-- Login credentials: one row per person. The email is stored normalised (trimmed,
-- lower case) so that uniqueness means what people expect.
create table credential (
    user_id text primary key check (user_id like 'usr\_%' escape '\'),
    email text not null unique check (length(email) between 3 and 254),
    password_hash text not null,
    created_at_ms integer not null
) strict;

-- One row per log-in. Log-out revokes it; refresh-token families build on it.
create table session (
    id text primary key,
    user_id text not null references credential (user_id),
    created_at_ms integer not null,
    expires_at_ms integer not null,
    revoked_at_ms integer,
    check (expires_at_ms > created_at_ms)
) strict;
create index session_user_id on session (user_id);

-- Ed25519 keys that sign access tokens and payment codes. All replicas share them
-- through this table; the newest unretired key signs, every published key verifies.
create table signing_key (
    kid text primary key,
    private_seed text not null,
    public_key text not null,
    created_at_ms integer not null,
    retired_at_ms integer
) strict;
