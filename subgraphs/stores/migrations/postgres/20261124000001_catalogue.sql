-- Stores and their catalogues. A store's ledger account lives in credit, which stores
-- asks to open it before it inserts the store row.

create table store (
    id text primary key check (id like 'sto\_%'),
    -- The user who opened the store; the only person who may change it.
    owner_user_id text not null check (owner_user_id like 'usr\_%'),
    name text not null check (length(name) between 1 and 64),
    created_at_ms bigint not null
);

create index store_owner_user_id on store (owner_user_id, created_at_ms);

create table product (
    id text primary key check (id like 'prd\_%'),
    store_id text not null references store (id),
    name text not null check (length(name) between 1 and 64),
    -- Whole credits; at most Amount::MAX, so that quantity × price cannot overflow.
    price bigint not null check (price > 0 and price <= 1000000000000),
    created_at_ms bigint not null,
    unique (store_id, name)
);
