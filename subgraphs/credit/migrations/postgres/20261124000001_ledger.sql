-- The ledger's accounts and the transfers between them (double entry: every movement of
-- money is one transfer from a debit account to a credit account, so the sum of all
-- balances is always zero).

-- An account belongs to a user (their wallet), a store, or the platform itself. System
-- accounts stand for money outside the platform (`funding`: what came in by top-up) and
-- are the only ones that may go below zero; the check below makes the database refuse an
-- overdraft even if a query forgets to.
create table account (
    id text primary key check (id like 'acc\_%'),
    owner_kind text not null check (owner_kind in ('user', 'store', 'system')),
    -- The user id, the store id, or the system account's name.
    owner_id text not null,
    -- For a store account, the store owner's user id: the one person who may read it.
    owner_user_id text null check (owner_user_id like 'usr\_%'),
    balance bigint not null default 0,
    created_at_ms bigint not null,
    unique (owner_kind, owner_id),
    check (owner_kind = 'system' or balance >= 0),
    check (owner_kind <> 'user' or owner_id like 'usr\_%'),
    check (owner_kind <> 'store' or owner_id like 'sto\_%'),
    check ((owner_kind = 'store') = (owner_user_id is not null))
);

-- Immutable: rows are inserted, never updated or deleted. Corrections are new transfers.
create table transfer (
    id text primary key check (id like 'trf\_%'),
    debit_account_id text not null references account (id),
    credit_account_id text not null references account (id),
    amount bigint not null check (amount > 0 and amount <= 1000000000000),
    kind text not null check (kind in ('top_up', 'payment', 'refund', 'gift')),
    created_at_ms bigint not null,
    check (debit_account_id <> credit_account_id)
);

create index transfer_debit_account_id on transfer (debit_account_id, created_at_ms);
create index transfer_credit_account_id on transfer (credit_account_id, created_at_ms);

-- The one account every top-up is debited from. Created here rather than at start-up so
-- that it exists before the first request, on every replica, without a race.
insert into account (id, owner_kind, owner_id, owner_user_id, balance, created_at_ms)
values ('acc_00000000000000000000000000000001', 'system', 'funding', null, 0, 0);
