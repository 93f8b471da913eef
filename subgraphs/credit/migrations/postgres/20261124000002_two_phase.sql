-- Two-phase payments, refunds, idempotency, and accounts that many payers pay at once.

-- Credits reserved by pending holds. A user's or store's spendable credit is
-- balance - held, and the database refuses to let it go below zero.
alter table account add column held bigint not null default 0;
alter table account add constraint account_held_not_negative check (held >= 0);
alter table account add constraint account_available_not_negative check (owner_kind = 'system' or balance - held >= 0);

-- Credits to a store (and both sides of the system accounts) land in one of several
-- shard rows chosen at random, so that concurrent payments to one busy store do not all
-- queue for the same row lock. An account's balance is its own row plus its shards; a
-- debit of a store (a refund) first sweeps the shards into the account row, under lock.
create table account_shard (
    account_id text not null references account (id),
    shard integer not null check (shard >= 0 and shard < 64),
    balance bigint not null,
    primary key (account_id, shard)
);

alter table transfer add column hold_id text;
-- What the transfer is for: a payment id (the sale), a refund id, a payment request id.
alter table transfer add column reference text;
alter table transfer add column memo text check (length(memo) <= 140);

-- A reservation of credit: pending until it is posted (the money moves) or voided or
-- expired (the reservation ends). Each hold is resolved at most once: every resolution
-- is a conditional update from 'pending'.
create table hold (
    id text primary key check (id like 'hld\_%'),
    debit_account_id text not null references account (id),
    credit_account_id text not null references account (id),
    amount bigint not null check (amount > 0 and amount <= 1000000000000),
    status text not null check (status in ('pending', 'posted', 'voided', 'expired')),
    expires_at_ms bigint not null,
    created_at_ms bigint not null,
    resolved_at_ms bigint,
    -- Deferred: posting sets the hold's transfer id before the transfer row is inserted.
    transfer_id text references transfer (id) deferrable initially deferred,
    check ((status = 'posted') = (transfer_id is not null)),
    check ((status = 'pending') = (resolved_at_ms is null)),
    check (debit_account_id <> credit_account_id)
);
create index hold_pending_expiry on hold (expires_at_ms) where status = 'pending';

-- A store charging a consumer-presented payment code; the id is the store's sale id,
-- which makes authorisation idempotent. `code_id` is unique: a code pays once.
create table payment (
    id text primary key check (id like 'sal\_%'),
    store_id text not null check (store_id like 'sto\_%'),
    payer_user_id text not null check (payer_user_id like 'usr\_%'),
    amount bigint not null check (amount > 0 and amount <= 1000000000000),
    code_id text not null unique,
    hold_id text not null unique references hold (id),
    request_hash text not null,
    refunded bigint not null default 0,
    created_at_ms bigint not null,
    check (refunded >= 0 and refunded <= amount)
);

create table refund (
    id text primary key check (id like 'ref\_%'),
    payment_id text not null references payment (id),
    amount bigint not null check (amount > 0),
    reason text not null,
    request_hash text not null,
    transfer_id text not null references transfer (id),
    created_at_ms bigint not null
);

-- The first result of every money-moving mutation, stored in the same transaction as
-- its effect: a retry with the same key gets the same answer, never a second effect.
create table idempotency_key (
    principal text not null,
    key text not null check (length(key) between 1 and 64),
    operation text not null,
    request_hash text not null,
    response text not null,
    created_at_ms bigint not null,
    primary key (principal, key)
);

-- Top-ups per person per UTC day, for the daily limit (a conditional update, so two
-- concurrent top-ups cannot both slip under it).
create table top_up_day (
    user_id text not null,
    day text not null,
    total bigint not null check (total >= 0),
    primary key (user_id, day)
);

-- The outbox: one row per posted movement that someone watches, written in the same
-- transaction as the transfer. Subscriptions read it in order.
create table ledger_event (
    sequence bigserial primary key,
    transfer_id text not null references transfer (id),
    kind text not null,
    amount bigint not null,
    payer_user_id text,
    store_id text,
    recipient_user_id text,
    created_at_ms bigint not null
);
create index ledger_event_store on ledger_event (store_id, sequence);
create index ledger_event_payer on ledger_event (payer_user_id, sequence);
create index ledger_event_recipient on ledger_event (recipient_user_id, sequence);

-- A merchant-presented QR: the store asks for an amount, a person scans and pays it once.
create table payment_request (
    id text primary key check (id like 'prq\_%'),
    store_id text not null check (store_id like 'sto\_%'),
    amount bigint not null check (amount > 0 and amount <= 1000000000000),
    created_by_user_id text not null,
    expires_at_ms bigint not null,
    created_at_ms bigint not null,
    paid_by_user_id text,
    paid_transfer_id text references transfer (id) deferrable initially deferred,
    paid_at_ms bigint,
    check ((paid_transfer_id is null) = (paid_at_ms is null)),
    check ((paid_transfer_id is null) = (paid_by_user_id is null))
);
